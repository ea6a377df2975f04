"""Staged files: a product's Parquet files, written once into its port before any version
references them (write-audit-publish without a second copy of the data).

A publish writes its files into a fresh folder `w-<uuid>/` inside the port's table. Nothing reads
them until the store commits them as the port's next version, in one commit, with statistics
taken from their footers; a refused or killed publish leaves them as orphans that no version
references (the store's `remove_orphans` clears them later). Between the two steps the files are
checked (required columns, partition bounds, from the footers) and audited in place, so what is
audited is byte for byte what gets published.

Backend-neutral: a store passes its pyarrow filesystem in; this module never opens one itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from mesh_platform.model.errors import PublishError
from mesh_platform.runtime.ports.conform import PartitionSlice

if TYPE_CHECKING:
    import pyarrow.dataset as ds

STAGE_PREFIX = "w-"  # every staged folder's name starts so: orphans are found by it
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # what pyarrow's hive partitioning names a NULL value


def stage_name() -> str:
    """A fresh folder name for one publish's files: two publishes never write into the same one."""
    return f"{STAGE_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class StagedFile:
    """One data file of a staged batch, as a Delta AddAction needs it."""

    path: str  # relative to the table root, "/"-separated
    size: int
    rows: int
    partition_values: Mapping[str, str | None]
    null_counts: Mapping[str, int] = field(default_factory=dict)  # only columns whose footer counts them
    stats: str = "{}"  # Delta statistics JSON: numRecords, minValues, maxValues, nullCount


def write_batches(
    reader: pa.RecordBatchReader, filesystem, folder: str, partition_by: str | None, *, create_dirs: bool = True,
) -> None:
    """Write a conformed stream as Parquet files under `folder` (hive folders per partition value,
    the partition column left out of the files, as Delta lays them out). Order is kept.
    `create_dirs=False` for an object store: it has no folders, and pyarrow's way of making them
    asks about the whole bucket, which an identity allowed only under its domain's prefix may not."""
    import pyarrow.dataset as ds  # reason: Arrow's dataset layer loads when a batch is staged, not at location load

    # Written as nullable: a NULL in a required column is refused by `check_staged`, with the
    # contract's message, rather than by the writer's.
    relaxed = pa.schema([f.with_nullable(True) for f in reader.schema])
    reader = pa.RecordBatchReader.from_batches(relaxed, (pa.RecordBatch.from_arrays(b.columns, schema=relaxed) for b in reader))
    partitioning = None
    if partition_by:
        partitioning = ds.partitioning(pa.schema([reader.schema.field(partition_by)]), flavor="hive")
    ds.write_dataset(
        reader, folder, filesystem=filesystem, format="parquet", partitioning=partitioning,
        # Names unique across publishes (as Delta writers make them): a file is never mistaken for
        # the one it replaces, by a tool or a person keying files by name.
        basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet", existing_data_behavior="error", preserve_order=True,
        create_dir=create_dirs,
    )


def partition_values(relative: str, partition_by: str | None) -> dict[str, str | None]:
    """The partition value a staged file's hive folder names (None for a NULL partition)."""
    if not partition_by:
        return {}
    for segment in relative.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        if sep and unquote(key) == partition_by:
            value = unquote(value)
            return {partition_by: None if value == _NULL_PARTITION else value}
    raise PublishError(f"staged file {relative} lies in no {partition_by}=<value> folder")


TRUNCATED_AT = 256  # DuckDB's Parquet writer keeps at most this many characters of a string statistic
_ABOVE_ANY_TEXT = "\U0010ffff"  # the highest code point: a prefix followed by it bounds every string with that prefix


