"""Sealed DuckDB connections: SQL a user wrote reaches only the relations it was given.

`mesh sql` queries and contract `sql` rules are SQL a user wrote, run by a platform process that
can read every port's files, every domain's DuckDB file and the masking key. Left open, DuckDB
reads any file that process can (`read_text`, `read_parquet`, `glob`, `ATTACH`), writes files
(`COPY`, `EXPORT`), installs and loads extensions and sets its settings back. Spotting these in
SQL text is a losing game (a new table function, a path built in a lateral join); DuckDB's own
settings close them in the engine, whatever the SQL looks like:

- `enable_external_access = false`: no file, network or extension access — `read_*`, `glob`,
  `ATTACH` of a file, `COPY`, `EXPORT`/`IMPORT`, `INSTALL`/`LOAD` are refused. Relations registered
  from Python (Arrow tables, Arrow datasets that pyarrow reads) and views over them still answer,
  and so do the tables of a database file opened before sealing.
- `lock_configuration = true`: `SET`, `RESET` and setting `PRAGMA`s are refused, so nothing
  above can be undone from SQL.
- `temp_directory`: DuckDB always allows its temp folder, external access or not, and the default
  is `.tmp` under the working directory (or `<file>.tmp` beside a database file): a query could read
  and `COPY` into it. It becomes a private, empty folder per connection — larger-than-memory
  queries still spill, and nothing but this connection's own spill files is reachable there.
- Extension autoinstall/autoload, community extensions, persistent secrets and Python replacement
  scans (a query naming a Python variable) are turned off too: none is needed, each is a door.

- `allowed_directories`: a session that reads ports natively (DuckDB's delta_scan) is given the
  folders of exactly those ports, set before sealing; `..` and symlink escapes are refused by DuckDB.
  Ports on an object store are allowed by prefix (`s3://bucket/root/d/p/v1/`: DuckDB checks an
  `s3://` path against these too, so `glob('s3://bucket/*')` or another port's files are refused),
  and each has its own secret scoped to that prefix (runtime/engines/duckdb_ports.py).
  A masked port's folder is never one of them (its rows reach a session as a masked Arrow table).
  An allowed folder is writable too (`COPY ... TO '<folder>/x'`), so statements are also checked
  by their parsed type (`refused_statement`): only reads and in-memory objects pass.

Not used: `disabled_filesystems = 'LocalFileSystem'` also stops spilling and makes DuckDB refuse
to lock itself; `allowed_paths` (files) is not needed: a port is a folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path

import duckdb

# What user-written SQL may do on a sealed connection, by parsed statement type: read, and make
# views, macros and tables in its own in-memory catalog. Everything else (COPY, EXPORT, ATTACH,
# DETACH, LOAD/INSTALL, SET/RESET/USE, CALL/CHECKPOINT, VACUUM, PRAGMA, PREPARE/EXECUTE, ...) is
# refused before it runs: an allowed folder must never be written, whatever the engine permits.
_ALLOWED = frozenset({
    duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.CREATE,
    duckdb.StatementType.DROP, duckdb.StatementType.INSERT, duckdb.StatementType.UPDATE,
    duckdb.StatementType.DELETE, duckdb.StatementType.TRANSACTION,
    duckdb.StatementType.SET,  # `lock_configuration` refuses every setting, with its own message
})
# Refused statements that reach files, databases or extensions: refused in the same words as the
# engine's own refusal of a file read, so a user sees one reason whichever check caught it.
_FILE_STATEMENTS = frozenset({
    duckdb.StatementType.COPY, duckdb.StatementType.EXPORT, duckdb.StatementType.ATTACH,
    duckdb.StatementType.DETACH, duckdb.StatementType.LOAD,
})
# `EXPLAIN ANALYZE <statement>` runs the statement: what it explains must pass too.
_EXPLAIN = re.compile(r"\s*explain(\s+analy[sz]e)?\s+", re.IGNORECASE)

_LOCKED = "the configuration has been locked"
_OPTION = re.compile(r'configuration option "+([^"]+)"+')
_EXTENSION = re.compile(r"(?<=: )[^:]*? exists in the \w+ extension")


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def seal(con: duckdb.DuckDBPyConnection, read_dirs: Iterable[Path] = (), read_prefixes: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
    """Seal `con` for good and return it. Python code may still register relations on it. It may
    read files under `read_dirs` only (resolved folders: the ports it reads natively) and objects
    under `read_prefixes` (`s3://bucket/.../v1/`: remote ports, whose scoped secrets were made
    on `con` with persistent secrets already off); extensions it needs must be loaded, from their
    files, before."""
    scratch = tempfile.mkdtemp(prefix="mesh-sealed-")
    weakref.finalize(con, shutil.rmtree, scratch, True)  # at close of the last reference, or at exit
    allowed = [str(Path(folder).resolve()).rstrip("/") + "/" for folder in read_dirs]
    allowed += [prefix.rstrip("/") + "/" for prefix in read_prefixes]  # a URI: nothing to resolve
    persistent = con.execute("SELECT current_setting('allow_persistent_secrets')").fetchone()[0]
    for statement in (
        f"SET temp_directory = {_text(scratch)}",  # before external access is off: it becomes an allowed folder
        f"SET allowed_directories = [{', '.join(_text(path) for path in allowed)}]",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        # Refused once a secret exists, even unchanged: a connection with secrets turned it off first.
        *(["SET allow_persistent_secrets = false"] if persistent else []),
        "SET python_enable_replacements = false",
        "SET enable_external_access = false",
        "SET lock_configuration = true",  # last: it locks every setting above, itself included
    ):
        con.execute(statement)
    return con


def connect(database: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection, sealed: the one way the platform opens one for user-written SQL."""
    return seal(duckdb.connect(database, read_only=read_only))


