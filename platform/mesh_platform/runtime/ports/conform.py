"""A batch made fit for its port, whatever the backend: cast to the contract's exact schema
(drift refused with a diff). Required columns and partition bounds are checked on the staged
files (runtime/ports/staging.py `check_staged`), whoever wrote them.

This is the *conform* step of the one write path (runtime/publishing.py); a port store
(runtime/ports/store.py) stages only batches that went through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pyarrow.dataset (and with it pandas, ~0.4 s) loads when a slice is read, not at location load
    import pyarrow.dataset as ds

from mesh_platform.model.errors import PublishError
from mesh_platform.model.names import check_name
from mesh_platform.model.redaction import without_values


@dataclass(frozen=True)
class PartitionSlice:
    """The rows one publish replaces: `start <= column < end` (a month, or a range of months)."""

    column: str
    start: dt.date
    end: dt.date

    def __post_init__(self):
        check_name(self.column, "partition column")  # it is spliced into the overwrite predicate

    def predicate(self) -> str:
        column = f'"{self.column}"'
        return f"{column} >= '{self.start.isoformat()}' AND {column} < '{self.end.isoformat()}'"

    def expression(self) -> ds.Expression:
        import pyarrow.dataset as ds  # reason: pandas comes with it; only a partitioned read needs it

        return (ds.field(self.column) >= pa.scalar(self.start)) & (ds.field(self.column) < pa.scalar(self.end))


def _cast_options(target: pa.DataType) -> pc.CastOptions:
    # Delta stores microseconds: sub-microsecond digits are dropped on purpose, nothing else is.
    return pc.CastOptions(target, allow_time_truncate=True)


def _family(arrow_type: pa.DataType) -> str:
    if pa.types.is_null(arrow_type):
        return "null"  # an all-empty column fits any type
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    if pa.types.is_dictionary(arrow_type):
        return _family(arrow_type.value_type)
    for family, test in (("boolean", pa.types.is_boolean), ("date", pa.types.is_date), ("timestamp", pa.types.is_timestamp)):
        if test(arrow_type):
            return family
    return str(arrow_type)


def schema_diff(actual: pa.Schema, expected: pa.Schema) -> list[str]:
    """How the data's schema drifted from the contract's: added, missing and retyped columns.

    Widening within a family (int32 -> int64, a decimal's precision, ns -> µs) is not drift:
    the publish casts it. Crossing families (a number arriving as text) is.
    """
    names = actual.names
    lines = [f"= {n}: the data has this column {names.count(n)} times" for n in sorted({n for n in names if names.count(n) > 1})]
    lines += [f"+ {n} ({actual.field(n).type}): in the data, not declared by the contract" for n in names if n not in expected.names]
    lines += [f"- {n} ({expected.field(n).type}): declared by the contract, missing from the data" for n in expected.names if n not in names]
    for field in expected:
        if field.name in names and names.count(field.name) == 1:
            found = actual.field(field.name).type
            if _family(found) not in ("null", _family(field.type)):
                lines.append(f"~ {field.name}: the contract declares {field.type}, the data has {found}")
    return lines


def check_columns(actual: pa.Schema, expected: pa.Schema, label: str) -> None:
    """Raise PublishError, with the schema diff, unless `actual` fits the contract's schema."""
    diff = schema_diff(actual, expected)
    if diff:
        raise PublishError(f"{label}: schema drift, the data does not match its contract:\n  " + "\n  ".join(diff))


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, label: str) -> pa.RecordBatch:
    """Cast one batch to the contract's exact schema (order, types, nullability)."""
    arrays = []
    for field in schema:
        column = batch.column(field.name)
        try:
            column = pc.cast(column, options=_cast_options(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            # Arrow quotes the value it could not cast: the run history must not keep it.
            raise PublishError(
                f"{label}: column {field.name!r} of type {batch.schema.field(field.name).type} "
                f"cannot be stored as {field.type}: {without_values(str(exc))}"
            ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def conform(data: pa.Table | pa.RecordBatchReader, schema: pa.Schema, label: str) -> pa.RecordBatchReader:
    """A lazy stream of `data` cast to `schema`: large ports never sit twice in memory."""
    reader = data.to_reader() if isinstance(data, pa.Table) else data
    if reader.schema.equals(schema, check_metadata=False):
        # Already conformed (a Python product's batch is cast before its audit): the IO manager's
        # publish would otherwise cast every column a second time.
        return reader
    check_columns(reader.schema, schema, label)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield conform_batch(batch, schema, label)

    return pa.RecordBatchReader.from_batches(schema, batches())
