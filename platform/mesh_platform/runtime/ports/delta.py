"""The Delta port store: each port a Delta table, each publish one Delta commit.

Until a publish commits, readers see the previous version; a failed or killed publish leaves at
most orphan data files that no version references. This is the only module of the platform that
imports deltalake (or pyarrow.fs): another backend is another module like this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.errors import PublishError
from mesh_platform.runtime.ports.conform import BatchGuard, PartitionSlice, conform
from mesh_platform.runtime.ports.port import (
    RUN_ID_KEY, PortDescription, PublishResult, StagedBatch, contract_of_commit, port_uri,
)

if TYPE_CHECKING:  # annotations only: a code location's policies look at ports without pyarrow.dataset (issue 12)
    import pyarrow.dataset as ds

CHECKPOINT_EVERY = 10  # commits between Delta checkpoints of a port
_HISTORY_DEPTH = 10  # how far back `describe` looks for the last commit a publish made (not maintenance)


def _options(storage_options: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def _open(uri: str, storage_options: Mapping[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=_options(storage_options))
    except TableNotFoundError:
        return None


def stage(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    schema: pa.Schema,
    *,
    label: str,
    partition_by: str | None = None,
    partition: PartitionSlice | None = None,
) -> StagedBatch:
    """`data` conformed to `schema` (drift refused now), streamed into Delta only on commit: a
    port's rows never sit twice in memory."""
    guard = BatchGuard(conform(data, schema, label), partition, label)
    return StagedBatch(uri, label, schema, guard, partition_by, partition)


def commit(
    staged: StagedBatch, commit_metadata: Mapping[str, str] | None = None, storage_options: Mapping[str, str] | None = None,
) -> PublishResult:
    """Write a staged batch as the port's next version, in one Delta commit.

    Without a partition, the whole table is replaced; with one, only the rows of that slice are,
    and every other partition's files stay untouched.
    """
    uri, label, partition = staged.uri, staged.label, staged.partition
    # One open of the table per publish: each open replays the log since its last checkpoint.
    table = _open(uri, storage_options)
    options = dict(
        mode="overwrite",
        partition_by=[staged.partition_by] if staged.partition_by else None,
        commit_properties=CommitProperties(custom_metadata=dict(commit_metadata or {})),
    )
    if partition is not None and table is not None:
        options["predicate"] = partition.predicate()
    else:
        # A full replace may follow a contract change: the contract's schema wins.
        options["schema_mode"] = "overwrite"
    if table is None:
        options["storage_options"] = _options(storage_options)  # an open table carries its own
    try:
        write_deltalake(table if table is not None else uri, staged.guard.reader(), **options)
    except CommitFailedError as exc:
        raise PublishError(
            f"{label}: another publish to {uri} committed first; this batch was not published (retry it): "
            + " ".join(str(exc).split())
        ) from exc
    except Exception as exc:  # deltalake raises several unrelated types
        if staged.guard.error is not None:
            raise staged.guard.error from None
        raise PublishError(f"{label}: writing the Delta port at {uri} failed: {' '.join(str(exc).split())}") from exc
    table = table if table is not None else DeltaTable(uri, storage_options=_options(storage_options))  # the object follows its own commit
    version = table.version()
    if version and version % CHECKPOINT_EVERY == 0:
        # A monthly port gains a commit a month: without this, opening it replays up to 100 commits
        # (delta-rs's default interval), and a new month at 10 years costs 1.3x the same at 1 year.
        table.create_checkpoint()
    return PublishResult(uri=uri, version=version, rows=staged.guard.rows)


