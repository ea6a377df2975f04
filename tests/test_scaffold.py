"""`mesh new domain` and `mesh new product`: what they make loads, validates, builds and reads
back (refusals and undo: test_scaffold_refusals.py; the workspace edits and the examples:
test_scaffold_files.py).

All in a copy of the project. The build-heavy loop is one module fixture: three new domains (a
Python one following the "your first domain" tutorial, a dbt one, and a consumer-aligned one
made with its inputs), one `mesh validate`, one `mesh build` with the producers they read.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

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
GENERATED = "dbt_projects/ledger/models/_mesh"  # the yml the platform generates from the contracts
NEW = {"inventory": ["departures_by_origin", "example_records"], "ledger": ["example_records", "origin_traffic"],
       "traffic_report": ["origin_traffic"]}


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("scaffold") / "project")
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
    # a new product is new files only: the domain finds its @product function, nothing is wired
    assert "+ domains/inventory/departures_by_origin.py" in product_out and "~ " not in product_out
    assert "from scratch, producers first: mesh build" in product_out
    assert "--domain flight_operations --domain inventory" in product_out
    assert "+ dbt_projects/ledger/dbt_project.yml" in outputs[2]
    assert f"+ {GENERATED}/sources/flight_operations__flights.yml" in outputs[3] and f"+ {GENERATED}/origin_traffic.yml" in outputs[3]

    # workspace.yaml: the old text (comments included) untouched, one entry per domain appended
    workspace = (root / "workspace.yaml").read_text()
    assert workspace.startswith(workspace_before)
    for name in NEW:
        assert f"  - python_module:\n      module_name: domains.{name}.definitions\n      working_directory: .\n      location_name: {name}\n" in workspace
    # definitions.py reads top to bottom like the demo domains'
    assert (root / "domains/inventory/definitions.py").read_text().endswith(
        "from mesh_platform import domain_definitions\n\n"
        "# The domain's products are found, not listed: its @product functions in this package and the\n"
        "# models of its dbt project named after products/*.yaml. A new product is new files only.\n"
        "defs = domain_definitions(__file__)\n"
    )
    # the dbt consumer reads the ports as sources named after the producers, through the port plugin
    generated = root / GENERATED
    sources = [s for path in sorted((generated / "sources").glob("*.yml")) for s in yaml.safe_load(path.read_text())["sources"]]
    assert {(s["name"], t["name"]) for s in sources for t in s["tables"]} == {("flight_operations", "flights"), ("shared", "carriers")}
    assert all(s["config"]["meta"] == {"plugin": "mesh_port", "save_mode": "ignore"} for s in sources)
    models = [m for path in sorted(generated.glob("*.yml")) for m in yaml.safe_load(path.read_text())["models"]]
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
