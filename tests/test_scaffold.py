"""`mesh new domain` and `mesh new product`: what they make loads, validates, builds and reads
back, and every refusal leaves the project byte for byte as it was.

All in a copy of the project. The build-heavy loop is one module fixture: three new domains (a
Python one following the "your first domain" tutorial, a dbt one, and a consumer-aligned one
made with its inputs), one `mesh validate`, one `mesh build` with the producers they read.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.cli.scaffold import generate
from mesh_platform.cli.scaffold.textedit import append_to_sequence, wire_product
from mesh_platform.model.workspaces import add_dg_project
from mesh_platform.orchestration.mesh_validation import validate_mesh
from tests.conftest import BIN, copy_project, mesh_env, run_mesh
from tests.test_conventions import dbt, dg_workspace, workspace_locations

FLIGHTS = 336_776
CARRIERS = 16
EXAMPLE_RECORDS = {
    "record_id": [1, 2, 3, 4, 5, 6],
    "category": ["standard", "priority", "bulk", "standard", "priority", "bulk"],
    "quantity": [3, 1, 40, 2, 1, 25],
    "amount": [29.5, 120.0, 310.0, 19.0, None, 180.0],
}
# The tutorial ("your first domain"), then a dbt domain, then a consumer-aligned one made with its inputs.
SCAFFOLD = [
    ["new", "domain", "inventory"],
    ["new", "product", "inventory", "departures_by_origin", "--input", "flight_operations.flights"],
    ["new", "domain", "ledger", "--dbt"],
    ["new", "product", "ledger", "origin_traffic", "--input", "flight_operations.flights", "--input", "shared.carriers"],
    ["new", "domain", "traffic_report", "--kind", "consumer-aligned", "--product", "origin_traffic",
     "--input", "flight_operations.flights", "--input", "shared.carriers"],
]
NEW = {"inventory": ["departures_by_origin", "example_records"], "ledger": ["example_records", "origin_traffic"],
       "traffic_report": ["origin_traffic"]}


def fresh_copy(destination: Path) -> Path:
    return copy_project(destination)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under the project, folders included, with its content's hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            state[name] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            state[name + "/"] = "dir"
        else:
            state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    root = fresh_copy(tmp_path_factory.mktemp("scaffold") / "project")
    home = root.parent / "home"
    workspace_before = (root / "workspace.yaml").read_text()
    outputs = []
    for args in SCAFFOLD:
        result = run_mesh(args, home, cwd=root)
        assert result.returncode == 0, f"mesh {' '.join(args)}\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    validate = run_mesh(["validate", "--json"], home, cwd=root)
    build = run_mesh(["build", *[a for d in ("shared", "flight_operations", *NEW) for a in ("--domain", d)]], home, cwd=root)
    return root, home, workspace_before, outputs, validate, build


def read_port(root: Path, home: Path, product_id: str) -> pa.Table:
    """A published port, read through the platform's governed read path by its owner domain."""
    from mesh_platform.model.identity import domain_reader
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.reading import plan_read, read_table

    previous = os.environ.get("MESH_HOME")
    os.environ["MESH_HOME"] = str(home)
    try:
        mesh = Mesh.load(root)
        product = mesh.find(*product_id.split("."))
        return read_table(plan_read(mesh, domain_reader(product.domain), product))
    finally:
        if previous is None:
            os.environ.pop("MESH_HOME")
        else:
            os.environ["MESH_HOME"] = previous


def per_origin(table: pa.Table, column: str) -> dict[str, int]:
    return dict(zip(table["origin"].to_pylist(), table[column].to_pylist()))


# -- (1) scaffold -> validate -> build -> read --------------------------------------------------------

