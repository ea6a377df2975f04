"""The Delta port store: each port a Delta table, each publish one Delta commit.

A publish writes its Parquet files once, into a fresh folder of the table that no version
references (runtime/ports/staging.py); the files are checked and audited where they lie, and the
Delta commit that adds them (and removes the files they replace) is the publish. Until it commits,
readers see the previous version; a refused or killed publish leaves at most orphan files, which
`remove_orphans` clears. This is the only module of the platform that imports deltalake (or
pyarrow.fs): another backend is another module like this one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, create_table_with_add_actions

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.errors import MeshError, PublishError
from mesh_platform.runtime.ports import faults, staging
from mesh_platform.runtime.ports.conform import PartitionSlice, check_columns, conform
from mesh_platform.runtime.ports.s3_options import pyarrow_arguments
from mesh_platform.runtime.ports.port import (
    RUN_ID_KEY, PortDescription, PortLocation, PublishResult, StagedBatch, contract_of_commit, port_uri, registry_uri,
)

if TYPE_CHECKING:  # annotations only: a code location's policies look at ports without pyarrow.dataset (issue 12)
    import pyarrow.dataset as ds

CHECKPOINT_EVERY = 10  # commits between Delta checkpoints of a port
# Each commit names the folder it published (see remove_orphans): the store's own bookkeeping,
# outside the `mesh.` keys, which are the write path's (runtime/publishing.py commit_metadata).
STAGED_FOLDER_KEY = "store.staged_folder"
_HISTORY_DEPTH = 10  # how far back `describe` looks for the last commit a publish made (not maintenance)


def _options(storage_options: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def _open(uri: str, storage_options: Mapping[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=_options(storage_options))
    except TableNotFoundError:
        return None


def _local(uri: str) -> Path | None:
    """The folder of a port on local disk, resolved; None for an object-store URI."""
    return None if "://" in uri and not uri.startswith("file://") else Path(uri.removeprefix("file://")).resolve()


def write_whole(uri: str, storage_options: dict[str, str], data: bytes) -> None:
    """Write `data` at `uri` so that a reader never finds half of it: one PUT on an object store;
    on disk, written beside and renamed over. (Registry entries and usage records.)"""
    local = _local(uri)
    if local is None:
        filesystem, path = _filesystem(uri, storage_options)
        with filesystem.open_output_stream(path) as out:
            out.write(data)
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(f".{local.name}.{staging.stage_name()}")
    partial.write_bytes(data)
    partial.replace(local)


def _filesystem(uri: str, storage_options: Mapping[str, str] | None = None) -> tuple[pafs.FileSystem, str]:
    """The port's folder (or any folder of the store) as pyarrow sees it, and its path there.
    On an object store, a filesystem built from the store's own options: the acting identity's
    keys, endpoint and region. Never pyarrow's ambient chain when the options hold keys: that
    would act as whatever identity the environment holds, not the domain's."""
    local = _local(uri)
    if local is not None:
        return pafs.LocalFileSystem(), str(local)
    scheme, _, path = uri.partition("://")
    if scheme not in ("s3", "s3a"):
        raise MeshError(f"{uri}: the port store reads local folders and s3:// URIs, not {scheme}://")
    return _s3(tuple(sorted((storage_options or {}).items()))), path.rstrip("/")


@functools.lru_cache(maxsize=16)
def _s3(options: tuple[tuple[str, str], ...]) -> pafs.S3FileSystem:
    """One pyarrow S3 filesystem per set of options (an identity's), reused: each costs a client."""
    return pafs.S3FileSystem(**pyarrow_arguments(dict(options)))


def staging_folder(uri: str) -> tuple[str, Path] | None:
    """A fresh, empty local folder inside the port for an engine to write one publish's files
    into, and its name; None for a port on an object store."""
    local = _local(uri)
    if local is None:
        return None
    name = staging.stage_name()
    (local / name).mkdir(parents=True)
    return name, local / name


