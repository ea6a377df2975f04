"""DuckDB, the first compute engine: each dbt domain builds into its own DuckDB file.

- profile: dbt-duckdb on `<mesh home>/warehouse/<domain>.duckdb` (runtime.settings.warehouse_path),
  one thread, and the `mesh_port` plugin (duckdb_port_source.py) configured as the domain;
- input ports: dbt sources with `meta: {plugin: mesh_port, save_mode: ignore}`, which the plugin
  serves, after the governed read path's checks, as views over DuckDB's `delta_scan` of the port
  (masked ports: over the masked Arrow table); the producer's DuckDB file is never opened;
- outputs: the file, opened read-only and sealed (runtime.sealed) once dbt has exited, so the
  contract's rules audit each model in place and the publish streams it out as Arrow batches;
- lock: a DuckDB file admits one writing process, so runs of a domain take turns on a lock file
  beside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mesh_platform.runtime import sealed
from mesh_platform.runtime.engines.base import ComputeEngine
from mesh_platform.runtime.settings import warehouse_path

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

    @contextlib.contextmanager
    def open_outputs(self, root: Path, domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
        # Sealed: contract sql rules are user-written, and this process can reach every domain's files.
        with sealed.connect(str(warehouse_path(root, domain)), read_only=True) as con:
            yield con

    def read_output(self, session: duckdb.DuckDBPyConnection, relation: str, *, batch_rows: int) -> pa.RecordBatchReader:
        return session.sql(f"select * from {relation}").to_arrow_reader(batch_rows)

    def lock_path(self, root: Path, domain: str) -> Path:
        return warehouse_path(root, domain).with_suffix(".lock")
