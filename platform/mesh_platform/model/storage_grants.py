"""What each storage identity may do on the object store, derived from the access policies alone.

When ports live on an object store, the store itself refuses what the policies refuse: each
domain's workloads hold keys of their own identity (model/access.py `storage_identity`) and that
identity is granted, prefix by prefix under the storage root, exactly this:

- its own domain's folder `<domain>/`: write, read and list (its ports, raw and projections);
- a product it may read and sees unmasked (or that has no personal columns): read of the whole
  product folder `<domain>/<product>/` (every major; the projection inside is harmless);
- a product it may read only masked: read of the projection folder `<domain>/<product>/masked/`
  alone, never the raw port beside it;
- every product it may read in any form: list of `<domain>/<product>/` (a Delta read lists its
  `_delta_log/`, finding majors lists the product folder: names, no data), and read of its
  registry entry `<domain>/<product>/registry/` (its descriptor and contracts: what a location
  that lacks the producer's domain loads it from, model/registry.py; a raw reader's read of the
  product folder covers it);
- every product it may read in any form: write of its own usage folder there,
  `<domain>/<product>/usage/<its domain>/` (the records of its reads, runtime/usage.py), which the
  owner reads as part of its own domain's folder;
- a product whose contract is not released (`proposed`/`draft`) or is `retired`
  (model/lifecycle.py): its registry entry alone (read and list of `<domain>/<product>/registry/`,
  where a location learns the status it refuses reads with), no port, no projection, no usage
  folder: other domains may not read it, so a native `delta_scan('s3://...')` must fail too;
- nothing else: no read of the root, no write outside its own domain.

The platform identity (catalog, export, `mesh access` itself) is the operator's: everything.
Grants follow policy and the contract's status, not the store's state: a product never published is granted all the same, so its first
publish is readable by its consumers at once. Pure: no I/O beyond the loaded mesh's descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.model.access import PLATFORM_IDENTITY, masks_for, may_read, sees_personal_data, storage_identity
from mesh_platform.model.descriptor import Product
from mesh_platform.model.layout import MASKED_FOLDER, REGISTRY_FOLDER, USAGE_FOLDER
from mesh_platform.model.lifecycle import RETIRED, UNRELEASED
from mesh_platform.model.mesh import Mesh

READ, LIST, WRITE, ADMIN = "read", "list", "write", "admin"
# What a domain may do with a product (`mesh access show`): own it, read it raw, read only its
# masked projection, or nothing.
OWNER, RAW, MASKED, NONE = "write", "read", "masked", "-"


@dataclass(frozen=True, order=True)
class Grant:
    """One right of an identity on every key under `prefix`, relative to the storage root:
    '' (the whole root, the platform's only) or a folder ending in '/'. The trailing '/' matters:
    `loyalty/` must never match `loyalty_archive/...`."""

    action: str  # READ, LIST, WRITE or ADMIN
    prefix: str

    def __str__(self) -> str:
        return f"{self.action} {self.prefix or '<root>'}"


def domain_prefix(domain: str) -> str:
    return f"{domain}/"


def product_prefix(product: Product) -> str:
    return f"{product.domain}/{product.name}/"


def projection_prefix(product: Product) -> str:
    return f"{product_prefix(product)}{MASKED_FOLDER}/"


def registry_prefix(product: Product) -> str:
    return f"{product_prefix(product)}{REGISTRY_FOLDER}/"


def usage_prefix(product: Product, reader_domain: str) -> str:
    """The folder where `reader_domain` records its reads of `product` (runtime/usage.py)."""
    return f"{product_prefix(product)}{USAGE_FOLDER}/{reader_domain}/"


def access_level(product: Product, domain: str, projected: frozenset[str] = frozenset()) -> str:
    """What `domain` may do with `product`'s ports: OWNER, RAW, MASKED or NONE. `projected`: the
    products that have published a masked projection, whose raw ports then hold personal values
    whatever the working tree's contract says now (a column unflagged, a major without it)."""
    if domain == product.domain:
        return OWNER
    if not may_read(product, domain):
        return NONE
    # A reader for whom any column would be masked reads the projection only (masks_for is the
    # one place that decides who sees personal data; no personal column means nothing to mask).
    if masks_for(product, domain) or (product.id in projected and not sees_personal_data(product, domain)):
        return MASKED
    return RAW


def domain_grants(mesh: Mesh, domain: str, projected: frozenset[str] = frozenset()) -> frozenset[Grant]:
    """Every grant of `domain`'s identity, from the policies of every product of the mesh (and
    `projected`: see access_level)."""
    own = domain_prefix(domain)
    grants = {Grant(WRITE, own), Grant(READ, own), Grant(LIST, own)}
    for product in mesh.products():
        level = access_level(product, domain, projected)
        if level in (OWNER, NONE):
            continue  # its own products are under its own folder; NONE grants nothing
        if product.contract.odcs.status in (*UNRELEASED, RETIRED):
            # Reads are refused (lifecycle_refusal): the store refuses them too, or a reader with
            # its keys bypasses plan_read. The registry entry stays readable: it carries the status.
            grants |= {Grant(READ, registry_prefix(product)), Grant(LIST, registry_prefix(product))}
            continue
        grants |= {Grant(LIST, product_prefix(product)), Grant(WRITE, usage_prefix(product, domain))}
        if level == RAW:
            grants.add(Grant(READ, product_prefix(product)))
        else:  # the projection, and the public declaration a location loads the product from
            grants |= {Grant(READ, projection_prefix(product)), Grant(READ, registry_prefix(product))}
    return frozenset(grants)


def storage_grants(mesh: Mesh, projected: frozenset[str] = frozenset()) -> dict[str, frozenset[Grant]]:
    """Identity -> its grants: the platform's, then one identity per domain of the mesh (the
    shared domain included), in the mesh's order. `projected`: see access_level."""
    grants = {PLATFORM_IDENTITY: frozenset({Grant(ADMIN, "")})}
    for domain in mesh.domains:
        grants[storage_identity(domain)] = domain_grants(mesh, domain, projected)
    return grants


def access_matrix(mesh: Mesh, projected: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
    """Product id -> domain -> access level, for every product and domain of the mesh."""
    domains = list(mesh.domains)
    return {product.id: {domain: access_level(product, domain, projected) for domain in domains} for product in mesh.products()}
