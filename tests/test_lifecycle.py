"""A product's lifecycle: the ODCS `status` of its contract decides who may read it.

proposed / draft: the owner builds and reads it, no other domain may; deprecated: readable, every
consumer warned with the date it retires; retired: refused, naming what to read instead; any
other status: the contract does not load."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import dagster as dg
import pandas as pd
import pytest
import yaml

from mesh_platform import domain_definitions
from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import ContractError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.lifecycle import status_of
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import PolicyContext
from mesh_platform.model.product import PythonProduct
from mesh_platform.runtime.global_policies import deprecated_inputs, released_inputs
from mesh_platform.runtime.reading import LifecycleRefusal, plan_read, read_table
from mesh_platform.runtime.registry import publish_entries, sync_registry
from tests.conftest import copy_project, run_mesh
from tests.helpers.mini_mesh import column, contract, edited, write_mesh
from tests.helpers.lab_desk import READINGS, with_status

def published(tmp_path, status: str, *custom: dict) -> Mesh:
    """The mini mesh with lab.readings at `status`, built and published by its owner."""
    root = write_mesh(tmp_path / "mesh", edited(with_status(status, *custom)))
    defs = domain_definitions(root / "domains" / "lab" / "definitions.py", products=[PythonProduct("readings", lambda: READINGS)])
    assert defs.resolve_job_def("build_lab").execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    return Mesh.load(root)


def findings(policy, mesh: Mesh, today: dt.date = dt.date(2027, 6, 1)) -> list[str]:
    return list(policy.check(mesh.find("desk", "summary"), PolicyContext(mesh, today)))


@pytest.mark.parametrize("status", ["draft", "proposed"])
def test_an_unreleased_product_builds_and_its_owner_reads_it_but_no_other_domain(tmp_path, mesh_home, status):
    mesh = published(tmp_path, status)
    readings = mesh.find("lab", "readings")
    assert read_table(plan_read(mesh, domain_reader("lab"), readings)).num_rows == 2
    with pytest.raises(LifecycleRefusal) as refused:
        plan_read(mesh, domain_reader("desk"), readings, consumer="consumer desk.summary")
    message = str(refused.value)
    assert f"its contract is {status}" in message and "desk.summary" in message and "lab.readings" in message
    assert "\n" not in message
    # `mesh validate` reports the consumer that declares it, as an error policy.
    assert [m for m in findings(released_inputs, mesh) if status in m and "desk.summary" in m]


def test_mesh_validate_fails_the_demo_consumer_of_a_product_made_draft(tmp_path):
    root = copy_project(tmp_path / "project")
    path = root / "domains/weather/contracts/hourly_observations.odcs.yaml"
    path.write_text(path.read_text().replace("status: active", "status: draft", 1))
    result = run_mesh(["validate", "--json"], tmp_path / "home", cwd=root)
    assert result.returncode == 1
    findings = {(f["product"], f["policy"]): f for r in json.loads(result.stdout) for f in r["policies"]}
    released = findings[("punctuality.weather_impact", "released-inputs")]
    assert released["status"] == "fail" and released["severity"] == "error"
    assert released["messages"] == ["consumer punctuality.weather_impact may not read weather.hourly_observations: its contract is draft, "
                                    "readable only by its owner domain 'weather' until it is active; ask the owner (weather@mesh.example)"]
    assert findings[("weather.hourly_observations", "valid-contract")]["status"] == "pass"  # the owner still builds it


def test_a_deprecated_product_is_read_with_a_warning_naming_its_retirement_date(tmp_path, mesh_home):
    mesh = published(tmp_path, "deprecated", {"property": "retireOn", "value": "2027-06-30"},
                     {"property": "replacedBy", "value": "lab.calibrated_readings"})
    plan = plan_read(mesh, domain_reader("desk"), mesh.find("lab", "readings"), consumer="consumer desk.summary", today=dt.date(2027, 6, 1))
    assert read_table(plan).num_rows == 2
    assert "deprecated, retiring on 2027-06-30 (29 days)" in plan.warning and "lab.calibrated_readings" in plan.warning
    assert [m for m in findings(deprecated_inputs, mesh) if "2027-06-30" in m]
    assert not findings(released_inputs, mesh)  # a warning, never a failure

    # The consumer's run logs the warning where its engineers look: the run's log.
    instance = dg.DagsterInstance.ephemeral()
    desk = domain_definitions(mesh.root / "domains" / "desk" / "definitions.py", products=[
        PythonProduct("summary", lambda readings: pd.DataFrame({"readings": [len(readings)], "mean_reading": [readings["reading_value"].mean()]}))])
    run = desk.resolve_job_def("build_desk").execute_in_process(instance=instance)
    assert run.success
    warnings = [e.user_message for e in instance.all_logs(run.run_id) if e.level == 30]
    assert any("lab.readings, which is deprecated, retiring on 2027-06-30" in w for w in warnings)
    # ...and so does an operator's `mesh sql` session reading it.
    session = run_mesh(["sql", "--as", "desk", "-c", "select count(*) from lab.readings"], mesh_home, cwd=mesh.root)
    assert session.returncode == 0 and "reads lab.readings, which is deprecated, retiring on 2027-06-30" in session.stderr


def test_a_retired_product_is_refused_naming_what_to_read_instead(tmp_path, mesh_home):
    mesh = published(tmp_path, "retired", {"property": "replacedBy", "value": "lab.calibrated_readings"})
    with pytest.raises(LifecycleRefusal, match=r"^consumer desk.summary may not read lab.readings: it is retired; read lab.calibrated_readings instead$"):
        plan_read(mesh, domain_reader("desk"), mesh.find("lab", "readings"), consumer="consumer desk.summary")
    assert read_table(plan_read(mesh, domain_reader("lab"), mesh.find("lab", "readings"))).num_rows == 2
    # At validate a warning: the products reading it fail at their reads, not the consumer's whole location.
    assert findings(deprecated_inputs, mesh) == ["consumer desk.summary may not read lab.readings: it is retired; "
                                                 "read lab.calibrated_readings instead: its reads are refused"]
    assert not findings(released_inputs, mesh)


@pytest.mark.parametrize("status, field, expected", [
    ("beta", "status", "unknown status 'beta'; expected one of proposed, draft, active, deprecated, retired"),
    ("Active", "status", "unknown status 'Active'"),
])
def test_an_unknown_status_is_refused_at_load_naming_the_file_and_the_allowed_values(tmp_path, status, field, expected):
    path = tmp_path / "readings.odcs.yaml"
    path.write_text(yaml.safe_dump(contract("lab", "readings", [column("station")], status=status)))
    with pytest.raises(ContractError) as refused:
        parse_contract(path)
    assert str(refused.value).startswith(f"{path}: {field}: ") and expected in str(refused.value)


def test_a_malformed_retirement_date_is_refused_at_load(tmp_path):
    path = tmp_path / "readings.odcs.yaml"
    path.write_text(yaml.safe_dump(contract("lab", "readings", [column("station")], status="deprecated",
                                            customProperties=[{"property": "retireOn", "value": "next summer"}])))
    with pytest.raises(ContractError, match=r"customProperties\[0\]\.value: retireOn: expected a date \(YYYY-MM-DD\), found 'next summer'"):
        parse_contract(path)


def test_the_status_is_shown_in_the_dagster_ui(tmp_path, mesh_home):
    root = write_mesh(tmp_path / "mesh", edited(with_status("deprecated")))
    defs = domain_definitions(root / "domains" / "lab" / "definitions.py", products=[PythonProduct("readings", lambda: READINGS)])
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(["lab", "readings"]))
    assert spec.metadata["mesh/status"] == "deprecated" and spec.tags["mesh/status"] == "deprecated"


def test_a_checkout_without_the_producer_learns_its_status_from_the_registry_entry(tmp_path, mesh_home):
    mesh = published(tmp_path, "deprecated", {"property": "retireOn", "value": "2027-06-30"})
    publish_entries(mesh.root, mesh.domains["lab"])  # the owner's release step
    location = tmp_path / "location"  # the consumer's own checkout: desk alone
    shutil.copytree(mesh.root / "domains" / "desk", location / "domains" / "desk")
    (location / "workspace.yaml").write_text("load_from: []\n")
    sync_registry(location)
    consumer = Mesh.load(location)
    readings = consumer.find("lab", "readings")
    assert readings is not None and status_of(readings) == "deprecated"
    plan = plan_read(consumer, domain_reader("desk"), readings, consumer="consumer desk.summary", today=dt.date(2027, 6, 1))
    assert "deprecated, retiring on 2027-06-30" in plan.warning and read_table(plan).num_rows == 2