def publish(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    schema: pa.Schema,
    *,
    label: str,
    partition_by: str | None = None,
    partition: PartitionSlice | None = None,
    commit_metadata: Mapping[str, str] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> PublishResult:
    """Stage and commit in one call (tests and benchmarks; products publish via runtime/publishing.py)."""
    staged = stage(uri, data, schema, label=label, partition_by=partition_by, partition=partition)
    return commit(staged, commit_metadata, storage_options)


def open_port(uri: str, label: str, storage_options: Mapping[str, str] | None = None) -> DeltaTable:
    table = _open(uri, storage_options)
    if table is None:
        raise PublishError(f"{label} has never been published: no Delta table at {uri}")
    return table


def read_arrow(
    uri: str, label: str, partition: PartitionSlice | None = None, columns: list[str] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    table = open_port(uri, label, storage_options)
    if partition is None:
        return table.to_pyarrow_dataset().to_table(columns=columns)
    # Prune by the files' partition values first: a dataset of every file of ten years costs
    # more to build than reading the one month does.
    dataset = table.to_pyarrow_dataset(file_pruning_predicate=partition.predicate())
    return dataset.to_table(columns=columns, filter=partition.expression())


def read_dataset(uri: str, label: str, storage_options: Mapping[str, str] | None = None) -> ds.Dataset:
    table = open_port(uri, label, storage_options)
    local = None if "://" in uri and not uri.startswith("file://") else Path(uri.removeprefix("file://")).resolve()
    if local is None:
        return table.to_pyarrow_dataset()
    # A native filesystem for a local port: deltalake's default is a Python one, whose every file
    # open takes the GIL from Arrow's IO threads. DuckDB scanning the dataset from its own threads
    # while the query's thread waits for the GIL then deadlocks (seen in `mesh sql` and audits).
    return table.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(str(local), pafs.LocalFileSystem()))


def server_entry(uri: str, label: str | None = None) -> dict:
    """An ODCS `servers` entry for a Delta port: local path or object store."""
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        entry = {"server": "mesh_port", "type": "s3" if scheme in ("s3", "s3a") else "custom", "location": uri, "format": "delta"}
    else:
        entry = {"server": "mesh_port", "type": "local", "path": uri.removeprefix("file://"), "format": "delta"}
    if label is not None:
        entry["description"] = f"Delta output port of {label}; read it with deltalake, DuckDB, pandas or Polars."
    return entry


@dataclass(frozen=True)
class DeltaPortStore:
    """The PortStore (runtime/ports/store.py) on Delta tables under `root`, a folder or an object
    store URI. `storage_options` go to deltalake as they are; they are kept out of the repr."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)

    def uri(self, domain: str, product: str, major: int) -> str:
        return port_uri(self.root, domain, product, major)

    def stage(self, uri, data, schema, *, label, partition_by=None, partition=None) -> StagedBatch:
        return stage(uri, data, schema, label=label, partition_by=partition_by, partition=partition)

    def publish(self, staged: StagedBatch, commit_metadata: Mapping[str, str]) -> PublishResult:
        return commit(staged, commit_metadata, self.storage_options)

    def scan(self, uri, label, *, partition=None, columns=None) -> pa.Table:
        return read_arrow(uri, label, partition, columns, self.storage_options)

    def dataset(self, uri: str, label: str) -> ds.Dataset:
        return read_dataset(uri, label, self.storage_options)

    def history(self, uri: str, limit: int = 10) -> list[dict]:
        table = _open(uri, self.storage_options)
        return table.history(limit) if table is not None else []

    def published_majors(self, domain: str, product: str) -> list[int]:
        base = self.uri(domain, product, 0).rsplit("/", 1)[0]
        # Listing uses pyarrow's own credential chain (the AWS_* variables), not storage_options.
        filesystem, path = pafs.FileSystem.from_uri(base if "://" in base else str(Path(base).resolve()))
        majors = []
        for info in filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            name = info.base_name
            if info.type == pafs.FileType.Directory and name.startswith("v") and name[1:].isdigit():
                if filesystem.get_file_info(f"{info.path}/_delta_log").type == pafs.FileType.Directory:
                    majors.append(int(name[1:]))
        return sorted(majors)

    def stored_contract(self, uri: str) -> Contract | None:
        history = self.history(uri, 1)
        return contract_of_commit(history[0] if history else None, uri)

    def latest_published(self, domain: str, product: str) -> tuple[int, Contract] | None:
        for major in reversed(self.published_majors(domain, product)):
            contract = self.stored_contract(self.uri(domain, product, major))
            if contract is not None:
                return major, contract
        return None

    def describe(self, uri: str) -> PortDescription:
        state = PortDescription(uri=uri)
        try:
            table = _open(uri, self.storage_options)
        except Exception as exc:  # a damaged or unreachable table: show it, do not stop the catalog
            state.error = f"{type(exc).__name__}: {exc}"
            return state
        if table is None:
            return state
        state.published = True
        state.version = table.version()
        history = table.history(_HISTORY_DEPTH)
        last = next((c for c in history if c.get(RUN_ID_KEY)), history[0] if history else {})
        if last.get("timestamp") is not None:
            state.last_publish = dt.datetime.fromtimestamp(last["timestamp"] / 1000, dt.timezone.utc)
        state.published_contract_version = last.get("mesh.contract_version")
        state.run_id = last.get(RUN_ID_KEY)
        # Counted from the table: a monthly publish commits one month's files only.
        state.rows = table.to_pyarrow_dataset().count_rows()
        return state

    def server_entry(self, uri: str, label: str | None = None) -> dict:
        return server_entry(uri, label)
