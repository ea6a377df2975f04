"""Python products as Dagster assets, published through the one write path (runtime/publishing.py).

The asset body calls the domain's function, casts its result to the contract's schema (schema
drift stops here, with a diff), writes it once as the port's staged files, evaluates every
contract rule in DuckDB over those files, and only then hands the staged batch to the port IO
manager, whose commit publishes it. A blocking rule that fails leaves the port untouched (its
staged files are dropped): the output is never yielded, so nothing downstream runs on the bad batch.
"""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.product import CONTEXT_PARAMETER, PythonProduct
from mesh_platform.orchestration.automation import partitions_of
from mesh_platform.orchestration.checks import check_results, check_specs
from mesh_platform.orchestration.io_manager import PINNED_MAJOR_KEY, READ_COLUMNS_KEY
from mesh_platform.orchestration.products.metadata import IO_MANAGER_KEY, asset_attributes, policy_metadata
from mesh_platform.runtime.global_policies import global_governance

if TYPE_CHECKING:
    from mesh_platform.runtime.ports.conform import PartitionSlice


def _signature(impl: PythonProduct, inputs: list[str]) -> inspect.Signature:
    """The wrapper's signature: `context` plus the inputs, with the domain function's annotations
    (resolved, so postponed annotations still tell the IO manager which format to load)."""
    hints = typing.get_type_hints(impl.fn)
    parameters = [inspect.Parameter(CONTEXT_PARAMETER, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=hints.get(name, inspect.Parameter.empty))
        for name in inputs
    ]
    return inspect.Signature(parameters)


def run_slice(context: dg.AssetExecutionContext, product: Product) -> PartitionSlice | None:
    """The months this run publishes (one, or a backfill's range), as the IO manager sees them."""
    from mesh_platform.runtime.ports.conform import PartitionSlice  # reason: pyarrow.dataset loads at run time, not at location load

    column = product.descriptor.partitioning.column if product.descriptor.partitioning else None
    if column is None or not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return PartitionSlice(column, window.start.date(), window.end.date())


def python_product_asset(product: Product, impl: PythonProduct, root: Path, governance=None) -> dg.AssetsDefinition:
    if governance is None:  # built on its own (tests, tools): the global policies' rules still apply

        governance = global_governance(product.domain)
    parameters = impl.input_parameters()
    ins: dict[str, dg.AssetIn] = {}
    declared = dict(product.descriptor.columns)
    for port in product.inputs:
        if port.product not in parameters:
            raise DescriptorError(product.path, "inputs", f"{impl.where} has no parameter {port.product!r} for input port {port.id}")
        metadata = {PINNED_MAJOR_KEY: port.major} if port.major is not None else {}
        if port.id in declared:  # enforced by the io manager: it reads only these columns
            metadata[READ_COLUMNS_KEY] = list(declared[port.id])
        ins[port.product] = dg.AssetIn(key=dg.AssetKey(list(port.key)), metadata=metadata or None)
    for name in parameters:
        if name not in ins:
            raise DescriptorError(product.path, "inputs", f"{impl.where} takes {name!r}, which is not a declared input port")

    key = dg.AssetKey(list(product.key))
    rules = governance.audit_rules(product)
    takes_context = CONTEXT_PARAMETER in inspect.signature(impl.fn).parameters

    def compute(context: dg.AssetExecutionContext, **inputs: Any) -> Iterator[Any]:
        from mesh_platform.runtime.ports.store import port_store  # reason: the port store (deltalake) loads when the asset runs, not at location load
        from mesh_platform.runtime.publishing import audit_staged, conformed, discard, stage, violation  # reason: the data stack loads when the asset runs, not at location load

        data = impl.fn(context, **inputs) if takes_context else impl.fn(**inputs)
        # conform, stage and audit here (the write path's first steps); the IO manager commits.
        store = port_store(root, acting=product.domain)  # a domain publishes with its own identity
        staged = stage(store, product, conformed(data, product), partition=run_slice(context, product))
        results = audit_staged(store, staged, rules, product, root)
        checks = check_results(key, results)
        problem = violation(product.id, results)
        if problem is not None:
            discard(store, staged)
            yield from checks  # the UI shows which rule failed, and why
            raise problem
        yield dg.Output(staged)
        yield from checks

    compute.__signature__ = _signature(impl, list(ins))  # type: ignore[attr-defined]
    compute.__name__ = product.name
    partitions = partitions_of(product)
    with warnings.catch_warnings():
        # backfill_policy is beta, but single-run backfills are how a range of months publishes at once.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(
            key=key,
            ins=ins,
            io_manager_key=IO_MANAGER_KEY,
            partitions_def=partitions,
            backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
            check_specs=check_specs(key, rules),
            kinds={"python", "pandas", "delta"},
            **asset_attributes(product, root, policy_metadata(governance, product)),
        )(compute)
