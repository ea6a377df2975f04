"""`mesh new` refuses bad input with one line (and a hint) and leaves the project byte for byte
as it was; a failure after planning, while writing or at the policy check, undoes every file.

The refusals run against one scaffolded copy (the commands of test_scaffold.py, without its
build: a refusal never needs a published port).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.cli.scaffold import generate
from mesh_platform.orchestration.mesh_validation import validate_mesh
from tests.conftest import copy_project, run_mesh
from tests.helpers.tree import snapshot
from tests.test_scaffold import SCAFFOLD


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("refusals") / "project")
    home = root.parent / "home"
    for args in SCAFFOLD:
        result = run_mesh(args, home, cwd=root)
        assert result.returncode == 0, f"mesh {' '.join(args)}\n{result.stdout}{result.stderr}"
    return root, home


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
    root, home = scaffolded
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
    root, home = scaffolded
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
    return copy_project(tmp_path / "project")


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
    assert not plan.edits and plan.dbt_project is not None  # new files only; its yml is generated as they are written

    def refuse(plan):
        raise generate.ScaffoldError("refused by the check")

    with pytest.raises(generate.ScaffoldError):
        generate.apply(plan, check=refuse)
    assert snapshot(fresh) == before
    # and the real check passes: the product is kept, beside the demo ones
    generate.apply(plan, check=generate.policy_check)
    assert (fresh / "dbt_projects/punctuality/models/departures_by_carrier.sql").is_file()
    assert (fresh / "dbt_projects/punctuality/models/_mesh/departures_by_carrier.yml").is_file()


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
