"""`mesh contract export`: a port's contract as consumers need it, with where to read it."""

from __future__ import annotations

import yaml

from mesh_platform.model.descriptor import Product
from mesh_platform.runtime.ports.delta import port_uri


def server_entry(uri: str) -> dict:
    """An ODCS `servers` entry for a Delta port: local path or object store."""
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        return {"server": "mesh_port", "type": "s3" if scheme in ("s3", "s3a") else "custom", "location": uri, "format": "delta"}
    return {"server": "mesh_port", "type": "local", "path": uri.removeprefix("file://"), "format": "delta"}


def export_contract(product: Product, storage_root: str) -> str:
    """The contract file as its owners wrote it, plus a `servers` entry pointing at the port."""
    document = yaml.safe_load(product.contract_path.read_text())
    entry = server_entry(port_uri(storage_root, product.domain, product.name, product.contract.major))
    entry["description"] = f"Delta output port of {product.id}; read it with deltalake, DuckDB, pandas or Polars."
    document["servers"] = [entry]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
