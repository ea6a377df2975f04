"""Output ports: what goes in comes back out, typed by the contract, one commit per publish."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import PublishError
from mesh_platform.orchestration.io_manager import PortIOManager
from mesh_platform.runtime.ports import delta
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.delta import CHECKPOINT_EVERY, publish, read_arrow
from mesh_platform.runtime.ports.port import port_uri

CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:readings
version: 1.0.0
status: active
schema:
  - name: readings
    properties:
      - {name: month, logicalType: date, physicalType: DATE, required: true}
      - {name: sensor, logicalType: string, physicalType: VARCHAR, required: true}
      - {name: taken_at, logicalType: timestamp, physicalType: TIMESTAMPTZ}
      - {name: local_time, logicalType: timestamp, physicalType: TIMESTAMP}
      - {name: amount, logicalType: number, physicalType: "DECIMAL(10,3)"}
      - {name: note, logicalType: string, physicalType: VARCHAR}
"""


@pytest.fixture
def project(tmp_path, mesh_home) -> Path:
    # The IO manager reads through the mesh's access rules, so the port belongs to a declared product.
    root = tmp_path / "project"
    lab = root / "domains" / "lab"
    (lab / "products").mkdir(parents=True)
    (lab / "contracts").mkdir()
    (root / "workspace.yaml").write_text("load_from: []\n")
    (lab / "domain.yaml").write_text("name: lab\nkind: source-aligned\ndescription: Test lab.\nowner: {team: lab, contact: lab@mesh.example}\n")
    (lab / "products" / "readings.yaml").write_text("name: readings\ndescription: Sensor readings.\n")
    (lab / "contracts" / "readings.odcs.yaml").write_text(CONTRACT)
    return root


def readings(month: int, amounts: list[Decimal | None]) -> pd.DataFrame:
    n = len(amounts)
    return pd.DataFrame(
        {
            "month": [dt.date(2013, month, 1)] * n,
            "sensor": [f"s{i}" for i in range(n)],
            "taken_at": pd.to_datetime([f"2013-{month:02d}-02T10:00:00.123456Z"] * n, utc=True),
            "local_time": pd.to_datetime([f"2013-{month:02d}-02 05:00:00.000001"] * n),
            "amount": amounts,
            "note": [None if i % 2 else "checked" for i in range(n)],
        }
    )


