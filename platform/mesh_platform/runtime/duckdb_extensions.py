"""Where DuckDB's own extensions (delta, httpfs, aws) are on this machine: the files the
`duckdb-extension-*` wheels install beside the platform, pinned with DuckDB itself.

DuckDB would otherwise download an extension on first use, which an offline or locked-down
deployment cannot do and a sealed session must not. Each connection that needs one loads it from
its installed file by path (`LOAD '<file>'`): no extension directory under the user's home is
written, and the signature DuckDB checks is the one the wheel shipped. An extension built for
another DuckDB version is refused by DuckDB; this module looks only for the running version's.
This module imports no DuckDB: it only finds files.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from mesh_platform.model.errors import MeshError

EXTENSIONS = ("delta", "httpfs", "aws")


def extension_file(name: str) -> Path:
    """The installed file of DuckDB's `name` extension for the running DuckDB version; a
    MeshError naming the package to install when it is missing."""
    if name not in EXTENSIONS:
        raise MeshError(f"DuckDB extension {name!r} is not one the platform ships; it ships {', '.join(EXTENSIONS)}")
    version = importlib.metadata.version("duckdb")
    package = f"duckdb-extension-{name}"
    spec = importlib.util.find_spec(package.replace("-", "_"))
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    found = folder / "extensions" / f"v{version}" / f"{name}.duckdb_extension" if folder else None
    if found is None or not found.is_file():
        raise MeshError(
            f"DuckDB's {name} extension for DuckDB {version} is not installed: install the package "
            f"{package}=={version} (pyproject.toml pins it with duckdb)"
        )
    return found


def load_statement(name: str) -> str:
    """The SQL that loads `name` into a connection from its installed file, offline."""
    return "LOAD '{}'".format(str(extension_file(name)).replace("'", "''"))
