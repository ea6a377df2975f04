"""Spark, the second compute engine: a domain's dbt project runs on dbt-spark.

- profile: dbt-spark with `method: session` (Spark inside dbt's own process, master
  `MESH_SPARK_MASTER`, `local[2]` by default); Thrift or Databricks are the same profile with
  `MESH_SPARK_METHOD` and `MESH_SPARK_PROFILE` (runtime/settings.py). Everything the session
  writes (warehouse, Derby metastore, scratch, event logs) lies under `<MESH_HOME>/spark/<domain>/`,
  never in dbt's working directory (the dbt project); table models are Parquet (dbt-spark's default
  file format), timestamps written as microseconds.
- input ports: before dbt starts (`prepare_run`), each input port is planned through the governed
  read path as the domain (access checked, pinned major resolved, a masked reader served the masked
  projection's files) and becomes a view over exactly the Parquet files of the planned Delta version
  (spark_sql.py); the statements go into `ports.jsonl`, which the project's `on-run-start` hook
  (`mesh_port_views`, dbt_projects/<domain>/macros/) runs in the session. What cannot be served as
  files safely is refused in one line before dbt starts: a port with columns left to mask in Python,
  a port on an object store (Spark has no S3 client here: hadoop-aws is not installed).
- outputs: once dbt has exited, DuckDB reads the Parquet files Spark wrote (spark_outputs.py) and
  the DuckDB engine's own staging writes them into the ports' staging folders, cast to the
  contract's types; rules audit the staged files on a sealed DuckDB connection (so `dialect` stays
  duckdb: no rule ever runs on Spark), and the platform's one write path commits them.
- lock: the session's embedded Derby metastore admits one process, so runs of a domain take turns.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.names import product_id
from mesh_platform.runtime.engines.base import ComputeEngine
from mesh_platform.runtime.engines.duckdb import DuckDBEngine
from mesh_platform.runtime.engines.inputs import pinned_major
from mesh_platform.runtime.engines.spark_sql import drop_view_statement, port_view_statements, statements_query
from mesh_platform.runtime.settings import (
    SPARK_PROFILE_ENV, STORAGE_ROOT_ENV, spark_conf, spark_home, spark_master, spark_method, spark_profile,
)

PORT_VIEWS_CONF = "spark.mesh.port_views"  # the hook reads the query of a run's statements here
PORT_VIEWS_FILE = "ports.jsonl"


def session_conf(home: Path) -> dict[str, str]:
    """The Spark settings of a domain's session: the user's (MESH_SPARK_CONF) over small local
    defaults, then the platform's own, which always win: where the session writes, and how."""
    defaults = {
        "spark.master": spark_master(),
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",  # Spark's 200 tasks per shuffle cost more than a domain's rows here
    }
    tmp = home / "tmp"
    fixed = {
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.local.dir": str(tmp),
        "spark.eventLog.dir": str(home / "events"),
        # The embedded Derby metastore (and derby.log) and the JVM's scratch files: never the cwd.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home / 'metastore'} -Djava.io.tmpdir={tmp}",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home / 'metastore' / 'metastore_db'};create=true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Spark's progress bar shares dbt's stdout without line breaks: it would glue itself to dbt's
        # JSON result lines, which Dagster then cannot read (a model built but never published).
        "spark.ui.showConsoleProgress": "false",
        PORT_VIEWS_CONF: statements_query(str(home / PORT_VIEWS_FILE)),
    }
    return {**defaults, **spark_conf(), **fixed}


