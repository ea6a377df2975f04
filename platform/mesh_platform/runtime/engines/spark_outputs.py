"""What a Spark run of a domain wrote, read by DuckDB: the platform's side of the Spark engine.

dbt-spark writes each table model as Parquet files in the session's warehouse
(`<warehouse>/<schema>.db/<model>/part-*.parquet`). Once dbt has exited, an in-memory DuckDB
connection makes each model folder a view `"<schema>"."<model>"` over exactly its Parquet files:
the drift check, staging (the DuckDB engine's own COPY, cast to the contract's types) and the
rule audit then run as for a DuckDB domain. The session for user-written SQL is sealed to the
warehouse folder.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mesh_platform.runtime import sealed
from mesh_platform.runtime.quality.compile import quote


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def model_files(warehouse: Path) -> dict[tuple[str, str], list[Path]]:
    """Each model folder of the warehouse, by (schema, model), with its Parquet files."""
    found: dict[tuple[str, str], list[Path]] = {}
    for database in sorted(warehouse.glob("*.db")):
        for model in sorted(p for p in database.iterdir() if p.is_dir()):
            files = sorted(model.glob("*.parquet"))
            if files:
                found[(database.name.removesuffix(".db"), model.name)] = files
    return found


def _register(con: duckdb.DuckDBPyConnection, warehouse: Path) -> duckdb.DuckDBPyConnection:
    for (schema, model), files in model_files(warehouse).items():
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        listed = ", ".join(_text(str(path)) for path in files)
        con.execute(f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(model)} AS SELECT * FROM read_parquet([{listed}])")
    return con


def staging_session(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """For the platform's own SQL (drift check, COPY into a port's staging folder): not sealed."""
    con = _register(duckdb.connect(), warehouse)
    con.execute("SET TimeZone = 'UTC'")  # as the DuckDB engine's staging: naive times read as UTC
    return con


def sealed_session(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """For user-written SQL over the models: reads the warehouse folder and nothing else."""
    return sealed.seal(_register(duckdb.connect(), warehouse), read_dirs=[warehouse])
