"""Checks of a product against the whole mesh, run when its domain loads and by `mesh validate`
(whose whole-mesh report, loading each location, is orchestration.mesh_validation).

Each failure is one DescriptorError naming the file, the field and what was expected.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mesh_platform.model.descriptor import Domain, Product
from mesh_platform.model.errors import ContractError, DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import Metric, rules_for
from mesh_platform.runtime.quality.compile import compile_rule, quote

if TYPE_CHECKING:  # duckdb loads only to bind a contract's sql rules: a location without any never imports it
    import duckdb


def check_contract_identity(product: Product) -> None:
    """A contract that names its domain or product must name this one."""
    odcs = product.contract.odcs
    for field, expected in (("domain", product.domain), ("dataProduct", product.name)):
        found = getattr(odcs, field)
        if found is not None and found != expected:
            raise ContractError(product.contract_path, field, f"expected {expected!r} (the product claiming this contract), found {found!r}")


def check_references(product: Product, mesh: Mesh) -> None:
    """Every relationship points at an existing product's column (a global identifier).

    A target whose own domain or contract is broken is not this product's fault: it is left to
    the `available-dependencies` policy (a warning) and to the relationship's rule at build time,
    so one broken file never stops the domains that reference it from loading."""
    for index, column in enumerate(product.contract.columns):
        for target in column.references:
            domain, name, ref_column = target.split(".")
            field = f"schema[0].properties[{index}].relationships"
            if mesh.unavailable(domain, name) is not None:
                continue
            referenced = mesh.find(domain, name)
            if referenced is None:
                hint = mesh.closest(f"{domain}.{name}")
                raise ContractError(product.contract_path, field, f"references {domain}.{name}, which no domain publishes"
                                    + (f"; closest: {', '.join(hint)}" if hint else ""))
            if ref_column not in referenced.contract.column_names:
                raise ContractError(product.contract_path, field, f"references column {ref_column!r}, which {domain}.{name} does not declare")


def check_sql_rules(product: Product) -> None:
    """Bind every sql rule against an empty table of the contract's schema: a typo in a column
    name, or a rule reading a file, fails here, at load, rather than during a publish."""
    rules = [r for r in rules_for(product.contract) if r.metric == Metric.SQL]
    if not rules:
        return
    import duckdb  # reason: the engine loads only for a contract with sql rules to bind

    from mesh_platform.runtime.quality.engine import DIALECT, rule_error  # reason: the rule engine loads only for sql rules to bind

    # The empty table is declared in SQL with the DuckDB type of each column's Arrow type (what the
    # audit of a real batch sees): registering an Arrow table would import pyarrow.dataset and
    # pandas into every code location with a sql rule (issue 12).
    columns = ", ".join(f"{quote(c.name)} {c.sql_type}" for c in product.contract.columns)
    with _binder().cursor() as con:  # a cursor of one in-memory database: a new database costs ~25 ms
        con.execute(f"CREATE TEMP TABLE empty_batch ({columns})")
        for rule in rules:
            try:
                con.sql(f"EXPLAIN {compile_rule(rule, 'empty_batch', DIALECT).query}")
            except duckdb.Error as exc:
                raise ContractError(product.contract_path, f"quality rule {rule.name}", f"the sql does not run: {rule_error(exc)}") from None


@functools.cache
def _binder() -> duckdb.DuckDBPyConnection:
    from mesh_platform.runtime import sealed  # reason: duckdb loads only for sql rules to bind

    return sealed.connect()  # binding a rule that names a file opens it: sealed, it is refused instead


def check_partition_column(product: Product) -> None:
    """A monthly port is partitioned on one of its contract's date columns."""
    spec = product.descriptor.partitioning
    if spec is None:
        return
    if spec.column not in product.contract.column_names:
        raise DescriptorError(product.path, "partitioning.column", f"expected a column of the contract {product.contract_path.name}, found {spec.column!r}")
    column = product.contract.column(spec.column)
    if column.sql_type != "DATE" or not column.required:
        raise DescriptorError(product.path, "partitioning.column", f"expected a required DATE column, found {spec.column!r} ({column.sql_type}{'' if column.required else ', optional'})")


def validate_product(product: Product, mesh: Mesh) -> None:
    # A location validates its products before any policy runs, and the valid-contract policy asks
    # again: once per product of a loaded mesh is enough (the mesh is reloaded when a file changes).
    if product.id in mesh.validated:
        return
    rules_for(product.contract)
    check_partition_column(product)
    check_contract_identity(product)
    check_references(product, mesh)
    check_sql_rules(product)
    mesh.validated.add(product.id)


def validate_domain(domain: Domain, mesh: Mesh) -> None:
    for product in domain.products.values():
        validate_product(product, mesh)
