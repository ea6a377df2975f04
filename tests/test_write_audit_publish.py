"""Write-audit-publish: a batch that breaks a blocking rule never reaches its port; consumers
keep reading the last good version, and the UI's checks say which rule failed and why."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import domains.flight_operations.departures as departures
from domains.fleet.definitions import defs as fleet
from domains.flight_operations.definitions import defs as flight_operations
from domains.punctuality.definitions import defs as punctuality
from domains.weather.definitions import defs as weather
from mesh_platform.model.contracts import parse_contract
from mesh_platform.runtime.quality import audit, rules_for
from shared_assets.definitions import defs as shared
from tests.conftest import ROOT, copy_project, run_mesh

FLIGHTS = dg.AssetKey(["flight_operations", "flights"])
MARCH = "2013-03-01"


def run(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False, **kwargs)


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Shared, fleet and weather published, and March's flights: the last good versions.
    Built once: every test here leaves these ports as they were (bad batches are refused)."""
    home = tmp_path_factory.mktemp("wap") / "mesh_home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MESH_HOME", str(home))
        instance = dg.DagsterInstance.ephemeral()
        for defs, job in ((shared, "build_shared"), (fleet, "build_fleet"), (weather, "build_weather")):
            assert run(defs, job, instance).success
        assert run(flight_operations, "build_flight_operations", instance, partition_key=MARCH).success
        yield instance, home / "storage" / "flight_operations" / "flights" / "v1"


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")  # the test's own single-run backfill asset
def test_a_bad_batch_is_not_published_and_nothing_downstream_reads_it(published, monkeypatch):
    instance, port = published
    monkeypatch.setenv("MESH_HOME", str(port.parents[3]))
    good_version = DeltaTable(str(port)).version()
    good = DeltaTable(str(port)).to_pyarrow_table()

    shape = departures.shape_departures
    monkeypatch.setattr(departures, "shape_departures", lambda raw: shape(raw).assign(
        carrier=lambda f: f["carrier"].where(f.index >= f.index[3], "ZZ")))  # three flights of an unknown carrier

    downstream_ran = []

    @dg.asset(key=["qa", "march_flights"], ins={"flights": dg.AssetIn(FLIGHTS)},
              partitions_def=dg.MonthlyPartitionsDefinition("2013-01-01", end_date="2014-01-01"),
              backfill_policy=dg.BackfillPolicy.single_run())
    def march_flights(flights: pd.DataFrame) -> None:
        downstream_ran.append(len(flights))

    result = dg.materialize(
        [flight_operations.get_assets_def(FLIGHTS), march_flights],
        partition_key=MARCH, instance=instance, raise_on_error=False,
        resources={"mesh_port": flight_operations.resources["mesh_port"], "io_manager": dg.mem_io_manager},
    )
    assert not result.success
    assert downstream_ran == []  # nothing in this run consumed the bad batch
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.cause.message
    assert "flight_operations.flights was not published" in message
    assert "carrier_references_shared_carriers" in message and "3 failing rows" in message

    evaluation = check_evaluations(result)["carrier_references_shared_carriers"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failing_rows"].value == 3
    assert [row["carrier"] for row in evaluation.metadata["failing_sample"].value] == ["ZZ"] * 3
    assert check_evaluations(result)["carrier_not_null"].passed

    assert DeltaTable(str(port)).version() == good_version
    assert DeltaTable(str(port)).to_pyarrow_table().equals(good)

    # A later run of a consumer reads the last good version.
    consumer = run(punctuality, "build_punctuality", instance, partition_key=MARCH,
                   asset_selection=[dg.AssetKey(["punctuality", "weather_impact"])])
    assert consumer.success
    flights_read = DeltaTable(str(port.parents[2] / "punctuality" / "weather_impact" / "v1")).to_pyarrow_table()
    assert flights_read.num_rows > 0


def test_schema_drift_stops_the_publish_with_a_diff(published, monkeypatch):
    instance, port = published
    monkeypatch.setenv("MESH_HOME", str(port.parents[3]))
    version = DeltaTable(str(port)).version()
    shape = departures.shape_departures
    monkeypatch.setattr(departures, "shape_departures", lambda raw: shape(raw).rename(columns={"distance_miles": "distance"})
                        .assign(flight_number=lambda f: f["flight_number"].astype(str)))
    result = run(flight_operations, "build_flight_operations", instance, partition_key=MARCH)
    assert not result.success
    message = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE).step_failure_data.error.cause.message
    assert "schema drift" in message
    assert "+ distance (int64): in the data, not declared by the contract" in message
    assert "- distance_miles (int32): declared by the contract, missing from the data" in message
    assert "~ flight_number: the contract declares int32, the data has" in message
    assert DeltaTable(str(port)).version() == version


