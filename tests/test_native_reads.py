"""Consumers scan ports with DuckDB's own Delta reader (`delta_scan`), and every governance
guarantee holds: partition pruning is real, a read can be pinned to a port version (recorded and
replayed by the IO manager), a `mesh sql` session reads exactly its unmasked ports' folders and
writes none, a masked port's files stay out of reach, and a dbt consumer's source is a native view.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import Comparison, rules_for, sql_rule
from mesh_platform.orchestration.io_manager import PortIOManager
from mesh_platform.runtime.duckdb_extensions import load_statement
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.delta import publish
from mesh_platform.runtime.publishing import audit_batch
from mesh_platform.runtime.reading import locate, plan_read, read_table
from mesh_platform.runtime.settings import masking_key, storage_root
from mesh_platform.runtime.sql import SealedRefusal, SqlSession
from tests.conftest import ROOT, run_mesh

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
      - {name: value, logicalType: integer, physicalType: BIGINT}
"""
MONTHS = [dt.date(2024, m, 1) for m in range(1, 7)]
FLIGHTS = 336776
FILES_REFUSED = "file system access is disabled in mesh sql: a session reads only the ports it was given as views"


@pytest.fixture
def lab(tmp_path, mesh_home) -> Path:
    """A one-product mesh whose port `lab.readings` is partitioned by month."""
    root = tmp_path / "project"
    domain = root / "domains" / "lab"
    (domain / "products").mkdir(parents=True)
    (domain / "contracts").mkdir()
    (root / "workspace.yaml").write_text("load_from: []\n")
    (domain / "domain.yaml").write_text("name: lab\nkind: source-aligned\ndescription: Test lab.\nowner: {team: lab, contact: lab@mesh.example}\n")
    (domain / "products" / "readings.yaml").write_text("name: readings\ndescription: Sensor readings.\n")
    (domain / "contracts" / "readings.odcs.yaml").write_text(CONTRACT)
    return root


def readings(sensor: str, rows_per_month: int = 50) -> pa.Table:
    return pa.table({
        "month": [m for m in MONTHS for _ in range(rows_per_month)],
        "sensor": [sensor] * (len(MONTHS) * rows_per_month),
        "value": list(range(len(MONTHS) * rows_per_month)),
    })


def publish_readings(root: Path, sensor: str) -> int:
    contract = Mesh.load(root).find("lab", "readings").contract
    uri = f"{storage_root(root)}/lab/readings/v1"
    return publish(uri, readings(sensor), contract.arrow_schema(), label="lab.readings", partition_by="month").version


def lab_plan(root: Path, version: int | None = None):
    mesh = Mesh.load(root)
    return plan_read(mesh, domain_reader("lab"), mesh.find("lab", "readings"), version=version)


# -- pushdown --------------------------------------------------------------------------------------

def test_a_one_month_read_opens_only_that_months_files(lab):
    publish_readings(lab, "a")
    location = locate(lab_plan(lab))
    march = PartitionSlice("month", MONTHS[2], MONTHS[3])
    with duckdb_ports.load_delta(duckdb.connect()) as con:
        def files_read(partition):
            profile = con.sql(f"EXPLAIN ANALYZE {duckdb_ports.select_sql(location, ['value'], partition)}").fetchall()[0][1]
            return int(re.search(r"Total Files Read:\s*(\d+)", profile).group(1))
        assert files_read(None) == len(MONTHS)
        assert files_read(march) == 1
    table = read_table(lab_plan(lab), march, columns=["sensor"])
    assert table.column_names == ["sensor"] and table.num_rows == 50


def test_the_python_read_gives_the_same_rows_and_types_as_the_arrow_path(lab):
    publish_readings(lab, "a")
    plan = lab_plan(lab)
    native = read_table(plan)
    arrow = plan.store.scan(plan.uri, plan.label)  # the Arrow path masked reads still take
    assert native.schema == arrow.schema
    assert native.sort_by([("month", "ascending"), ("value", "ascending")]).equals(arrow.sort_by([("month", "ascending"), ("value", "ascending")]))


# -- pinned versions -------------------------------------------------------------------------------

