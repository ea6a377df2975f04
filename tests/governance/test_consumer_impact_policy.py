"""The consumer-impact policy on a two-domain mesh whose consumer is a Python product: a change
of shared.airports against the contract consumers read now (here given as the base, as
`mesh validate --base` gives it) breaks lab.readings unless it pins the kept major, or declares
columns the change leaves alone. And what a Python product declares it reads and derives."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from mesh_platform import domain_definitions
from mesh_platform.model.contracts import load_contract
from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import PolicyContext, evaluate
from mesh_platform.model.product import PythonProduct
from mesh_platform.orchestration.products.metadata import COLUMN_LINEAGE_KEY, product_metadata
from mesh_platform.runtime.global_policies import consumer_impact
from tests.helpers.lab_desk import READINGS as READINGS_ROWS, with_status
from tests.helpers.mini_mesh import edited, write_mesh

TODAY = dt.date(2026, 11, 22)
READINGS = "domains/lab/products/readings.yaml"


def airports_without_name(until: str):
    def change(files):
        airports = files["shared_assets"]["contracts/airports.odcs.yaml"]
        airports["schema"][0]["properties"] = [p for p in airports["schema"][0]["properties"] if p["name"] != "name"]
        airports.update(version="2.0.0", customProperties=[{"property": "previousMajorReadableUntil", "value": until}])
    return change


def impact(tmp_path, reads: dict | None = None, until: str = "2027-06-30") -> list[str]:
    """consumer-impact's messages on shared.airports, its 1.0.0 contract the base."""
    before = load_contract(write_mesh(tmp_path / "before", edited()) / "shared_assets/contracts/airports.odcs.yaml")

    def change(files):
        airports_without_name(until)(files)
        files["domains/lab"]["products/readings.yaml"].update(reads or {})
    mesh = Mesh.load(write_mesh(tmp_path / "after", edited(change)))
    report = evaluate([mesh.find("shared", "airports")], PolicyContext(mesh, today=TODAY, base=lambda product: before), [(consumer_impact, "global")])
    [finding] = report.findings
    return list(finding.messages)


def test_a_python_consumer_that_declares_no_columns_is_assumed_to_read_them_all(tmp_path):
    [line] = impact(tmp_path)
    assert line.startswith("breaks consumer lab.readings: it reads column name of shared.airports "
                           "(a Python product that declares no columns of it: every column assumed): column name removed")
    assert "pin shared.airports@v1 in the consumer (readable until 2027-06-30)" in line


def test_declared_columns_the_change_leaves_alone_are_not_broken(tmp_path):
    assert impact(tmp_path, {"columns": {"shared.airports": ["faa"]}}) == []
    [line] = impact(tmp_path, {"columns": {"shared.airports": ["faa", "name"]}})
    assert "reads column name of shared.airports (the columns it declares)" in line


def test_a_consumer_pinned_to_the_kept_major_is_not_broken_until_it_retires(tmp_path):
    assert impact(tmp_path, {"inputs": ["shared.airports@v1"]}) == []
    [line] = impact(tmp_path, {"inputs": ["shared.airports@v1"]}, until="2026-01-31")
    assert line.startswith("breaks consumer lab.readings: it reads column name of shared.airports@v1")


def test_declared_columns_must_name_an_input(tmp_path):
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["products/readings.yaml"].update(columns={"shared.runways": ["id"]})))
    with pytest.raises(DescriptorError, match=r"columns: 'shared.runways' is not one of the product's inputs \(shared.airports\)"):
        load_domain(root / "domains/lab")
    root = write_mesh(tmp_path / "b", edited(lambda f: f["domains/lab"]["products/readings.yaml"].update(lineage={"station": "shared.airports.faa"})))
    with pytest.raises(DescriptorError, match="expected a mapping of names to lists of column names"):
        load_domain(root / "domains/lab")


def test_a_python_product_s_declared_lineage_is_its_definition_metadata_and_none_without(tmp_path):
    lineage = {"station": ["shared.airports.faa"]}
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["products/readings.yaml"].update(lineage=lineage)))
    product = Mesh.load(root).find("lab", "readings")
    metadata = product_metadata(product, root)
    assert metadata[COLUMN_LINEAGE_KEY] == dg.TableColumnLineage(
        deps_by_column={"station": [dg.TableColumnDep(asset_key=dg.AssetKey(["shared", "airports"]), column_name="faa")]})
    undeclared = Mesh.load(write_mesh(tmp_path / "plain", edited())).find("lab", "readings")
    assert COLUMN_LINEAGE_KEY not in product_metadata(undeclared, tmp_path / "plain")


def _summary(readings):
    import pandas as pd
    return pd.DataFrame({"readings": [len(readings)], "mean_reading": [readings["reading_value"].mean()]})


def _desk_declaring(columns: list[str]):
    def change(files):
        with_status("active")(files)
        files["domains/desk"]["products/summary.yaml"]["columns"] = {"lab.readings": columns}
    return change


def _build(root, domain: str, product: PythonProduct):
    defs = domain_definitions(root / "domains" / domain / "definitions.py", products=[product])
    return defs.resolve_job_def(f"build_{domain}").execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_a_python_product_is_handed_only_the_columns_it_declares_so_a_wrong_declaration_fails_its_run(tmp_path, mesh_home):
    """consumer impact trusts `columns:`; the IO manager enforces it: desk.summary declares only
    lab.readings' station but computes on reading_value, so its own build fails naming the column."""
    wrong = write_mesh(tmp_path / "wrong", edited(_desk_declaring(["station"])))
    assert _build(wrong, "lab", PythonProduct("readings", lambda: READINGS_ROWS)).success
    failed = _build(wrong, "desk", PythonProduct("summary", _summary))
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.is_step_failure]
    assert "KeyError" in str(failure.step_failure_data.error) and "reading_value" in str(failure.step_failure_data.error)

    right = write_mesh(tmp_path / "right", edited(_desk_declaring(["station", "reading_value"])))
    assert _build(right, "lab", PythonProduct("readings", lambda: READINGS_ROWS)).success
    assert _build(right, "desk", PythonProduct("summary", _summary)).success


def test_a_dbt_input_its_sql_does_not_reach_through_a_port_source_is_assumed_read_whole(tmp_path):
    """route_performance names shared.carriers' relation by hand, not through source(): the compiled
    SQL shows no read of the port, which must count as every column read, never as none."""
    import shutil

    from mesh_platform.runtime.consumer_impact import input_usage
    from tests.conftest import ROOT

    root = tmp_path / "mesh"
    for part in ("domains", "shared_assets"):
        shutil.copytree(ROOT / part, root / part)
    shutil.copytree(ROOT / "dbt_projects/punctuality", root / "dbt_projects/punctuality", ignore=shutil.ignore_patterns("target", "logs"))
    model = root / "dbt_projects/punctuality/models/route_performance.sql"
    model.write_text(model.read_text().replace("{{ source('shared', 'carriers') }}", "shared.carriers"))
    mesh = Mesh.load(root)
    usage = input_usage(mesh, mesh.find("punctuality", "route_performance"))
    assert usage[("shared", "carriers")].columns is None
    assert usage[("shared", "carriers")].how == "not read through a port source: every column assumed"
