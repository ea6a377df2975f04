"""Consumer impact (issue 15): `shared.carriers` 2.0.0 drops the column `name`, which
`punctuality.route_performance`'s SQL reads (`c.name as carrier_name`). `mesh validate` names
the broken consumer and the column, against the published port or a git base, until the consumer
pins v1; and the model's column lineage reaches the carriers' `name` in the Dagster UI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg

from tests.conftest import BIN, copy_project, free_port, group_ends, mesh_env, run_mesh
from tests.test_workspace import graphql

CARRIERS = Path("shared_assets/contracts/carriers.odcs.yaml")
ROUTE_PERFORMANCE = Path("domains/punctuality/products/route_performance.yaml")
NAME_LINE = "      - {name: name, logicalType: string, physicalType: VARCHAR, required: true, description: Airline name.}\n"


def drop_carrier_name(project: Path) -> None:
    """The properly major-bumped breaking change: 2.0.0 without `name`, v1 readable for a while."""
    path = project / CARRIERS
    text = path.read_text()
    assert NAME_LINE in text and "version: 1.0.0" in text
    text = text.replace(NAME_LINE, "").replace(
        "version: 1.0.0", "version: 2.0.0\ncustomProperties:\n  - {property: previousMajorReadableUntil, value: '2099-06-30'}")
    path.write_text(text)


def pin_carriers_v1(project: Path) -> None:
    path = project / ROUTE_PERFORMANCE
    path.write_text(path.read_text().replace("shared.carriers]", "shared.carriers@v1]"))


def impact_findings(result: subprocess.CompletedProcess) -> list[dict]:
    reports = json.loads(result.stdout)
    return [f for r in reports for f in r["policies"] if f["policy"] == "consumer-impact" and f["status"] == "fail"]


def test_validate_names_the_consumer_a_published_port_change_breaks_until_it_pins_v1(tmp_path):
    project, home = copy_project(tmp_path / "mesh"), tmp_path / "home"
    built = run_mesh(["build", "--domain", "shared"], home, cwd=project)
    assert built.returncode == 0, built.stdout + built.stderr
    drop_carrier_name(project)

    broken = run_mesh(["validate", "--json"], home, cwd=project)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    [finding] = impact_findings(broken)
    assert finding["product"] == "shared.carriers" and finding["scope"] == "global"
    [line] = finding["messages"]
    assert "punctuality.route_performance" in line and "column name of shared.carriers" in line
    assert "column name removed" in line and "pin shared.carriers@v1" in line
    # `mesh impact` gives the owner the same verdict before anyone runs validate
    impact = run_mesh(["impact", "shared.carriers", "--json"], home, cwd=project)
    assert impact.returncode == 0, impact.stdout + impact.stderr
    [hit] = json.loads(impact.stdout)["broken_consumers"]
    assert (hit["consumer"], hit["input"], hit["columns"]) == ("punctuality.route_performance", "shared.carriers", ["name"])

    pin_carriers_v1(project)
    fixed = run_mesh(["validate", "--json"], home, cwd=project)
    assert impact_findings(fixed) == []
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@mesh.example", "-c", "user.name=ci", *args], cwd=project, check=True, capture_output=True)


def test_validate_base_catches_the_change_against_a_commit_with_no_port_published(tmp_path):
    project, home = copy_project(tmp_path / "mesh"), tmp_path / "home"
    outside = run_mesh(["validate", "--base", "HEAD"], home, cwd=project)
    assert outside.returncode == 1 and "is not in a git repository" in outside.stderr, outside.stdout + outside.stderr
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the mesh as it is")
    unknown = run_mesh(["validate", "--base", "no-such-ref"], home, cwd=project)
    assert unknown.returncode == 1 and "'no-such-ref': no such commit" in unknown.stderr, unknown.stdout + unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    drop_carrier_name(project)

    result = run_mesh(["validate", "--base", "HEAD", "--json"], home, cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (home / "storage").exists() or not any((home / "storage").rglob("_delta_log"))  # nothing was built
    [finding] = impact_findings(result)
    assert finding["product"] == "shared.carriers" and finding["scope"] == "base HEAD"
    assert "punctuality.route_performance" in finding["messages"][0] and "column name removed" in finding["messages"][0]
    versions = [f for r in json.loads(result.stdout) for f in r["policies"] if f["policy"] == "contract-version" and f["scope"] == "base HEAD"]
    assert {f["status"] for f in versions} == {"pass"}  # 1.0.0 -> 2.0.0 fits a removed column


def test_contract_version_against_the_base_needs_a_major_bump(tmp_path):
    """The same removal without the bump: the version policy, which passes silently with no port
    published, fails against the base."""
    project, home = copy_project(tmp_path / "mesh"), tmp_path / "home"
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the mesh as it is")
    path = project / CARRIERS
    path.write_text(path.read_text().replace(NAME_LINE, ""))
    result = run_mesh(["validate", "--base", "HEAD", "--json"], home, cwd=project)
    assert result.returncode == 1
    versions = [f for r in json.loads(result.stdout) for f in r["policies"]
                if f["policy"] == "contract-version" and f["status"] == "fail"]
    assert [f["product"] for f in versions] == ["shared.carriers"]
    assert "need at least a major bump (2.0.0): column name removed" in versions[0]["messages"][0]
    assert "the contract at the base 1.0.0" in versions[0]["messages"][0]


LINEAGE_QUERY = """{ assetNodes(assetKeys: [{path: ["punctuality", "route_performance"]}]) { metadataEntries { label
    ... on TableColumnLineageMetadataEntry { lineage { columnName columnDeps { assetKey { path } columnName } } } } } }"""
PUNCTUALITY_WORKSPACE = """\
load_from:
  - python_module: {{module_name: domains.punctuality.definitions, working_directory: {root}, location_name: punctuality}}
