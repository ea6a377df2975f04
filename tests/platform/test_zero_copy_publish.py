"""Zero-copy publishing: a product's files are written once, into its port, and the Delta commit
that adds them is the publish. Real DuckDB files, the real DuckDB engine, real Delta tables."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import PublishError
from mesh_platform.runtime.engines.duckdb import DuckDBEngine
from mesh_platform.runtime.ports import staging
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.publishing import commit, commit_metadata

LEDGER = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:ledger
version: 1.0.0
status: active
schema:
  - name: ledger
    properties:
      - {name: id, logicalType: integer, physicalType: BIGINT, required: true}
      - {name: amount, logicalType: number, physicalType: "DECIMAL(38,10)"}
      - {name: booked, logicalType: timestamp, physicalType: TIMESTAMP}
      - {name: day, logicalType: date, physicalType: DATE}
"""
AMOUNT = decimal.Decimal("1234567890123456789012345678.0123456789")  # 38 digits: a float keeps 17
RELATION = '"main"."ledger"'
EXACT_38 = decimal.Context(prec=38)  # Python's default context keeps 28 digits


def amount(i: int) -> decimal.Decimal:
    return EXACT_38.add(AMOUNT, i)


@pytest.fixture
def ledger(tmp_path, mesh_home):
    path = tmp_path / "ledger.odcs.yaml"
    path.write_text(LEDGER)
    store = port_store(tmp_path / "project")
    return store, parse_contract(path), store.uri("lab", "ledger", 1)


def model_file(tmp_path: Path, select: str) -> Path:
    """A domain's DuckDB file holding a `ledger` model, as dbt leaves it."""
    path = tmp_path / "lab.duckdb"
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(f"create table ledger as {select}")
    return path


def stage_model(store, contract, uri, database: Path):
    engine = DuckDBEngine()
    folder, path = store.staging_folder(uri)
    with duckdb.connect(str(database), read_only=True) as session:
        engine.stage_output(session, RELATION, path, contract.arrow_schema())
    return store.adopt(uri, folder, contract.arrow_schema(), label="lab.ledger")


def version_files(uri: str) -> set[str]:
    return set(pa.table(DeltaTable(uri).get_add_actions(flatten=True)).column("path").to_pylist())


def data_files(uri: str) -> set[str]:
    return {str(p.relative_to(uri)) for p in Path(uri).rglob("*.parquet") if "_delta_log" not in p.parts}


EXACT = (f"select i::bigint as id, '{AMOUNT}'::decimal(38,10) + i as amount, "
         "timestamp_ns '2024-03-01 10:00:00.123456789' as booked, date '2024-03-01' as day from range(3) t(i)")


def test_a_dbt_model_is_written_once_by_duckdb_and_the_commit_adds_exactly_its_files(ledger, tmp_path):
    store, contract, uri = ledger
    staged = stage_model(store, contract, uri, model_file(tmp_path, EXACT))
    assert not (Path(uri) / "_delta_log").exists()  # staged: no version yet, nothing to read
    result = store.publish(staged, commit_metadata(contract, "lab.ledger", "run-1"))

    table = DeltaTable(uri)
    added = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    assert {p.split("/")[0] for p in added["path"]} == {staged.folder}
    assert set(added["path"]) == data_files(uri)  # the files DuckDB wrote are the version: no copy
    back = table.to_pyarrow_table().sort_by("id")
    assert back.column("amount").to_pylist() == [amount(i) for i in range(3)]  # decimals exact
    assert back.schema.field("booked").type == pa.timestamp("us")  # ns cut to µs, as Delta stores
    assert back.column("booked")[0].as_py() == dt.datetime(2024, 3, 1, 10, 0, 0, 123456)
    raw = [json.loads(line)["add"] for line in next(Path(uri, "_delta_log").glob("*.json")).read_text().splitlines() if '"add"' in line]
    stats = json.loads(raw[0]["stats"], parse_float=decimal.Decimal)
    assert stats["numRecords"] == result.rows == 3
    assert stats["minValues"]["amount"] == AMOUNT and stats["maxValues"]["amount"] == amount(2)  # exact JSON numbers
    assert stats["nullCount"] == {"id": 0, "amount": 0, "booked": 0, "day": 0}
    assert table.history(1)[0]["mesh.run_id"] == "run-1"


def test_a_value_the_contracts_decimal_cannot_hold_is_refused_before_anything_is_committed(ledger, tmp_path):
    store, contract, uri = ledger
    store.publish(stage_model(store, contract, uri, model_file(tmp_path, EXACT)), commit_metadata(contract, "lab.ledger", "good"))
    lossy = "select 1::bigint as id, 0.12345678901::decimal(38,11) as amount, null::timestamp as booked, null::date as day"
    with pytest.raises(PublishError, match=r"'amount': 1 values cannot be stored exactly as DECIMAL\(38,10\)"):
        stage_model(store, contract, uri, model_file(tmp_path, lossy))
    assert DeltaTable(uri).version() == 0


def test_a_null_in_a_required_column_of_staged_files_is_refused_at_commit_and_the_files_dropped(ledger, tmp_path):
    store, contract, uri = ledger
    store.publish(stage_model(store, contract, uri, model_file(tmp_path, EXACT)), commit_metadata(contract, "lab.ledger", "good"))
    kept = data_files(uri)
    staged = stage_model(store, contract, uri, model_file(tmp_path, "select null::bigint as id, 1::decimal(38,10) as amount, null::timestamp as booked, null::date as day"))
    with pytest.raises(PublishError, match="column 'id' is required by the contract but 1 rows are null"):
        store.publish(staged, commit_metadata(contract, "lab.ledger", "bad"))
    assert DeltaTable(uri).version() == 0 and data_files(uri) == kept