def test_scaffolded_files_and_what_the_commands_print(scaffolded):
    root, _, workspace_before, outputs, _, _ = scaffolded
    domain_out, product_out = outputs[0], outputs[1]
    assert "created domain inventory (source-aligned, Python)" in domain_out
    for path in ("domains/inventory/domain.yaml", "domains/inventory/definitions.py", "domains/inventory/example_records.py",
                 "domains/inventory/products/example_records.yaml", "domains/inventory/contracts/example_records.odcs.yaml"):
        assert f"+ {path}" in domain_out and (root / path).is_file()
    for step in ("mesh validate", "mesh build --domain inventory", "mesh dev"):
        assert step in domain_out and step in product_out
    assert "~ domains/inventory/definitions.py: imported departures_by_origin" in product_out
    assert "from scratch, producers first: mesh build" in product_out
    assert "--domain flight_operations --domain inventory" in product_out
    assert "+ dbt_projects/ledger/dbt_project.yml" in outputs[2] and "+ dbt_projects/ledger/models/sources.yml" in outputs[3]

    # workspace.yaml: the old text (comments included) untouched, one entry per domain appended
    workspace = (root / "workspace.yaml").read_text()
    assert workspace.startswith(workspace_before)
    for name in NEW:
        assert f"  - python_module:\n      module_name: domains.{name}.definitions\n      working_directory: .\n      location_name: {name}\n" in workspace
    # definitions.py reads top to bottom like the demo domains'
    assert (root / "domains/inventory/definitions.py").read_text().endswith(
        "from domains.inventory.departures_by_origin import departures_by_origin\n"
        "from domains.inventory.example_records import example_records\n"
        "from mesh_platform import domain_definitions\n\n"
        "defs = domain_definitions(__file__, products=[example_records, departures_by_origin])\n"
    )
    # the dbt consumer reads the ports as sources named after the producers, through the port plugin
    sources = yaml.safe_load((root / "dbt_projects/ledger/models/sources.yml").read_text())["sources"]
    assert {(s["name"], t["name"]) for s in sources for t in s["tables"]} == {("flight_operations", "flights"), ("shared", "carriers")}
    assert all(s["config"]["meta"] == {"plugin": "mesh_port"} for s in sources)
    models = yaml.safe_load((root / "dbt_projects/ledger/models/schema.yml").read_text())["models"]
    assert [m["name"] for m in models] == ["example_records", "origin_traffic"]
    assert all(m["config"]["contract"]["enforced"] for m in models)
    # a contract that passes a global identifier through declares its relationship
    contract = yaml.safe_load((root / "domains/ledger/contracts/origin_traffic.odcs.yaml").read_text())
    origin = contract["schema"][0]["properties"][0]
    assert origin["name"] == "origin" and origin["relationships"] == [{"to": "shared.airports.faa"}]
    assert contract["version"] == "1.0.0" and contract["team"]["name"] == "ledger"
    source_aligned = yaml.safe_load((root / "domains/inventory/contracts/example_records.odcs.yaml").read_text())
    assert [s["property"] for s in source_aligned["slaProperties"]] == ["freshness"]
    assert all(p.get("description") for p in source_aligned["schema"][0]["properties"])


def test_scaffolded_domains_validate_with_every_policy_passing(scaffolded):
    _, _, _, _, validate, _ = scaffolded
    assert validate.returncode == 0, validate.stdout + validate.stderr
    reports = {r["domain"]: r for r in json.loads(validate.stdout)}
    for domain, products in NEW.items():
        assert reports[domain]["ok"], reports[domain]["error"]
        assert sorted(reports[domain]["products"]) == products
        findings = reports[domain]["policies"]
        assert findings and all(f["status"] == "pass" for f in findings), [f for f in findings if f["status"] != "pass"]
        assert {f["policy"] for f in findings} >= {"valid-contract", "owner-contact", "columns-documented", "global-identifiers",
                                                    "readable-inputs", "meaningful-description"}
    assert any(f["policy"] == "source-freshness-sla" for f in reports["inventory"]["policies"])


