"""Contract majors: a breaking change publishes a new port beside the old one; consumers pinned to
the old major keep reading it until its retirement date, are warned as it nears, refused after."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from mesh_platform import domain_definitions
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.product import PythonProduct
from mesh_platform.runtime.reading import RetiredPortError, plan_read, read_table
from mesh_platform.runtime.ports.store import port_store
from tests.conftest import run_mesh
from tests.helpers.mini_mesh import column, contract, edited, write_mesh

RETIRES = "2027-06-30"


def standalone_readings(files):
    """lab.readings with no inputs, so it builds on its own; desk.summary reads it pinned to v1."""
    files["domains/lab"]["products/readings.yaml"]["inputs"] = []
    files["domains/lab"]["contracts/readings.odcs.yaml"]["schema"][0]["properties"][0] = column("station", required=True)
    files["domains/desk"] = {
        "domain.yaml": {"name": "desk", "kind": "consumer-aligned", "description": "The analysts' desk.", "owner": {"team": "desk", "contact": "desk@mesh.example"}},
        "products/summary.yaml": {"name": "summary", "description": "How many readings there are and their mean value.", "inputs": ["lab.readings@v1"]},
        "contracts/summary.odcs.yaml": contract("desk", "summary", [column("readings", "integer", "BIGINT"), column("mean_reading", "number", "DOUBLE")]),
    }


def version_two(files):
    standalone_readings(files)
    readings = files["domains/lab"]["contracts/readings.odcs.yaml"]
    readings["version"] = "2.0.0"
    readings["schema"][0]["properties"][1] = column("value_celsius", "number", "DOUBLE")  # a rename: breaking
    readings["customProperties"] = [{"property": "previousMajorReadableUntil", "value": RETIRES}]


def publish_readings(root, instance, frame: pd.DataFrame):
    defs = domain_definitions(root / "domains" / "lab" / "definitions.py", products=[PythonProduct("readings", lambda: frame)])
    assert defs.resolve_job_def("build_lab").execute_in_process(instance=instance).success


def summary(readings: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"readings": [len(readings)], "mean_reading": [readings["reading_value"].mean()]})


def test_a_new_major_publishes_beside_the_old_one_which_pinned_consumers_keep_reading(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(standalone_readings))
    instance = dg.DagsterInstance.ephemeral()
    publish_readings(root, instance, pd.DataFrame({"station": ["JFK", "EWR"], "reading_value": [1.0, 3.0]}))

    write_mesh(root, edited(version_two))
    publish_readings(root, instance, pd.DataFrame({"station": ["LGA"], "value_celsius": [20.0]}))

    mesh = Mesh.load(root)
    readings = mesh.find("lab", "readings")
    assert port_store(root).published_majors("lab", "readings") == [1, 2]
    assert port_store(root).stored_contract(plan_read(mesh, domain_reader("desk"), readings, 1).uri).version == "1.0.0"
    assert read_table(plan_read(mesh, domain_reader("desk"), readings)).column_names == ["station", "value_celsius"]
    old = read_table(plan_read(mesh, domain_reader("desk"), readings, 1))
    assert old.column("reading_value").to_pylist() == [1.0, 3.0]

    # The pinned consumer, through its own code location and the IO manager, reads v1.
    desk = domain_definitions(root / "domains" / "desk" / "definitions.py", products=[PythonProduct("summary", summary)])
    assert desk.resolve_job_def("build_desk").execute_in_process(instance=instance).success
    built = read_table(plan_read(mesh, domain_reader("desk"), mesh.find("desk", "summary")))
    assert built.to_pylist() == [{"readings": 2, "mean_reading": 2.0}]

    near = plan_read(mesh, domain_reader("desk"), readings, 1, consumer="consumer desk.summary", today=dt.date(2027, 6, 10))
    assert near.warning == f"consumer desk.summary reads lab.readings@v1, which retires on {RETIRES} (20 days); move to v2"
    assert plan_read(mesh, domain_reader("desk"), readings, 1, today=dt.date(2027, 5, 1)).warning is None
    with pytest.raises(RetiredPortError, match=f"reads lab.readings@v1, retired on {RETIRES}; move to v2"):
        plan_read(mesh, domain_reader("desk"), readings, 1, today=dt.date(2027, 7, 1))


def test_mesh_contract_diff_classifies_the_working_tree_against_the_published_port(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(standalone_readings))
    publish_readings(root, dg.DagsterInstance.ephemeral(), pd.DataFrame({"station": ["JFK"], "reading_value": [1.0]}))

    unchanged = run_mesh(["contract", "diff", "lab.readings"], mesh_home, cwd=root)
    assert unchanged.returncode == 0 and "no change against published port v1 (1.0.0)" in unchanged.stdout

    def breaking_without_bump(files):
        standalone_readings(files)
        files["domains/lab"]["contracts/readings.odcs.yaml"]["schema"][0]["properties"].pop(1)
    write_mesh(root, edited(breaking_without_bump))
    result = run_mesh(["contract", "diff", "lab.readings", "--json"], mesh_home, cwd=root)
    assert result.returncode == 1
    diff = json.loads(result.stdout)
    assert (diff["required"], diff["bumped"]) == ("major", None)
    assert {"level": "major", "subject": "reading_value", "text": "column reading_value removed"} in diff["changes"]
    assert "major bump (2.0.0)" in diff["problem"]

    never = run_mesh(["contract", "diff", "desk.summary"], mesh_home, cwd=root)
    assert never.returncode == 1 and "desk.summary has never been published" in never.stderr
