"""The Spark SQL the platform writes for a Spark domain: pure text, no Spark.

An input port becomes a view `<producer>.<product>` (what dbt's `source('<producer>', '<product>')`
names on Spark) over exactly the Parquet files of the Delta version the governed read planned:
one `parquet.`<glob>`` scan per partition (a brace glob of that partition's files), its
partition values added as typed literals (Delta keeps them in its log, not in the files), every
column cast to its Delta type, the partitions joined by UNION ALL. Nothing a port's name, folder or
partition value holds can leave its quoting: identifiers are backquoted with backquotes doubled,
the glob's own metacharacters are escaped, string literals escape quotes and backslashes, and a
control character (a line break) is refused outright.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import pyarrow as pa

from mesh_platform.model.errors import MeshError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_GLOB_SPECIAL = re.compile(r"([\\{}\[\]*?,^])")  # Hadoop glob metacharacters, escaped with a backslash


def identifier(name: str) -> str:
    """A Spark identifier, backquoted (a backquote inside doubled)."""
    _refuse_control(name, "name")
    return "`" + name.replace("`", "``") + "`"


def literal(value: str) -> str:
    """A Spark string literal (Spark reads backslash escapes inside quotes)."""
    _refuse_control(value, "value")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _refuse_control(text: str, what: str) -> None:
    if _CONTROL.search(text):
        raise MeshError(f"the Spark engine refuses a {what} with a control character (a line break, a tab): {text!r}")


def spark_type(arrow_type: pa.DataType, column: str) -> str:
    """The Spark SQL type of a port column's Arrow type (a type Spark cannot hold is refused)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_timestamp(arrow_type):
        # Delta: a zoned timestamp is an instant (Spark's TIMESTAMP), a naive one TIMESTAMP_NTZ.
        return "TIMESTAMP" if arrow_type.tz else "TIMESTAMP_NTZ"
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    simple = {
        pa.bool_(): "BOOLEAN", pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INT", pa.int64(): "BIGINT",
        pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.date32(): "DATE", pa.binary(): "BINARY", pa.large_binary(): "BINARY",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise MeshError(f"column {column!r}: the Spark engine cannot read a port column of type {arrow_type}")


def _glob_escaped(path: str) -> str:
    """`path` as a Hadoop glob naming only itself (Spark globs every path it reads)."""
    return _GLOB_SPECIAL.sub(r"\\\1", path)


def file_glob(folder: str, files: Sequence[str]) -> str:
    """One path naming exactly `files` (relative to `folder`) as a Hadoop brace glob."""
    escaped = [_glob_escaped(path) for path in files]
    inner = escaped[0] if len(escaped) == 1 else "{" + ",".join(escaped) + "}"
    return _glob_escaped(folder.rstrip("/")) + "/" + inner


def _partition_scan(folder: str, files: Sequence[str], schema: pa.Schema, values: Mapping[str, str | None]) -> str:
    columns = []
    for field in schema:
        target = spark_type(field.type, field.name)
        if field.name in values:
            value = values[field.name]
            source = "NULL" if value is None else literal(value)
        else:
            source = identifier(field.name)
        columns.append(f"CAST({source} AS {target}) AS {identifier(field.name)}")
    return f"SELECT {', '.join(columns)} FROM parquet.{identifier(file_glob(folder, files))}"


def port_view_statements(
    producer: str, product: str, folder: str, files: Sequence[tuple[str, Mapping[str, str | None]]], schema: pa.Schema,
) -> list[str]:
    """The statements that make `producer.product` a view over exactly `files` of the port whose
    table lies in `folder` (each with its partition values), in the port's column order."""
    if not files:
        # A version without files (every row deleted): the same columns, no rows.
        empty = ", ".join(f"CAST(NULL AS {spark_type(f.type, f.name)}) AS {identifier(f.name)}" for f in schema)
        query = f"SELECT {empty} WHERE false"
    else:
        partitions: dict[str, tuple[dict[str, str | None], list[str]]] = {}
        for path, values in files:
            entry = partitions.setdefault(json.dumps(dict(values), sort_keys=True), (dict(values), []))
            entry[1].append(path)
        query = " UNION ALL ".join(_partition_scan(folder, paths, schema, values) for values, paths in partitions.values())
    view = f"{identifier(producer)}.{identifier(product)}"
    return [f"CREATE DATABASE IF NOT EXISTS {identifier(producer)}", f"CREATE OR REPLACE VIEW {view} AS {query}"]


def drop_view_statement(producer: str, product: str) -> str:
    return f"DROP VIEW IF EXISTS {identifier(producer)}.{identifier(product)}"


def statements_query(path: str) -> str:
    """The query the project's `on-run-start` hook runs to find the statements of a run (a JSON
    lines file the platform wrote before dbt started), in order."""
    return f"SELECT statement FROM json.{identifier(_glob_escaped(path))} ORDER BY position"
