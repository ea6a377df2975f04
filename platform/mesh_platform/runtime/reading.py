"""The one way a domain reads another domain's port: access checked, major resolved, masked.

The IO manager, the dbt port plugin, the audit's relationship lookups and `mesh sql` all plan
their reads here, so a refusal or a mask is the same whichever way the data is reached. A
reader who sees a product masked reads its masked projection (runtime/projection.py) and never
opens the raw port. A port, on local disk or an object store, is then scanned by DuckDB itself
(runtime/engines/duckdb_ports.py; on an object store with the reader's own keys). What a
projection did not mask (a column that became personal after its last publish; a port published
before projections, on local disk only) is read as Arrow and masked in Python (runtime/masking.py):
raw personal values are never handed to an engine that runs a consumer's SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from mesh_platform.model.access import AccessDenied, masks_for, personal_data_masks, require_read, sees_personal_data
from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError, PublishError
from mesh_platform.model.identity import Reader, require_reader
from mesh_platform.model.lifecycle import lifecycle_refusal, lifecycle_warning
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.masking import mask_table
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.history import require_kept, resolve_as_of
from mesh_platform.runtime.ports.majors import retirement_date
from mesh_platform.runtime.ports.port import PortLocation
from mesh_platform.runtime.ports.store import PortStore, port_store
from mesh_platform.runtime.ports.withdrawal import refuse_withdrawn
from mesh_platform.runtime.settings import masking_key

RETIREMENT_NOTICE = dt.timedelta(days=30)  # how long before a pinned major retires consumers are warned


class RetiredPortError(AccessDenied):
    """A consumer reads a major its producer has retired."""


class LifecycleRefusal(AccessDenied):
    """Another domain reads a product whose contract status forbids it (proposed, draft, retired)."""


@dataclass(frozen=True)
class PortRead:
    """What one reader gets of one product: which table, and which columns it sees masked."""

    root: Path  # the mesh project: where the masking key is found
    product: Product
    reader: Reader
    major: int
    uri: str  # the port read: the raw one, or the masked projection for a reader who sees the product masked
    store: PortStore
    masks: dict[str, str] = field(default_factory=dict)  # every column the reader sees masked
    warning: str | None = None  # the pinned major retires soon
    version: int | None = None  # the Delta version of `uri` a consumer pinned (None: the latest)
    # The masks still to apply, in Python, to the rows read at `uri` (what the projection did not mask).
    read_masks: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        suffix = f"@v{self.major}" if self.major != self.product.contract.major else ""
        return f"{self.product.id}{suffix}"


def plan_read(
    mesh: Mesh, reader: Reader, product: Product, major: int | None = None,
    consumer: str | None = None, today: dt.date | None = None, version: int | None = None,
    as_of: int | dt.datetime | None = None,
) -> PortRead:
    """Decide what `reader` may read of `product` (pinned to `major`, else the current one; as of
    Delta `version` of that major's port, else its latest; or `as_of` a raw version or a moment,
    runtime/ports/history.py). `reader` is an identity the platform bound (governance/identity.py),
    never a claimed name. A withdrawn major is refused (runtime/ports/withdrawal.py)."""
    reader = require_reader(reader)
    consumer = consumer or str(reader)
    if major is not None and (not isinstance(major, int) or isinstance(major, bool) or major < 0):
        raise MeshError(f"{consumer}: {major!r} is not a contract major (a non-negative integer)")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise MeshError(f"{consumer} pins {product.id} to version {version!r}: a port version is a non-negative integer")
    require_read(product, reader.name, consumer)
    lifecycle = check_lifecycle(product, reader, consumer, today or dt.date.today())
    # The store as the reader's domain (a session without one: the platform's identity): on an
    # object store its own keys read, so the store refuses what the policies refuse.
    store = port_store(mesh.root, acting=reader.domain)
    current = product.contract.major
    major = current if major is None else major
    # Masked is decided without opening the raw port: by the working tree's contract, or, for a
    # reader without personal-data rights, by a masked projection of this major (its raw port was
    # published with personal columns, whatever the contract says now; the store grants such a
    # reader that projection only: model/storage_grants.py).
    masked = bool(masks_for(product, reader.name, product.contract))
    if not masked and not sees_personal_data(product, reader.name):
        masked = store.stored_contract(store.uri(product.domain, product.name, major, True)) is not None
    uri = store.uri(product.domain, product.name, major, masked)
    if reader.domain != product.domain:  # its owner still reads it (to see what went wrong, to roll back)
        refuse_withdrawn(store, product.id, product.domain, product.name, major, masked, consumer)
    if major > current:
        raise MeshError(f"{consumer} pins {product.id}@v{major}, but its contract is at {product.contract.version}")
    warning = None
    if major < current:
        until = retirement_date(store, product.domain, product.name, major, product.contract, masked)
        today = today or dt.date.today()
        if until is not None and today > until:
            raise RetiredPortError(
                f"{consumer} reads {product.id}@v{major}, retired on {until.isoformat()}; "
                f"move to v{current} (contract {product.contract.version})"
            )
        if until is not None and until - today <= RETIREMENT_NOTICE:
            warning = f"{consumer} reads {product.id}@v{major}, which retires on {until.isoformat()} ({(until - today).days} days); move to v{current}"
    published = store.stored_contract(uri)
    projected = masked and published is not None
    if masked and not projected:
        uri, published = _without_projection(store, product, major, uri, consumer)
    masks = masks_for(product, reader.name, product.contract, *([published] if published else []))
    read_masks = _left_to_mask(masks, published) if projected else masks
    label = product.id if major == current else f"{product.id}@v{major}"
    if as_of is not None:
        version = resolve_as_of(store, uri, label, as_of, projection=projected)
    elif version is not None:  # a run pinned to a version (re-execution): it may have been vacuumed since
        require_kept(store, uri, label, version)
    warning = "; ".join(w for w in (lifecycle, warning) if w) or None
    plan = PortRead(mesh.root, product, reader, major, uri, store, masks, warning, version, read_masks)
    if version is not None:
        locate(plan)  # a version the table does not have is refused now, naming port and version
    return plan


def check_lifecycle(product: Product, reader: Reader, consumer: str, today: dt.date) -> str | None:
    """The contract status's say on this read (model/lifecycle.py): refused in one line for an
    unreleased or retired product read by another domain; a deprecated one's warning, else None."""
    refused = lifecycle_refusal(product, reader.domain, consumer)
    if refused:
        raise LifecycleRefusal(refused)
    return lifecycle_warning(product, consumer, today)