def test_a_read_as_of_a_version_sees_that_versions_rows_and_a_bad_version_is_refused(lab):
    assert (publish_readings(lab, "first"), publish_readings(lab, "second")) == (0, 1)
    assert set(read_table(lab_plan(lab, version=0)).column("sensor").to_pylist()) == {"first"}
    assert set(read_table(lab_plan(lab)).column("sensor").to_pylist()) == {"second"}
    with pytest.raises(MeshError, match=r"^lab\.readings: cannot read version 2 of its port at .*: a version is an integer from 0 to 1 \(its latest\)$"):
        lab_plan(lab, version=2)
    for bad in (-1, "1", True):
        with pytest.raises(MeshError, match=rf"pins lab\.readings to version {re.escape(repr(bad))}: a port version is a non-negative integer"):
            lab_plan(lab, version=bad)


def test_a_run_tag_pins_an_input_to_a_port_version_and_a_bad_one_is_refused(lab):
    seen: list[set[str]] = []

    @dg.asset(key=["lab", "summary"], ins={"r": dg.AssetIn(key=["lab", "readings"])}, io_manager_key="mem")
    def summary(r: pd.DataFrame) -> int:
        seen.append(set(r["sensor"]))
        return len(r)

    readings_spec = dg.AssetSpec(["lab", "readings"]).with_io_manager_key("mesh_port")
    resources = {"mesh_port": PortIOManager(project_root=str(lab), domain="lab"), "mem": dg.mem_io_manager}

    def run(tags=None):
        return dg.materialize([readings_spec, summary], selection=[summary], resources=resources, tags=tags, raise_on_error=False)

    publish_readings(lab, "first")
    publish_readings(lab, "second")
    assert run().success and seen[-1] == {"second"}
    result = run({"mesh/input_version/lab.readings": "0"})
    assert result.success and seen[-1] == {"first"}
    refused = run({"mesh/input_version/lab.readings": "7"})
    assert not refused.success
    assert "lab.readings: cannot read version 7 of its port" in str(refused.all_events)


def test_a_python_products_materialization_records_the_input_versions_it_read(lab):
    @dg.asset(key=["lab", "readings_copy"], ins={"r": dg.AssetIn(key=["lab", "readings"])}, io_manager_key="mesh_port",
              metadata={"mesh/contract": "domains/lab/contracts/readings_copy.odcs.yaml"})
    def readings_copy(r: pa.Table) -> pa.Table:
        return r

    (lab / "domains/lab/products/readings_copy.yaml").write_text("name: readings_copy\ndescription: A copy.\n")
    (lab / "domains/lab/contracts/readings_copy.odcs.yaml").write_text(CONTRACT.replace("lab:readings", "lab:readings_copy").replace("name: readings\n", "name: readings_copy\n"))
    publish_readings(lab, "first")
    publish_readings(lab, "second")
    readings_spec = dg.AssetSpec(["lab", "readings"]).with_io_manager_key("mesh_port")
    result = dg.materialize([readings_spec, readings_copy], selection=[readings_copy],
                            resources={"mesh_port": PortIOManager(project_root=str(lab), domain="lab")},
                            tags={"mesh/input_version/lab.readings": "0"})
    metadata = result.asset_materializations_for_node("lab__readings_copy")[0].metadata
    assert metadata["mesh/input_version/lab.readings"].value == 0
    assert set(read_table(plan_read(Mesh.load(lab), domain_reader("lab"), Mesh.load(lab).find("lab", "readings_copy"))).column("sensor").to_pylist()) == {"first"}


# -- sealed sessions -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def as_customer_insights(built_mesh):
    """A session of a domain that reads flights in full and loyalty.bookings masked."""
    home, _ = built_mesh
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MESH_HOME", str(home))
        env.delenv("MESH_STORAGE_ROOT", raising=False)
        yield SqlSession.open(ROOT, "customer_insights"), home


