"""A Delta port's past: the rows each version held, marker files kept beside its table, and the
retention vacuum that removes what no kept version reads.

A sibling of the Delta store (runtime/ports/delta.py), for the work that looks back at a port's
versions rather than publishing the next one. Like the store, it reaches files through the
store's own pyarrow filesystem (local disk or an object store, with the acting identity's keys).

The vacuum removes data files itself rather than through deltalake's `vacuum`, which commits
`VACUUM START/END` versions: a port's latest commit must stay its last publish (it carries the
contract consumers read, runtime/ports/store.py `stored_contract`), so maintenance adds none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.ports.delta import _filesystem, _local, _open

LOG_FOLDER = "_delta_log"
MARKER_PREFIX = "_mesh_"  # Delta readers and writers skip files whose names start with "_"


def _marker_path(uri: str, name: str, storage_options: Mapping[str, str] | None) -> tuple[pafs.FileSystem, str]:
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a marker name")
    filesystem, root = _filesystem(uri, storage_options)
    return filesystem, f"{root}/{MARKER_PREFIX}{name}.json"


def read_marker(uri: str, name: str, storage_options: Mapping[str, str] | None = None) -> dict | None:
    """A JSON marker kept in the port's folder (None: there is none)."""
    filesystem, path = _marker_path(uri, name, storage_options)
    try:
        with filesystem.open_input_stream(path) as stream:
            data = json.loads(stream.read())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise MeshError(f"{uri}: its marker {MARKER_PREFIX}{name}.json is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MeshError(f"{uri}: its marker {MARKER_PREFIX}{name}.json is not a JSON object")
    return data


def write_marker(uri: str, name: str, data: Mapping, storage_options: Mapping[str, str] | None = None) -> None:
    """Write a JSON marker into the port's folder whole (a reader never sees half of it)."""
    filesystem, path = _marker_path(uri, name, storage_options)
    body = json.dumps(dict(data), sort_keys=True).encode()
    local = _local(uri)
    if local is None:  # one PUT: an object appears whole or not at all
        with filesystem.open_output_stream(path) as out:
            out.write(body)
        return
    partial = f"{path}.partial"
    with filesystem.open_output_stream(partial) as out:
        out.write(body)
    filesystem.move(partial, path)


def version_rows(uri: str, version: int, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The rows version `version` of the port held, from its files' Delta statistics (None:
    that version cannot be rebuilt any more, or a file has no statistics)."""
    table = _open(uri, storage_options)
    if table is None:
        return None
    try:
        table.load_as_version(version)
    except Exception:  # its log was cleaned up
        return None
    actions = pa.table(table.get_add_actions(flatten=True))
    counts = actions.column("num_records").to_pylist() if actions.num_rows else []
    return sum(counts) if all(c is not None for c in counts) else None


def version_files(uri: str, versions: list[int], storage_options: Mapping[str, str] | None = None) -> set[str]:
    """Every data file (relative to the port's folder) that one of `versions` reads."""
    table = _open(uri, storage_options)
    files: set[str] = set()
    for version in sorted(versions, reverse=True):
        table.load_as_version(version)
        actions = pa.table(table.get_add_actions(flatten=True))
        files |= set(actions.column("path").to_pylist()) if actions.num_rows else set()
    return files


@dataclass(frozen=True)
class Sweep:
    """What one vacuum of one port removes (or would, on a dry run)."""

    files: list[str]  # data files no kept version reads, relative to the port's folder
    log_entries: list[str]  # log files of versions before the oldest kept one


def sweep(
    uri: str, keep_from: int, older_than: dt.datetime, *, dry_run: bool, checkpointed: bool = False,
    storage_options: Mapping[str, str] | None = None,
) -> Sweep:
    """Remove every file of the port that versions `keep_from`..latest do not read and that was
    last written before `older_than` (a younger one may belong to a publish in progress), and the
    log entries of versions before the newest checkpoint at or below `keep_from` (Delta rebuilds
    a version from a checkpoint at or below it, then the commits after it). `checkpointed`: a
    checkpoint of `keep_from` is (or, on a dry run, would be) written first."""
    table = _open(uri, storage_options)
    if table is None:
        return Sweep([], [])
    latest = table.version()
    keep_from = min(keep_from, latest)  # the latest version is always kept
    kept = version_files(uri, list(range(keep_from, latest + 1)), storage_options)
    filesystem, root = _filesystem(uri, storage_options)
    stale = []
    for info in filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        relative = info.path[len(root) + 1:]
        if info.type != pafs.FileType.File or any(part.startswith(("_", ".")) for part in relative.split("/")):
            continue  # the log, markers, hidden files
        written = info.mtime.astimezone(dt.timezone.utc) if info.mtime is not None else None
        if relative not in kept and written is not None and written < older_than:
            stale.append(relative)
    log = _expired_log(filesystem, f"{root}/{LOG_FOLDER}", keep_from, keep_from if checkpointed else None)
    if not dry_run:
        for relative in stale:
            filesystem.delete_file(f"{root}/{relative}")
        for name in log:
            filesystem.delete_file(f"{root}/{LOG_FOLDER}/{name}")
    return Sweep(sorted(stale), log)


def _expired_log(filesystem: pafs.FileSystem, folder: str, keep_from: int, checkpoint_at: int | None) -> list[str]:
    """The log files (commits, checkpoints, checksums) of versions below the newest checkpoint at
    or below `keep_from`: no kept version needs them. None without such a checkpoint."""
    entries = {}
    for info in filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        head = info.base_name.split(".", 1)[0]
        if info.type == pafs.FileType.File and head.isdigit() and len(head) == 20:
            entries[info.base_name] = int(head)
    checkpoints = [v for name, v in entries.items() if ".checkpoint." in name and v <= keep_from]
    checkpoints += [checkpoint_at] if checkpoint_at is not None else []
    if not checkpoints:
        return []
    floor = max(checkpoints)
    return sorted(name for name, v in entries.items() if v < floor)


def checkpoint(uri: str, storage_options: Mapping[str, str] | None = None) -> None:
    """A checkpoint of the port's latest version: what lets the log before it go."""
    table = _open(uri, storage_options)
    if table is not None:
        table.create_checkpoint()
