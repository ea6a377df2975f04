"""From a contract column's types to the Arrow type its port stores.

`physicalType` uses DuckDB's SQL names (the engine every domain builds with); when absent, the
ODCS `logicalType` picks a default. Timestamps are always microseconds: that is what Delta stores.
"""

from __future__ import annotations

import re

import pyarrow as pa

_PHYSICAL: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "string": pa.string(),
    "text": pa.string(),
    "bigint": pa.int64(),
    "int64": pa.int64(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "int32": pa.int32(),
    "smallint": pa.int16(),
    "int16": pa.int16(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}

_DEFAULT_FOR_LOGICAL: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}

LOGICAL_TYPES = tuple(_DEFAULT_FOR_LOGICAL)
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def _family(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return str(arrow_type)


def parse_physical_type(physical: str) -> pa.DataType:
    """`"DECIMAL(10,2)"` -> `decimal128(10, 2)`; raises ValueError naming the known types."""
    text = " ".join(physical.strip().lower().split())
    if text in _PHYSICAL:
        return _PHYSICAL[text]
    match = _DECIMAL.fullmatch(text)
    if match:
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"DECIMAL({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision")
        return pa.decimal128(precision, scale)
    known = ", ".join(sorted(k.upper() for k in _PHYSICAL)) + ", DECIMAL(p,s)"
    raise ValueError(f"unknown physicalType {physical!r}; expected one of {known}")


def arrow_type_for(logical: str | None, physical: str | None) -> pa.DataType:
    """The port's Arrow type for one contract column; ValueError when the two types disagree."""
    if logical is not None and logical not in _DEFAULT_FOR_LOGICAL:
        raise ValueError(f"unknown logicalType {logical!r}; expected one of {', '.join(LOGICAL_TYPES)}")
    if physical is None:
        if logical is None:
            raise ValueError("a column needs a logicalType or a physicalType")
        return _DEFAULT_FOR_LOGICAL[logical]
    arrow_type = parse_physical_type(physical)
    if logical is not None and _family(arrow_type) != logical:
        raise ValueError(f"physicalType {physical!r} does not implement logicalType {logical!r}")
    return arrow_type


def logical_type_of(arrow_type: pa.DataType) -> str:
    return _family(arrow_type)


def sql_type_of(arrow_type: pa.DataType) -> str:
    """The DuckDB type name of an Arrow type (used in messages and the UI's column schema)."""
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    for name, candidate in _PHYSICAL.items():
        if candidate == arrow_type:
            return name.upper()
    return str(arrow_type)
