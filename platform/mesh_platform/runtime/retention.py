"""The contract's `retention` SLA, enforced: a vacuum per port.

`slaProperties: [{property: retention, value: 30, unit: d}]` promises consumers they can read the
port as it was at any moment of the last 30 days. The vacuum keeps exactly that: every version
that was the latest at some moment since `now - retention` (and always the latest), and removes
the files only older versions read, with their log entries where a checkpoint allows. Files no
version reads at all (staged folders of refused or killed publishes, runtime/ports/staging.py)
go too, once older than ORPHAN_AGE, whether or not the contract declares a retention: a younger
one may be a publish in progress. Each port (every major, raw and masked projection) records the
oldest version it still holds, so an as-of read of a removed one fails in one line
(runtime/ports/history.py). Run daily by each domain's schedule (orchestration/retention_schedule.py)
and by hand with `mesh vacuum`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.descriptor import Product
from mesh_platform.model.durations import format_duration
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.ports import delta_history
from mesh_platform.runtime.ports.history import RETENTION_MARKER, commit_time, horizon, options
from mesh_platform.runtime.ports.store import PortStore, port_store

ORPHAN_AGE = dt.timedelta(hours=6)  # longer than any publish: a younger unreferenced file may be one in progress
_ALL = 1_000_000


@dataclass
class PortVacuum:
    """What the vacuum of one port removed (or would remove, on a dry run)."""

    product: str
    uri: str
    retention: dt.timedelta | None  # None: the contract declares none (orphans only)
    oldest_kept: int | None = None
    latest: int | None = None
    files: list[str] = field(default_factory=list)
    log_entries: list[str] = field(default_factory=list)


def retention_of(contract: Contract) -> dt.timedelta | None:
    level = contract.service_level("retention")
    return level.window if level is not None else None


def oldest_kept(commits: list[dict], cutoff: dt.datetime | None) -> int:
    """The oldest version a read as of any moment since `cutoff` may see: the latest version
    published at or before it (the newer ones too); with no cutoff, only the latest. Pure."""
    versions = sorted((int(c["version"]), commit_time(c)) for c in commits)
    latest = versions[-1][0]
    if cutoff is None:
        return latest
    at_cutoff = [v for v, when in versions if when <= cutoff]
    return max(at_cutoff) if at_cutoff else versions[0][0]


def vacuum_port(
    store: PortStore, product: Product, uri: str, *, now: dt.datetime | None = None, dry_run: bool = False,
    contract: Contract | None = None,
) -> PortVacuum:
    """`contract`: the one whose retention applies (default: the one stored with the port, which
    an older major keeps whatever the working tree's says now; the working tree's if none)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    contract = contract or store.stored_contract(uri) or product.contract
    retention = retention_of(contract)
    result = PortVacuum(product.id, uri, retention)
    commits = store.history(uri, _ALL)
    if not commits:
        return result
    keep_from = oldest_kept(commits, now - retention if retention is not None else None)
    if retention is None:  # nothing promised, nothing expired: only what no version reads
        keep_from = min(int(c["version"]) for c in commits)
    previous = (horizon(store, uri) or {"oldest": 0})["oldest"]
    keep_from = max(keep_from, previous)
    result.oldest_kept, result.latest = keep_from, max(int(c["version"]) for c in commits)
    whole = keep_from == result.latest  # only the latest is kept: a checkpoint of it lets the whole log before it go
    if whole and not dry_run:
        delta_history.checkpoint(uri, options(store))
    swept = delta_history.sweep(uri, keep_from, now - ORPHAN_AGE, dry_run=dry_run, checkpointed=whole, storage_options=options(store))
    result.files, result.log_entries = swept.files, swept.log_entries
    if not dry_run and keep_from > previous:
        delta_history.write_marker(uri, RETENTION_MARKER, {
            "oldest": keep_from, "at": now.replace(microsecond=0).isoformat(),
            "retention": declared_retention(contract),
        }, options(store))
    return result


def declared_retention(contract: Contract) -> str:
    """The retention in the words every view of the mesh uses for an SLA (`30 days`, model/durations.py),
    for messages; "none" without one."""
    sla = contract.service_level("retention")
    if sla is None:
        return "none"
    return format_duration(sla.window) if sla.window else f"{sla.value} {sla.unit}"


def vacuum_mesh(
    root: Path, domain: str | None = None, *, now: dt.datetime | None = None, dry_run: bool = False,
) -> list[PortVacuum]:
    """Vacuum every published port (each major, raw and masked) of the mesh's products, or of
    `domain`'s, acting as each product's owner (on an object store, its keys alone may delete)."""
    mesh = Mesh.load(root)
    if domain is not None and domain not in mesh.domains:
        raise ValueError(f"no domain {domain!r} in this mesh; domains: {', '.join(sorted(mesh.domains))}")
    results = []
    for product in mesh.products():
        if domain is not None and product.domain != domain:
            continue
        store = port_store(root, acting=product.domain)
        for masked in (False, True):
            for major in store.published_majors(product.domain, product.name, masked):
                uri = store.uri(product.domain, product.name, major, masked)
                # Each major keeps what it promised when published: the contract stored with its
                # raw port (the projection follows its raw port), not the working tree's.
                promised = store.stored_contract(store.uri(product.domain, product.name, major))
                results.append(vacuum_port(store, product, uri, now=now, dry_run=dry_run, contract=promised))
    return results
