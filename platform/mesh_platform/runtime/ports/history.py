"""A port's versions as people and consumers see them: what each version was (`mesh history`),
which version a read "as of" a version or a moment means, and where the retention vacuum left
the oldest readable version.

A version is a version of the port a reader reads: the raw port for its owner and readers who
see it unmasked; the masked projection for a masked reader, which names the raw version it
projects (runtime/projection.py), so "as of version N" means raw version N for everyone and a
masked reader time-travels on the projection only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.ports import delta_history
from mesh_platform.runtime.ports.port import PROJECTION_OF_VERSION_KEY
from mesh_platform.runtime.ports.store import PortStore

ROLLBACK_OF_KEY = "mesh.rollback_of_version"  # a rollback's commit: the version whose rows it restored
ROLLBACK_BY_KEY = "mesh.rollback_by"  # and who restored them
RETENTION_MARKER = "retention"  # the vacuum's horizon, kept in the port's folder
_ALL = 1_000_000  # `history` takes a limit: every commit a port can have


@dataclass(frozen=True)
class VersionEntry:
    """One version of a port, as `mesh history` lists it."""

    version: int
    time: dt.datetime
    operation: str
    contract_version: str | None
    rows: int | None
    rollback_of: int | None  # the version whose rows this one restored
    by: str | None  # who rolled back
    readable: bool  # False: the retention vacuum removed its files


def options(store: PortStore) -> dict[str, str]:
    return dict(getattr(store, "storage_options", {}) or {})


def commit_time(commit: dict) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(commit["timestamp"]) / 1000, dt.timezone.utc)


def horizon(store: PortStore, uri: str) -> dict | None:
    """What the last retention vacuum of the port recorded: `oldest` readable version, `at`, `retention`."""
    marker = delta_history.read_marker(uri, RETENTION_MARKER, options(store))
    if marker is None:
        return None
    oldest = marker.get("oldest")
    if isinstance(oldest, bool) or not isinstance(oldest, int) or oldest < 0:
        raise MeshError(f"{uri}: its marker {delta_history.MARKER_PREFIX}{RETENTION_MARKER}.json: 'oldest' must be a version "
                        f"(a non-negative integer), found {oldest!r}")
    return marker


def port_history(store: PortStore, uri: str, limit: int = 20, with_rows: bool = True) -> list[VersionEntry]:
    """The port's last `limit` versions, newest first."""
    oldest = (horizon(store, uri) or {"oldest": 0})["oldest"]
    entries = []
    for commit in store.history(uri, limit):
        version = int(commit["version"])
        rollback = commit.get(ROLLBACK_OF_KEY)
        readable = version >= oldest
        rows = delta_history.version_rows(uri, version, options(store)) if with_rows and readable else None
        entries.append(VersionEntry(
            version, commit_time(commit), str(commit.get("operation", "")), commit.get("mesh.contract_version"), rows,
            int(rollback) if rollback is not None else None, commit.get(ROLLBACK_BY_KEY), readable,
        ))
    return entries


def parse_as_of(text: str) -> int | dt.datetime:
    """`--as-of` as typed: a version number, or an ISO date or timestamp (UTC unless it says)."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MeshError(f"--as-of {text!r}: expected a port version (an integer) or an ISO timestamp such as 2026-12-01T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def resolve_as_of(store: PortStore, uri: str, label: str, as_of: int | dt.datetime, *, projection: bool = False) -> int:
    """The version of the port at `uri` a read "as of" `as_of` sees: a raw version number, or
    the version that was the latest at that moment. `projection`: `uri` is a masked projection,
    and a number names the raw version it projects. A moment before the first version, a
    version the port never had or one the retention vacuum removed is refused in one line."""
    commits = store.history(uri, _ALL)
    if not commits:
        raise MeshError(f"{label} has never been published: nothing to read as of {as_of}")
    if isinstance(as_of, bool) or not isinstance(as_of, (int, dt.datetime)):
        raise MeshError(f"{label}: as of {as_of!r}: expected a port version (an integer) or a datetime")
    if isinstance(as_of, dt.datetime):
        moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc)
        before = [c for c in commits if commit_time(c) <= moment]
        if not before and horizon(store, uri):  # its log before the oldest kept version went with the vacuum
            _refuse_vacuumed(label, f"as of {moment.isoformat()}", horizon(store, uri))
        if not before:
            first = min(commits, key=lambda c: int(c["version"]))
            raise MeshError(f"{label} has no version as of {moment.isoformat()}: its oldest version ({first['version']}) "
                            f"was published at {commit_time(first).isoformat()}")
        version = max(int(c["version"]) for c in before)
        shown = f"as of {moment.isoformat()} (version {version})"
    elif projection:
        projects = [(int(c[PROJECTION_OF_VERSION_KEY]), int(c["version"])) for c in commits if str(c.get(PROJECTION_OF_VERSION_KEY, "")).isdigit()]
        matching = [mine for raw, mine in projects if raw <= as_of]
        latest_raw = max((raw for raw, _ in projects), default=-1)
        if not matching and 0 <= as_of <= latest_raw and horizon(store, uri):  # its projecting commits went with the vacuum
            _refuse_vacuumed(label, f"as of version {as_of}", horizon(store, uri))
        if as_of < 0 or as_of > latest_raw or not matching:
            raise MeshError(f"{label} has no version {as_of} a masked reader can read: its masked projection holds raw versions "
                            f"{min((r for r, _ in projects), default=0)} to {latest_raw}")
        version, shown = max(matching), f"as of version {as_of}"
    else:
        latest = max(int(c["version"]) for c in commits)
        if not 0 <= as_of <= latest:
            raise MeshError(f"{label} has no version {as_of}: its versions go from 0 to {latest}")
        version, shown = as_of, f"as of version {as_of}"
    require_kept(store, uri, label, version, shown)
    return version


def require_kept(store: PortStore, uri: str, label: str, version: int, shown: str | None = None) -> None:
    """Refuse, in one line, a read of a version of the port at `uri` the retention vacuum removed."""
    vacuumed = horizon(store, uri)
    if vacuumed is not None and version < vacuumed["oldest"]:
        _refuse_vacuumed(label, shown or f"as of version {version}", vacuumed)


def _refuse_vacuumed(label: str, shown: str, vacuumed: dict) -> None:
    raise MeshError(f"{label} cannot be read {shown}: the retention vacuum of {vacuumed.get('at', '?')} removed it "
                    f"(retention {vacuumed.get('retention', '?')}); its oldest readable version is {vacuumed.get('oldest', '?')}")