def adopt(
    uri: str, folder: str, schema: pa.Schema, *, label: str,
    partition_by: str | None = None, partition: PartitionSlice | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> StagedBatch:
    """The Parquet files written under `folder` of the port as a staged batch: each described
    from its footer, their columns held to `schema` (drift refused with the diff). Nothing is
    committed; the guard checks (required columns, partition bounds) run at `commit`, after the
    audit has had its say with rule names and samples."""
    filesystem, root = _filesystem(uri, storage_options)
    infos = filesystem.get_file_info(pafs.FileSelector(f"{root}/{folder}", recursive=True, allow_not_found=True))
    files = tuple(
        staging.staged_file(filesystem, root, info.path[len(root) + 1:], info.size, partition_by)
        for info in sorted(infos, key=lambda i: i.path)
        if info.type == pafs.FileType.File and info.base_name.endswith(".parquet")
    )
    staged = StagedBatch(uri, label, schema, folder, files, partition_by, partition)
    if files:
        written = pq.read_schema(f"{root}/{files[0].path}", filesystem=filesystem)
        expected = pa.schema([f for f in schema if f.name != partition_by])
        check_columns(written, expected, label)
        retyped = [f"{f.name}: the contract declares {f.type}, the files have {written.field(f.name).type}"
                   for f in expected if written.field(f.name).type != f.type]
        if retyped:  # readers would cast or fail: the writer must cast to the contract's types
            raise PublishError(f"{label}: staged files do not have the contract's types: " + "; ".join(retyped))
    return staged


def _count_nulls(staged: StagedBatch, column: str, storage_options: Mapping[str, str] | None = None) -> int:
    import pyarrow.dataset as ds  # reason: Arrow's dataset layer loads only when a footer does not count a column's NULLs

    return staged_dataset(staged, storage_options).count_rows(filter=ds.field(column).is_null())


def stage(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    schema: pa.Schema,
    *,
    label: str,
    partition_by: str | None = None,
    partition: PartitionSlice | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> StagedBatch:
    """`data` conformed to `schema` (drift refused before any file is written), written once as
    the port's staged files and checked; visible to no reader until `commit`."""
    reader = conform(data, schema, label)
    filesystem, root = _filesystem(uri, storage_options)
    folder = staging.stage_name()
    try:
        staging.write_batches(reader, filesystem, f"{root}/{folder}", partition_by, create_dirs=_local(uri) is not None)
        return adopt(uri, folder, schema, label=label, partition_by=partition_by, partition=partition, storage_options=storage_options)
    except PublishError:
        _discard(uri, folder, storage_options)
        raise
    except Exception as exc:  # pyarrow wraps an error raised while the stream is read
        _discard(uri, folder, storage_options)
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, PublishError):
            raise cause from None
        raise PublishError(f"{label}: writing the staged files of {uri} failed: {' '.join(str(exc).split())}") from exc


def staged_dataset(staged: StagedBatch, storage_options: Mapping[str, str] | None = None) -> ds.Dataset:
    filesystem, root = _filesystem(staged.uri, storage_options)
    return staging.staged_dataset(filesystem, root, staged.folder, staged.files, staged.schema, staged.partition_by)


def _discard(uri: str, folder: str, storage_options: Mapping[str, str] | None = None) -> None:
    filesystem, root = _filesystem(uri, storage_options)
    try:
        filesystem.delete_dir(f"{root}/{folder}")
    except (OSError, FileNotFoundError):
        return  # left as an orphan: remove_orphans clears it
    local = _local(uri)
    if local is not None:
        # A refused first publish leaves no trace of the port: its folder, and the product's, go
        # when empty. rmdir, never a recursive delete: another publish may be staging there now.
        for empty in (local, local.parent):
            try:
                empty.rmdir()
            except OSError:
                break


def _add_actions(staged: StagedBatch) -> list[AddAction]:
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    return [AddAction(f.path, f.size, dict(f.partition_values), now, True, f.stats) for f in staged.files]


def commit(
    staged: StagedBatch, commit_metadata: Mapping[str, str] | None = None, storage_options: Mapping[str, str] | None = None,
) -> PublishResult:
    """Make a staged batch the port's next version, in one Delta commit that adds its files.

    Without a partition, the commit removes every current file (and takes the contract's schema:
    a full replace may follow a contract change); with one, it removes that slice's files only,
    and every other partition's files stay untouched.
    """
    uri, label, partition = staged.uri, staged.label, staged.partition
    try:  # the last line of defence, whoever wrote the files and whether or not they were audited
        staging.check_staged(staged.files, staged.schema, partition, label, lambda column: _count_nulls(staged, column, storage_options))
    except PublishError:
        _discard(uri, staged.folder, storage_options)
        raise
    # One open of the table per publish: each open replays the log since its last checkpoint.
    table = _open(uri, storage_options)
    actions = _add_actions(staged)
    schema = DeltaSchema.from_arrow(staged.schema)
    partition_by = [staged.partition_by] if staged.partition_by else None
    properties = CommitProperties(custom_metadata={**(commit_metadata or {}), STAGED_FOLDER_KEY: staged.folder})
    try:
        if table is None:
            # No retry: a create that lost the race for version 0 would be retried as version 1 on
            # top of the winner's files (no removes: both batches at once; seen on S3, where the
            # loser learns of the winner from a conditional put). It must fail as a lost race.
            first = CommitProperties(custom_metadata=properties.custom_metadata, max_commit_retries=0)
            create_table_with_add_actions(
                uri, schema, actions, mode="error", partition_by=partition_by,
                storage_options=_options(storage_options), commit_properties=first,
            )
        else:
            replaced = None
            if partition is not None:
                replaced = [(partition.column, ">=", partition.start.isoformat()), (partition.column, "<", partition.end.isoformat())]
            table.create_write_transaction(
                actions, mode="overwrite", schema=schema, partition_by=partition_by,
                partition_filters=replaced, commit_properties=properties,
            )
    except CommitFailedError as exc:
        _discard(uri, staged.folder, storage_options)  # certainly not committed: no version can reference them
        raise _raced(label, uri, exc) from exc
    except Exception as exc:  # deltalake raises several unrelated types
        if table is None and _open(uri, storage_options) is not None:  # another first publish created it
            _discard(uri, staged.folder, storage_options)
            raise _raced(label, uri, exc) from exc
        # Anything else may have failed after the commit landed: the files stay (an orphan at worst).
        raise PublishError(f"{label}: committing the Delta port at {uri} failed: {' '.join(str(exc).split())}") from exc
    # Outside the try: a failure from here on must not be taken for a publish that did not land.
    if table is None:
        table = DeltaTable(uri, storage_options=_options(storage_options))
    else:
        table.update_incremental()  # the object does not follow its own transaction
    version = _version_of(table, staged.folder)
    if version and version % CHECKPOINT_EVERY == 0:
        # A monthly port gains a commit a month: without this, opening it replays up to 100 commits
        # (delta-rs's default interval), and a new month at 10 years costs 1.3x the same at 1 year.
        table.create_checkpoint()
    return PublishResult(uri=uri, version=version, rows=staged.rows)


def _version_of(table: DeltaTable, folder: str) -> int:
    """The version our commit became: another publish (of another month) may have landed after it."""
    for entry in table.history(_HISTORY_DEPTH):
        if entry.get(STAGED_FOLDER_KEY) == folder:
            return int(entry["version"])
    return table.version()


def _raced(label: str, uri: str, exc: Exception) -> PublishError:
    return PublishError(
        f"{label}: another publish to {uri} committed first; this batch was not published (retry it): "
        + " ".join(str(exc).split())
    )


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
    staged = stage(uri, data, schema, label=label, partition_by=partition_by, partition=partition, storage_options=storage_options)
    return commit(staged, commit_metadata, storage_options)


def remove_orphans(uri: str, older_than: dt.timedelta, storage_options: Mapping[str, str] | None = None) -> list[str]:
    """Delete the staged folders of the port that no version can read: folders of refused or
    killed publishes, untouched for `older_than` (a younger one may be a publish in progress).
    A folder named by a commit still in the log is kept (its files may be time travelled to;
    Delta's own vacuum removes those). Returns the folders removed."""
    filesystem, root = _filesystem(uri, storage_options)
    table = _open(uri, storage_options)
    kept: set[str] = set()
    if table is not None:
        kept |= {path.split("/", 1)[0] for path in pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()}
        kept |= {str(c[STAGED_FOLDER_KEY]) for c in table.history() if c.get(STAGED_FOLDER_KEY)}
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    removed = []
    for info in filesystem.get_file_info(pafs.FileSelector(root, allow_not_found=True)):
        name = info.base_name
        if info.type != pafs.FileType.Directory or not name.startswith(staging.STAGE_PREFIX) or name in kept:
            continue
        inside = filesystem.get_file_info(pafs.FileSelector(info.path, recursive=True))
        touched = max((i.mtime for i in [info, *inside] if i.mtime is not None), default=None)
        if touched is not None and touched.astimezone(dt.timezone.utc) > cutoff:
            continue
        filesystem.delete_dir(info.path)
        removed.append(name)
    return sorted(removed)


def open_port(uri: str, label: str, storage_options: Mapping[str, str] | None = None) -> DeltaTable:
    table = _open(uri, storage_options)
    if table is None:
        raise PublishError(f"{label} has never been published: no Delta table at {uri}")
    return table


def _at_version(table: DeltaTable, uri: str, label: str, version: int | None) -> int:
    """Load `version` of an open table (validated), or keep its latest; the version it holds."""
    latest = table.version()
    if version is None:
        return latest
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= latest:
        raise MeshError(f"{label}: cannot read version {version!r} of its port at {uri}: "
                        f"a version is an integer from 0 to {latest} (its latest)")
    if version != latest:
        try:
            table.load_as_version(version)
        except Exception as exc:  # its log files were cleaned up: that version cannot be rebuilt
            raise MeshError(f"{label}: version {version} of its port at {uri} is no longer readable: "
                            + " ".join(str(exc).split())) from exc
    return version


def locate(
    uri: str, label: str, version: int | None = None, storage_options: Mapping[str, str] | None = None, identity: str = "platform",
) -> PortLocation:
    """Where the port's table is, and which version to read (the latest, or `version` validated);
    an object-store port's location carries the options (keys) of `identity`, which located it."""
    table = open_port(uri, label, storage_options)
    latest = table.version()
    chosen = _at_version(table, uri, label, version)
    local = _local(uri)
    return PortLocation(
        str(local) if local else uri, chosen, latest, local is not None, pa.schema(table.schema().to_arrow()),
        identity, {} if local else dict(storage_options or {}),
    )


def _table_filesystem(uri: str, storage_options: Mapping[str, str] | None) -> pafs.FileSystem:
    """The table's folder as a native pyarrow filesystem: deltalake's default is a Python one,
    whose every file open takes the GIL from Arrow's IO threads."""
    filesystem, root = _filesystem(uri, storage_options)
    return pafs.SubTreeFileSystem(root, filesystem)


def read_arrow(
    uri: str, label: str, partition: PartitionSlice | None = None, columns: list[str] | None = None,
    storage_options: Mapping[str, str] | None = None, version: int | None = None,
) -> pa.Table:
    """The port's rows as an Arrow table: the read path of masked ports (masking is a keyed hash
    in Python)."""
    table = open_port(uri, label, storage_options)
    _at_version(table, uri, label, version)
    filesystem = _table_filesystem(uri, storage_options)
    if partition is None:
        return table.to_pyarrow_dataset(filesystem=filesystem).to_table(columns=columns)
    # Prune by the files' partition values first: a dataset of every file of ten years costs
    # more to build than reading the one month does.
    dataset = table.to_pyarrow_dataset(file_pruning_predicate=partition.predicate(), filesystem=filesystem)
    return dataset.to_table(columns=columns, filter=partition.expression())


def read_dataset(uri: str, label: str, storage_options: Mapping[str, str] | None = None, version: int | None = None) -> ds.Dataset:
    """The port as a lazy Arrow dataset (tests and tools; sessions and governed reads scan ports
    with DuckDB's delta_scan, runtime/engines/duckdb_ports.py)."""
    table = open_port(uri, label, storage_options)
    _at_version(table, uri, label, version)
    return table.to_pyarrow_dataset(filesystem=_table_filesystem(uri, storage_options))


def server_entry(uri: str, label: str | None = None, storage_options: Mapping[str, str] | None = None) -> dict:
    """An ODCS `servers` entry for a Delta port: local path or object store (with the endpoint and
    region a consumer's client needs; never a key: each consumer reads with its own)."""
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        entry = {"server": "mesh_port", "type": "s3" if scheme in ("s3", "s3a") else "custom", "location": uri, "format": "delta"}
        options = storage_options or {}
        if options.get("AWS_ENDPOINT_URL"):
            entry["endpointUrl"] = options["AWS_ENDPOINT_URL"]
        if options.get("AWS_REGION"):
            entry["region"] = options["AWS_REGION"]
    else:
        entry = {"server": "mesh_port", "type": "local", "path": uri.removeprefix("file://"), "format": "delta"}
    if label is not None:
        entry["description"] = f"Delta output port of {label}; read it with deltalake, DuckDB, pandas or Polars."
    return entry


@dataclass(frozen=True)
class DeltaPortStore:
    """The PortStore (runtime/ports/store.py) on Delta tables under `root`, a folder or an object
    store URI. `storage_options` (the keys of `identity`, endpoint, region) go to deltalake as they
    are and build the store's pyarrow filesystem; they are kept out of the repr. A store's failure
    (unreachable, keys refused, access denied) is raised as one line naming the endpoint, the
    identity or the port (runtime/ports/faults.py), never deltalake's multi-line message."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)
    identity: str = "platform"  # whose keys the options hold (named in errors; model/access.py storage_identity)

    def uri(self, domain: str, product: str, major: int, masked: bool = False) -> str:
        return port_uri(self.root, domain, product, major, masked)

    @contextmanager
    def _faults(self, uri: str, error: type[MeshError] = MeshError) -> Iterator[None]:
        """Say a store's failure in one line (`error`: PublishError on the write path)."""
        try:
            yield
        except Exception as exc:
            line = faults.fault_line(exc, self.identity, self.storage_options, uri)
            if line is None:
                raise
            raise (PublishError if isinstance(exc, PublishError) else error)(line) from None

    def stage(self, uri, data, schema, *, label, partition_by=None, partition=None) -> StagedBatch:
        with self._faults(uri, PublishError):
            return stage(uri, data, schema, label=label, partition_by=partition_by, partition=partition, storage_options=self.storage_options)

    def staging_folder(self, uri: str) -> tuple[str, Path] | None:
        return staging_folder(uri)

    def adopt(self, uri, folder, schema, *, label, partition_by=None, partition=None) -> StagedBatch:
        with self._faults(uri, PublishError):
            return adopt(uri, folder, schema, label=label, partition_by=partition_by, partition=partition, storage_options=self.storage_options)

    def staged_dataset(self, staged: StagedBatch) -> ds.Dataset:
        with self._faults(staged.uri, PublishError):
            return staged_dataset(staged, self.storage_options)

    def discard(self, uri: str, folder: str) -> None:
        _discard(uri, folder, self.storage_options)

    def publish(self, staged: StagedBatch, commit_metadata: Mapping[str, str]) -> PublishResult:
        with self._faults(staged.uri, PublishError):
            return commit(staged, commit_metadata, self.storage_options)

    def remove_orphans(self, uri: str, older_than: dt.timedelta) -> list[str]:
        with self._faults(uri):
            return remove_orphans(uri, older_than, self.storage_options)

    def scan(self, uri, label, *, partition=None, columns=None, version=None) -> pa.Table:
        with self._faults(uri):
            return read_arrow(uri, label, partition, columns, self.storage_options, version)

    def dataset(self, uri: str, label: str, version: int | None = None) -> ds.Dataset:
        with self._faults(uri):
            return read_dataset(uri, label, self.storage_options, version)

    def locate(self, uri: str, label: str, version: int | None = None) -> PortLocation:
        with self._faults(uri):
            return locate(uri, label, version, self.storage_options, self.identity)

    def history(self, uri: str, limit: int = 10) -> list[dict]:
        with self._faults(uri):
            table = _open(uri, self.storage_options)
            return table.history(limit) if table is not None else []

    def published_majors(self, domain: str, product: str, masked: bool = False) -> list[int]:
        # Lists only `<root>/<domain>/<product>/` (or its `masked/`): the folders above its ports a
        # reader of the product may list (docs/deployment.md), with the acting identity's own keys.
        # The raw majors' folder holds `masked/` too, which is no `v<int>`: never listed as a major.
        base = self.uri(domain, product, 0, masked).rsplit("/", 1)[0]
        with self._faults(base):
            filesystem, path = _filesystem(base, self.storage_options)
            majors = []
            for info in filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
                name = info.base_name
                if info.type == pafs.FileType.Directory and name.startswith("v") and name[1:].isdigit():
                    if filesystem.get_file_info(f"{info.path}/_delta_log").type == pafs.FileType.Directory:
                        majors.append(int(name[1:]))
            return sorted(majors)

    def check(self, domain: str) -> None:
        # One listing of the domain's own folder: the least an identity that publishes there may do.
        folder = f"{self.root.rstrip('/')}/{domain}"
        if _local(folder) is not None:
            return
        with self._faults(folder):
            filesystem, path = _filesystem(folder, self.storage_options)
            filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))

    def stored_contract(self, uri: str) -> Contract | None:
        history = self.history(uri, 1)
        return contract_of_commit(history[0] if history else None, uri)

    def latest_published(self, domain: str, product: str, masked: bool = False) -> tuple[int, Contract] | None:
        for major in reversed(self.published_majors(domain, product, masked)):
            contract = self.stored_contract(self.uri(domain, product, major, masked))
            if contract is not None:
                return major, contract
        return None

    def describe(self, uri: str) -> PortDescription:
        state = PortDescription(uri=uri)
        try:
            table = _open(uri, self.storage_options)
        except Exception as exc:  # a damaged or unreachable table: show it, do not stop the catalog
            state.error = faults.fault_line(exc, self.identity, self.storage_options, uri) or f"{type(exc).__name__}: {faults.one_line(str(exc))}"
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
        state.rows = _row_count(table)
        return state

    def server_entry(self, uri: str, label: str | None = None) -> dict:
        return server_entry(uri, label, self.storage_options)

    def registry_uri(self, domain: str, product: str) -> str:
        return registry_uri(self.root, domain, product)

    def write_entry_file(self, domain: str, product: str, name: str, data: bytes) -> None:
        uri = registry_uri(self.root, domain, product, name)
        with self._faults(uri):
            write_whole(uri, self.storage_options, data)

    def read_entry_file(self, domain: str, product: str, name: str) -> bytes | None:
        uri = registry_uri(self.root, domain, product, name)
        with self._faults(uri):
            filesystem, path = _filesystem(uri, self.storage_options)
            try:
                with filesystem.open_input_stream(path) as stream:
                    return stream.read()
            except FileNotFoundError:
                return None


