"""Checks of a product against the whole mesh, run when its domain loads and by `mesh validate`
(whose whole-mesh report, loading each location, is orchestration.mesh_validation).

Each failure is one DescriptorError naming the file, the field and what was expected.
"""

from __future__ import annotations

import functools

import duckdb

from mesh_platform.model.descriptor import Domain, Product
from mesh_platform.model.errors import ContractError, DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import Metric, rules_for
from mesh_platform.runtime import sealed
from mesh_platform.runtime.quality.compile import compile_rule
from mesh_platform.runtime.quality.engine import DIALECT, rule_error


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
    with _binder().cursor() as con:  # a cursor of one in-memory database: a new database costs ~25 ms
        con.register("empty_batch", product.contract.arrow_schema().empty_table())
        for rule in rules:
            try:
                con.sql(f"EXPLAIN {compile_rule(rule, 'empty_batch', DIALECT).query}")
            except duckdb.Error as exc:
                raise ContractError(product.contract_path, f"quality rule {rule.name}", f"the sql does not run: {rule_error(exc)}") from None


@functools.cache
def _binder() -> duckdb.DuckDBPyConnection:
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


def check_dbt_model_columns(product: Product, node: dict, project_dir) -> None:
    """A dbt product model declares exactly its contract's columns, with the same types."""
    # The .yml that documents the model, when there is one: that is where columns are declared.
    patch = (node.get("patch_path") or "").split("://", 1)[-1]
    where = project_dir / (patch or node["original_file_path"])
    declared = node.get("columns") or {}
    contract = product.contract
    if not declared:
        raise DescriptorError(where, f"models.{product.name}.columns", "a product model declares its columns in a .yml file (they must match its contract)")
    missing = [c for c in contract.column_names if c not in declared]
    if missing:
        raise DescriptorError(where, f"models.{product.name}.columns", f"the contract declares {missing}, which the model does not produce")
    extra = [c for c in declared if c not in contract.column_names]
    if extra:
        raise DescriptorError(where, f"models.{product.name}.columns", f"the model produces {extra}, which the contract {contract.path.name} does not declare")
    for name, column in declared.items():
        data_type = column.get("data_type")
        expected = contract.column(name).sql_type
        if data_type and _normal(data_type) != _normal(expected):
            raise DescriptorError(where, f"models.{product.name}.columns.{name}.data_type", f"expected {expected} (as in the contract), found {data_type}")


def _normal(sql_type: str) -> str:
    text = "".join(sql_type.lower().split())
    aliases = {"timestampwithtimezone": "timestamptz", "int": "integer", "int4": "integer", "int8": "bigint",
               "string": "varchar", "text": "varchar", "float8": "double", "bool": "boolean", "numeric": "decimal"}
    for alias, canonical in aliases.items():
        if text == alias or text.startswith(alias + "("):
            text = canonical + text[len(alias):]
    return text