def test_scaffolded_domains_build_and_their_ports_read_back(scaffolded):
    root, home, _, _, _, build = scaffolded
    assert build.returncode == 0, build.stdout + build.stderr
    for domain, products in NEW.items():
        for product in products:
            assert f"{domain}.{product}" in build.stdout

    # the source-aligned examples: the same six rows from pandas and from dbt
    for product_id in ("inventory.example_records", "ledger.example_records"):
        records = read_port(root, home, product_id).sort_by("record_id")
        assert {k: records[k].to_pylist() for k in EXAMPLE_RECORDS} == EXAMPLE_RECORDS, product_id
        assert records.schema.field("record_id").type == pa.int32() and records.schema.field("recorded_on").type == pa.date32()

    # the consumers: departures per origin, as in flight_operations.flights itself
    flights = read_port(root, home, "flight_operations.flights")
    assert flights.num_rows == FLIGHTS
    counts = flights.group_by("origin").aggregate([("origin", "count")])
    expected = dict(zip(counts["origin"].to_pylist(), counts["origin_count"].to_pylist()))
    assert set(expected) == {"EWR", "JFK", "LGA"} and sum(expected.values()) == FLIGHTS
    python_summary = read_port(root, home, "inventory.departures_by_origin")
    assert python_summary.column_names == ["origin", "flights_rows"]
    assert per_origin(python_summary, "flights_rows") == expected
    for product_id in ("ledger.origin_traffic", "traffic_report.origin_traffic"):  # dbt and pandas agree
        summary = read_port(root, home, product_id)
        assert summary.column_names == ["origin", "flights_rows", "carriers_rows"], product_id
        assert per_origin(summary, "flights_rows") == expected, product_id
        assert set(summary["carriers_rows"].to_pylist()) == {CARRIERS}, product_id
        assert summary.schema.field("flights_rows").type == pa.int64()


# -- (2) Dagster's own loader ---------------------------------------------------------------------------

def test_dagster_validates_the_new_code_locations(scaffolded, tmp_path):
    root, home, *_ = scaffolded
    modules = [a for name in NEW for a in ("-m", f"domains.{name}.definitions")]
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", *modules, "-d", str(root)],
        cwd=root, env=mesh_env(home, DAGSTER_HOME=str(tmp_path)), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in NEW:
        assert f"Validation successful for code location domains.{name}.definitions." in result.stdout + result.stderr


# -- (2b) dg and plain dbt: the ecosystem tools see the new domains as they see the demo ones ----------

def test_scaffolded_domains_join_the_dg_workspace_and_their_dbt_project_parses_standalone(scaffolded):
    root, home, _, outputs, _, _ = scaffolded
    for path in ("+ domains/inventory/dg.toml", "+ domains/inventory/.env", "~ pyproject.toml: added dg project 'domains/inventory'"):
        assert path in outputs[0]
    assert "+ dbt_projects/ledger/profiles.yml" in outputs[2]
    locations = workspace_locations(root)
    assert set(NEW) <= set(locations)
    assert dg_workspace(root) == locations  # dg.toml and .env of each new domain checked there
    for name in NEW:
        assert (root / "domains" / name / ".env").read_text().endswith("DG_PROJECT_PYTHON_EXECUTABLE=../../platform/bin/dg-python\n")
    assert (root / "pyproject.toml").read_text().endswith(
        "".join(f'\n[[tool.dg.workspace.projects]]\npath = "domains/{name}"\n' for name in NEW))

    folder = root / "dbt_projects" / "ledger"
    profile = yaml.safe_load((folder / "profiles.yml").read_text())["mesh"]["outputs"]["mesh"]
    assert profile["path"].endswith("/warehouse/ledger.duckdb") and profile["plugins"][0]["config"]["domain"] == "ledger"
    parsed = dbt(["parse"], folder, home)  # from its folder, no --profiles-dir, no --vars
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    manifest = json.loads((folder / "target" / "manifest.json").read_text())
    assert {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"} == {"example_records", "origin_traffic"}


def test_validate_names_a_domain_folder_missing_from_either_workspace(fresh):
    workspace = fresh / "workspace.yaml"
    data = yaml.safe_load(workspace.read_text())
    data["load_from"] = [e for e in data["load_from"] if e["python_module"]["location_name"] != "fleet"]
    workspace.write_text(yaml.safe_dump(data))
    pyproject = fresh / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('[[tool.dg.workspace.projects]]\npath = "domains/weather"\n', ""))
    (fresh / "domains/loyalty/.env").unlink()

    reports = {r.domain: r for r in validate_mesh(fresh)}

    assert not reports["fleet"].ok and reports["fleet"].error == (
        "domains/fleet/ is not a code location in workspace.yaml: add an entry under load_from: "
        "{python_module: {module_name: domains.fleet.definitions, working_directory: ., location_name: fleet}}")
    assert not reports["weather"].ok and reports["weather"].error == (
        'domains/weather/ is not a project of the dg workspace in pyproject.toml: add [[tool.dg.workspace.projects]] path = "domains/weather"')
    assert not reports["loyalty"].ok and reports["loyalty"].error.startswith(
        "domains/loyalty/.env does not set DG_PROJECT_PYTHON_EXECUTABLE=../../platform/bin/dg-python")
    assert all(reports[d].ok for d in ("shared", "flight_operations", "punctuality", "customer_insights"))