def _json_value(value, *, upper: bool) -> str | None:
    """A statistic as Delta's JSON wants it (`upper`: a max), or None where no safe bound exists.

    Every column needs both bounds: deltalake's Arrow reader turns a missing one into `>= null`,
    which prunes the file away for any filter on that column (a wrong, empty answer). A bound may
    be loose, never tight: a reader skips a file only when the bounds exclude the filter.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else None  # exact, never through a float
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        # Delta keeps timestamps to the millisecond and its readers widen a max by 1 ms: floor both.
        floored = value.replace(microsecond=value.microsecond // 1000 * 1000)
        text = floored.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        return json.dumps(text + "Z" if value.tzinfo is not None else text)
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, str):
        # A writer may have cut the statistic to a prefix: a prefix is a lower bound as it is, and
        # an upper bound once followed by the highest code point.
        return json.dumps(value + _ABOVE_ANY_TEXT if upper and len(value) >= TRUNCATED_AT else value)
    return None


def _footer_stats(metadata: pq.FileMetaData) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    nulls: dict[str, int] = {}
    low: dict[str, str] = {}
    high: dict[str, str] = {}
    for index in range(metadata.num_columns):
        name = metadata.schema.column(index).path
        if "." in name:
            continue  # a nested field: contracts declare flat columns
        statistics = [metadata.row_group(g).column(index).statistics for g in range(metadata.num_row_groups)]
        if statistics and all(s is not None and s.has_null_count for s in statistics):
            nulls[name] = sum(s.null_count for s in statistics)
        with_values = [s for s in statistics if s is not None and s.num_values]  # num_values counts non-nulls
        if statistics and all(s.has_min_max for s in with_values) and with_values:
            smallest = _json_value(min(s.min for s in with_values), upper=False)
            largest = _json_value(max(s.max for s in with_values), upper=True)
            if smallest is not None and largest is not None:
                low[name], high[name] = smallest, largest
    return nulls, low, high


def _stats_json(rows: int, nulls: Mapping[str, int], low: Mapping[str, str], high: Mapping[str, str]) -> str:
    def obj(values: Mapping[str, str]) -> str:
        return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in values.items()) + "}"

    return (
        f'{{"numRecords":{rows},"minValues":{obj(low)},"maxValues":{obj(high)},'
        f'"nullCount":{obj({k: str(v) for k, v in nulls.items()})}}}'
    )


def staged_file(filesystem, root: str, relative: str, size: int, partition_by: str | None) -> StagedFile:
    """A staged file described from its Parquet footer (the data itself is not read)."""
    metadata = pq.read_metadata(f"{root}/{relative}", filesystem=filesystem)
    nulls, low, high = _footer_stats(metadata)
    return StagedFile(
        path=relative, size=size, rows=metadata.num_rows, partition_values=partition_values(relative, partition_by),
        null_counts=nulls, stats=_stats_json(metadata.num_rows, nulls, low, high),
    )


def check_staged(
    files: Iterable[StagedFile], schema: pa.Schema, partition: PartitionSlice | None, label: str,
    count_nulls: Callable[[str], int],
) -> None:
    """The guard every publish passes, whoever wrote the files: no NULL in a required column, and
    with `partition`, every row inside it. Counts come from the footers; `count_nulls` reads a
    column only where a footer does not count its NULLs."""
    files = list(files)
    for column in schema:
        if column.nullable:
            continue
        if any(column.name in f.partition_values for f in files):
            nulls = sum(f.rows for f in files if f.partition_values.get(column.name) is None)
        elif all(column.name in f.null_counts for f in files):
            nulls = sum(f.null_counts[column.name] for f in files)
        else:
            nulls = count_nulls(column.name)
        if nulls:
            raise PublishError(f"{label}: column {column.name!r} is required by the contract but {nulls} rows are null")
    if partition is None:
        return
    kind = schema.field(partition.column).type
    values = [f.partition_values.get(partition.column) for f in files if f.rows]
    missing = sum(f.rows for f in files if f.rows and f.partition_values.get(partition.column) is None)
    if missing:
        # The replace predicate never matches NULL: such rows would pile up, publish after publish.
        raise PublishError(
            f"{label}: {missing} rows have no {partition.column}, so they belong to no partition; every row published for "
            f"{partition.start} <= {partition.column} < {partition.end} must fall inside it"
        )
    typed = [pa.scalar(v).cast(kind).as_py() for v in values]
    if typed and (min(typed) < partition.start or max(typed) >= partition.end):
        raise PublishError(
            f"{label}: rows fall outside the partition being published "
            f"({partition.start} <= {partition.column} < {partition.end}); found values from {min(typed)} to {max(typed)}"
        )


def staged_dataset(
    filesystem, root: str, folder: str, files: Iterable[StagedFile], schema: pa.Schema, partition_by: str | None,
) -> ds.Dataset:
    """Exactly the staged files, as one Arrow dataset of the contract's schema (what the audit reads)."""
    import pyarrow.dataset as ds  # reason: Arrow's dataset layer loads when an audit reads staged files, not at location load

    partitioning = None
    if partition_by:
        partitioning = ds.partitioning(pa.schema([schema.field(partition_by)]), flavor="hive")
    return ds.dataset(
        [f"{root}/{f.path}" for f in files], schema=schema, format="parquet", filesystem=filesystem,
        partitioning=partitioning, partition_base_dir=f"{root}/{folder}",
    )