def refused_statement(sql: str, where: str, reach: str) -> str | None:
    """One line refusing `sql` when one of its statements is not a read or an in-memory object
    (by DuckDB's own parse, never by text), or None. A statement that does not parse is left to
    DuckDB, whose syntax error says more."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return None
    for statement in statements:
        kind = statement.type
        if kind == duckdb.StatementType.EXPLAIN:
            explained = _EXPLAIN.match(statement.query)
            inner = refused_statement(statement.query[explained.end():], where, reach) if explained else ""
            if inner is None:
                continue
            if inner:  # what it explains is refused: say why in its words
                return inner
        elif kind in _ALLOWED:
            continue
        name = kind.name.replace("_STATEMENT", "")
        if kind in _FILE_STATEMENTS:
            return (f"file system access is disabled in {where}: {reach}, no file, database, extension or network "
                    f"({name} statements are refused)")
        return (f"{name} statements are refused in {where}: {reach}; it may query (SELECT, EXPLAIN) and "
                "create views and tables in memory, never write a file, attach, load or change a setting")
    return None


def refusal(exc: BaseException, where: str, reach: str) -> str | None:
    """One line saying what a sealed connection refused, and why, or None when `exc` is another
    error. `where` names the session ("mesh sql"); `reach` says what it may read instead."""
    detail = " ".join(str(exc).split())
    if isinstance(exc, duckdb.PermissionException):
        refused = detail.removeprefix("Permission Error: ").removesuffix(" - file system operations are disabled by configuration")
        return f"file system access is disabled in {where}: {reach}, no file, database, extension or network ({refused})"
    needs = _EXTENSION.search(detail)
    if needs:  # DuckDB's advice (INSTALL, LOAD, turn autoloading on) is refused here: say so instead
        return f"extensions are disabled in {where}: {reach}; {needs.group(0)}"
    if isinstance(exc, duckdb.InvalidInputException) and _LOCKED in detail:
        found = _OPTION.search(detail)
        option = f" {found.group(1)!r}" if found else ""
        return f"settings are locked in {where}: it cannot change{option} or any other DuckDB setting; {reach}"
    return None