# -- (3) refusals: exit 1, one line (and a hint), nothing written -----------------------------------------

def mesh_in_process(args: list[str], root: Path, capfd) -> tuple[int, str, str]:
    """The `mesh` app itself, in this process (its consoles write to the real stdout/stderr)."""
    capfd.readouterr()
    result = CliRunner().invoke(app, [*args, "--project", str(root)], catch_exceptions=False)
    out, err = capfd.readouterr()
    return result.exit_code, out + result.output, err


REFUSALS = {
    "existing domain": (["new", "domain", "inventory"], "domain 'inventory' already exists"),
    "existing demo domain": (["new", "domain", "flight_operations"], "domain 'flight_operations' already exists"),
    "shared domain": (["new", "domain", "shared"], "domain 'shared' already exists (shared_assets/)"),
    "bad domain name": (["new", "domain", "Bad-Name"], "domain name 'Bad-Name' is not a valid name"),
    "path as domain name": (["new", "domain", "../x"], "domain name '../x' is not a valid name"),
    "empty domain name": (["new", "domain", ""], "domain name '' is not a valid name (it is empty)"),
    "keyword domain name": (["new", "domain", "class"], "'class' is a Python keyword"),
    "unknown kind": (["new", "domain", "fresh", "--kind", "source_aligned"], "unknown kind 'source_aligned'"),
    "existing product": (["new", "product", "inventory", "example_records"], "product inventory.example_records already exists"),
    "existing dbt product": (["new", "product", "ledger", "origin_traffic"], "product ledger.origin_traffic already exists"),
    "bad product name": (["new", "product", "inventory", "Bad-Name"], "product name 'Bad-Name' is not a valid name"),
    "empty product name": (["new", "product", "inventory", ""], "product name '' is not a valid name"),
    "unknown domain": (["new", "product", "inventry", "stock"], "no domain 'inventry' in this mesh"),
    "unknown input": (["new", "product", "inventory", "stock", "--input", "flight_operations.flight"],
                      "--input flight_operations.flight: no domain publishes that product"),
    "bad input address": (["new", "product", "inventory", "stock", "--input", "flights"], "is not a product address"),
    "restricted input": (["new", "product", "inventory", "stock", "--input", "loyalty.members"],
                         "new product inventory.stock may not read loyalty.members: it is restricted"),
    "internal input": (["new", "product", "ledger", "stock", "--input", "loyalty.bookings"],
                       "new product ledger.stock may not read loyalty.bookings: it is internal"),
    "unreadable input of a new domain": (["new", "domain", "crm_copy", "--input", "loyalty.members"],
                                         "new product crm_copy.example_records may not read loyalty.members"),
    "cycle": (["new", "product", "flight_operations", "stock", "--input", "inventory.departures_by_origin"],
              "in a cycle"),
    "dbt in a Python domain": (["new", "product", "inventory", "stock", "--dbt"], "domain 'inventory' has no dbt project"),
    # written, checked against the whole mesh, and undone: its key `member_id` would become a global
    # identifier that customer_insights.member_delay_exposure carries without a relationship
    "shared key clash": (["new", "product", "shared", "member"],
                         "customer_insights.member_delay_exposure [global-identifiers] column 'member_id'"),
}


