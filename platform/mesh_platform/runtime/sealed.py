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

Not used: `disabled_filesystems = 'LocalFileSystem'` also stops spilling and makes DuckDB refuse
to lock itself; `allowed_directories`/`allowed_paths` only ever widen access.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import weakref

import duckdb

_LOCKED = "the configuration has been locked"
_OPTION = re.compile(r'configuration option "+([^"]+)"+')
_EXTENSION = re.compile(r"(?<=: )[^:]*? exists in the \w+ extension")


def seal(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Seal `con` for good and return it. Python code may still register relations on it."""
    scratch = tempfile.mkdtemp(prefix="mesh-sealed-")
    weakref.finalize(con, shutil.rmtree, scratch, True)  # at close of the last reference, or at exit
    quoted = scratch.replace("'", "''")
    for statement in (
        f"SET temp_directory = '{quoted}'",  # before external access is off: it becomes the only allowed folder
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET allow_persistent_secrets = false",
        "SET python_enable_replacements = false",
        "SET enable_external_access = false",
        "SET lock_configuration = true",  # last: it locks every setting above, itself included
    ):
        con.execute(statement)
    return con


def connect(database: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection, sealed: the one way the platform opens one for user-written SQL."""
    return seal(duckdb.connect(database, read_only=read_only))


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
