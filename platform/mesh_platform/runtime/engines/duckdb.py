"""DuckDB, the first compute engine: each dbt domain builds into its own DuckDB file.

- profile: dbt-duckdb on `<mesh home>/warehouse/<domain>.duckdb` (runtime.settings.warehouse_path),
  one thread, and the `mesh_port` plugin (duckdb_port_source.py) configured as the domain;
- input ports: dbt sources with `meta: {plugin: mesh_port, save_mode: ignore}`, which the plugin
  serves, after the governed read path's checks, as views over DuckDB's `delta_scan` of the port
  (masked ports: over the masked Arrow table); the producer's DuckDB file is never opened;
- outputs: once dbt has exited, the file is opened read-only and each product model is written once,
  by DuckDB's own multi-threaded Parquet writer, into its port's staging folder (cast to the
  contract's types); the contract's rules then audit those files on a sealed connection, and the
  Delta commit that adds them is the publish. `open_outputs` (sealed) still serves reads of a model;
- lock: a DuckDB file admits one writing process, so runs of a domain take turns on a lock file
  beside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mesh_platform.model.contracts.types import sql_type_of
from mesh_platform.model.errors import PublishError
from mesh_platform.runtime.engines.base import ComputeEngine
from mesh_platform.runtime.quality.compile import quote
from mesh_platform.runtime.settings import warehouse_path

if TYPE_CHECKING:  # duckdb itself loads when outputs are opened: a code location only writes profiles
    import duckdb

PLUGIN_ALIAS = "mesh_port"  # what a source's `meta: {plugin: ...}` names; dbt-duckdb's plugin alias
# By name, not imported: the plugin module imports dbt's adapter, which only dbt's own process needs.
PLUGIN_MODULE = "mesh_platform.runtime.engines.duckdb_port_source"


class DuckDBEngine(ComputeEngine):
    name = "duckdb"
    dialect = "duckdb"

    def profile_target(self, root: Path, domain: str) -> dict[str, Any]:
        return {
            "type": "duckdb",
            "path": str(warehouse_path(root, domain)),
            # One dbt thread: DuckDB already spreads each query over every core, and two threads that
            # reference the same input port race to create its view ("Catalog write-write conflict").
            "threads": 1,
            "plugins": [{"module": PLUGIN_MODULE, "alias": PLUGIN_ALIAS, "config": {"project_root": str(root), "domain": domain}}],
        }

    def source_binding(self) -> dict[str, Any]:
        # save_mode ignore: dbt-duckdb keeps the native view the plugin made on connecting
        # (duckdb_port_source.py) instead of replacing it with a view over a registered object.
        return {"meta": {"plugin": PLUGIN_ALIAS, "save_mode": "ignore"}}

    def binds_port(self, source) -> bool:
        # The plugin alone marks a port; `save_mode` is how the plugin keeps its native view, and a
        # source written before it (or by hand) is still a port.
        meta = {**source.get("meta", {}), **source.get("config", {}).get("meta", {})}
        return meta.get("plugin") == PLUGIN_ALIAS

    @contextlib.contextmanager
    def open_outputs(self, root: Path, domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
        from mesh_platform.runtime import sealed  # reason: duckdb loads when a run opens its outputs, not at location load

        # Sealed: contract sql rules are user-written, and this process can reach every domain's files.
        with sealed.connect(str(warehouse_path(root, domain)), read_only=True) as con:
            yield con

    @contextlib.contextmanager
    def open_staging(self, root: Path, domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
        # Not sealed: COPY needs file access. Only SQL the platform writes runs here (a model named
        # by the manifest, quoted); the user-written rules audit the staged files elsewhere, sealed.
        # A separate connection, not the sealed one unsealed: DuckDB shares one instance (and its
        # global settings) between connections of a process to the same file.
        import duckdb  # reason: duckdb loads when a run stages its outputs, not at location load

        with duckdb.connect(str(warehouse_path(root, domain)), read_only=True) as con:
            # TIMESTAMP -> TIMESTAMPTZ casts read naive times as UTC, as Arrow's cast did.
            con.execute("SET TimeZone = 'UTC'")
            yield con

    def stage_output(self, session: duckdb.DuckDBPyConnection, relation: str, folder: Path, schema: pa.Schema) -> None:
        found = dict(zip(*_names_types(session, relation)))
        columns = []
        for field in schema:
            target = sql_type_of(field.type)
            if pa.types.is_decimal(field.type) and found.get(field.name) != target:
                _refuse_inexact(session, relation, field.name, target)
            columns.append(f"CAST({quote(field.name)} AS {target}) AS {quote(field.name)}")
        where = str(folder).replace("'", "''")
        session.execute(
            f"COPY (SELECT {', '.join(columns)} FROM {relation}) TO '{where}' (FORMAT parquet, PER_THREAD_OUTPUT true, FILENAME_PATTERN 'part-{{uuid}}')"
        )

    def read_output(self, session: duckdb.DuckDBPyConnection, relation: str, *, batch_rows: int) -> pa.RecordBatchReader:
        return session.sql(f"select * from {relation}").to_arrow_reader(batch_rows)

    def lock_path(self, root: Path, domain: str) -> Path:
        return warehouse_path(root, domain).with_suffix(".lock")


def _names_types(session: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[str]]:
    described = session.sql(f"describe select * from {relation}").fetchall()
    return [row[0] for row in described], [str(row[1]).upper() for row in described]


def _refuse_inexact(session: duckdb.DuckDBPyConnection, relation: str, column: str, target: str) -> None:
    """DuckDB rounds a value cast to a DECIMAL of a smaller scale, silently: a decimal port keeps
    exact values, so a model column that is not already the contract's DECIMAL is compared first."""
    name = quote(column)
    inexact = session.sql(
        f"select count(*) from {relation} where {name} is not null and try_cast({name} as {target}) is distinct from {name}"
    ).fetchone()[0]
    if inexact:
        raise PublishError(f"column {column!r}: {inexact} values cannot be stored exactly as {target}, the contract's type")