@pytest.mark.parametrize("args, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_exit_1_with_one_line_and_write_nothing(scaffolded, args, message, capfd, monkeypatch):
    root, home, *_ = scaffolded
    monkeypatch.setenv("MESH_HOME", str(home))
    before = snapshot(root)
    code, out, err = mesh_in_process(args, root, capfd)
    assert code == 1, out + err
    lines = err.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], err
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: ")), err
    assert "Traceback" not in err + out and "created" not in out
    assert snapshot(root) == before


def test_the_installed_command_refuses_the_same_way(scaffolded):
    root, home, *_ = scaffolded
    before = snapshot(root)
    unknown = run_mesh(["new", "product", "inventory", "stock", "--input", "flight_operations.flight"], home, cwd=root)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == [
        "error: --input flight_operations.flight: no domain publishes that product",
        "hint: did you mean flight_operations.flights?",
    ]
    unreadable = run_mesh(["new", "product", "inventory", "stock", "--input", "loyalty.members"], home, cwd=root)
    assert unreadable.returncode == 1 and "[policy readable-inputs]" in unreadable.stderr.splitlines()[0]
    assert "Traceback" not in unknown.stderr + unreadable.stderr and unknown.stdout == unreadable.stdout == ""
    assert snapshot(root) == before


# -- failures after planning: nothing is left behind ------------------------------------------------------

@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    return fresh_copy(tmp_path / "project")


