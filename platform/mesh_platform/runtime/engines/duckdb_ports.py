"""DuckDB reads ports itself: `delta_scan` over a port's Delta table, with projection, filter and
partition pruning pushed into the scan (Delta's per-file stats and partition values).

The one module that writes `delta_scan(...)`: governed reads (runtime/reading.py), `mesh sql`
sessions (runtime/sql.py) and the dbt port plugin (duckdb_port_source.py) call it with a
`PortLocation` the port store gave them (runtime/ports/store.py `locate`), after the access
check. A masked reader's port is its masked projection (runtime/projection.py), read here like
any other; raw personal values never come here: masking is a keyed hash in Python, on the Arrow path.
The delta extension is loaded from its installed file (runtime/duckdb_extensions.py) on every
connection: offline, never installed, never autoloaded.

Ports on an object store are scanned the same way, with the keys of the identity that located
the port (`PortLocation.storage_options`): httpfs is loaded and each port gets a DuckDB secret
SCOPEd to its own prefix (`<port>/`), plus one catch-all secret with no valid key for `s3://`, so
a path outside the connection's ports is signed with nothing usable — never with the process's
ambient credentials (the delta extension reads a table's log itself, outside DuckDB's
`allowed_directories`: only a scoped secret limits what it may reach). The platform's own reads
keep one connection per identity: secrets belong to a database, and a read must never be signed
with another identity's keys. The keys go into `CREATE SECRET` only: never logged, never in an
error (a failed statement is reported without its text), redacted by `duckdb_secrets()`.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping

import duckdb
import pyarrow as pa

from mesh_platform.runtime import sealed
from mesh_platform.runtime.duckdb_extensions import load_statement
from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.ports import faults
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.port import PortLocation
from mesh_platform.runtime.ports.s3_options import s3_access
from mesh_platform.runtime.quality.compile import quote


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scan_sql(location: PortLocation) -> str:
    """The table function reading one version of a port (a local folder, or an object-store URI
    whose secret `add_port_secrets` made). Always pinned: a read sees the version its plan
    chose, even if a publish commits while the query runs."""
    return f"delta_scan({_text(location.path)}, version => {int(location.version)})"


def scope_of(location: PortLocation) -> str:
    """The prefix a remote port's secret covers: its own folder, slash-ended (`v1/` is not `v10/`)."""
    return location.path.rstrip("/") + "/"


_DENY_SECRET = "mesh_no_access"
_DENY_KEY = "mesh-no-access"  # not a key any store issues: what lies outside the ports is refused


def secret_sql(name: str, scope: str, options: Mapping[str, str]) -> str:
    """A DuckDB `CREATE SECRET` for an S3 prefix from deltalake-style storage options. Keys from
    the options; without any, the store's credential chain (a workload's role: the aws extension)."""
    access = s3_access(options)
    parts = ["TYPE s3"]
    if access.has_keys:
        parts += [f"KEY_ID {_text(access.key_id)}", f"SECRET {_text(access.secret)}"]
        if access.session_token:
            parts.append(f"SESSION_TOKEN {_text(access.session_token)}")
    else:
        parts.append("PROVIDER credential_chain")
    if access.region:
        parts.append(f"REGION {_text(access.region)}")
    if access.host:
        # A custom endpoint (SeaweedFS, MinIO, R2) is addressed by path, as deltalake does.
        parts += [f"ENDPOINT {_text(access.host)}", "URL_STYLE 'path'", f"USE_SSL {str(access.use_ssl).lower()}"]
    parts.append(f"SCOPE {_text(scope)}")
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


def _secret_name(scope: str) -> str:
    # One secret per prefix, replaced when the keys for it change: two secrets of one scope on a
    # database would leave DuckDB to pick which keys sign a read.
    return f"mesh_port_{hashlib.sha256(scope.encode()).hexdigest()[:20]}"


def _digest(options: Mapping[str, str]) -> str:
    return hashlib.sha256(repr(sorted(options.items())).encode()).hexdigest()[:20]


def _execute_secret(con: duckdb.DuckDBPyConnection, statement: str, location: PortLocation) -> None:
    try:
        con.execute(statement)
    except duckdb.Error as exc:  # the statement holds keys: never repeat it, nor DuckDB's echo of it
        raise MeshError(f"could not configure DuckDB to read {location.path} as storage identity {location.identity!r} "
                        f"({type(exc).__name__})") from None


