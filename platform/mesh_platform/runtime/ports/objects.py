"""Small plain files beside the ports (usage records, runtime/usage.py), on local disk or an
object store, with the acting identity's own keys.

The Delta store's module stays the one that opens tables; this sibling writes, lists and reads
whole small objects under the store's root through the same filesystem seam
(runtime/ports/delta.py `_filesystem`: the identity's keys, never the ambient ones), so the object
store itself refuses what the storage grants refuse (model/storage_grants.py).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.ports import faults
from mesh_platform.runtime.ports.store import PortStore


def _seam():
    """delta.py's filesystem seam (the identity's keys, never the ambient ones)."""
    from mesh_platform.runtime.ports import delta  # reason: deltalake loads when a record is touched, not at location load (issue 12)

    return delta._filesystem, delta._local


def _uri(store: PortStore, key: str) -> str:
    """The address of `key` (relative to the store's root; no '.', '..' or empty segment)."""
    parts = key.strip("/").split("/")
    if not key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{key!r} is not a key under the store's root")
    return f"{store.root.rstrip('/')}/{'/'.join(parts)}"


def _fault(store: PortStore, exc: Exception, uri: str) -> Exception:
    line = faults.fault_line(exc, store.identity, store.storage_options, uri)
    return MeshError(line) if line is not None else exc


def write_object(store: PortStore, key: str, data: bytes) -> None:
    """Write `data` at `key` whole: a reader never finds half an object."""
    uri = _uri(store, key)
    from mesh_platform.runtime.ports.delta import write_whole  # reason: deltalake loads when a record is touched, not at location load (issue 12)

    try:
        write_whole(uri, store.storage_options, data)
    except Exception as exc:
        raise _fault(store, exc, uri) from None


def list_objects(store: PortStore, prefix: str) -> list[str]:
    """Every object under the folder `prefix`, as keys relative to the root, sorted; [] when
    there is none. Half-written local files (dot-named) are left out."""
    uri = _uri(store, prefix)
    _filesystem, _ = _seam()
    try:
        filesystem, path = _filesystem(uri, store.storage_options)
        found = filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except Exception as exc:
        raise _fault(store, exc, uri) from None
    base = prefix.strip("/")
    keys = []
    for info in found:
        if info.type != pafs.FileType.File or Path(info.path).name.startswith("."):
            continue
        relative = info.path[len(path):].lstrip("/")
        keys.append(f"{base}/{relative}")
    return sorted(keys)


def read_object(store: PortStore, key: str) -> bytes | None:
    """The object at `key`, or None when there is none."""
    uri = _uri(store, key)
    _filesystem, _ = _seam()
    try:
        filesystem, path = _filesystem(uri, store.storage_options)
        with filesystem.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise _fault(store, exc, uri) from None
