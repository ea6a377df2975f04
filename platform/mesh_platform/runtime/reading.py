"""The one way a domain reads another domain's port: access checked, major resolved, masked.

The IO manager, the dbt port plugin, the audit's relationship lookups and `mesh sql` all read
through here, so a refusal or a mask is the same whichever way the data is reached.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from mesh_platform.model.access import AccessDenied, masks_for, require_read
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import Reader, require_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.masking import mask_table
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.majors import retirement_date
from mesh_platform.runtime.ports.store import PortStore, port_store
from mesh_platform.runtime.settings import masking_key

RETIREMENT_NOTICE = dt.timedelta(days=30)  # how long before a pinned major retires consumers are warned


class RetiredPortError(AccessDenied):
    """A consumer reads a major its producer has retired."""


@dataclass(frozen=True)
class PortRead:
    """What one reader gets of one product: which table, and which columns it sees masked."""

    root: Path  # the mesh project: where the masking key is found
    product: Product
    reader: Reader
    major: int
    uri: str
    store: PortStore
    masks: dict[str, str] = field(default_factory=dict)
    warning: str | None = None  # the pinned major retires soon

    @property
    def label(self) -> str:
        suffix = f"@v{self.major}" if self.major != self.product.contract.major else ""
        return f"{self.product.id}{suffix}"


def plan_read(
    mesh: Mesh, reader: Reader, product: Product, major: int | None = None,
    consumer: str | None = None, today: dt.date | None = None,
) -> PortRead:
    """Decide what `reader` may read of `product` (pinned to `major`, else the current one).
    `reader` is an identity the platform bound (governance/identity.py), never a claimed name."""
    reader = require_reader(reader)
    consumer = consumer or str(reader)
    if major is not None and (not isinstance(major, int) or isinstance(major, bool) or major < 0):
        raise MeshError(f"{consumer}: {major!r} is not a contract major (a non-negative integer)")
    require_read(product, reader.name, consumer)
    store = port_store(mesh.root)
    current = product.contract.major
    major = current if major is None else major
    if major > current:
        raise MeshError(f"{consumer} pins {product.id}@v{major}, but its contract is at {product.contract.version}")
    uri = store.uri(product.domain, product.name, major)
    warning = None
    if major < current:
        until = retirement_date(store, product.domain, product.name, major, product.contract)
        today = today or dt.date.today()
        if until is not None and today > until:
            raise RetiredPortError(
                f"{consumer} reads {product.id}@v{major}, retired on {until.isoformat()}; "
                f"move to v{current} (contract {product.contract.version})"
            )
        if until is not None and until - today <= RETIREMENT_NOTICE:
            warning = f"{consumer} reads {product.id}@v{major}, which retires on {until.isoformat()} ({(until - today).days} days); move to v{current}"
    published = store.stored_contract(uri)
    masks = masks_for(product, reader.name, product.contract, *([published] if published else []))
    return PortRead(mesh.root, product, reader, major, uri, store, masks, warning)


def read_table(plan: PortRead, partition: PartitionSlice | None = None, columns: list[str] | None = None) -> pa.Table:
    table = plan.store.scan(plan.uri, plan.label, partition=partition, columns=columns)
    return mask_table(table, plan.masks, masking_key(plan.root)) if plan.masks else table


def read_lazily(plan: PortRead, columns: list[str] | None = None) -> ds.Dataset | pa.Table:
    """An Arrow dataset read in place when nothing is masked; else the masked table (of `columns`
    only, when given: masking costs a keyed hash per value)."""
    return read_table(plan, columns=columns) if plan.masks else plan.store.dataset(plan.uri, plan.label)