def test_a_session_scans_ports_natively_and_a_masked_one_through_its_projection(as_customer_insights):
    session, home = as_customer_insights
    assert session.views["loyalty.bookings"] == ["passenger_email"]
    _, rows = session.run("select schema_name, view_name, sql from duckdb_views() where not internal")
    definitions = {f"{schema}.{name}": sql for schema, name, sql in rows}
    flights = Path(storage_root(ROOT)) / "flight_operations" / "flights" / "v1"
    assert f"delta_scan('{flights.resolve()}'" in definitions["flight_operations.flights"]
    bookings = (Path(storage_root(ROOT)) / "loyalty" / "bookings").resolve()
    assert f"delta_scan('{bookings}/masked/v1'" in definitions["loyalty.bookings"]  # never the raw port's files
    assert f"'{bookings}/v1'" not in definitions["loyalty.bookings"]
    key = masking_key(ROOT)
    forms = [key.hex(), *([key.decode()] if key.isascii() else [])]
    assert len(min(forms, key=len)) >= 16 and not any(form in sql for form in forms for sql in definitions.values())
    assert session.run("select count(*) from flight_operations.flights")[1] == [(FLIGHTS,)]


def test_a_session_writes_no_port_folder_and_reads_no_other_folder(as_customer_insights, tmp_path):
    session, home = as_customer_insights
    flights = (Path(storage_root(ROOT)) / "flight_operations" / "flights" / "v1").resolve()
    for statement in (f"COPY (select 1 as x) TO '{flights}/x.parquet'",
                      f"EXPLAIN ANALYZE COPY (select 1 as x) TO '{flights}/x.parquet'",
                      f"EXPORT DATABASE '{flights}/export'"):
        with pytest.raises(SealedRefusal) as caught:
            session.run(statement)
        assert str(caught.value).startswith(FILES_REFUSED) and "\n" not in str(caught.value)
    assert not (flights / "x.parquet").exists() and not (flights / "export").exists()
    for folder in (Path(storage_root(ROOT)) / "loyalty" / "bookings", Path(storage_root(ROOT)) / "fleet", home / "warehouse"):
        with pytest.raises(SealedRefusal) as caught:
            session.run(f"select count(*) from read_parquet('{folder.resolve()}/**/*.parquet')")
        assert str(caught.value).startswith(FILES_REFUSED)
    assert session.run("select count(*) from flight_operations.flights")[1] == [(FLIGHTS,)]


def test_mesh_sql_refuses_a_masked_ports_files_in_one_line(built_mesh):
    home, _ = built_mesh
    bookings = (Path(home) / "storage" / "loyalty" / "bookings").resolve()
    assert list(bookings.rglob("*.parquet"))
    result = run_mesh(["sql", "--as", "customer_insights", "-c", f"select passenger_email from read_parquet('{bookings}/**/*.parquet')"], home)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: " + FILES_REFUSED), result.stderr
    masked = run_mesh(["sql", "--as", "customer_insights", "--json", "-c", "select passenger_email from loyalty.bookings limit 1"], home)
    assert re.fullmatch(r"[0-9a-f]{32}", json.loads(masked.stdout)[0]["passenger_email"])


def test_a_contract_sql_rule_that_writes_is_refused_by_its_statement_type(built_mesh, monkeypatch, tmp_path):
    home, _ = built_mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    product = Mesh.load(ROOT).find("shared", "carriers")
    batch = read_table(plan_read(Mesh.load(ROOT), domain_reader("shared"), product))
    target = tmp_path / "leak.csv"
    writes = sql_rule("writes", "copies the batch out", "error", f"COPY (SELECT * FROM {{table}}) TO '{target}'", Comparison("mustBe", 0))
    results = {r.rule.name: r for r in audit_batch(batch, [*rules_for(product.contract), writes], product, ROOT)}
    assert results["writes"].error.startswith("file system access is disabled in contract sql rules") and "(COPY statements are refused)" in results["writes"].error
    assert not target.exists()


# -- dbt -------------------------------------------------------------------------------------------

def test_a_dbt_consumers_source_is_a_view_over_the_ports_delta_scan(built_mesh):
    home, _ = built_mesh
    with duckdb.connect(str(home / "warehouse" / "punctuality.duckdb"), read_only=True) as con:
        con.execute(load_statement("delta"))
        views = dict(con.sql("select schema_name || '.' || view_name, sql from duckdb_views() where not internal").fetchall())
        assert "delta_scan(" in views["flight_operations.flights"]
        assert con.sql("select count(*) from flight_operations.flights").fetchall() == [(FLIGHTS,)]
