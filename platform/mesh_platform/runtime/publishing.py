"""The one write path of every product, Python or dbt: conform -> audit -> commit.

- *conform*: the batch is cast to the contract's exact schema; drift stops here, with a diff.
- *audit*: every rule of the contract (and of the global policies) is evaluated over the batch
  where it lies, on a sealed DuckDB connection; a failed blocking rule refuses the batch.
- *commit*: only an audited batch is staged in the port store and published in one atomic step,
  with the write path's commit metadata (who, which run, the whole contract).

A Python product conforms and audits in its asset body and commits through the IO manager; a
dbt product conforms and audits its model in the domain's DuckDB file once dbt has exited, then
commits. Both call these functions, so a refusal, its message and what a publish records are
the same whichever way a product is built.
"""

from __future__ import annotations

from collections.abc import Callable
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
from mesh_platform.runtime.ports.port import CONTRACT_METADATA_KEY, RUN_ID_KEY, PublishResult
from mesh_platform.runtime.ports.store import PortStore
from mesh_platform.runtime.quality.engine import RuleResult, audit, blocking_failures, describe_failures
from mesh_platform.runtime.reading import plan_read, read_table


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
    rows are cast to the contract as they stream into the store on commit."""
    check_columns(schema, product.contract.arrow_schema(), product.id)


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


def commit(
    store: PortStore, domain: str, product: str, contract: Contract, data: pa.Table | pa.RecordBatchReader, *,
    run_id: str, partition_by: str | None = None, partition: PartitionSlice | None = None,
) -> PublishResult:
    """Publish an audited batch as the next version of the port of the contract's major: staged,
    then published atomically (a failure leaves the previous version readable)."""
    label = product_id(domain, product)
    staged = store.stage(
        store.uri(domain, product, contract.major), data, contract.arrow_schema(),
        label=label, partition_by=partition_by, partition=partition,
    )
    return store.publish(staged, commit_metadata(contract, label, run_id))

