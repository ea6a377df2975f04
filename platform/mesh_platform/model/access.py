"""Who may read a product, and what each reader sees of its personal data.

A product is `public` (every domain), `internal` (its owner and the domains in `readers`) or
`restricted` (its owner only). Columns classified as personal data are masked — keyed hash or
redaction, as the contract says — for every reader outside the owner and `personal_data_readers`.
These decisions are made here only; load-time policies and every read path ask this module.
"""

from __future__ import annotations

from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError

ACCESS_POLICY = "readable-inputs"


class AccessDenied(MeshError):
    """A domain tried to read a product it may not read."""


PLATFORM_IDENTITY = "platform"


def storage_identity(domain: str | None) -> str:
    """The object-store identity a domain's workloads act as (its code location, dbt runs and
    Python products); None is the platform's own (catalog, contract export, `mesh access`)."""
    return PLATFORM_IDENTITY if domain is None else f"domain-{domain}"


def may_read(product: Product, reader: str) -> bool:
    access = product.descriptor.access
    if reader == product.domain or access == "public":
        return True
    return access == "internal" and reader in product.descriptor.readers


def refusal(product: Product, reader: str, consumer: str | None = None) -> str:
    """The one message every refusal uses, at load time and at read time alike."""
    who = consumer or f"domain {reader!r}"
    if product.descriptor.access == "restricted":
        why = f"it is restricted to its owner domain {product.domain!r}"
        ask = f"to make it internal with {reader!r} in its readers"
    else:
        why = f"it is internal, readable only by {', '.join(sorted({product.domain, *product.descriptor.readers}))}"
        ask = f"to add {reader!r} to its readers"
    return f"{who} may not read {product.id}: {why} [policy {ACCESS_POLICY}]; ask the owner ({product.owner.contact}) {ask}"


def require_read(product: Product, reader: str, consumer: str | None = None) -> None:
    if not may_read(product, reader):
        raise AccessDenied(refusal(product, reader, consumer))


def sees_personal_data(product: Product, reader: str) -> bool:
    return reader == product.domain or reader in product.descriptor.personal_data_readers


def masks_for(product: Product, reader: str, *contracts) -> dict[str, str]:
    """Column -> masking method for what `reader` reads of `product`. Every contract given (the
    current one, the one stored with the port) counts: a column personal in either is masked."""
    if sees_personal_data(product, reader):
        return {}
    return personal_data_masks(*(contracts or (product.contract,)))


def personal_data_masks(*contracts) -> dict[str, str]:
    """Column -> masking method of every personal column of `contracts`: what a reader without
    personal-data rights gets, and so what a product's masked projection holds masked."""
    masks: dict[str, str] = {}
    for contract in contracts:
        for column in contract.columns:
            if column.is_personal:
                # Without a declared method, or when two contracts disagree, the value is redacted.
                method = column.masking or "redact"
                masks[column.name] = method if masks.get(column.name, method) == method else "redact"
    return masks
