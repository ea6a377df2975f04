"""What the catalog knows about each product: its declaration, its port's state and its checks.

Collection only reads: descriptors and contracts from the working tree, each product's current
port as the port store describes it (last publish, rows, version) and the last asset-check
evaluations recorded in the mesh's Dagster instance. It never writes, and a product that was never published is an entry
like any other ("never published"), not an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mesh_platform.cli.catalog.checks import UNKNOWN, CheckState, check_states
from mesh_platform.model.descriptor import Product
from mesh_platform.model.durations import format_duration
from mesh_platform.model.errors import MeshError
from mesh_platform.model.lifecycle import status_of
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.ports.port import PortDescription
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.ports.withdrawal import withdrawn_majors
from mesh_platform.runtime.usage import last_reads, recent_reads

# Freshness of a product: its last publish against the contract's freshness SLA window.
FRESH, STALE, NEVER, NO_SLA = "fresh", "stale", "never published", "no SLA"


@dataclass
class CatalogEntry:
    product: Product
    port: PortDescription
    checks: CheckState
    freshness: str
    freshness_window: dt.timedelta | None
    consumers: list[str]
    problem: str | None = None  # the contract does not load: shown instead of its details
    withdrawn: dict[int, str] = field(default_factory=dict)  # major -> why its owner withdrew it (runtime/ports/withdrawal.py)
    status: str = UNKNOWN  # the contract's lifecycle status (model/lifecycle.py)
    last_reads: list[dict] = field(default_factory=list)  # the newest read per reader (runtime/usage.py)

    @property
    def id(self) -> str:
        return self.product.id

    def to_dict(self) -> dict:
        """The JSON form of the entry (`mesh catalog --json`)."""
        p, d = self.product, self.product.descriptor
        contract = None if self.problem else p.contract
        return {
            "product": p.id,
            "domain": p.domain,
            "name": p.name,
            "kind": p.kind,
            "description": " ".join(d.description.split()),
            "owner": {"team": p.owner.team, "contact": p.owner.contact},
            "access": d.access,
            "readers": list(d.readers),
            "personal_data_readers": list(d.personal_data_readers),
            "tags": list(d.tags),
            "version": contract.version if contract else None,
            "last_publish": self.port.last_publish.isoformat() if self.port.last_publish else None,
            "rows": self.port.rows,
            "delta_version": self.port.version,
            "published_contract_version": self.port.published_contract_version,
            "port": self.port.uri,
            "freshness": self.freshness,
            "freshness_sla": format_window(self.freshness_window),
            "checks": asdict(self.checks) | {"summary": self.checks.summary(), "explained": self.checks.explained()},
            "partitioning": d.partitioning.model_dump(mode="json") if d.partitioning else None,
            "schedule": schedule.model_dump(mode="json") if (schedule := getattr(d, "schedule", None)) is not None else None,
            "inputs": [i.id + (f"@v{i.major}" if i.major is not None else "") for i in p.inputs],
            "consumers": self.consumers,
            "status": self.status,
            "last_reads": self.last_reads,
            "columns": [column_dict(c) for c in contract.columns] if contract else [],
            "problem": self.problem,
            "withdrawn_majors": {f"v{major}": reason for major, reason in sorted(self.withdrawn.items())},
        }


def column_dict(column) -> dict:
    return {
        "name": column.name,
        "type": column.sql_type,
        "required": column.required,
        "unique": column.unique or column.primary_key,
        "description": column.description,
        "classification": column.classification,
        "masking": column.masking,
        "references": list(column.references),
    }


def format_window(window: dt.timedelta | None) -> str | None:
    """An SLA window as every view of the mesh says it (`1 day`, `36 hours`); None for none."""
    return None if window is None else format_duration(window)


def freshness_of(product: Product, port: PortDescription, now: dt.datetime) -> tuple[str, dt.timedelta | None]:
    """fresh / stale against the contract's freshness SLA; never published; no SLA."""
    sla = product.contract.service_level("freshness")
    window = sla.window if sla else None
    if not port.published or port.last_publish is None:
        return NEVER, window
    if window is None:
        return NO_SLA, None
    return (FRESH if now - port.last_publish <= window else STALE), window


def collect(
    root: Path,
    mesh: Mesh | None = None,
    now: dt.datetime | None = None,
    on_product: Callable[[str], None] | None = None,
) -> list[CatalogEntry]:
    """One entry per product of the mesh, sorted by id."""
    mesh = mesh or Mesh.load(root)
    now = now or dt.datetime.now(dt.timezone.utc)
    products = sorted(mesh.products(), key=lambda p: p.id)
    store = port_store(root, acting=None)  # the platform's identity, configured once for the whole catalog
    checks = check_states(root, products, mesh)
    entries = []
    for product in products:
        if on_product:
            on_product(product.id)
        consumers = sorted(c.id for c in mesh.consumers_of(product))
        try:
            contract = product.contract
        except MeshError as exc:
            entries.append(CatalogEntry(product, PortDescription(uri=""), CheckState(), UNKNOWN, None, consumers, problem=str(exc)))
            continue
        port = store.describe(store.uri(product.domain, product.name, contract.major))
        freshness, window = freshness_of(product, port, now)
        withdrawn = {m: w.reason for m, w in withdrawn_majors(store, product.domain, product.name).items()} if port.error is None else {}
        entries.append(CatalogEntry(product, port, checks.get(product.id, CheckState()), freshness, window, consumers,
                                    withdrawn=withdrawn, status=status_of(product), last_reads=usage_of(root, product)))
    return entries


def usage_of(root: Path, product: Product, limit: int = 50) -> list[dict]:
    """Who last read the product, newest first (one row per reader, consumer and way of reading);
    empty when the records cannot be read: the catalog never fails for usage."""
    try:
        records = last_reads(recent_reads(root, product.id, limit=limit))
    except (MeshError, OSError):  # a store that refuses or a folder that cannot be listed: no usage shown
        return []
    return [{"reader": r.reader, "consumer": r.consumer, "via": r.via, "major": r.major, "version": r.version,
             "at": r.at.isoformat(timespec="seconds")} for r in records]
