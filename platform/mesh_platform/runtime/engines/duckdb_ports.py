"""DuckDB reads ports itself: `delta_scan` over a port's Delta table, with projection, filter and
partition pruning pushed into the scan (Delta's per-file stats and partition values).

The one module that writes `delta_scan(...)`: governed reads (runtime/reading.py), `mesh sql`
sessions (runtime/sql.py) and the dbt port plugin (duckdb_port_source.py) call it with a
`PortLocation` the port store gave them (runtime/ports/store.py `locate`), after the access
check. A masked reader's port is its masked projection (runtime/projection.py), read here like
any other; raw personal values never come here: masking is a keyed hash in Python, on the Arrow path.
The delta extension is loaded from its installed file (runtime/duckdb_extensions.py) on every
connection: offline, never installed, never autoloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from mesh_platform.runtime import sealed
from mesh_platform.runtime.duckdb_extensions import load_statement
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.port import PortLocation
from mesh_platform.runtime.quality.compile import quote


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scan_sql(location: PortLocation) -> str:
    """The table function reading one version of a local port. Always pinned: a read sees the
    version its plan chose, even if a publish commits while the query runs."""
    if not location.local:  # object stores are issue 13: their reads stay on the Arrow path
        raise ValueError(f"{location.path} is not a local port: DuckDB reads only local ports natively")
    return f"delta_scan({_text(location.path)}, version => {int(location.version)})"


def load_delta(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Load DuckDB's delta extension into `con` from its installed file (before any sealing)."""
    con.execute(load_statement("delta"))
    return con


def select_sql(location: PortLocation, columns: list[str] | None = None, partition: PartitionSlice | None = None) -> str:
    projection = ", ".join(quote(c) for c in columns) if columns else "*"
    where = f" WHERE {partition.predicate()}" if partition is not None else ""  # pruned by partition values
    return f"SELECT {projection} FROM {scan_sql(location)}{where}"


@functools.cache
def _reader() -> duckdb.DuckDBPyConnection:
    """The process's in-memory DuckDB for the platform's own reads (it runs no user SQL). One per
    process: loading the delta extension into a database costs about a second, so each read
    takes a cursor of this one (cursors share it and are safe across threads)."""
    return load_delta(duckdb.connect())


def read_arrow(location: PortLocation, columns: list[str] | None = None, partition: PartitionSlice | None = None) -> pa.Table:
    """One port's rows as Arrow, read by DuckDB on a connection that runs only platform SQL."""
    with _reader().cursor() as con:
        table = con.sql(select_sql(location, columns, partition)).to_arrow_table()
    if location.schema is None:
        return table
    # The port's own Arrow types, as every other read gives them: DuckDB names UTC by the session's
    # zone and drops non-null flags (a metadata-only cast).
    return table.cast(pa.schema([location.schema.field(name) for name in table.column_names]))


def sealed_session(read_ports: Iterable[PortLocation]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection for user-written SQL that reads exactly `read_ports` natively:
    the delta extension loaded and their folders allowed, then sealed (runtime/sealed.py)."""
    folders = sorted({location.path for location in read_ports if location.local})
    return sealed.seal(load_delta(duckdb.connect()), read_dirs=folders)


def create_port_view(con: duckdb.DuckDBPyConnection, schema: str, name: str, location: PortLocation) -> None:
    """`schema.name` as a view over the port's table: every query of it scans the port in place."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    con.execute(f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(name)} AS SELECT * FROM {scan_sql(location)}")
