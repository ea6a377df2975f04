"""A product's lifecycle: what the ODCS `status` of its contract means for its consumers.

- `proposed` / `draft`: the product builds and its owner domain reads it; no other domain may
  (it may still change at will: nobody may come to depend on it).
- `active`: readable under its access policy, as any product.
- `deprecated`: still readable; every consumer is warned, with the date reads stop when the
  contract declares it (customProperty `retireOn: YYYY-MM-DD`) and what to read instead
  (customProperty `replacedBy: domain.product`).
- `retired`: other domains' reads are refused, naming what to read instead.

The status applies to the product as a whole (every major a consumer may pin): it is the
contract's, and a consumer that lacks the producer's domain reads it from the registry entry,
which carries the contract (runtime/registry.py). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mesh_platform.model.errors import ContractError, MeshError

PROPOSED, DRAFT, ACTIVE, DEPRECATED, RETIRED = "proposed", "draft", "active", "deprecated", "retired"
STATUSES = (PROPOSED, DRAFT, ACTIVE, DEPRECATED, RETIRED)  # ODCS v3's own list
UNRELEASED = (PROPOSED, DRAFT)  # only the owner reads them
RETIRE_ON = "retireOn"  # contract customProperty: the date a deprecated product's reads stop
REPLACED_BY = "replacedBy"  # contract customProperty: the product consumers move to


@dataclass(frozen=True)
class Lifecycle:
    status: str
    retire_on: dt.date | None = None
    replaced_by: str | None = None


def lifecycle_of(odcs, path: Path | str) -> Lifecycle:
    """The contract's lifecycle, checked: an unknown status or a malformed date is refused naming
    the file, the field and what was expected (called when a contract loads)."""
    status = odcs.status
    if status not in STATUSES:
        raise ContractError(path, "status", f"unknown status {status!r}; expected one of {', '.join(STATUSES)} (ODCS v3)")
    retire_on = replaced_by = None
    for i, custom in enumerate(odcs.customProperties or []):
        field = f"customProperties[{i}].value"
        if custom.property == RETIRE_ON:
            try:
                retire_on = dt.date.fromisoformat(str(custom.value))
            except ValueError:
                raise ContractError(path, field, f"{RETIRE_ON}: expected a date (YYYY-MM-DD), found {custom.value!r}") from None
        elif custom.property == REPLACED_BY:
            parts = str(custom.value or "").split(".")
            if len(parts) != 2 or not all(parts):
                raise ContractError(path, field, f"{REPLACED_BY}: expected 'domain.product', found {custom.value!r}")
            replaced_by = str(custom.value)
    return Lifecycle(status, retire_on, replaced_by)


def _instead(lifecycle: Lifecycle) -> str:
    return f"; read {lifecycle.replaced_by} instead" if lifecycle.replaced_by else ""


def lifecycle_refusal(product, reader_domain: str | None, consumer: str) -> str | None:
    """Why `reader_domain` may not read `product` now because of its status (one line), or None.
    The owner domain always reads its own products."""
    if reader_domain == product.domain:
        return None
    lifecycle = lifecycle_of(product.contract.odcs, product.contract_path)
    if lifecycle.status in UNRELEASED:
        return (f"{consumer} may not read {product.id}: its contract is {lifecycle.status}, readable only by its owner "
                f"domain {product.domain!r} until it is active; ask the owner ({product.owner.contact})")
    if lifecycle.status == RETIRED:
        return f"{consumer} may not read {product.id}: it is retired{_instead(lifecycle)}"
    return None


def lifecycle_warning(product, consumer: str, today: dt.date) -> str | None:
    """The warning a consumer of a deprecated product gets at every read (None otherwise)."""
    lifecycle = lifecycle_of(product.contract.odcs, product.contract_path)
    if lifecycle.status != DEPRECATED:
        return None
    when = ""
    if lifecycle.retire_on is not None:
        days = (lifecycle.retire_on - today).days
        when = f", retiring on {lifecycle.retire_on.isoformat()} ({days} days)" if days >= 0 else f", due to retire on {lifecycle.retire_on.isoformat()}"
    return f"{consumer} reads {product.id}, which is deprecated{when}{_instead(lifecycle)}"


def status_of(product) -> str:
    """The product's status as shown (catalog, UI); 'unknown' when its contract does not load."""
    try:
        return product.contract.odcs.status or "unknown"
    except MeshError:  # a broken contract is shown as such elsewhere
        return "unknown"
