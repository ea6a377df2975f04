"""The one write path of every product, Python or dbt: conform -> stage -> audit -> commit.

- *conform*: the batch is held to the contract's exact schema; drift stops here, with a diff,
  before any file is written.
- *stage*: the rows are written once, as the port's next data files, which no version
  references yet (a Python product's table by the port store; a dbt model by its engine, straight
  from the engine's storage); required columns and partition bounds are checked on them.
- *audit*: every rule of the contract (and of the global policies) is evaluated over exactly the
  staged files, on a sealed DuckDB connection; a failed blocking rule refuses the batch.
- *commit*: the store's one atomic commit that adds the audited files is the publish, with the
  write path's commit metadata (who, which run, the whole contract). What was audited is byte
  for byte what is published; a refused or killed publish leaves only orphan files. A product
  with personal columns then commits the same rows masked, as its port's masked projection
  (runtime/projection.py): what consumers without personal-data rights read.

A Python product conforms, stages and audits in its asset body and commits through the IO
manager; a dbt product stages its models once dbt has exited, then audits and commits them. Both
call these functions, so a refusal, its message and what a publish records are the same
whichever way a product is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import PublishError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.names import product_id
from mesh_platform.model.rules import Rule
from mesh_platform.runtime import sealed
from mesh_platform.runtime.ports.conform import PartitionSlice, check_columns, conform
from mesh_platform.runtime.ports.formats import to_arrow
from mesh_platform.runtime.ports.port import CONTRACT_METADATA_KEY, RUN_ID_KEY, PublishResult, StagedBatch
from mesh_platform.runtime.ports.store import PortStore
from mesh_platform.runtime.projection import check_projectable, project, projection_masks
from mesh_platform.runtime.quality.engine import RuleResult, audit, blocking_failures, describe_failures
from mesh_platform.runtime.reading import plan_read, read_table
from mesh_platform.runtime.settings import masking_key


class ContractViolation(PublishError):
    """A batch broke a blocking rule: it was not published; the port keeps its previous version."""

    def __init__(self, label: str, failures: list[RuleResult]):
        self.failures = failures
        super().__init__(
            f"{label} was not published: {len(failures)} blocking rule(s) failed: {describe_failures(failures)}. "
            "The port keeps its previous version."
        )


# --- conform -------------------------------------------------------------------------------

def conformed(data: Any, product: Product) -> pa.Table:
    """A Python product's result as a table of its contract's exact schema (drift refused)."""
    return conform(to_arrow(data, product.id), product.contract.arrow_schema(), product.id).read_all()


def check_schema(schema: pa.Schema, product: Product) -> None:
    """A dbt model's columns against its contract, before any row is read (drift refused); its
    rows are cast to the contract's types as its engine stages them."""
    check_columns(schema, product.contract.arrow_schema(), product.id)


# --- stage ---------------------------------------------------------------------------------

def _port(store: PortStore, product: Product) -> str:
    return store.uri(product.domain, product.name, product.contract.major)


def partition_column(product: Product) -> str | None:
    return product.descriptor.partitioning.column if product.descriptor.partitioning else None


def stage(store: PortStore, product: Product, data: pa.Table, *, partition: PartitionSlice | None = None) -> StagedBatch:
    """A Python product's conformed batch written once as its port's staged files (with
    `partition`, one slice of a monthly port), checked, visible to no reader yet."""
    return store.stage(
        _port(store, product), data, product.contract.arrow_schema(), label=product.id,
        partition_by=partition_column(product), partition=partition,
    )


def stage_model(store: PortStore, engine, session, relation: str, product: Product, *, batch_rows: int) -> StagedBatch:
    """A dbt product model staged straight from its engine's storage: drift refused before any
    file is written, then the engine writes the port's files itself, cast to the contract's
    types. A store without a local folder (an object store) is given the rows as Arrow batches."""
    schema = product.contract.arrow_schema()
    check_schema(engine.output_schema(session, relation), product)
    uri = _port(store, product)
    target = store.staging_folder(uri)
    if target is None:
        return store.stage(uri, engine.read_output(session, relation, batch_rows=batch_rows), schema, label=product.id)
    folder, path = target
    try:
        engine.stage_output(session, relation, path, schema)
        return store.adopt(uri, folder, schema, label=product.id)
    except PublishError as exc:
        store.discard(uri, folder)
        raise PublishError(str(exc) if str(exc).startswith(product.id) else f"{product.id}: {exc}") from None
    except Exception:
        store.discard(uri, folder)
        raise


def discard(store: PortStore, staged: StagedBatch) -> None:
    """Drop the files of a refused batch now (what a crash leaves, `remove_orphans` clears)."""
    store.discard(staged.uri, staged.folder)


