"""Usage: every governed read is recorded (who, what, which version, when, how), the owner
lists its product's recent reads, `mesh impact` shows whom a change affects and the catalog shows
each product's consumers and last reads."""

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
from mesh_platform.model.storage_grants import WRITE, Grant, domain_grants
from mesh_platform.runtime.reading import plan_read, read_table
from mesh_platform.runtime.usage import VIA_DBT, VIA_PYTHON, VIA_SQL, record_read, recent_reads
from tests.conftest import ROOT, run_mesh
from tests.helpers.lab_desk import READINGS, with_status
from tests.helpers.mini_mesh import edited, write_mesh
from tests.test_storage_access import s3  # noqa: F401  (the fixture: a real SeaweedFS, the mesh's settings)


def summary(readings: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"readings": [len(readings)], "mean_reading": [readings["reading_value"].mean()]})


def build(root, domain: str, product: PythonProduct) -> bool:
    defs = domain_definitions(root / "domains" / domain / "definitions.py", products=[product])
    return defs.resolve_job_def(f"build_{domain}").execute_in_process(instance=dg.DagsterInstance.ephemeral()).success


@pytest.fixture
def consumed(tmp_path, mesh_home) -> Mesh:
    """lab.readings published; desk.summary built from it through the IO manager (a Python input)."""
    root = write_mesh(tmp_path / "mesh", edited(with_status("active")))
    assert build(root, "lab", PythonProduct("readings", lambda: READINGS))
    assert build(root, "desk", PythonProduct("summary", summary))
    return Mesh.load(root)


def usage_of_readings(mesh_home):
    """The folder of lab.readings' usage records, beside its ports (local storage under MESH_HOME)."""
    return mesh_home / "storage" / "lab" / "readings" / "usage"


def test_a_python_input_read_is_recorded_with_reader_product_and_version(consumed, mesh_home):
    [read] = recent_reads(consumed, "lab.readings")
    assert (read.reader, read.how, read.consumer, read.via) == ("desk", "step", "desk.summary", VIA_PYTHON)
    assert (read.product, read.major, read.version) == ("lab.readings", 1, 0)
    assert dt.datetime.now(dt.timezone.utc) - read.at < dt.timedelta(minutes=5)
    # Written by the reader into its own folder beside the product's ports, which the owner lists.
    [record] = (usage_of_readings(mesh_home) / "desk").glob("*.json")
    assert json.loads(record.read_text())["consumer"] == "desk.summary"


def test_mesh_sql_reads_are_recorded_by_product_never_by_query_text(consumed, mesh_home):
    result = run_mesh(["sql", "--as", "desk", "-c", "select count(*) from lab.readings where station = 'JFK'"], mesh_home, cwd=consumed.root)
    assert result.returncode == 0, result.stderr
    sql = [r for r in recent_reads(consumed, "lab.readings") if r.via == VIA_SQL]
    assert [(r.reader, r.how, r.consumer, r.version) for r in sql] == [("desk", "operator", "mesh sql", 0)]
    for record in mesh_home.glob("**/usage/**/*.json"):
        assert "JFK" not in record.read_text() and "select" not in record.read_text().lower()


def test_recent_reads_are_newest_first_limited_and_since(consumed):
    plan = plan_read(consumed, domain_reader("desk"), consumed.find("lab", "readings"))
    for day in (1, 2, 3):
        record_read(plan, VIA_DBT, "desk.summary", 0, now=dt.datetime(2026, 1, day, tzinfo=dt.timezone.utc))
    since = recent_reads(consumed, "lab.readings", since=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), limit=10)
    today = dt.datetime.now(dt.timezone.utc).date()
    assert [r.at.date() for r in since] == [today, dt.date(2026, 1, 3), dt.date(2026, 1, 2)]  # the build's read, then the two since the 2nd
    assert [r.at.date() for r in recent_reads(consumed, "lab.readings", limit=2)] == [today, dt.date(2026, 1, 3)]