@pytest.mark.parametrize("edited", ["workspace.yaml", "pyproject.toml"])
def test_a_failure_while_writing_undoes_every_file(fresh, monkeypatch, capfd, edited):
    before = snapshot(fresh)
    real = generate._replace

    def failing(path, text):
        if path.name == edited:
            raise OSError(28, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(generate, "_replace", failing)
    code, _, err = mesh_in_process(["new", "domain", "warehouse", "--dbt"], fresh, capfd)
    assert code == 1 and err.startswith("error: No space left on device"), err
    assert snapshot(fresh) == before


def test_a_policy_failure_after_writing_undoes_every_edit(fresh):
    before = snapshot(fresh)
    plan = generate.plan_new_product(fresh, "punctuality", "departures_by_carrier", inputs=["flight_operations.flights"])
    assert plan.edits, "the dbt domain's schema.yml is edited"

    def refuse(plan):
        raise generate.ScaffoldError("refused by the check")

    with pytest.raises(generate.ScaffoldError):
        generate.apply(plan, check=refuse)
    assert snapshot(fresh) == before
    # and the real check passes: the product is kept, beside the demo ones
    generate.apply(plan, check=generate.policy_check)
    assert (fresh / "dbt_projects/punctuality/models/departures_by_carrier.sql").is_file()


def test_an_unexpected_definitions_py_is_refused_with_the_lines_to_add(fresh, capfd):
    definitions = fresh / "domains/customer_insights/definitions.py"
    definitions.write_text(definitions.read_text().replace(
        "defs = domain_definitions(__file__, products=[member_delay_exposure])",
        "PRODUCTS = [member_delay_exposure]\ndefs = domain_definitions(__file__, products=PRODUCTS)",
    ))
    before = snapshot(fresh)
    args = ["new", "product", "customer_insights", "bookings_per_origin", "--input", "flight_operations.flights"]
    code, _, err = mesh_in_process(args, fresh, capfd)
    assert code == 1 and snapshot(fresh) == before
    assert "domains/customer_insights/definitions.py does not have the shape" in err
    assert "add `from domains.customer_insights.bookings_per_origin import bookings_per_origin`" in err
    code, out, _ = mesh_in_process([*args, "--no-wire"], fresh, capfd)
    assert code == 0 and "not wired (--no-wire): add `from domains.customer_insights.bookings_per_origin" in out
    assert (fresh / "domains/customer_insights/bookings_per_origin.py").is_file()


# -- the text edits, on the shapes people write ----------------------------------------------------------

ENTRY = ["- python_module:", "    module_name: domains.x.definitions", "    working_directory: .", "    location_name: x"]
ENTRY_DATA = {"python_module": {"module_name": "domains.x.definitions", "working_directory": ".", "location_name": "x"}}


def appended(data):
    return {**(data or {}), "load_from": [*((data or {}).get("load_from") or []), ENTRY_DATA]}


PYPROJECT = '[project]\nname = "m"\n\n[tool.dg]\ndirectory_type = "workspace"\n\n[[tool.dg.workspace.projects]]\npath = "a"\n'
NEW_PROJECT = '\n[[tool.dg.workspace.projects]]\npath = "domains/x"\n'


@pytest.mark.parametrize("text, expected", [
    (PYPROJECT, PYPROJECT + NEW_PROJECT),
    (PYPROJECT + "# about the next table\n\n[tool.ruff]\nline-length = 120\n",  # after the last project, not at the end
     PYPROJECT + NEW_PROJECT + "# about the next table\n\n[tool.ruff]\nline-length = 120\n"),
    (PYPROJECT.rstrip("\n"), PYPROJECT + NEW_PROJECT),  # no newline at the end
    ('[tool.dg]\ndirectory_type = "workspace"\nworkspace = {projects = [{path = "a"}]}\n', None),  # inline: left to a person
    ('[project]\nname = "m"\n', None),
    ("not = [toml", None),
])
def test_dg_projects_are_appended_keeping_the_text(text, expected):
    assert add_dg_project(text, "domains/x") == expected


@pytest.mark.parametrize("text, expected", [
    ("# keep me\nload_from:\n  - python_module:\n      module_name: a.b  # and me\n\n# trailing\n",
     "# keep me\nload_from:\n  - python_module:\n      module_name: a.b  # and me\n  - python_module:\n"
     "      module_name: domains.x.definitions\n      working_directory: .\n      location_name: x\n\n# trailing\n"),
    ("load_from:\n- python_module:\n    module_name: a.b\n",
     "load_from:\n- python_module:\n    module_name: a.b\n- python_module:\n    module_name: domains.x.definitions\n"
     "    working_directory: .\n    location_name: x\n"),
    ("load_from: []\n",
     "load_from:\n  - python_module:\n      module_name: domains.x.definitions\n      working_directory: .\n      location_name: x\n"),
    ("load_from: [{python_module: {module_name: a.b}}]\n", None),  # flow style: left to a person
    ("load_from: {python_module: {module_name: a.b}}\n", None),
])
def test_workspace_entries_are_appended_keeping_the_text(text, expected):
    assert append_to_sequence(text, ["load_from"], ENTRY, appended) == expected


@pytest.mark.parametrize("text, expected", [
    ('"""Doc."""\n\nfrom domains.d.a import a\nfrom mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__, products=[a])\n',
     '"""Doc."""\n\nfrom domains.d.a import a\nfrom domains.d.new import new\nfrom mesh_platform import domain_definitions\n\n'
     'defs = domain_definitions(__file__, products=[a, new])\n'),
    ("from mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__, dbt_vars={'k': 1})\n",
     "from domains.d.new import new\nfrom mesh_platform import domain_definitions\n\n"
     "defs = domain_definitions(__file__, dbt_vars={'k': 1}, products=[new])\n"),
    ("from domains.d.a import a\nfrom mesh_platform import domain_definitions\n\ndefs = domain_definitions(\n    __file__,\n"
     "    products=[\n        a,\n    ],\n)\n",
     "from domains.d.a import a\nfrom domains.d.new import new\nfrom mesh_platform import domain_definitions\n\n"
     "defs = domain_definitions(\n    __file__,\n    products=[\n        a,\n        new,\n    ],\n)\n"),
    ("from mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__, products=[])\n",
     "from domains.d.new import new\nfrom mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__, products=[new])\n"),
    ("from mesh_platform import domain_definitions\nP = []\ndefs = domain_definitions(__file__, products=P)\n", None),
    ("import dagster as dg\ndefs = dg.Definitions(assets=[])\n", None),
    ("def broken(:\n", None),
])
def test_definitions_py_is_wired_or_left_alone(text, expected):
    assert wire_product(text, "domains.d.new", "new") == expected


def test_every_demo_domain_can_be_wired():
    root = Path(__file__).resolve().parents[1]
    for definitions in [*root.glob("domains/*/definitions.py"), root / "shared_assets/definitions.py"]:
        package = ".".join(definitions.parent.relative_to(root).parts)
        wired = wire_product(definitions.read_text(), f"{package}.added", "added")
        assert wired is not None and f"from {package}.added import added\n" in wired, definitions


# -- the examples compute what their contracts say -------------------------------------------------------

def test_summary_examples_in_pandas_and_sql_agree_with_their_contract(tmp_path):
    """Grouped on the first input's global identifier; an input with the same column counted per
    value (0 when none), one without it counted whole; no usable column: one row of counts."""
    import duckdb
    import pandas as pd

    from mesh_platform.cli.scaffold import design as d
    from mesh_platform.cli.scaffold.contract import contract_text
    from mesh_platform.cli.scaffold.examples import summary_python, summary_sql
    from mesh_platform.model.contracts.model import contract_from_mapping
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.ports.conform import conform
    from mesh_platform.runtime.ports.formats import to_arrow
    from tests.helpers.mini_mesh import base_mesh, column, contract, write_mesh

    files = base_mesh()
    lab = files["domains/lab"]
    lab["products/visits.yaml"] = {"name": "visits", "description": "Technician visits to each airport station, one row each."}
    lab["contracts/visits.odcs.yaml"] = contract("lab", "visits", [
        column("station", required=True, businessName="airport_code", relationships=[{"to": "shared.airports.faa"}]),
        column("visit_note")])
    lab["products/notes.yaml"] = {"name": "notes", "description": "Free notes the lab keeps, with no key at all."}
    lab["contracts/notes.odcs.yaml"] = contract("lab", "notes", [column("note_text")])
    mesh = Mesh.load(write_mesh(tmp_path / "mesh", files))
    readings, visits, notes = (mesh.find("lab", p) for p in ("readings", "visits", "notes"))
    frames = {
        "readings": pd.DataFrame({"station": ["EWR", "EWR", "JFK"], "reading_value": [1.0, 2.0, None]}),
        "visits": pd.DataFrame({"station": ["JFK", "LGA"], "visit_note": ["a", "b"]}),
        "notes": pd.DataFrame({"note_text": ["x", "y", "z"]}),
    }

    for inputs, columns, expected in [
        ([readings, visits, notes], ["station", "readings_rows", "visits_rows", "notes_rows"],
         {("EWR", 2, 0, 3), ("JFK", 1, 1, 3)}),
        ([notes, readings], ["notes_rows", "readings_rows"], {(3, 3)}),
    ]:
        design = d.summary_design("summary", inputs, mesh)
        assert [c.name for c in design.columns] == columns
        if design.key is not None:
            assert design.key.relationships == ("shared.airports.faa",) and design.key.business_name == "airport_code"
        odcs = contract_from_mapping(yaml.safe_load(contract_text("other", "summary", design, "t", "t@mesh.example", True)), Path("x"))
        namespace: dict = {}
        exec(summary_python("Other", "summary", design), namespace)
        batch = conform(to_arrow(namespace["summary"].fn(**{p.name: frames[p.name] for p in inputs}), "x"), odcs.arrow_schema(), "x").read_all()
        assert set(map(tuple, batch.to_pandas().itertuples(index=False))) == expected
        with duckdb.connect() as con:
            for name, frame in frames.items():
                con.register(name, frame)
            sql = summary_sql("other", "summary", design, {p.id: p.name for p in inputs})
            assert set(con.sql(sql).fetchall()) == expected
