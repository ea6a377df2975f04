"""Python products as Dagster assets, published write-audit-publish.

The asset body calls the domain's function, casts its result to the contract's schema (schema
drift stops here, with a diff), evaluates every contract rule in DuckDB, and only then hands the
batch to the port IO manager. A blocking rule that fails leaves the port untouched: the output is
never yielded, so nothing downstream runs on the bad batch.
"""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from ..errors import DescriptorError
from ..ports.delta import conform, port_uri, read_dataset
from ..ports.formats import to_arrow
from ..quality.checks import check_results, check_specs, violation
from ..quality.engine import audit
from ..quality.rules import Rule, rules_for
from ..settings import storage_root
from .descriptor import Product
from .metadata import IO_MANAGER_KEY, asset_attributes, partitions_of
from .python import CONTEXT_PARAMETER, PythonProduct


def port_reader(root: Path):
    """How an audit reads a referenced port (a relationship's global identifiers)."""
    return lambda domain, product: read_dataset(port_uri(storage_root(root), domain, product), f"{domain}.{product}")


def audit_batch(batch: pa.Table, rules: list[Rule], product: Product, root: Path):
    with duckdb.connect() as con:
        con.register("batch", batch)
        return audit(con, "batch", rules, personal_columns=product.contract.personal_columns, references=port_reader(root))


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


def python_product_asset(product: Product, impl: PythonProduct, root: Path) -> dg.AssetsDefinition:
    parameters = impl.input_parameters()
    ins: dict[str, dg.AssetIn] = {}
    for port in product.inputs:
        if port.product not in parameters:
            raise DescriptorError(product.path, "inputs", f"{impl.where} has no parameter {port.product!r} for input port {port.id}")
        ins[port.product] = dg.AssetIn(key=dg.AssetKey(list(port.key)))
    for name in parameters:
        if name not in ins:
            raise DescriptorError(product.path, "inputs", f"{impl.where} takes {name!r}, which is not a declared input port")

    key = dg.AssetKey(list(product.key))
    rules = rules_for(product.contract)
    takes_context = CONTEXT_PARAMETER in inspect.signature(impl.fn).parameters

    def compute(context: dg.AssetExecutionContext, **inputs: Any) -> Iterator[Any]:
        data = impl.fn(context, **inputs) if takes_context else impl.fn(**inputs)
        batch = conform(to_arrow(data, product.id), product.contract.arrow_schema(), product.id).read_all()
        results = audit_batch(batch, rules, product, root)
        checks = check_results(key, results)
        problem = violation(product.id, results)
        if problem is not None:
            yield from checks  # the UI shows which rule failed, and why
            raise problem
        yield dg.Output(batch)
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
            **asset_attributes(product, root),
        )(compute)