def test_a_dbt_product_that_breaks_its_contract_keeps_its_last_good_version(tmp_path):
    project = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    assert run_mesh(["build", "--domain", "fleet"], home, cwd=project).returncode == 0
    port = home / "storage" / "fleet" / "aircraft" / "v1"
    good = DeltaTable(str(port)).to_pyarrow_table()

    model = project / "dbt_projects" / "fleet" / "models" / "aircraft.sql"
    model.write_text(model.read_text().replace(
        "cast(seats as integer) as seats", "case when tailnum = 'N10156' then 0 else cast(seats as integer) end as seats"))
    build = run_mesh(["build", "--domain", "fleet"], home, cwd=project)
    assert build.returncode == 1
    errors = " ".join(build.stderr.split())
    assert "fleet.aircraft was not published" in errors and "seats_in_range" in errors
    assert "The port keeps its previous version" in errors
    assert DeltaTable(str(port)).version() == 0
    # The second run re-parsed only the changed model (dbt's partial parsing, from the first run's state).
    dbt_log = (home / "dbt" / "fleet" / "target" / "dbt.log").read_text()
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 1 files changed" in dbt_log
    assert DeltaTable(str(port)).to_pyarrow_table().equals(good)


def test_failing_samples_never_show_personal_data(tmp_path):
    contract_file = tmp_path / "members.odcs.yaml"
    contract_file.write_text(
        "apiVersion: v3.2.0\nkind: DataContract\nid: urn:test:members\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: members\n    properties:\n"
        "      - {name: member_id, logicalType: integer, primaryKey: true}\n"
        "      - {name: email, logicalType: string, classification: pii, logicalTypeOptions: {format: email}}\n"
    )
    contract = parse_contract(contract_file)
    batch = pa.table({"member_id": [1, 2, 2], "email": ["ada@example.org", "not-an-email", "grace@example.org"]})
    with duckdb.connect() as con:
        con.register("batch", batch)
        results = {r.rule.name: r for r in audit(con, "batch", rules_for(contract), personal_columns=contract.personal_columns)}
    assert results["email_format"].failing_rows == 1 and not results["email_format"].passed
    assert results["member_id_unique"].value == 1 and not results["member_id_unique"].passed
    shown = str([r.sample for r in results.values()])
    for raw in ("not-an-email", "ada@example.org", "grace@example.org"):
        assert raw not in shown
    assert {row["member_id"] for row in results["member_id_unique"].sample} == {2}


def test_the_contract_drives_schema_freshness_and_checks_in_the_ui():
    flights = flight_operations.get_assets_def(FLIGHTS)
    spec = next(iter(flights.specs))
    assert spec.freshness_policy.fail_window.to_timedelta() == dt.timedelta(days=1)
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["carrier"].description == "Carrier code (global identifier, see shared.carriers)."
    assert columns["carrier"].type == "VARCHAR" and not columns["carrier"].constraints.nullable
    checks = {c.name: c for c in flights.check_specs}
    assert checks["carrier_references_shared_carriers"].blocking
    assert not checks["tailnum_references_fleet_aircraft"].blocking  # a warning rule
    assert "one_departure_per_flight_number_and_minute" in checks

    aircraft = fleet.get_assets_def(dg.AssetKey(["fleet", "aircraft"]))
    aircraft_spec = next(s for s in aircraft.specs if s.key == dg.AssetKey(["fleet", "aircraft"]))
    assert aircraft_spec.freshness_policy.fail_window.to_timedelta() == dt.timedelta(days=30)
    names = {c.name for c in aircraft.check_specs}
    assert {"seats_in_range", "engine_type_accepted_values", "registry_complete"} <= names  # from the contract
    assert "unique_aircraft_tailnum" in names  # and dbt's own tests, side by side
