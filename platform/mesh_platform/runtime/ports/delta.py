"""Output ports as Delta tables: publish a batch atomically, read it back in the consumer's format.

Each publish is one Delta commit. Until it commits, readers see the previous version; a failed
or killed publish leaves at most orphan data files that no version references.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from mesh_platform.model.errors import PublishError
from mesh_platform.model.names import check_name
from mesh_platform.model.redaction import without_values

CHECKPOINT_EVERY = 10  # commits between Delta checkpoints of a port


def port_uri(storage_root: str, domain: str, product: str, major: int) -> str:
    """The address of one contract major of a product's port. Built here only, so the root may
    become `s3://...`. A new major is a new table beside the old one, which stays readable."""
    check_name(domain, "domain")
    check_name(product, "product")
    if not isinstance(major, int) or isinstance(major, bool) or not 0 <= major < 100_000:
        raise ValueError(f"port major {major!r} is not a contract major version (a non-negative integer)")
    return f"{storage_root.rstrip('/')}/{domain}/{product}/v{major}"


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
        return (ds.field(self.column) >= pa.scalar(self.start)) & (ds.field(self.column) < pa.scalar(self.end))


@dataclass(frozen=True)
class PublishResult:
    uri: str
    version: int
    rows: int


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


class _Counter:
    """Counts rows (and checks partition bounds) as batches stream into the Delta writer."""

    def __init__(self, reader: pa.RecordBatchReader, partition: PartitionSlice | None, label: str):
        self.rows = 0
        self.error: PublishError | None = None
        self._reader = reader
        self._partition = partition
        self._label = label

    def _batches(self) -> Iterable[pa.RecordBatch]:
        try:
            for batch in self._reader:
                if self._partition is not None and batch.num_rows:
                    self._check_bounds(batch)
                self._check_required(batch)
                self.rows += batch.num_rows
                yield batch
        except PublishError as exc:
            # Raised inside the Delta writer's stream: keep it so the caller sees our message.
            self.error = exc
            raise

    def _check_required(self, batch: pa.RecordBatch) -> None:
        # The audit reports missing values as a rule with samples; this is the last line of
        # defence for callers that publish without auditing.
        for field, column in zip(batch.schema, batch.columns):
            if not field.nullable and column.null_count:
                raise PublishError(
                    f"{self._label}: column {field.name!r} is required by the contract but {column.null_count} rows are null"
                )

    def _check_bounds(self, batch: pa.RecordBatch) -> None:
        values = batch.column(self._partition.column)
        if values.null_count:
            # The overwrite predicate never matches NULL: such rows would pile up, publish after publish.
            raise PublishError(
                f"{self._label}: {values.null_count} rows have no {self._partition.column}, so they belong to no partition; "
                f"every row published for {self._partition.start} <= {self._partition.column} < {self._partition.end} must fall inside it"
            )
        low, high = pc.min(values).as_py(), pc.max(values).as_py()
        if low is None or low < self._partition.start or high >= self._partition.end:
            raise PublishError(
                f"{self._label}: rows fall outside the partition being published "
                f"({self._partition.start} <= {self._partition.column} < {self._partition.end}); "
                f"found values from {low} to {high}"
            )

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self._reader.schema, self._batches())


def publish(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    schema: pa.Schema,
    *,
    label: str,
    partition_by: str | None = None,
    partition: PartitionSlice | None = None,
    commit_metadata: dict[str, str] | None = None,
) -> PublishResult:
    """Write `data` as the port's next version, in one commit.

    Without `partition`, the whole table is replaced; with it, only the rows of that slice are,
    and every other partition's files stay untouched.
    """
    counter = _Counter(conform(data, schema, label), partition, label)
    # One open of the table per publish: each open replays the log since its last checkpoint.
    try:
        table: DeltaTable | None = DeltaTable(uri)
    except TableNotFoundError:
        table = None
    options = dict(
        mode="overwrite",
        partition_by=[partition_by] if partition_by else None,
        commit_properties=CommitProperties(custom_metadata=commit_metadata or {}),
    )
    if partition is not None and table is not None:
        options["predicate"] = partition.predicate()
    else:
        # A full replace may follow a contract change: the contract's schema wins.
        options["schema_mode"] = "overwrite"
    try:
        write_deltalake(table if table is not None else uri, counter.reader(), **options)
    except CommitFailedError as exc:
        raise PublishError(
            f"{label}: another publish to {uri} committed first; this batch was not published (retry it): "
            + " ".join(str(exc).split())
        ) from exc
    except Exception as exc:  # deltalake raises several unrelated types
        if counter.error is not None:
            raise counter.error from None
        raise PublishError(f"{label}: writing the Delta port at {uri} failed: {' '.join(str(exc).split())}") from exc
    table = table if table is not None else DeltaTable(uri)  # the object follows its own commit
    version = table.version()
    if version and version % CHECKPOINT_EVERY == 0:
        # A monthly port gains a commit a month: without this, opening it replays up to 100 commits
        # (delta-rs's default interval), and a new month at 10 years costs 1.3x the same at 1 year.
        table.create_checkpoint()
    return PublishResult(uri=uri, version=version, rows=counter.rows)


def open_port(uri: str, label: str) -> DeltaTable:
    try:
        return DeltaTable(uri)
    except TableNotFoundError:
        raise PublishError(f"{label} has never been published: no Delta table at {uri}") from None


def read_arrow(uri: str, label: str, partition: PartitionSlice | None = None, columns: list[str] | None = None) -> pa.Table:
    if partition is None:
        return open_port(uri, label).to_pyarrow_dataset().to_table(columns=columns)
    # Prune by the files' partition values first: a dataset of every file of ten years costs
    # more to build than reading the one month does.
    dataset = open_port(uri, label).to_pyarrow_dataset(file_pruning_predicate=partition.predicate())
    return dataset.to_table(columns=columns, filter=partition.expression())


def read_dataset(uri: str, label: str) -> ds.Dataset:
    return open_port(uri, label).to_pyarrow_dataset()
