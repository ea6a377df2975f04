"""Rollback: an earlier good version of a port restored as its next version.

A rollback never rewinds the log: it reads the rows of version N, conforms, stages and audits
them against the contract the port serves today (the working tree's for the current major, the
one stored with the port for an older major), and publishes them through the one write path
(runtime/publishing.py), with commit metadata naming version N and who rolled back. Rows that
break today's rules are refused and nothing changes; the masked projection follows the raw
version as on any publish. Only the owner domain rolls back: on an object store its keys alone
may write the port (docs/deployment.md); on local disk the platform refuses any other domain.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pyarrow as pa

from mesh_platform.model.access import AccessDenied
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.policies import Governance
from mesh_platform.runtime.global_policies import global_governance
from mesh_platform.runtime.ports.history import ROLLBACK_BY_KEY, ROLLBACK_OF_KEY, resolve_as_of
from mesh_platform.runtime.ports.port import PublishResult
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.ports.withdrawal import withdrawal_of
from mesh_platform.runtime.publishing import audit_staged, discard, partition_column, publish, violation

RUN_PREFIX = "rollback-"  # a rollback's run id: no Dagster run made it


def rollback(
    root: Path, product: Product, to_version: int, *, acting: str, by: str, major: int | None = None,
    governance: Governance | None = None,
) -> PublishResult:
    """Publish the rows of version `to_version` of `product`'s port (at `major`, else the current
    one) as its next version, audited against today's contract. `acting` is the domain doing it
    (only the owner may); `by` who, as recorded in the commit. `governance`: the policies the
    domain's code location publishes under (the global ones plus its own `policies=`; the CLI
    loads the location for them, orchestration/build.py `location_governance`): a rollback
    is audited as a publish is. Default: the global policies alone (a domain that adds none)."""
    if acting != product.domain:
        raise AccessDenied(f"domain {acting!r} may not roll back {product.id}: only its owner, domain {product.domain!r}, may")
    if isinstance(to_version, bool) or not isinstance(to_version, int) or to_version < 0:
        raise MeshError(f"{product.id}: --to-version {to_version!r} is not a port version (a non-negative integer)")
    store = port_store(root, acting=acting)
    major = product.contract.major if major is None else major
    uri = store.uri(product.domain, product.name, major)
    label = product.id if major == product.contract.major else f"{product.id}@v{major}"
    withdrawn = withdrawal_of(store, product.domain, product.name, major)
    if withdrawn is not None:
        raise MeshError(f"{label} is withdrawn ({withdrawn.reason}): a withdrawn major is not rolled back; publish another major")
    contract = product.contract if major == product.contract.major else store.stored_contract(uri)
    if contract is None:
        raise MeshError(f"{label} has never been published: there is no version to roll back to")
    latest = store.locate(uri, label).latest
    if to_version >= latest:
        raise MeshError(f"{label}: version {to_version} is {'its latest' if to_version == latest else 'not one of its versions'}; "
                        f"roll back to one of 0..{latest - 1}")
    resolve_as_of(store, uri, label, to_version)  # a version the port never had, or the vacuum removed: refused in one line
    serving = _serving(product, contract)
    old = store.dataset(uri, label, to_version)
    stream = pa.RecordBatchReader.from_batches(old.schema, old.to_batches())  # streamed: never the whole port in memory
    staged = store.stage(uri, stream, contract.arrow_schema(), label=label, partition_by=partition_column(serving))
    refused = violation(label, audit_staged(store, staged, (governance or global_governance(product.domain)).audit_rules(serving), serving, root))
    if refused is not None:
        discard(store, staged)
        raise MeshError(f"rollback of {label} to version {to_version} refused: {refused}")
    note = {ROLLBACK_OF_KEY: str(to_version), ROLLBACK_BY_KEY: by}
    return publish(store, staged, contract, f"{RUN_PREFIX}{uuid.uuid4().hex[:12]}", root=root, note=note)


def _serving(product: Product, contract) -> Product:
    """`product` as the port at an older major serves it: with the contract stored there (the
    working tree's contract is the current major's). `contract` is a cached property of the
    frozen descriptor: a copy gets its value set directly."""
    if contract is product.contract:
        return product
    copy = dataclasses.replace(product)
    copy.__dict__["contract"] = contract
    return copy
