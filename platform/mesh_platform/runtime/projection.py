"""A product's masked projection: its port as a consumer without personal-data rights reads it.

A product whose contract has personal columns publishes, with each version of its raw port
(`<product>/v<major>`), the same rows with every personal column masked as the contract says, as
a port of its own (`<product>/masked/v<major>`, runtime/ports/port.py). Masked consumers read the
projection only, natively like any port: on an object store their identity may read the
projection's prefix and not the raw one (issue 13), so no Python check is all that stands between
them and the raw personal data.

The write path (runtime/publishing.py) commits the raw version first, then its projection, built
from exactly the audited staged rows; the projection's commit names the raw port and version it
projects. When that second step fails, the raw version stands and the projection is behind (masked
consumers see its previous version) until the next publish brings it level.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa

from mesh_platform.model.access import personal_data_masks
from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.errors import PublishError
from mesh_platform.model.names import parse_product_id
from mesh_platform.runtime.masking import mask_table, masked_schema
from mesh_platform.runtime.ports.port import (
    PROJECTION_OF_KEY, PROJECTION_OF_VERSION_KEY, PublishResult, StagedBatch, contract_of_commit,
)
from mesh_platform.runtime.ports.store import PortStore


class ProjectionBehind(PublishError):
    """The raw version is published; its masked projection is not (it keeps its previous version)."""

    def __init__(self, label: str, raw: PublishResult, projection_uri: str, why: str):
        self.raw = raw
        super().__init__(
            f"{label}: version {raw.version} of its port is published, but its masked projection at {projection_uri} "
            f"is behind: {why}. Consumers reading {label} masked see the projection's previous version; "
            "the next publish of the product brings it level"
        )


def projection_masks(contract: Contract) -> dict[str, str]:
    """Column -> masking method the projection of a port published with `contract` applies:
    every personal column, as the contract says (empty: the product has no projection)."""
    return personal_data_masks(contract)


def check_projectable(staged: StagedBatch, contract: Contract) -> None:
    """Refuse, before anything is committed, a batch whose projection could not replace its slice:
    a personal partition column would be masked, so no masked row would fall in any partition."""
    if staged.partition_by and staged.partition_by in projection_masks(contract):
        raise PublishError(
            f"{staged.label} was not published: its partition column {staged.partition_by!r} is personal data, "
            "so its masked projection cannot be partitioned by it; partition the product by a column that is not personal"
        )


def projection_uri(store: PortStore, staged: StagedBatch, contract: Contract) -> str:
    """Where the projection of the port `staged` was committed to lies (the write path's ports only)."""
    domain, product = parse_product_id(staged.label)
    if store.uri(domain, product, contract.major) != staged.uri:
        raise PublishError(f"{staged.label}: the batch staged in {staged.uri} is not for its port at contract major {contract.major}")
    return store.uri(domain, product, contract.major, masked=True)


def project(
    store: PortStore, staged: StagedBatch, raw: PublishResult, contract: Contract,
    commit_metadata: Mapping[str, str], key: bytes,
) -> PublishResult | None:
    """Publish the masked projection of raw version `raw` (just committed from `staged`), or None
    when the contract has no personal column or a later raw version's projection is already
    published (a publish that committed after this one finished first). Raises ProjectionBehind
    when it cannot."""
    masks = projection_masks(contract)
    if not masks:
        return None
    uri = projection_uri(store, staged, contract)
    try:
        if _projects_newer(store, uri, raw):
            # A slower publish of an older raw version must not overwrite a newer one's projection
            # (the projection's own commit would not conflict: it is another table).
            return None
        schema = masked_schema(staged.schema, masks)
        metadata = {**commit_metadata, PROJECTION_OF_KEY: raw.uri, PROJECTION_OF_VERSION_KEY: str(raw.version)}
        if _replaces_slice(store, uri, staged, raw, masks):
            rows = _masked(store.staged_dataset(staged).to_batches(), schema, masks, key)
            projected = store.stage(uri, rows, schema, label=staged.label, partition_by=staged.partition_by, partition=staged.partition)
        else:  # the projection lags behind, or never was: all of raw version N, so it is level again
            dataset = store.dataset(raw.uri, staged.label, raw.version)
            rows = _masked(dataset.to_batches(), schema, masks, key)
            projected = store.stage(uri, rows, schema, label=staged.label, partition_by=staged.partition_by)
        return store.publish(projected, metadata)
    except Exception as exc:  # whatever failed, the raw version stands: say so, in one line
        raise ProjectionBehind(staged.label, raw, uri, " ".join(str(exc).split()) or type(exc).__name__) from exc


def _projects_newer(store: PortStore, uri: str, raw: PublishResult) -> bool:
    """Whether the projection already projects a raw version newer than `raw`."""
    last = next(iter(store.history(uri, 1)), None)
    projected = last.get(PROJECTION_OF_VERSION_KEY) if last else None
    return projected is not None and str(projected).isdigit() and int(projected) > raw.version


def _replaces_slice(store: PortStore, uri: str, staged: StagedBatch, raw: PublishResult, masks: dict[str, str]) -> bool:
    """Whether the staged rows alone make the projection level with raw version N: a full replace
    always; a partition's slice only over a projection of version N-1 masked the same way (else
    the other slices would keep what the projection lacked)."""
    if staged.partition is None:
        return True
    last = next(iter(store.history(uri, 1)), None)
    if last is None or last.get(PROJECTION_OF_VERSION_KEY) != str(raw.version - 1):
        return False
    published = contract_of_commit(last, uri)
    return published is not None and projection_masks(published) == masks


def _masked(batches: Iterable[pa.RecordBatch], schema: pa.Schema, masks: dict[str, str], key: bytes) -> pa.RecordBatchReader:
    """`batches` masked one at a time, as a stream of the projection's schema: a large port never
    sits in memory whole (each distinct value of a batch is hashed once)."""

    def masked() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            table = mask_table(pa.Table.from_batches([batch]), masks, key)
            yield from table.select(schema.names).cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, masked())
