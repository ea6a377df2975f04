"""Monthly ports: publishing one month replaces that month only, atomically, and a consumer in
another domain reads just the month it builds."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from domains.flight_operations.definitions import defs as flight_operations
from domains.punctuality.definitions import defs as punctuality
from domains.weather.definitions import defs as weather
from mesh_platform.orchestration.build import _partition_tags
from shared_assets.definitions import defs as shared


def files_by_month(table: Path) -> dict[str, dict[str, str]]:
    """month folder -> {data file: sha256} for every file the current version references."""
    current = DeltaTable(str(table)).file_uris()
    months: dict[str, dict[str, str]] = {}
    for uri in current:
        path = Path(uri)
        months.setdefault(path.parent.name, {})[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return months


def run(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs)
    assert result.success
    return result


def test_one_month_replaces_only_that_month_and_a_consumer_reads_one_month(mesh_home):
    instance = dg.DagsterInstance.ephemeral()
    run(shared, "build_shared", instance)  # flights reference its global identifiers
    job = flight_operations.resolve_job_def("build_flight_operations")
    run(flight_operations, "build_flight_operations", instance, tags=_partition_tags(job))
    table = mesh_home / "storage" / "flight_operations" / "flights" / "v1"
    before = files_by_month(table)
    version = DeltaTable(str(table)).version()
    assert len(before) == 12
    march_rows = DeltaTable(str(table)).to_pyarrow_dataset().count_rows(filter=pc.field("flight_month") == pc.scalar(dt.date(2013, 3, 1)))

    result = run(flight_operations, "build_flight_operations", instance, partition_key="2013-03-01")
    [event] = result.get_asset_materialization_events()
    assert event.partition == "2013-03-01"
    assert event.materialization.metadata["dagster/row_count"].value == march_rows

    after = files_by_month(table)
    assert DeltaTable(str(table)).version() == version + 1
    assert after.keys() == before.keys()
    for month in before:
        if month == "flight_month=2013-03-01":
            assert after[month].keys().isdisjoint(before[month].keys())  # rewritten
        else:
            assert after[month] == before[month]  # same files, same bytes
    assert DeltaTable(str(table)).to_pyarrow_dataset().count_rows() == 336_776

    # A consumer in another domain builds one month: it must read March only, or its publish
    # (bounded to March) would refuse rows of other months.
    run(weather, "build_weather", instance)
    result = run(punctuality, "build_punctuality", instance, partition_key="2013-03-01",
                 asset_selection=[dg.AssetKey(["punctuality", "weather_impact"])])
    impact = DeltaTable(str(mesh_home / "storage" / "punctuality" / "weather_impact" / "v1")).to_pyarrow_table()
    assert set(impact.column("month").to_pylist()) == {dt.date(2013, 3, 1)}
    assert 0 < pc.sum(impact.column("flights")).as_py() <= march_rows


def _departures_of(month: int):
    """April's departures, say: the log's rows of one month of 2013, shaped as the product."""
    import pandas as pd

    from domains.flight_operations.departures import DEPARTURES_LOG, shape_departures

    raw = pd.read_csv(DEPARTURES_LOG)
    return shape_departures(raw[raw["month"] == month])


def _hostile_flights(relabel):
    from mesh_platform import domain_definitions
    from mesh_platform.model.product import PythonProduct
    from tests.conftest import ROOT

    def flights(context):
        return relabel(context, _departures_of(4))

    return domain_definitions(ROOT / "domains" / "flight_operations" / "definitions.py", products=[PythonProduct("flights", flights)])


@pytest.fixture
def march_published(mesh_home):
    instance = dg.DagsterInstance.ephemeral()
    run(shared, "build_shared", instance)
    run(flight_operations, "build_flight_operations", instance, partition_key="2013-03-01")
    table = mesh_home / "storage" / "flight_operations" / "flights" / "v1"
    return instance, table, DeltaTable(str(table)).version(), files_by_month(table)


def test_rows_relabelled_into_the_month_being_built_are_refused_by_a_blocking_check(march_published):
    """April's departures labelled flight_month = March fit March's slice, and replaced March with
    exit 0. The contract says flight_month derives from flight_date: the audit refuses them."""
    instance, table, version, before = march_published

    def relabel(context, departures):
        departures["flight_month"] = context.partition_time_window.start.date()  # flight_date stays in April
        return departures

    result = _hostile_flights(relabel).resolve_job_def("build_flight_operations").execute_in_process(
        instance=instance, partition_key="2013-03-01", raise_on_error=False)
    assert not result.success
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "flight_month_derived_from_flight_date"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["failing_rows"].value == len(_departures_of(4))
    assert DeltaTable(str(table)).version() == version and files_by_month(table) == before  # March untouched


def test_rows_outside_the_month_being_built_are_refused_before_publish(march_published):
    """April's rows, correctly labelled April, built as March: every row of a published slice must
    have its partition column inside the slice, or the publish would replace the wrong month."""
    instance, table, version, before = march_published
    result = _hostile_flights(lambda context, departures: departures).resolve_job_def("build_flight_operations").execute_in_process(
        instance=instance, partition_key="2013-03-01", raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.to_string()  # the IO manager's error is the cause
    assert ("rows fall outside the partition being published (2013-03-01 <= flight_month < 2013-04-01); "
            "found values from 2013-04-01 to 2013-04-01") in message
    assert DeltaTable(str(table)).version() == version and files_by_month(table) == before


def test_rows_without_a_partition_value_are_refused_by_the_port(tmp_path):
    """The slice's overwrite predicate never matches NULL: such rows would be kept by every later
    publish of the month and pile up. The port refuses them and keeps its version."""
    import pyarrow as pa

    from mesh_platform.model.errors import PublishError
    from mesh_platform.runtime.ports.conform import PartitionSlice
    from mesh_platform.runtime.ports.delta import publish

    schema = pa.schema([pa.field("month", pa.date32()), pa.field("value", pa.int64())])
    march = PartitionSlice("month", dt.date(2013, 3, 1), dt.date(2013, 4, 1))
    uri = str(tmp_path / "port")
    publish(uri, pa.table({"month": [dt.date(2013, 3, 1)], "value": [1]}, schema=schema), schema,
            label="lab.monthly", partition_by="month", partition=march)
    with pytest.raises(PublishError, match=r"lab.monthly: 1 rows have no month, so they belong to no partition"):
        publish(uri, pa.table({"month": [dt.date(2013, 3, 1), None], "value": [1, 2]}, schema=schema), schema,
                label="lab.monthly", partition_by="month", partition=march)
    assert DeltaTable(uri).version() == 0
