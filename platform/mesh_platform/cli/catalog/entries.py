"""What the catalog knows about each product: its declaration, its port's state and its checks.

Collection only reads: descriptors and contracts from the working tree, each product's current
port as the port store describes it (last publish, rows, version) and the last asset-check
evaluations recorded in the mesh's Dagster instance. It never writes, and a product that was never published is an entry
like any other ("never published"), not an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.lifecycle import status_of
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import rules_for
from mesh_platform.runtime.ports.port import PortDescription
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.settings import dagster_home, instance_storage
from mesh_platform.runtime.usage import last_reads, recent_reads

# Freshness of a product: its last publish against the contract's freshness SLA window.
FRESH, STALE, NEVER, NO_SLA = "fresh", "stale", "never published", "no SLA"
UNKNOWN = "unknown"


@dataclass
class CheckState:
    """The last evaluations of a product's asset checks (one per contract rule)."""

    status: str = UNKNOWN  # "passed", "failed", "warned", "not evaluated" or "unknown"
    passed: int = 0
    failed: int = 0  # blocking rules that failed
    warned: int = 0  # warning/info rules that failed
    run_id: str | None = None
    results: dict[str, str] = field(default_factory=dict)  # rule -> passed | failed | warned | planned

    def summary(self) -> str:
        if self.status in (UNKNOWN, "not evaluated"):
            return self.status
        parts = [f"{self.passed} passed"]
        parts += [f"{self.failed} failed"] if self.failed else []
        parts += [f"{self.warned} warned"] if self.warned else []
        return ", ".join(parts)


@dataclass
class CatalogEntry:
    product: Product
    port: PortDescription
    checks: CheckState
    freshness: str
    freshness_window: dt.timedelta | None
    consumers: list[str]
    problem: str | None = None  # the contract does not load: shown instead of its details
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
            "checks": asdict(self.checks) | {"summary": self.checks.summary()},
            "partitioning": d.partitioning.model_dump(mode="json") if d.partitioning else None,
            "schedule": schedule.model_dump(mode="json") if (schedule := getattr(d, "schedule", None)) is not None else None,
            "inputs": [i.id + (f"@v{i.major}" if i.major is not None else "") for i in p.inputs],
            "consumers": self.consumers,
            "status": self.status,
            "last_reads": self.last_reads,
            "columns": [column_dict(c) for c in contract.columns] if contract else [],
            "problem": self.problem,
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
    """A freshness window as people write it: `1 d`, `36 h`, `90 min`."""
    if window is None:
        return None
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def freshness_of(product: Product, port: PortDescription, now: dt.datetime) -> tuple[str, dt.timedelta | None]:
    """fresh / stale against the contract's freshness SLA; never published; no SLA."""
    sla = product.contract.service_level("freshness")
    window = sla.window if sla else None
    if not port.published or port.last_publish is None:
        return NEVER, window
    if window is None:
        return NO_SLA, None
    return (FRESH if now - port.last_publish <= window else STALE), window


def check_states(root: Path, products: Iterable[Product]) -> dict[str, CheckState]:
    """Each product's checks as its last run evaluated them, from the mesh's Dagster instance;
    empty when there is no instance yet (nothing was ever built with `mesh build`)."""
    home = dagster_home(root)
    if instance_storage() == "sqlite" and not (home / "dagster.yaml").is_file():
        return {}  # a Postgres instance may hold history this machine never wrote a config for
    import dagster as dg  # Dagster (~2 s) loads only when there is run history to read
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    keys: dict[str, list] = {}
    for product in products:
        try:
            names = [rule.name for rule in rules_for(product.contract)]
        except MeshError:
            continue
        keys[product.id] = [dg.AssetCheckKey(dg.AssetKey(list(product.key)), name) for name in names]
    from mesh_platform.orchestration.runs import instance_for  # reason: Dagster loads only when there is run history to read

    with instance_for(root) as instance:
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([k for ks in keys.values() for k in ks])
    states: dict[str, CheckState] = {}
    for product_id, product_keys in keys.items():
        records = [latest[k] for k in product_keys if k in latest]
        if not records:
            continue  # never evaluated: unknown
        last = max(records, key=lambda r: r.create_timestamp)
        state = CheckState(run_id=last.run_id)
        for record in (r for r in records if r.run_id == last.run_id):
            name = record.key.name
            if record.status == Status.SUCCEEDED:
                state.passed += 1
                state.results[name] = "passed"
            elif record.status == Status.FAILED:
                evaluation = record.event.dagster_event.event_specific_data if record.event else None
                warns = evaluation is not None and evaluation.severity == dg.AssetCheckSeverity.WARN
                state.warned += warns
                state.failed += not warns
                state.results[name] = "warned" if warns else "failed"
            else:
                state.results[name] = "planned"  # the run stopped before the check ran
        state.status = ("failed" if state.failed else "warned" if state.warned else "passed") if state.passed + state.failed + state.warned else "not evaluated"
        states[product_id] = state
    return states


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
    checks = check_states(root, products)
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
        entries.append(CatalogEntry(product, port, checks.get(product.id, CheckState()), freshness, window, consumers,
                                    status=status_of(product), last_reads=usage_of(root, product)))
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