def test_recording_never_fails_a_read(consumed, mesh_home, caplog):
    usage = usage_of_readings(mesh_home)
    for child in usage.iterdir():  # a usage folder that cannot be written: a file where the reader's folder goes
        for record in child.iterdir():
            record.unlink()
        child.rmdir()
    (usage / "desk").write_text("not a folder")
    assert build(consumed.root, "desk", PythonProduct("summary", summary))  # the step read its input all the same
    assert "usage of lab.readings by desk not recorded" in caplog.text
    plan = plan_read(consumed, domain_reader("desk"), consumed.find("lab", "readings"))
    assert record_read(plan, VIA_PYTHON, "desk.summary") is None and read_table(plan).num_rows == 2


def test_a_record_outside_its_readers_folder_is_ignored(consumed, mesh_home):
    usage = usage_of_readings(mesh_home)
    [genuine] = (usage / "desk").iterdir()
    forged = json.loads(genuine.read_text()) | {"reader": "loyalty"}  # desk claiming to be another domain
    (usage / "desk" / "29990101T000000000000Z-forged00.json").write_text(json.dumps(forged))
    assert [r.reader for r in recent_reads(consumed, "lab.readings")] == ["desk"]


def test_a_reader_may_write_only_its_own_usage_folder_of_what_it_reads(consumed):
    desk = domain_grants(consumed, "desk")
    assert Grant(WRITE, "lab/readings/usage/desk/") in desk
    assert not [g for g in desk if g.action == WRITE and g.prefix not in ("desk/", "lab/readings/usage/desk/", "shared/airports/usage/desk/")]


def test_mesh_impact_lists_declared_consumers_and_recent_readers(consumed, mesh_home):
    result = run_mesh(["impact", "lab.readings", "--json"], mesh_home, cwd=consumed.root)
    assert result.returncode == 0, result.stderr
    impact = json.loads(result.stdout)
    assert impact["declared_consumers"] == [{"consumer": "desk.summary", "domain": "desk", "pinned_major": 1}]
    [reader] = impact["recent_readers"]
    assert (reader["reader"], reader["consumer"], reader["via"], reader["version"]) == ("desk", "desk.summary", VIA_PYTHON, 0)
    assert impact["status"] == "active" and impact["broken_consumers"] == []
    text = run_mesh(["impact", "lab.readings"], mesh_home, cwd=consumed.root)
    assert "Declared consumers" in text.stdout and "desk.summary" in text.stdout and "Recent readers" in text.stdout
    unknown = run_mesh(["impact", "lab.readingz"], mesh_home, cwd=consumed.root)
    assert unknown.returncode == 1 and "no product 'lab.readingz'" in unknown.stderr


def test_the_built_mesh_records_dbt_source_reads_and_the_catalog_shows_them(built_mesh, tmp_path):
    home, _ = built_mesh
    result = run_mesh(["catalog", "--json"], home)
    assert result.returncode == 0, result.stderr
    flights = next(e for e in json.loads(result.stdout) if e["product"] == "flight_operations.flights")
    assert flights["status"] == "active"
    assert "punctuality.route_performance" in flights["consumers"]
    readers = {(r["reader"], r["via"]) for r in flights["last_reads"]}
    assert ("punctuality", VIA_DBT) in readers and ("punctuality", VIA_PYTHON) in readers
    dbt = next(r for r in flights["last_reads"] if r["via"] == VIA_DBT and r["reader"] == "punctuality")  # customer_insights reads it by dbt too
    assert "punctuality.route_performance" in dbt["consumer"] and dbt["version"] is not None
    site = tmp_path / "site"
    assert run_mesh(["catalog", "--html", str(site)], home).returncode == 0
    page = (site / "flight_operations.flights.html").read_text()
    assert 'id="usage"' in page and "dbt source" in page and "punctuality.route_performance" in page