def _without_projection(store: PortStore, product: Product, major: int, uri: str, consumer: str) -> tuple[str, Contract | None]:
    """A masked read of a port that has no masked projection (published before projections, or
    never): on local disk, the raw port, masked in Python; on an object store, refused, since the
    reader's identity may not read the raw port at all."""
    if "://" in store.root:
        raise PublishError(f"{consumer} reads {product.id} masked, but the masked projection of {product.id} is missing "
                           f"at {uri}: {product.id} must be republished (its owner's next publish writes it)")
    raw = store.uri(product.domain, product.name, major)
    return raw, store.stored_contract(raw)


def _left_to_mask(masks: dict[str, str], projected_with: Contract | None) -> dict[str, str]:
    """The masks a projection published with `projected_with` did not apply as the reader's masks say."""
    done = personal_data_masks(projected_with) if projected_with is not None else {}
    return {column: method for column, method in masks.items() if done.get(column) != method}


def locate(plan: PortRead) -> PortLocation:
    """Where the planned port's table is and which version the read sees (PublishError: never published)."""
    return plan.store.locate(plan.uri, plan.label, plan.version)


def native_location(plan: PortRead) -> PortLocation | None:
    """Where DuckDB may scan the planned port itself (a local folder, or an object-store URI with
    the reader's keys; a masked projection too: it holds no personal value in clear), or None: a
    port with columns left to mask (masking is a keyed hash in Python: those files never reach a
    consumer's engine)."""
    if plan.read_masks:
        return None
    return locate(plan)


def read_table(
    plan: PortRead, partition: PartitionSlice | None = None, columns: list[str] | None = None,
    location: PortLocation | None = None,
) -> pa.Table:
    """The planned rows as Arrow: only `columns` and `partition` when given. Ports (raw, or masked
    projections) are scanned by DuckDB (pushdown into the Delta files); a port with columns left to
    mask is read and masked here. `location` is the plan's, when the caller located it already
    (e.g. to record its version)."""
    if plan.read_masks:
        version = location.version if location is not None else plan.version
        table = plan.store.scan(plan.uri, plan.label, partition=partition, columns=columns, version=version)
        return mask_table(table, plan.read_masks, masking_key(plan.root))
    location = location if location is not None else locate(plan)
    return duckdb_ports.read_arrow(location, columns, partition)


def arrow_relation(plan: PortRead, columns: list[str] | None = None):
    """What a session registers for a port it does not scan natively (`native_location` is None):
    the masked table (of `columns` only, when given: masking costs a keyed hash per value)."""
    if plan.read_masks:
        return read_table(plan, columns=columns)
    return plan.store.dataset(plan.uri, plan.label, plan.version)  # not reached by sessions: unmasked ports scan natively
