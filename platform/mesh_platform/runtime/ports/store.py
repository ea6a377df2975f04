"""The seam between the mesh and where its ports live: the `PortStore` interface, and the one
factory that configures a store from settings.

Everything that writes, reads or inspects a port goes through a store: the write path
(runtime/publishing.py), governed reads (runtime/reading.py), majors and retirement
(runtime/ports/majors.py, runtime/global_policies.py), contract export (runtime/export.py) and the
catalog (cli/catalog/entries.py). Delta is the first backend (runtime/ports/delta.py, the only
module that imports deltalake or pyarrow.fs); a second backend implements this protocol in its
own module and is chosen in `port_store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from mesh_platform.model.contracts.model import Contract
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.port import PortDescription, PortLocation, PublishResult, StagedBatch
from mesh_platform.model.access import storage_identity
from mesh_platform.runtime.settings import storage_is_remote, storage_options_for, storage_root

if TYPE_CHECKING:  # annotations only (issue 12: no pyarrow.dataset at location load)
    import pyarrow.dataset as ds


class PortStore(Protocol):
    """Output ports of one mesh: one table per product and contract major, under `root`.

    A store never decides what may be published or read (the write path and governed reads do);
    it keeps versions. Readers see a version only once it is published, in full.
    """

    root: str

    def uri(self, domain: str, product: str, major: int, masked: bool = False) -> str:
        """The address of a product's port at one contract major (names checked: no escape from
        `root`); `masked`: of its masked projection (runtime/projection.py)."""

    def stage(
        self, uri: str, data: pa.Table | pa.RecordBatchReader, schema: pa.Schema, *, label: str,
        partition_by: str | None = None, partition: PartitionSlice | None = None,
    ) -> StagedBatch:
        """Write `data`, cast to `schema`, once, as the port's staged files: files inside the port
        that no version references. Refuses schema drift before any file is written (PublishError
        with the diff). With `partition`, the batch replaces that slice only."""

    def staging_folder(self, uri: str) -> tuple[str, Path] | None:
        """A fresh, empty local folder inside the port for an engine to write one publish's
        Parquet files into, as (its name for `adopt`, its path); None when the store has no local
        folder (an object store): then the engine's rows go through `stage`."""

    def adopt(
        self, uri: str, folder: str, schema: pa.Schema, *, label: str,
        partition_by: str | None = None, partition: PartitionSlice | None = None,
    ) -> StagedBatch:
        """The files an engine wrote into `folder` (from `staging_folder`) as a staged batch, held
        to `schema` and checked as `stage` checks its own (PublishError otherwise)."""

    def staged_dataset(self, staged: StagedBatch) -> ds.Dataset:
        """Exactly the staged files, as an Arrow dataset of the contract's schema: what the audit
        reads (a sealed connection reads no file itself)."""

    def discard(self, uri: str, folder: str) -> None:
        """Remove a refused batch's staged folder now, best effort (never raises)."""

    def publish(self, staged: StagedBatch, commit_metadata: Mapping[str, str]) -> PublishResult:
        """Make a staged batch the port's next version, atomically, with `commit_metadata` kept
        beside it (see `history`): one commit adds the staged files and removes those they
        replace (every file, or the slice's). Refuses first (and drops the files) a NULL in a
        required column or, with a partition, a row outside it. Any failure (a concurrent publish, the store
        unreachable) raises PublishError and leaves the previous version readable and unchanged;
        the staged files then stay as orphans."""

    def remove_orphans(self, uri: str, older_than: dt.timedelta) -> list[str]:
        """Delete the staged folders no version references and nothing touched for `older_than`
        (refused or killed publishes); returns their names. Maintenance: never run inside a
        publish, and `older_than` must exceed the longest publish."""

    def locate(self, uri: str, label: str, version: int | None = None) -> PortLocation:
        """Where the port's table lies and which version to read: the latest, or `version` (a
        MeshError naming the port and the version when it is not one of the table's). An engine
        that reads the table format itself (DuckDB's delta_scan) reads it there. PublishError if
        never published."""

    def scan(
        self, uri: str, label: str, *, partition: PartitionSlice | None = None, columns: list[str] | None = None,
        version: int | None = None,
    ) -> pa.Table:
        """The rows of the latest version (or `version`) as Arrow: only `columns` when given, only
        the files of `partition` when given (pruned by partition values before any data is read).
        The read path of masked ports, whose masking runs in Python. PublishError if never published."""

    def dataset(self, uri: str, label: str, version: int | None = None) -> ds.Dataset:
        """The port as a lazy Arrow dataset (tools and tests; governed reads scan ports natively)."""

    def history(self, uri: str, limit: int = 10) -> list[dict]:
        """The last `limit` commits, newest first: `version`, `timestamp` (ms since the epoch) and
        the metadata each publish kept. Empty when never published."""

    def published_majors(self, domain: str, product: str, masked: bool = False) -> list[int]:
        """The contract majors of a product that have a port, lowest first; `masked`: that have a
        masked projection (only `<product>/masked/` is listed: a masked consumer's identity may
        list nothing else)."""

    def check(self, domain: str) -> None:
        """Reach the store as this store's identity, in `domain`'s own folder: a MeshError in one
        line when the store is unreachable, refuses the identity's keys or denies it (naming the
        endpoint, the identity); nothing on local disk."""

    def stored_contract(self, uri: str) -> Contract | None:
        """The contract the port's latest version was published with (None: never published)."""

    def latest_published(self, domain: str, product: str, masked: bool = False) -> tuple[int, Contract] | None:
        """The highest published major and its stored contract: what consumers see now (`masked`:
        of the masked projections)."""

    def describe(self, uri: str) -> PortDescription:
        """What the catalog shows: last publish, rows, version, contract version, run. Never raises:
        a port that cannot be read is described with its error."""

    def server_entry(self, uri: str, label: str | None = None) -> dict:
        """An ODCS `servers` entry telling consumers where and how to read the port."""

    def registry_uri(self, domain: str, product: str) -> str:
        """The address of a product's registry entry, beside its ports (`<product>/registry`)."""

    def write_entry_file(self, domain: str, product: str, name: str, data: bytes) -> None:
        """Write one file of a product's registry entry whole (a reader never sees half of it),
        as this store's identity: on an object store, the owner domain's alone may."""

    def read_entry_file(self, domain: str, product: str, name: str) -> bytes | None:
        """One file of a product's registry entry (None: there is none), as this store's identity."""


def check_storage(project_root: str | Path, domains: list[str]) -> None:
    """Before a build touches a port: each domain's identity reaches the store (one listing of
    its own folder each), so an unreachable store or refused keys stop the build in one line
    naming the endpoint or the identity, not in every domain's run."""
    if not storage_is_remote(project_root):
        return  # a local folder: nothing to reach, no keys
    for domain in domains:
        port_store(project_root, acting=domain).check(domain)


def port_store(project_root: str | Path, acting: str | None = None) -> PortStore:
    """The store of the mesh at `project_root` as domain `acting` sees it (None: the platform's
    own identity): root and storage options read from settings once, here. On an object store each
    domain acts with its own identity's keys, so the store itself refuses what the policies refuse.
    The options (credentials) stay inside the store: never logged, never in its repr."""
    from mesh_platform.runtime.ports.delta import DeltaPortStore  # deltalake loads when a port is touched, not at `mesh --help`

    return DeltaPortStore(storage_root(project_root), storage_options_for(project_root, acting), storage_identity(acting))
