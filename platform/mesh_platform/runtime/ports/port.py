"""What a port is, whatever store keeps it: its address, a staged batch, a publish's result, and
what the catalog shows of it. Every port store (runtime/ports/store.py) speaks in these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import yaml

from mesh_platform.model.contracts.model import Contract, contract_from_mapping
from mesh_platform.model.layout import MASKED_FOLDER, REGISTRY_FOLDER
from mesh_platform.model.names import check_name
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.staging import StagedFile

CONTRACT_METADATA_KEY = "mesh.contract"  # every publish carries its whole contract in its commit
RUN_ID_KEY = "mesh.run_id"
# A masked projection's commits name the raw port and version they project (runtime/projection.py).
PROJECTION_OF_KEY = "mesh.projection_of"
PROJECTION_OF_VERSION_KEY = "mesh.projection_of_version"


def port_uri(storage_root: str, domain: str, product: str, major: int, masked: bool = False) -> str:
    """The address of one contract major of a product's port (`masked`: of its masked projection,
    `<product>/masked/v<major>`). Built here only, so the root may become `s3://...`. A new major
    is a new table beside the old one, which stays readable."""
    check_name(domain, "domain")
    check_name(product, "product")
    if not isinstance(major, int) or isinstance(major, bool) or not 0 <= major < 100_000:
        raise ValueError(f"port major {major!r} is not a contract major version (a non-negative integer)")
    folder = f"{MASKED_FOLDER}/" if masked else ""
    return f"{storage_root.rstrip('/')}/{domain}/{product}/{folder}v{major}"


def registry_uri(storage_root: str, domain: str, product: str, name: str | None = None) -> str:
    """The address of a product's registry entry (model/registry.py), `<product>/registry`, or of
    its file `name` (a plain file name: no escape from the entry)."""
    check_name(domain, "domain")
    check_name(product, "product")
    if name is not None and (not name or "/" in name or "\\" in name or name.startswith(".")):
        raise ValueError(f"{name!r} is not a registry entry's file name")
    return f"{storage_root.rstrip('/')}/{domain}/{product}/{REGISTRY_FOLDER}" + (f"/{name}" if name else "")


@dataclass(frozen=True)
class StagedBatch:
    """A conformed, checked batch written as data files inside one port (`folder`, relative to
    the port's root), not yet visible to any reader: no version references `files` until the
    store publishes them."""

    uri: str
    label: str
    schema: pa.Schema
    folder: str
    files: tuple[StagedFile, ...]
    partition_by: str | None = None
    partition: PartitionSlice | None = None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


@dataclass(frozen=True)
class PublishResult:
    uri: str
    version: int
    rows: int


@dataclass(frozen=True)
class PortLocation:
    """Where one version of a port's table lies, for an engine that reads the table itself.
    `path` is a local folder (resolved: no symlink between it and the files) when `local`, else
    the store's URI (`s3://...`), which an engine reads with `storage_options`: the keys of
    `identity`, the identity the store that located it acts as (never shown: not in the repr)."""

    path: str
    version: int  # the Delta version to read: the latest, or the one a consumer pinned
    latest: int  # the table's latest version
    local: bool
    schema: pa.Schema | None = field(default=None, compare=False)  # the table's, at that version
    identity: str = "platform"
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class PortDescription:
    """What the catalog shows of a port: its last publish, rows and version; `published=False`
    when nothing was ever published there, `error` when it exists but cannot be read."""

    uri: str
    published: bool = False
    last_publish: dt.datetime | None = None
    rows: int | None = None
    version: int | None = None
    published_contract_version: str | None = None  # the contract the last publish carried
    run_id: str | None = None
    error: str | None = None


def contract_of_commit(commit: Mapping[str, object] | None, uri: str) -> Contract | None:
    """The contract a publish wrote into its commit (None: a commit that carries none)."""
    text = commit.get(CONTRACT_METADATA_KEY) if commit else None
    if not text:
        return None
    return contract_from_mapping(yaml.safe_load(str(text)), Path(f"{uri} (published contract)"))