def _row_count(table: DeltaTable) -> int:
    """The rows of the table's live files, from the Delta log's per-file stats: no data file is
    opened. A file committed without stats (another writer) is counted from its footer."""
    actions = pa.table(table.get_add_actions(flatten=True))
    counts = actions.column("num_records").to_pylist() if actions.num_rows else []
    if all(count is not None for count in counts):
        return sum(counts)
    return table.to_pyarrow_dataset().count_rows()


def data_files(uri: str, label: str, version: int) -> tuple[list[tuple[str, dict[str, str | None]]], list[str]]:
    """The exact data files of `version` of a local port, for an engine that reads Parquet itself
    (Spark): each file's path relative to the table's folder with its partition values (as
    text; None for null), and the table's partition columns. The folder also holds files of
    older versions and orphans of refused publishes: only this list is the version."""
    table = open_port(uri, label)
    _at_version(table, uri, label, version)
    actions = pa.table(table.get_add_actions(flatten=False))
    partition_columns = list(table.metadata().partition_columns)
    paths = actions.column("path").to_pylist()
    if not partition_columns:
        return [(path, {}) for path in paths], []
    # deltalake types the values (a date, an int): back to Delta's own text, which a reader casts.
    values = actions.column("partition").to_pylist()
    return [(path, {k: _partition_text(v) for k, v in (value or {}).items()}) for path, value in zip(paths, values)], partition_columns


def _partition_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