class SparkEngine(ComputeEngine):
    name = "spark"
    dialect = "duckdb"  # rules audit the staged Parquet files on DuckDB, never on Spark
    # Staging and reading a model are DuckDB's over the Parquet files Spark wrote.
    _outputs = DuckDBEngine()

    def profile_target(self, root: Path, domain: str) -> dict[str, Any]:
        home = spark_home(root, domain)
        method = spark_method()
        target: dict[str, Any] = {"type": "spark", "method": method, "schema": domain, "threads": 1}
        if method == "session":
            target["host"] = "localhost"  # dbt-spark requires one; a session connects to nothing
        else:
            extra = spark_profile()
            if "host" not in extra:
                raise MeshError(f"MESH_SPARK_METHOD={method} needs the server's host in {SPARK_PROFILE_ENV}")
            # Not yet: the session's settings below are driver-side and point at this host's
            # folders, and the platform reads the models back from the local warehouse; a remote
            # cluster would neither take them nor write where the platform reads. Refused rather
            # than half-working (and so no token is ever written into a profiles.yml).
            raise MeshError(
                f"MESH_SPARK_METHOD={method} is not supported yet: only `session` runs (a remote Spark's tables are not "
                "where the platform reads a model's output); see docs/compute-engines.md"
            )
        target["server_side_parameters"] = session_conf(home)
        return target

    def source_binding(self) -> dict[str, Any]:
        # The same binding as DuckDB's: the generated sources stay the same whichever engine a
        # setting picks (dbt-spark ignores the meta; the views are made by `prepare_run`).
        return self._outputs.source_binding()

    def binds_port(self, source) -> bool:
        return self._outputs.binds_port(source)

    def prepare_run(self, root: Path, domain: str) -> None:
        home = spark_home(root, domain)
        for folder in ("warehouse", "tmp", "events", "metastore"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"position": i, "statement": s}) for i, s in enumerate(port_statements(root, domain))]
        partial = home / f".{PORT_VIEWS_FILE}.{os.getpid()}.tmp"
        partial.write_text("\n".join(lines) + "\n")
        os.replace(partial, home / PORT_VIEWS_FILE)

    @contextlib.contextmanager
    def open_outputs(self, root: Path, domain: str) -> Iterator[Any]:
        from mesh_platform.runtime.engines import spark_outputs  # reason: duckdb loads when a run opens its outputs, not at location load

        con = spark_outputs.sealed_session(spark_home(root, domain) / "warehouse")
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def open_staging(self, root: Path, domain: str) -> Iterator[Any]:
        from mesh_platform.runtime.engines import spark_outputs  # reason: duckdb loads when a run stages its outputs, not at location load

        con = spark_outputs.staging_session(spark_home(root, domain) / "warehouse")
        try:
            yield con
        finally:
            con.close()

    def stage_output(self, session: Any, relation: str, folder: Path, schema: pa.Schema) -> None:
        self._outputs.stage_output(session, relation, folder, schema)

    def read_output(self, session: Any, relation: str, *, batch_rows: int) -> pa.RecordBatchReader:
        return self._outputs.read_output(session, relation, batch_rows=batch_rows)

    def lock_path(self, root: Path, domain: str) -> Path:
        return spark_home(root, domain) / "run.lock"


def port_statements(root: Path, domain: str) -> list[str]:
    """Every input port of `domain` as a Spark view, planned as the domain; refused in one line
    when one cannot be served as files (never published, denied, masked in Python, remote)."""
    from mesh_platform.runtime.ports.delta import data_files  # reason: deltalake loads when a run starts, not at location load
    from mesh_platform.runtime.reading import native_location, plan_read  # reason: the read path loads when a run starts
    from mesh_platform.runtime.usage import VIA_DBT, declared_consumers, record_read  # reason: the read path loads when a run starts

    mesh = current_mesh(root)
    consumer = f"dbt project of domain {domain!r} (engine spark)"
    keys = sorted({port.key for p in mesh.domains[domain].products.values() for port in p.inputs if port.domain != domain})
    statements = []
    for producer, product in keys:
        target = mesh.require(product_id(producer, product), consumer=consumer)
        plan = plan_read(mesh, domain_reader(domain, how="dbt"), target, pinned_major(mesh, domain, target.key), consumer=consumer)
        location = native_location(plan)
        if location is None:
            raise MeshError(f"{consumer} cannot read {plan.label}: it has columns masked only as they are read (no masked "
                            f"projection holds them), and Spark reads files; republish {plan.label} so its projection masks them")
        if not location.local:
            raise MeshError(f"{consumer} cannot read {plan.label}: its port is on an object store ({STORAGE_ROOT_ENV}) and this "
                            "Spark has no S3 client (hadoop-aws); run the domain on duckdb (MESH_ENGINES) or keep ports on local disk")
        files, _ = data_files(location.path, plan.label, location.version)
        record_read(plan, VIA_DBT, declared_consumers(mesh, domain, target), location.version)  # runtime/usage.py
        statements += [drop_view_statement(producer, product),
                       *port_view_statements(producer, product, location.path, files, location.schema)]
    return statements