def test_schema_drift_is_refused_before_any_file_is_written(ledger):
    store, contract, uri = ledger
    drifted = pa.table({"id": [1], "amount": ["1.0"], "booked": [None], "day": [None]})
    with pytest.raises(PublishError, match="schema drift"):
        store.stage(uri, drifted, contract.arrow_schema(), label="lab.ledger")
    assert not Path(uri).exists() or not data_files(uri)


def test_orphans_of_killed_publishes_are_removed_later_and_published_files_never(ledger, tmp_path):
    store, contract, uri = ledger
    good = store.publish(stage_model(store, contract, uri, model_file(tmp_path, EXACT)), commit_metadata(contract, "lab.ledger", "good"))
    published = data_files(uri)
    killed = stage_model(store, contract, uri, model_file(tmp_path, "select 9::bigint as id, 9::decimal(38,10) as amount, null::timestamp as booked, null::date as day"))
    # A process killed here leaves staged files that no version references: readers never see them.
    assert DeltaTable(uri).version() == good.version and DeltaTable(uri).to_pyarrow_table().num_rows == 3
    assert store.remove_orphans(uri, dt.timedelta(hours=1)) == []  # young: it may be a publish in progress
    assert store.remove_orphans(uri, dt.timedelta(0)) == [killed.folder]
    assert data_files(uri) == published
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 3


def test_a_monthly_replace_removes_that_months_files_only_in_one_commit(tmp_path, mesh_home):
    path = tmp_path / "ledger.odcs.yaml"
    path.write_text(LEDGER)
    contract = parse_contract(path)
    store = port_store(tmp_path / "project")

    def month(m: int, ids: list[int]) -> pa.Table:
        return pa.table({"id": ids, "amount": [None] * len(ids), "booked": [None] * len(ids), "day": [dt.date(2024, m, 1)] * len(ids)})

    commit(store, "lab", "ledger", contract, pa.concat_tables([month(1, [1]), month(2, [2])]), run_id="all", partition_by="day")
    uri = store.uri("lab", "ledger", 1)
    january = {p for p in version_files(uri) if "day=2024-01-01" in p}
    assert january
    february = PartitionSlice("day", dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    result = commit(store, "lab", "ledger", contract, month(2, [20, 21]), run_id="feb", partition_by="day", partition=february)
    assert result.version == 1
    after = DeltaTable(uri)
    assert january <= version_files(uri)  # January's file untouched
    assert len(version_files(uri)) == 2  # February's first file removed by the same commit
    assert sorted(after.to_pyarrow_table().column("id").to_pylist()) == [1, 20, 21]
    with pytest.raises(PublishError, match="rows fall outside the partition"):
        commit(store, "lab", "ledger", contract, month(3, [3]), run_id="bad", partition_by="day", partition=february)
    assert DeltaTable(uri).version() == 1


def test_footer_stats_cover_every_row_group_even_one_mostly_null(tmp_path):
    # Stats that miss a row group would let a reader prune away rows that match its filter.
    pq.write_table(pa.table({"id": pa.array([50, None, None, 1, 2, 99, None, None, None, 3], pa.int64())}),
                   tmp_path / "part.parquet", row_group_size=5)
    described = staging.staged_file(pafs.LocalFileSystem(), str(tmp_path), "part.parquet", 1, None)
    stats = json.loads(described.stats)
    assert stats == {"numRecords": 10, "minValues": {"id": 1}, "maxValues": {"id": 99}, "nullCount": {"id": 5}}


NOTES = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:notes
version: 1.0.0
status: active
schema:
  - name: notes
    properties:
      - {name: id, logicalType: integer, physicalType: BIGINT, required: true}
      - {name: note, logicalType: string, physicalType: VARCHAR}
      - {name: flagged, logicalType: boolean, physicalType: BOOLEAN}
      - {name: noted_at, logicalType: timestamp, physicalType: TIMESTAMP}
"""


def test_a_filter_on_any_column_finds_its_rows_with_deltalakes_own_reader_too(tmp_path, mesh_home):
    # deltalake's Arrow reader prunes a file by its stats, and reads a missing bound as `>= null`:
    # every column of a staged file needs both bounds, and a string cut by DuckDB's writer
    # (256 characters) must still bound the value it came from.
    path = tmp_path / "notes.odcs.yaml"
    path.write_text(NOTES)
    store, contract = port_store(tmp_path / "project"), parse_contract(path)
    uri = store.uri("lab", "notes", 1)
    long_note = "x" * 300 + "z"
    database = tmp_path / "lab.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"""create table notes as select * from (values
            (1, 'short', true, TIMESTAMP '2013-01-01 10:00:00.123456'),
            (2, '{long_note}', false, TIMESTAMP '2013-06-30 23:59:59.999999')) t(id, note, flagged, noted_at)""")
    folder, staged_path = store.staging_folder(uri)
    with duckdb.connect(str(database), read_only=True) as session:
        DuckDBEngine().stage_output(session, '"main"."notes"', staged_path, contract.arrow_schema())
    staged = store.adopt(uri, folder, contract.arrow_schema(), label="lab.notes")
    store.publish(staged, commit_metadata(contract, "lab.notes", "run-1"))

    dataset = DeltaTable(uri).to_pyarrow_dataset()
    con = duckdb.connect()
    for condition, ids in (
        ("note = 'short'", [1]), (f"note = '{long_note}'", [2]), ("flagged", [1]), ("not flagged", [2]),
        ("noted_at = TIMESTAMP '2013-06-30 23:59:59.999999'", [2]), ("noted_at < TIMESTAMP '2013-01-01 10:00:00.124'", [1]),
    ):
        assert [r[0] for r in con.from_arrow(dataset).filter(condition).project("id").order("id").fetchall()] == ids, condition
