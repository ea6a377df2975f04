"""`mesh contract export`: a port's contract as consumers need it, with where to read it."""

from __future__ import annotations

import yaml

from mesh_platform.model.descriptor import Product
from mesh_platform.runtime.ports.store import PortStore


def export_contract(product: Product, store: PortStore) -> str:
    """The contract file as its owners wrote it, plus the store's `servers` entry for the port."""
    document = yaml.safe_load(product.contract_path.read_text())
    document["servers"] = [store.server_entry(store.uri(product.domain, product.name, product.contract.major), product.id)]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
