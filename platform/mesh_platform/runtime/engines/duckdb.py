"""DuckDB, the first compute engine: each dbt domain builds into its own DuckDB file.

- profile: dbt-duckdb on `<mesh home>/warehouse/<domain>.duckdb` (runtime.settings.warehouse_path),
  one thread, and the `mesh_port` plugin (duckdb_port_source.py) configured as the domain;
- input ports: dbt sources with `meta: {plugin: mesh_port}`, which the plugin serves as views over
  Arrow datasets read through the governed read path (the producer's DuckDB file is never opened);
- outputs: the file, opened read-only and sealed (runtime.sealed) once dbt has exited, so the
  contract's rules audit each model in place and the publish streams it out as Arrow batches;
- lock: a DuckDB file admits one writing process, so runs of a domain take turns on a lock file
  beside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mesh_platform.runtime.engines.base import ComputeEngine
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
        return {"meta": {"plugin": PLUGIN_ALIAS}}

    @contextlib.contextmanager
    def open_outputs(self, root: Path, domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
        from mesh_platform.runtime import sealed  # reason: duckdb loads when a run opens its outputs, not at location load

        # Sealed: contract sql rules are user-written, and this process can reach every domain's files.
        with sealed.connect(str(warehouse_path(root, domain)), read_only=True) as con:
            yield con

    def read_output(self, session: duckdb.DuckDBPyConnection, relation: str, *, batch_rows: int) -> pa.RecordBatchReader:
        return session.sql(f"select * from {relation}").to_arrow_reader(batch_rows)

    def lock_path(self, root: Path, domain: str) -> Path:
        return warehouse_path(root, domain).with_suffix(".lock")