def add_port_secrets(con: duckdb.DuckDBPyConnection, locations: Iterable[PortLocation], made: set[str] | None = None) -> None:
    """Make `con` able to read the remote ones of `locations`, each with its own identity's keys
    and nothing else (httpfs loaded, one scoped secret each, the catch-all refusing the rest).
    `made`: the secrets already on `con`, kept up to date."""
    made = set() if made is None else made
    remote = [location for location in locations if not location.local]
    if not remote:
        return
    if _DENY_SECRET not in made:
        con.execute(load_statement("httpfs"))
        if any(not s3_access(location.storage_options).has_keys for location in remote):
            con.execute(load_statement("aws"))  # the credential chain provider
        deny = {key: value for key, value in remote[0].storage_options.items() if key in ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_REGION", "AWS_DEFAULT_REGION")}
        deny |= {"AWS_ACCESS_KEY_ID": _DENY_KEY, "AWS_SECRET_ACCESS_KEY": _DENY_KEY}
        con.execute(secret_sql(_DENY_SECRET, "s3://", deny))
        made.add(_DENY_SECRET)
    for location in remote:
        name = _secret_name(scope_of(location))
        made_as = f"{name}:{location.identity}:{_digest(location.storage_options)}"
        if made_as not in made:
            _execute_secret(con, secret_sql(name, scope_of(location), location.storage_options), location)
            made -= {entry for entry in made if entry.startswith(f"{name}:")}
            made.add(made_as)


def _access_of(location: PortLocation) -> str:
    """Which reader connection may read `location`: local ports share one; a remote port's is its
    identity's with exactly these options (a store elsewhere, or new keys, is another)."""
    return "" if location.local else f"{location.identity}:{_digest(location.storage_options)}"


def fault(exc: duckdb.Error, location: PortLocation) -> MeshError | None:
    """A store's refusal met by a native scan, as the port store says it (one line), or None."""
    line = faults.describe(faults.one_line(str(exc)), identity=location.identity, options=location.storage_options, uri=location.path)
    return MeshError(line) if line else None


def load_delta(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Load DuckDB's delta extension into `con` from its installed file (before any sealing)."""
    con.execute(load_statement("delta"))
    return con


def select_sql(location: PortLocation, columns: list[str] | None = None, partition: PartitionSlice | None = None) -> str:
    projection = ", ".join(quote(c) for c in columns) if columns else "*"
    where = f" WHERE {partition.predicate()}" if partition is not None else ""  # pruned by partition values
    return f"SELECT {projection} FROM {scan_sql(location)}{where}"


@functools.cache
def _reader(access: str) -> tuple[duckdb.DuckDBPyConnection, set[str], threading.Lock]:
    """The process's in-memory DuckDB for the platform's own reads with one identity's access
    (`_access_of`; it runs no user SQL), with the secrets made on it and the lock that guards
    making them. One per identity and process: loading the delta extension into a database costs about a second, so each read
    takes a cursor of this one (cursors share it and are safe across threads)."""
    return load_delta(duckdb.connect()), set(), threading.Lock()


def read_arrow(location: PortLocation, columns: list[str] | None = None, partition: PartitionSlice | None = None) -> pa.Table:
    """One port's rows as Arrow, read by DuckDB on a connection that runs only platform SQL."""
    reader, made, lock = _reader(_access_of(location))
    if not location.local:
        with lock:
            add_port_secrets(reader, [location], made)
    try:
        with reader.cursor() as con:
            table = con.sql(select_sql(location, columns, partition)).to_arrow_table()
    except duckdb.Error as exc:
        found = None if location.local else fault(exc, location)
        if found is None:
            raise
        raise found from None
    if location.schema is None:
        return table
    # The port's own Arrow types, as every other read gives them: DuckDB names UTC by the session's
    # zone and drops non-null flags (a metadata-only cast).
    return table.cast(pa.schema([location.schema.field(name) for name in table.column_names]))


def sealed_session(read_ports: Iterable[PortLocation]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection for user-written SQL that reads exactly `read_ports` natively:
    the delta extension loaded, their folders (or object-store prefixes, each with its own scoped
    secret) allowed, then sealed (runtime/sealed.py)."""
    read_ports = list(read_ports)
    folders = sorted({location.path for location in read_ports if location.local})
    prefixes = sorted({scope_of(location) for location in read_ports if not location.local})
    # Persistent secrets off before any secret is made: DuckDB refuses the setting afterwards.
    con = load_delta(duckdb.connect(config={"allow_persistent_secrets": False}))
    add_port_secrets(con, read_ports)
    return sealed.seal(con, read_dirs=folders, read_prefixes=prefixes)


def create_port_view(con: duckdb.DuckDBPyConnection, schema: str, name: str, location: PortLocation) -> None:
    """`schema.name` as a view over the port's table: every query of it scans the port in place."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    con.execute(f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(name)} AS SELECT * FROM {scan_sql(location)}")