# --- audit ---------------------------------------------------------------------------------

def port_reader(root: Path, reader: str) -> Callable[[str, str, list[str]], Any]:
    """How an audit reads a referenced port (a relationship's global identifiers): as the domain
    publishing, so access rules and masks hold for lookups too. Only the looked-up columns are
    read (natively by DuckDB, or masked as Arrow) into a table the sealed audit connection gets:
    that connection reads no port's files, so a contract's sql rule cannot write into one either."""
    identity = domain_reader(reader, how="audit")

    def read(domain: str, product: str, columns: list[str]):
        mesh = current_mesh(root)
        target = mesh.require(f"{domain}.{product}", consumer=f"a relationship of domain {reader!r}")
        return read_table(plan_read(mesh, identity, target, consumer=f"a relationship of domain {reader!r}"), columns=columns)

    return read


def audit_relation(con, relation: str, rules: list[Rule], product: Product, root: Path) -> list[RuleResult]:
    """Every rule over `relation` as it lies in `con` (a sealed connection: sql rules are user-written)."""
    return audit(con, relation, rules, personal_columns=product.contract.personal_columns, references=port_reader(root, product.domain))


def audit_batch(batch: pa.Table, rules: list[Rule], product: Product, root: Path) -> list[RuleResult]:
    """Every rule over an in-memory batch, on a fresh sealed connection."""
    with sealed.connect() as con:
        con.register("batch", batch)
        return audit_relation(con, "batch", rules, product, root)


def audit_staged(store: PortStore, staged: StagedBatch, rules: list[Rule], product: Product, root: Path) -> list[RuleResult]:
    """Every rule over exactly the staged files, on a fresh sealed connection: a sealed
    connection reads no file, so the files come in as an Arrow dataset that pyarrow reads
    (no change to what the connection may reach)."""
    with sealed.connect() as con:
        con.register("batch", store.staged_dataset(staged))
        return audit_relation(con, "batch", rules, product, root)


def violation(label: str, results: list[RuleResult]) -> ContractViolation | None:
    """The refusal of a batch whose blocking rules failed (None: it may be committed)."""
    failures = blocking_failures(results)
    return ContractViolation(label, failures) if failures else None


# --- commit --------------------------------------------------------------------------------

def commit_metadata(contract: Contract, label: str, run_id: str) -> dict[str, str]:
    """What every publish keeps beside its version: who, which run, and the whole contract."""
    return {
        "mesh.product": label,
        "mesh.contract_version": contract.version,
        RUN_ID_KEY: run_id,
        CONTRACT_METADATA_KEY: contract.path.read_text(),
    }


def publish(
    store: PortStore, staged: StagedBatch, contract: Contract, run_id: str, *, root: str | Path | None = None,
    note: Mapping[str, str] | None = None,
) -> PublishResult:
    """Commit an audited staged batch: the publish (a failure leaves the previous version readable).
    A contract with personal columns also publishes the version's masked projection, after the raw
    commit (runtime/projection.py), masked with the masking key of the mesh at `root`: a
    ProjectionBehind error then says the raw version stands and its projection does not."""
    key = None
    if projection_masks(contract):
        try:  # all a projection needs is checked before the raw commit: only its own commit can fail after
            if root is None:  # never raw alone: masked consumers would read a projection behind it
                raise PublishError(f"{staged.label}: it has personal columns, so its masked projection is published "
                                   "with it; that needs the mesh project (for its masking key): pass `root`")
            check_projectable(staged, contract)
            key = masking_key(root)
        except Exception:
            store.discard(staged.uri, staged.folder)
            raise
    metadata = {**commit_metadata(contract, staged.label, run_id), **(note or {})}  # note: e.g. a rollback's origin (runtime/rollback.py)
    raw = store.publish(staged, metadata)
    if key is not None:
        project(store, staged, raw, contract, metadata, key)
    return raw


def commit(
    store: PortStore, domain: str, product: str, contract: Contract, data: pa.Table | pa.RecordBatchReader, *,
    run_id: str, partition_by: str | None = None, partition: PartitionSlice | None = None, root: str | Path | None = None,
) -> PublishResult:
    """Stage and publish a batch that was audited before it reached here (or needs no audit: a
    batch handed straight to the IO manager), as the next version of the contract major's port
    (and of its masked projection: see `publish`)."""
    staged = store.stage(
        store.uri(domain, product, contract.major), data, contract.arrow_schema(),
        label=product_id(domain, product), partition_by=partition_by, partition=partition,
    )
    return publish(store, staged, contract, run_id, root=root)