def test_io_manager_round_trips_every_type_into_each_consumer_format(project):
    """µs timestamps, dates, decimals at the contract's precision, strings and nulls survive, read by
    products of the domain the IO manager is bound to (a step reads only as its own domain)."""
    written = readings(1, [Decimal("1.5"), None, Decimal("1234567.125")])
    seen: dict[str, object] = {}

    @dg.asset(key=["lab", "readings"], io_manager_key="mesh_port", metadata={"mesh/contract": "domains/lab/contracts/readings.odcs.yaml"})
    def lab_readings() -> pd.DataFrame:
        return written

    @dg.asset(key=["lab", "as_pandas"], ins={"r": dg.AssetIn(key=["lab", "readings"])})
    def as_pandas(r: pd.DataFrame) -> None:
        seen["pandas"] = r

    @dg.asset(key=["lab", "as_arrow"], ins={"r": dg.AssetIn(key=["lab", "readings"])})
    def as_arrow(r: pa.Table) -> None:
        seen["arrow"] = r

    @dg.asset(key=["lab", "as_duckdb"], ins={"r": dg.AssetIn(key=["lab", "readings"])})
    def as_duckdb(r: duckdb.DuckDBPyRelation) -> None:
        seen["duckdb"] = r.aggregate("count(*) as n, sum(amount) as total").fetchall()[0]

    result = dg.materialize(
        [lab_readings, as_pandas, as_arrow, as_duckdb],
        resources={"mesh_port": PortIOManager(project_root=str(project), domain="lab"), "io_manager": dg.mem_io_manager},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("lab__readings")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert metadata["delta_version"].value == 0

    arrow: pa.Table = seen["arrow"]
    contract_schema = parse_contract(project / "domains/lab/contracts/readings.odcs.yaml").arrow_schema()
    assert arrow.schema.remove_metadata() == contract_schema.remove_metadata()
    assert arrow.column("amount").to_pylist() == [Decimal("1.500"), None, Decimal("1234567.125")]
    assert arrow.column("taken_at")[0].as_py() == dt.datetime(2013, 1, 2, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert arrow.column("local_time")[0].as_py() == dt.datetime(2013, 1, 2, 5, 0, 0, 1)
    assert arrow.column("note").to_pylist() == ["checked", None, "checked"]

    frame: pd.DataFrame = seen["pandas"]
    assert list(frame.columns) == list(written.columns)
    assert frame["month"].tolist() == [dt.date(2013, 1, 1)] * 3
    assert frame["taken_at"].iloc[0] == written["taken_at"].iloc[0]
    assert frame["note"].isna().tolist() == [False, True, False]
    assert seen["duckdb"] == (3, Decimal("1234568.625"))


def test_a_later_publish_with_a_different_decimal_precision_is_cast_to_the_contract(project, mesh_home):
    """deltalake alone would pick decimal(2,1) from the first batch and refuse the second."""
    schema = parse_contract(project / "domains/lab/contracts/readings.odcs.yaml").arrow_schema()
    uri = port_uri(str(mesh_home / "storage"), "lab", "readings", 1)
    january = PartitionSlice("month", dt.date(2013, 1, 1), dt.date(2013, 2, 1))
    february = PartitionSlice("month", dt.date(2013, 2, 1), dt.date(2013, 3, 1))
    first = pa.Table.from_pandas(readings(1, [Decimal("1.5")]), preserve_index=False)
    second = pa.Table.from_pandas(readings(2, [Decimal("98765.432")]), preserve_index=False)
    assert first.schema.field("amount").type != second.schema.field("amount").type
    publish(uri, first, schema, label="lab.readings", partition_by="month", partition=january)
    publish(uri, second, schema, label="lab.readings", partition_by="month", partition=february)
    table = read_arrow(uri, "lab.readings").sort_by("month")
    assert table.column("amount").to_pylist() == [Decimal("1.500"), Decimal("98765.432")]


def test_a_failed_publish_leaves_the_previous_version_readable(project, mesh_home):
    schema = parse_contract(project / "domains/lab/contracts/readings.odcs.yaml").arrow_schema()
    uri = port_uri(str(mesh_home / "storage"), "lab", "readings", 1)
    good = pa.Table.from_pandas(readings(1, [Decimal("1.5"), Decimal("2.5")]), preserve_index=False)
    publish(uri, good, schema, label="lab.readings")

    missing_sensor = readings(1, [Decimal("3.5")]).assign(sensor=[None])
    with pytest.raises(PublishError, match="'sensor' is required by the contract but 1 rows are null"):
        publish(uri, pa.Table.from_pandas(missing_sensor, preserve_index=False), schema, label="lab.readings")
    extra_column = readings(1, [Decimal("3.5")]).assign(unexpected=1)
    with pytest.raises(PublishError, match=r"schema drift(.|\n)*\+ unexpected \(int64\): in the data, not declared"):
        publish(uri, pa.Table.from_pandas(extra_column, preserve_index=False), schema, label="lab.readings")
    too_wide = readings(1, [Decimal("12345678901.5")])
    with pytest.raises(PublishError, match="'amount'.*cannot be stored as decimal128"):
        publish(uri, pa.Table.from_pandas(too_wide, preserve_index=False), schema, label="lab.readings")

    assert DeltaTable(uri).version() == 0
    assert read_arrow(uri, "lab.readings").equals(DeltaTable(uri).to_pyarrow_table())
    assert read_arrow(uri, "lab.readings").num_rows == 2


def test_a_monthly_port_keeps_its_log_short_and_reads_one_month_from_its_files(project, mesh_home, monkeypatch):
    """Months published one commit at a time: a checkpoint every CHECKPOINT_EVERY commits bounds
    the log a reader replays, and a one-month read touches only that month's files."""
    schema = parse_contract(project / "domains/lab/contracts/readings.odcs.yaml").arrow_schema()
    uri = port_uri(str(mesh_home / "storage"), "lab", "readings", 1)
    slices = {}
    for month in range(1, 13):
        slices[month] = PartitionSlice("month", dt.date(2013, month, 1), dt.date(2013 + month // 12, month % 12 + 1, 1))
        data = pa.Table.from_pandas(readings(month, [Decimal(month)] * 3), preserve_index=False)
        result = publish(uri, data, schema, label="lab.readings", partition_by="month", partition=slices[month])
        assert result.version == month - 1
    log = Path(uri) / "_delta_log"
    assert sorted(p.name.split(".")[0] for p in log.glob("*.checkpoint.parquet")) == [f"{CHECKPOINT_EVERY:020d}"]
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 36

    opened = []
    real_open = delta.open_port
    def spying_open(*args):
        table = real_open(*args)
        real_dataset = table.to_pyarrow_dataset
        table.to_pyarrow_dataset = lambda **kw: opened.append(real_dataset(**kw)) or opened[-1]
        return table
    monkeypatch.setattr(delta, "open_port", spying_open)
    march = read_arrow(uri, "lab.readings", slices[3])
    assert march.column("amount").to_pylist() == [Decimal("3.000")] * 3
    assert len(opened[0].files) == 1  # March's file, not the year's twelve


def test_port_addresses_stay_under_the_storage_root():
    assert port_uri("s3://bucket/mesh/", "fleet", "aircraft", 2) == "s3://bucket/mesh/fleet/aircraft/v2"
    for bad in ["../etc", "Fleet", "a b", "", "x" * 64, "flé"]:
        with pytest.raises(ValueError, match="not a valid name"):
            port_uri("/tmp/storage", bad, "aircraft", 1)
