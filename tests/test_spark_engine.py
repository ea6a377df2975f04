"""The Spark engine: a dbt domain's models run on dbt-spark (a real Spark session on local[2]) and
are published by the platform, equal to what DuckDB builds; a setting moves a domain there.

The profile, the settings and the SQL that serves input ports are checked without a JVM (the
default suite); the builds (marker `spark`) run the real `mesh build` in a copy of the project.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot
import yaml
from deltalake import DeltaTable
from sqlglot import exp

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import current_mesh
from mesh_platform.runtime.engines import ENGINES, engine_for
from mesh_platform.runtime.engines.spark_sql import identifier, literal, port_view_statements
from tests.conftest import BIN, ROOT, copy_project, mesh_env, private_home
from tests.helpers.s3_mesh import fingerprint

SPARK = ENGINES["spark"]
DBT_PRODUCTS = ("route_performance", "aircraft_age_performance")


# -- the profile and the settings (no JVM) -------------------------------------------------------------

def test_the_spark_profile_is_a_session_whose_every_file_lies_under_the_domains_spark_folder(mesh_home, monkeypatch):
    monkeypatch.setenv("MESH_SPARK_CONF", json.dumps({"spark.driver.memory": "3g", "spark.sql.warehouse.dir": "/elsewhere"}))
    target = SPARK.profile_target(ROOT, "punctuality")
    home = mesh_home.resolve() / "spark" / "punctuality"
    conf = target.pop("server_side_parameters")
    assert target == {"type": "spark", "method": "session", "schema": "punctuality", "threads": 1, "host": "localhost"}
    assert conf["spark.master"] == "local[2]" and conf["spark.driver.memory"] == "3g"  # the user's conf is added
    assert conf["spark.sql.warehouse.dir"] == str(home / "warehouse")  # ...but never moves where the session writes
    assert conf["spark.local.dir"] == str(home / "tmp") and conf["spark.eventLog.dir"] == str(home / "events")
    assert f"-Dderby.system.home={home / 'metastore'}" in conf["spark.driver.extraJavaOptions"]
    assert f"databaseName={home / 'metastore' / 'metastore_db'};" in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert conf["spark.mesh.port_views"] == f"SELECT statement FROM json.`{home / 'ports.jsonl'}` ORDER BY position"
    assert SPARK.lock_path(ROOT, "punctuality") == home / "run.lock"


def test_a_remote_spark_is_refused_in_one_line_and_no_token_is_written(mesh_home, monkeypatch):
    """thrift/http/odbc are parsed (the settings' shape is the production one) but refused at run
    time: the platform reads a model's output from the session's local warehouse, which a remote
    cluster does not write. The refusal names no value of MESH_SPARK_PROFILE."""
    monkeypatch.setenv("MESH_SPARK_METHOD", "thrift")
    monkeypatch.setenv("MESH_SPARK_PROFILE", json.dumps({"host": "spark-thrift.internal", "port": "10000", "token": "dapi-secret-1234"}))
    with pytest.raises(MeshError, match="^MESH_SPARK_METHOD=thrift is not supported yet: only `session` runs") as refused:
        SPARK.profile_target(ROOT, "punctuality")
    assert "dapi-secret-1234" not in str(refused.value) and "spark-thrift.internal" not in str(refused.value)
    monkeypatch.setenv("MESH_SPARK_PROFILE", json.dumps({"port": "10000"}))
    with pytest.raises(MeshError, match="^MESH_SPARK_METHOD=thrift needs the server's host in MESH_SPARK_PROFILE$"):
        SPARK.profile_target(ROOT, "punctuality")


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("MESH_SPARK_METHOD", "jdbc", "MESH_SPARK_METHOD must be one of session, thrift, http, odbc, found 'jdbc'"),
    ("MESH_SPARK_CONF", "{spark.x: 1}", "MESH_SPARK_CONF is not valid JSON"),
    ("MESH_SPARK_CONF", '{"spark.executor.cores": 2}', "MESH_SPARK_CONF: 'spark.executor.cores' must be a string, found a JSON int"),
    ("MESH_SPARK_CONF", '{"driver.memory": "2g"}', "MESH_SPARK_CONF: 'driver.memory' is not a Spark setting (they start with 'spark.')"),
])
def test_a_bad_spark_setting_is_refused_in_one_line_naming_the_variable(mesh_home, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(MeshError) as refused:
        SPARK.profile_target(ROOT, "punctuality")
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_profile_token_is_never_repeated_in_a_refusal(mesh_home, monkeypatch):
    monkeypatch.setenv("MESH_SPARK_METHOD", "http")
    monkeypatch.setenv("MESH_SPARK_PROFILE", json.dumps({"host": "h", "token": "dapi-secret-1234", "schema": "other"}))
    with pytest.raises(MeshError) as refused:
        SPARK.profile_target(ROOT, "punctuality")
    assert "'schema' is set by the platform" in str(refused.value) and "dapi-secret-1234" not in str(refused.value)


# -- MESH_ENGINES: the engine by setting (no JVM) ---------------------------------------------------------

def test_mesh_engines_moves_a_domain_to_spark_without_touching_it(monkeypatch):
    mesh = current_mesh(ROOT)
    assert engine_for(mesh.domains["punctuality"]).name == "duckdb"
    monkeypatch.setenv("MESH_ENGINES", '{"punctuality": "spark"}')
    assert engine_for(mesh.domains["punctuality"]).name == "spark"
    assert engine_for(mesh.domains["fleet"]).name == "duckdb"  # the other dbt domains keep theirs


@pytest.mark.parametrize(("value", "message"), [
    ('{"punctualty": "spark"}', "MESH_ENGINES names domain 'punctualty', which is not a domain of this mesh (domains: "),
    ('{"punctuality": "trino"}', "MESH_ENGINES gives domain 'punctuality' engine 'trino'; expected one of: duckdb, spark"),
    ('["punctuality"]', "MESH_ENGINES must be a JSON object of domain names to engine names"),
])
def test_a_bad_mesh_engines_is_refused_in_one_line_naming_the_variable(monkeypatch, value, message):
    monkeypatch.setenv("MESH_ENGINES", value)
    with pytest.raises(MeshError) as refused:
        engine_for(current_mesh(ROOT).domains["punctuality"])
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_domain_moved_to_another_engine_gets_a_manifest_parsed_for_it():
    """A manifest parsed for DuckDB names the models in schema `main`; the same project moved to
    Spark by MESH_ENGINES must not reuse it (a CI run failed exactly so: "Table with name
    aircraft_age_performance does not exist")."""
    from mesh_platform.orchestration.dbt.project import DomainDbtProject  # reason: Dagster's side loads only for this test

    folder = ROOT / "dbt_projects" / "punctuality"
    on_duckdb = DomainDbtProject("punctuality", folder, ROOT, engine=ENGINES["duckdb"])
    on_spark = DomainDbtProject("punctuality", folder, ROOT, engine=ENGINES["spark"])
    assert on_duckdb._fingerprint() != on_spark._fingerprint()
    assert on_duckdb._fingerprint() == DomainDbtProject("punctuality", folder, ROOT, engine=ENGINES["duckdb"])._fingerprint()


def test_mesh_build_refuses_a_bad_mesh_engines_before_building_anything(tmp_path):
    built = subprocess.run([str(BIN / "mesh"), "build", "--domain", "punctuality"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, env=mesh_env(tmp_path / "home", MESH_ENGINES='{"punctuality": "trino"}'))
    assert built.returncode != 0
    assert "MESH_ENGINES gives domain 'punctuality' engine 'trino'; expected one of: duckdb, spark" in built.stdout + built.stderr
    assert not (tmp_path / "home" / "storage").exists()


# -- the SQL that serves an input port (no JVM) ------------------------------------------------------------

SCHEMA = pa.schema([("flight_month", pa.date32()), ("carrier", pa.string()), ("at", pa.timestamp("us", "UTC")),
                    ("local_at", pa.timestamp("us")), ("fare", pa.decimal128(9, 2))])


def _parsed(statement: str) -> exp.Expression:
    parsed = sqlglot.parse(statement, read="spark")
    assert len(parsed) == 1, statement  # one statement: nothing was appended after a broken quote
    return parsed[0]


def test_an_input_port_is_a_view_over_exactly_its_versions_files_partition_values_added(tmp_path):
    files = [("w-1/flight_month=2013-01-01/part-a.parquet", {"flight_month": "2013-01-01"}),
             ("w-1/flight_month=2013-01-01/part-b.parquet", {"flight_month": "2013-01-01"}),
             ("w-2/flight_month=2013-02-01/part-c.parquet", {"flight_month": "2013-02-01"})]
    create, view = port_view_statements("flight_operations", "flights", "/ports/flights/v1", files, SCHEMA)
    assert create == "CREATE DATABASE IF NOT EXISTS `flight_operations`"
    assert view.startswith("CREATE OR REPLACE VIEW `flight_operations`.`flights` AS SELECT CAST('2013-01-01' AS DATE) AS `flight_month`, "
                           "CAST(`carrier` AS STRING) AS `carrier`, CAST(`at` AS TIMESTAMP) AS `at`, "
                           "CAST(`local_at` AS TIMESTAMP_NTZ) AS `local_at`, CAST(`fare` AS DECIMAL(9, 2)) AS `fare` "
                           "FROM parquet.`/ports/flights/v1/{w-1/flight_month=2013-01-01/part-a.parquet,w-1/flight_month=2013-01-01/part-b.parquet}` UNION ALL ")
    assert view.endswith("FROM parquet.`/ports/flights/v1/w-2/flight_month=2013-02-01/part-c.parquet`")
    _parsed(view)


def test_a_hostile_name_path_or_partition_value_stays_inside_its_quotes():
    hostile_value = "x' UNION SELECT 1 --\\"
    files = [("w-1/p`a,r}t{*.parquet", {"flight_month": hostile_value})]
    schema = pa.schema([("flight_month", pa.string()), ("odd`col", pa.string())])
    _, view = port_view_statements("evil`; DROP DATABASE x; --", "t`", "/ports/o'k`/v1", files, schema)
    parsed = _parsed(view)
    assert isinstance(parsed, exp.Create) and parsed.this.name == "t`" and parsed.this.db == "evil`; DROP DATABASE x; --"
    select = parsed.expression
    assert [c.alias for c in select.expressions] == ["flight_month", "odd`col"]
    assert select.expressions[0].this.this.name == hostile_value  # the literal holds the value, whole
    # The glob's metacharacters are escaped: the path names that one file, not a pattern.
    assert select.find(exp.Table).name == "/ports/o'k`/v1/w-1/p`a\\,r\\}t\\{\\*.parquet"
    assert identifier("a`b") == "`a``b`" and literal("it's \\n") == "'it\\'s \\\\n'"
    with pytest.raises(MeshError, match="control character"):
        port_view_statements("producer", "product", "/ports/a\nb", files, schema)


# -- builds on a real Spark session (marker spark) ---------------------------------------------------------

def _rounded(table: pa.Table) -> pa.Table:
    """Doubles to 9 decimals: Spark and DuckDB sum an average's values in a different order."""
    columns = [pc.round(col, 9) if pa.types.is_floating(col.type) else col for col in table.columns]
    return pa.table(columns, names=table.column_names)


def port_content(home: Path, domain: str, product: str, version: int | None = None) -> tuple[int, int]:
    table = DeltaTable(str(home / "storage" / domain / product / "v1"), version=version).to_pyarrow_table()
    return fingerprint(_rounded(table))


def spark_build(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = mesh_env(home, MESH_ENGINES='{"punctuality": "spark"}')
    return subprocess.run([str(BIN / "mesh"), "build", "--domain", "punctuality", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def spark_built(built_mesh, tmp_path_factory):
    """The demo mesh built on DuckDB, then punctuality rebuilt on Spark by setting only, in a copy
    of the project and of the built MESH_HOME."""
    tmp = tmp_path_factory.mktemp("spark")
    project = copy_project(tmp / "project")
    home = private_home(built_mesh, tmp / "home")
    built = spark_build(project, home)
    return project, home, built


@pytest.mark.spark
def test_punctuality_built_on_spark_publishes_every_product_equal_to_the_duckdb_build(built_mesh, spark_built):
    project, home, built = spark_built
    assert built.returncode == 0, built.stdout + built.stderr
    for product in DBT_PRODUCTS:
        assert f"✔ punctuality.{product}" in built.stdout
        history = DeltaTable(str(home / "storage" / "punctuality" / product / "v1")).history()
        assert len(history) == 2  # DuckDB's publish, then Spark's
        assert port_content(home, "punctuality", product) == port_content(built_mesh[0], "punctuality", product), product
    # Spark wrote under MESH_HOME/spark/punctuality only, never into the dbt project (dbt's cwd).
    spark_home = home / "spark" / "punctuality"
    assert (spark_home / "warehouse" / "punctuality.db" / "route_performance").is_dir()
    assert (spark_home / "metastore" / "metastore_db").is_dir()
    dbt_project = project / "dbt_projects" / "punctuality"
    assert not [p.name for p in dbt_project.iterdir() if p.name in ("metastore_db", "derby.log", "spark-warehouse")]


READER_EDIT = {"readers": ["customer_insights", "punctuality"]}
# Named for what punctuality gets: a token (a column named like an e-mail must be classified).
EMAILS_MODEL = "select booking_id, passenger_email as contact_token from {{ source('loyalty', 'bookings') }}"


def _add_email_product(project: Path) -> None:
    """A punctuality product reading loyalty.bookings, whose passenger_email punctuality (a reader
    without personal-data rights) sees masked."""
    bookings = project / "domains" / "loyalty" / "products" / "bookings.yaml"
    descriptor = yaml.safe_load(bookings.read_text())
    bookings.write_text(yaml.safe_dump({**descriptor, **READER_EDIT}, sort_keys=False))
    (project / "domains" / "punctuality" / "products" / "booking_contacts.yaml").write_text(yaml.safe_dump(
        {"name": "booking_contacts", "description": "Each booking's passenger contact as punctuality sees it.",
         "inputs": ["loyalty.bookings"]}))
    contract = yaml.safe_load((project / "domains" / "punctuality" / "contracts" / "aircraft_age_performance.odcs.yaml").read_text())
    contract.update({"id": "urn:mesh:punctuality:booking_contacts", "name": "booking_contacts", "dataProduct": "booking_contacts"})
    contract["schema"] = [{"name": "booking_contacts", "physicalName": "booking_contacts", "logicalType": "object",
                           "description": "Passenger contacts of bookings.", "properties": [
                               {"name": "booking_id", "logicalType": "integer", "physicalType": "BIGINT", "required": True, "description": "The booking."},
                               {"name": "contact_token", "logicalType": "string", "physicalType": "VARCHAR", "description": "The passenger's e-mail as punctuality reads it: masked."}]}]
    (project / "domains" / "punctuality" / "contracts" / "booking_contacts.odcs.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    (project / "dbt_projects" / "punctuality" / "models" / "booking_contacts.sql").write_text(EMAILS_MODEL)


def _break_route_rule(project: Path) -> None:
    """A blocking rule every Spark-built route_performance breaks."""
    path = project / "domains" / "punctuality" / "contracts" / "route_performance.odcs.yaml"
    contract = yaml.safe_load(path.read_text())
    contract["schema"][0]["quality"].append({"name": "at_most_ten_routes", "metric": "rowCount", "mustBeLessThan": 11})
    contract["version"] = "1.1.0"  # a rule added is a minor change of the contract
    path.write_text(yaml.safe_dump(contract, sort_keys=False))


@pytest.mark.spark
def test_on_spark_a_failing_rule_keeps_the_last_good_version_and_personal_inputs_arrive_masked(spark_built):
    project, home, first = spark_built
    assert first.returncode == 0, first.stdout + first.stderr
    good = port_content(home, "punctuality", "route_performance")
    _break_route_rule(project)
    _add_email_product(project)
    built = spark_build(project, home)
    output = built.stdout + built.stderr
    assert built.returncode != 0 and "punctuality.route_performance was not published" in output and "at_most_ten_routes" in output
    route = DeltaTable(str(home / "storage" / "punctuality" / "route_performance" / "v1"))
    assert len(route.history()) == 2 and port_content(home, "punctuality", "route_performance") == good

    contacts = DeltaTable(str(home / "storage" / "punctuality" / "booking_contacts" / "v1")).to_pyarrow_table()
    raw = DeltaTable(str(home / "storage" / "loyalty" / "bookings" / "v1")).to_pyarrow_table(columns=["booking_id", "passenger_email"])
    masked = DeltaTable(str(home / "storage" / "loyalty" / "bookings" / "masked" / "v1")).to_pyarrow_table(columns=["booking_id", "passenger_email"])
    assert contacts.num_rows == raw.num_rows > 0
    assert not set(contacts["contact_token"].to_pylist()) & set(raw["passenger_email"].to_pylist())  # no raw e-mail reached Spark's output
    assert fingerprint(contacts.rename_columns(["booking_id", "passenger_email"])) == fingerprint(masked)  # the masked projection's values
    assert not any("@" in str(v) for v in (home / "spark" / "punctuality" / "ports.jsonl").read_text().split())