@pytest.mark.objectstore
def test_on_an_object_store_a_reader_writes_its_own_usage_folder_only_and_the_owner_reads_it(s3):  # noqa: F811
    from mesh_platform.model.errors import MeshError
    from mesh_platform.runtime.ports.objects import write_object
    from mesh_platform.runtime.ports.store import port_store
    from tests.test_storage_access import apply

    _, home, settings = s3
    apply(home, settings)
    mesh = Mesh.load(ROOT)
    plan = plan_read(mesh, domain_reader("punctuality"), mesh.find("flight_operations", "flights"))
    assert plan.store.identity == "domain-punctuality"
    assert record_read(plan, VIA_DBT, "punctuality.route_performance", 3) is not None  # with punctuality's own keys
    [read] = recent_reads(ROOT, "flight_operations.flights", acting="flight_operations")  # the owner's keys
    assert (read.reader, read.version, read.consumer) == ("punctuality", 3, "punctuality.route_performance")
    # A reader cannot write as another reader, nor into a product it may not read.
    punctuality = port_store(ROOT, acting="punctuality")
    with pytest.raises(MeshError, match="domain-punctuality"):
        write_object(punctuality, "flight_operations/flights/usage/weather/forged.json", b"{}")
    with pytest.raises(MeshError, match="domain-punctuality"):
        write_object(punctuality, "loyalty/members/usage/punctuality/x.json", b"{}")
    # A masked reader records its reads but may not read the records (a raw reader is granted the
    # whole product folder, usage included: records hold product and domain names only).
    insights = port_store(ROOT, acting="customer_insights")
    write_object(insights, "loyalty/bookings/usage/customer_insights/20261201T000000000000Z-00000000.json", b"{}")
    with pytest.raises(MeshError, match="domain-customer_insights"):
        recent_reads(ROOT, "loyalty.bookings", acting="customer_insights")


def _written(mesh_home, reader: str, at: dt.datetime, name_at: dt.datetime | None = None, consumer: str | None = None) -> None:
    """A record as `reader` could write it into its own folder, its name stamped `name_at` (default: `at`)."""
    record = {"product": "lab.readings", "major": 1, "version": 0, "reader": reader, "how": "step",
              "consumer": consumer or f"{reader}.summary", "via": VIA_PYTHON, "at": at.isoformat()}
    folder = usage_of_readings(mesh_home) / reader
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{(name_at or at).strftime('%Y%m%dT%H%M%S%fZ')}-{len(list(folder.iterdir())):08x}.json").write_text(json.dumps(record))


def test_one_reader_cannot_hide_the_others_with_future_or_many_record_names(tmp_path, mesh_home):
    root = write_mesh(tmp_path / "mesh", edited())  # no build: the records are written as a reader could
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    _written(mesh_home, "desk", now - dt.timedelta(days=2))
    _written(mesh_home, "ops", now - dt.timedelta(days=1))
    for n in range(5):  # loyalty floods its folder: names far in the future, names lying about their time
        _written(mesh_home, "loyalty", now - dt.timedelta(hours=n + 1), name_at=dt.datetime(2999, 1, 1, n, tzinfo=dt.timezone.utc))
        _written(mesh_home, "loyalty", now - dt.timedelta(days=30), name_at=now - dt.timedelta(minutes=n + 1))
        _written(mesh_home, "loyalty", now - dt.timedelta(minutes=10 + n))  # honest, and newer than the others
    _written(mesh_home, "loyalty", now + dt.timedelta(minutes=4))  # within the clock skew: kept
    reads = recent_reads(root, "lab.readings", limit=3, now=now)
    assert [r.reader for r in reads] == ["loyalty", "ops", "desk"]  # every reader shows, newest first
    assert reads[0].at == now + dt.timedelta(minutes=4)
    everything = recent_reads(root, "lab.readings", limit=100, now=now)
    assert len(everything) == 2 + 5 + 1  # the far-future and mislabelled names are skipped
    assert all(r.at <= now + dt.timedelta(minutes=5) for r in everything)
