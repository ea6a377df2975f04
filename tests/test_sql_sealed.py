"""User-written SQL reaches only the relations it was given: `mesh sql` sessions (as any domain or
none), the audit connections that run contract `sql` rules, and the load-time rule binder.

Each escape a hostile user tried (issue 10) is refused with one line, and the views over the ports
still answer after it. The refusals come from DuckDB's own settings (`mesh_platform/runtime/sealed.py`).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import duckdb
import pytest

from mesh_platform.model.errors import ContractError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import Comparison, Rule, rules_for, sql_rule
from mesh_platform.runtime import sealed
from mesh_platform.runtime.ports.delta import read_dataset
from mesh_platform.runtime.ports.port import port_uri
from mesh_platform.runtime.publishing import audit_batch, port_reader
from mesh_platform.runtime.quality.engine import audit
from mesh_platform.runtime.settings import mesh_home, storage_root, warehouse_path
from mesh_platform.runtime.sql import SealedRefusal, SqlSession
from mesh_platform.runtime.validation import validate_product
from tests.conftest import BIN, ROOT, copy_project, mesh_env, run_mesh

ACTING = [None, "loyalty", "customer_insights", "punctuality"]
FILES_REFUSED = "file system access is disabled in mesh sql: a session reads only the ports it was given as views"
SETTINGS_LOCKED = "settings are locked in mesh sql"
ALLOWED = "select count(*) from flight_operations.flights"
FLIGHTS = 336776


@pytest.fixture(scope="module", params=ACTING, ids=lambda a: f"as {a}" if a else "without --as")
def session(request, built_mesh) -> SqlSession:
    home, _ = built_mesh
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MESH_HOME", str(home))
        env.delenv("MESH_STORAGE_ROOT", raising=False)
        yield SqlSession.open(ROOT, request.param)


def refused(session: SqlSession, query: str, expected: str = FILES_REFUSED) -> str:
    """The refusal of `query`: one line, saying why; the views answer right after it."""
    with pytest.raises(SealedRefusal) as caught:
        session.run(query)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert session.run(ALLOWED)[1] == [(FLIGHTS,)]
    return message


def test_the_port_files_under_the_storage_root_are_refused(session):
    members = Path(storage_root(ROOT)) / "loyalty" / "members"
    assert list(members.rglob("*.parquet"))  # the files are there: only the session cannot reach them
    if session.views.get("loyalty.members") == []:
        # A port the session reads unmasked is scanned natively (delta_scan): its folder is readable,
        # and shows nothing the view does not (tests/test_native_reads.py: every other folder is not).
        assert session.run(f"select count(*) from read_parquet('{members}/v1/**/*.parquet')")[1] == session.run("select count(*) from loyalty.members")[1]
        return
    refused(session, f"select member_id, email from read_parquet('{members}/**/*.parquet')")
    one_file = next(members.rglob("*.parquet"))
    refused(session, f"select * from '{one_file}'")  # a bare path: DuckDB's replacement scan of the file
    refused(session, f"select * from parquet_metadata('{one_file}')")


def test_the_masking_key_is_refused(session):
    key = mesh_home(ROOT) / "masking.key"
    assert key.is_file()
    message = refused(session, f"select content from read_text('{key}')")
    assert key.read_text().strip() not in message
    refused(session, f"select * from read_blob('{key}')")


def test_another_domains_database_can_be_neither_attached_nor_written(session):
    fleet = warehouse_path(ROOT, "fleet")
    before = hashlib.sha256(fleet.read_bytes()).hexdigest()
    refused(session, f"ATTACH '{fleet}' AS fleet_db")
    refused(session, f"ATTACH '{fleet}' AS fleet_db (READ_ONLY)")
    with pytest.raises(duckdb.Error):  # nothing was attached, so there is nothing to write into
        session.run("CREATE TABLE fleet_db.main.planted AS SELECT 1 AS x")
    assert hashlib.sha256(fleet.read_bytes()).hexdigest() == before
    with duckdb.connect(str(fleet), read_only=True) as con:
        assert con.sql("select count(*) from duckdb_tables() where table_name = 'planted'").fetchall() == [(0,)]


def test_glob_is_refused(session):
    refused(session, f"select * from glob('{mesh_home(ROOT)}/**')")
    refused(session, "select * from glob('/etc/*')")


def test_system_files_are_refused(session):
    refused(session, "select * from read_csv('/etc/passwd')")
    refused(session, "select * from read_csv_auto('/etc/hosts', header = false)")


def test_copy_and_export_to_a_file_are_refused(session, tmp_path):
    target, export = tmp_path / "flights.csv", tmp_path / "export"
    refused(session, f"COPY (select * from flight_operations.flights) TO '{target}'")
    refused(session, f"EXPORT DATABASE '{export}'")
    assert not target.exists() and not export.exists()


def test_the_network_and_extensions_are_refused(session):
    refused(session, "INSTALL httpfs")
    refused(session, "LOAD httpfs")
    refused(session, "select * from read_csv('https://example.com/members.csv')")
    refused(session, "CREATE SECRET leak (TYPE s3, KEY_ID 'a', SECRET 'b')", "extensions are disabled in mesh sql")


@pytest.mark.parametrize("statement", [
    "SET enable_external_access = true", "RESET enable_external_access", "SET lock_configuration = false",
    "SET GLOBAL allowed_directories = ['/']", "PRAGMA threads = 1", "SET temp_directory = '/tmp'",
])
def test_settings_cannot_be_changed_back(session, statement):
    refused(session, statement, SETTINGS_LOCKED)
    refused(session, "select * from read_csv('/etc/passwd')")  # still sealed afterwards


def test_mesh_sql_says_a_refusal_in_one_line_and_exits_1(built_mesh):
    home, _ = built_mesh
    result = run_mesh(["sql", "-c", "select * from read_csv('/etc/passwd')"], home)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'error: ' + FILES_REFUSED + ' (`.tables` lists them), no file, database, extension or network (Cannot access file "/etc/passwd")'
    ]
    assert "root:" not in result.stdout + result.stderr


@pytest.mark.parametrize("acting", ACTING)
def test_the_interactive_session_refuses_each_escape_and_carries_on(built_mesh, tmp_path, acting):
    home, _ = built_mesh
    escapes = [
        f"select * from read_parquet('{home}/storage/loyalty/members/**/*.parquet');",
        f"select * from read_text('{home}/masking.key');",
        f"ATTACH '{home}/warehouse/fleet.duckdb' AS f;",
        "select * from glob('/etc/*');",
        "select * from read_csv('/etc/passwd');",
        f"COPY (select 1) TO '{tmp_path}/out.csv';",
        "LOAD httpfs;",
        "SET enable_external_access = true;",
    ]
    session = subprocess.run(
        [str(BIN / "mesh"), "sql", "--json", *(["--as", acting] if acting else [])], cwd=ROOT, env=mesh_env(home),
        input="\n".join([*escapes, f"{ALLOWED};", ".quit"]) + "\n", capture_output=True, text=True, timeout=120,
    )
    assert session.returncode == 0, session.stderr
    errors = [line for line in session.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(escapes), session.stderr
    assert sum(FILES_REFUSED in line for line in errors) == len(escapes) - 1
    assert SETTINGS_LOCKED in errors[-1]
    assert f'"count_star()": {FLIGHTS}' in session.stdout
    assert not (tmp_path / "out.csv").exists()


# -- contract sql rules ------------------------------------------------------------------------

READS_A_FILE = "SELECT count(*) FROM read_text('/etc/passwd')"


def test_a_contract_sql_rule_reading_a_file_is_refused_at_load(tmp_path, mesh_home):
    project = copy_project(tmp_path / "project")
    contract = project / "domains" / "flight_operations" / "contracts" / "flights.odcs.yaml"
    published = "      - {name: flights_published, "
    text = contract.read_text()
    assert published in text
    contract.write_text(text.replace(published, f'      - {{name: peeks_at_passwords, type: sql, query: "{READS_A_FILE}", mustBe: 0}}\n{published}', 1))
    mesh = Mesh.load(project)
    with pytest.raises(ContractError) as caught:
        validate_product(mesh.find("flight_operations", "flights"), mesh)
    message = str(caught.value)
    assert message.startswith(f"{contract}: quality rule peeks_at_passwords: the sql does not run: file system access is disabled in contract sql rules")
    assert "a rule reads only the batch under audit ({table}) and the ports its relationships reference" in message


def _rules_with_a_file_read(contract) -> list[Rule]:
    """The flights contract's own rules (relationship lookups to three ports included) and one
    that reads a file, as if it had slipped past the binder."""
    return [*rules_for(contract), sql_rule("peeks_at_passwords", "reads a file", "error", READS_A_FILE, Comparison("mustBe", 0))]


def _assert_sealed_audit(results) -> None:
    by_name = {r.rule.name: r for r in results}
    assert "file system access is disabled in contract sql rules" in by_name["peeks_at_passwords"].error
    lookups = [r for r in results if r.rule.reference]
    assert {r.rule.reference[:2] for r in lookups} == {("shared", "carriers"), ("shared", "airports"), ("fleet", "aircraft")}
    assert all(r.error is None for r in lookups)  # the referenced ports, registered as Arrow datasets, still answer
    assert by_name["flights_published"].passed and by_name["flights_published"].value == FLIGHTS


def test_the_python_audit_connection_is_sealed_and_reads_its_batch_and_references(built_mesh, monkeypatch):
    home, _ = built_mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    product = Mesh.load(ROOT).find("flight_operations", "flights")
    batch = read_dataset(port_uri(storage_root(ROOT), "flight_operations", "flights", 1), product.id).to_table()
    _assert_sealed_audit(audit_batch(batch, _rules_with_a_file_read(product.contract), product, ROOT))


def test_a_sealed_file_database_opened_read_only_audits_its_tables_and_nothing_else(built_mesh, tmp_path, monkeypatch):
    home, _ = built_mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    product = Mesh.load(ROOT).find("flight_operations", "flights")
    database = tmp_path / "flight_operations.duckdb"
    with duckdb.connect(str(database)) as writer:  # as dbt leaves a domain's file: the model as a table
        writer.register("port", read_dataset(port_uri(storage_root(ROOT), "flight_operations", "flights", 1), product.id))
        writer.execute("CREATE TABLE flights AS SELECT * FROM port")
    with sealed.connect(str(database), read_only=True) as con:
        _assert_sealed_audit(audit(con, "main.flights", _rules_with_a_file_read(product.contract), references=port_reader(ROOT, "flight_operations")))
        for escape in (f"ATTACH '{warehouse_path(ROOT, 'fleet')}' AS fleet_db", f"COPY flights TO '{tmp_path}/out.csv'", "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error) as caught:
                con.execute(escape)
            assert sealed.refusal(caught.value, "an audit", "its batch only") is not None
    assert not (tmp_path / "out.csv").exists()