"""


def test_route_performance_column_lineage_reaches_the_carriers_name_in_the_dagster_ui(tmp_path):
    project = copy_project(tmp_path / "mesh")
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(PUNCTUALITY_WORKSPACE.format(root=project))
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        cwd=project, env=mesh_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline, nodes = time.monotonic() + 300, []
        while time.monotonic() < deadline and not nodes:
            assert process.poll() is None, "the webserver exited"
            try:
                nodes = graphql(port, LINEAGE_QUERY)["assetNodes"]
            except OSError:
                time.sleep(2)
        [node] = nodes
        [entry] = [e for e in node["metadataEntries"] if e["label"] == "dagster/column_lineage"]
        lineage = {e["columnName"]: e["columnDeps"] for e in entry["lineage"]}
        assert lineage["carrier_name"] == [{"assetKey": {"path": ["shared", "carriers"]}, "columnName": "name"}]
        assert lineage["month"] == [{"assetKey": {"path": ["flight_operations", "flights"]}, "columnName": "flight_month"}]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        assert group_ends(process.pid, timeout=60)


def test_the_definition_metadata_of_a_dbt_product_carries_its_column_lineage(tmp_path, monkeypatch):
    project = copy_project(tmp_path / "mesh")
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.orchestration.dbt.lineage import COLUMN_LINEAGE_KEY
    from mesh_platform.orchestration.dbt.translator import MeshDbtTranslator

    domain = Mesh.load(project).domains["punctuality"]
    metadata = MeshDbtTranslator(domain, project).get_metadata({"resource_type": "model", "name": "route_performance"})
    lineage = metadata[COLUMN_LINEAGE_KEY]
    assert lineage.deps_by_column["carrier_name"] == [dg.TableColumnDep(asset_key=dg.AssetKey(["shared", "carriers"]), column_name="name")]
    assert lineage.deps_by_column["carrier"] == [dg.TableColumnDep(asset_key=dg.AssetKey(["flight_operations", "flights"]), column_name="carrier")]
    assert set(lineage.deps_by_column) == set(domain.products["route_performance"].contract.column_names)
