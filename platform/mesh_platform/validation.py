"""Checks of a product against the whole mesh, run when its domain loads and by `mesh validate`.

Each failure is one DescriptorError naming the file, the field and what was expected.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from . import sealed
from .errors import ContractError, DescriptorError, MeshError
from .mesh import Mesh
from .products.descriptor import Domain, Product
from .quality.engine import rule_error
from .quality.rules import TABLE, rules_for
from .workspaces import missing_locations


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
    rules = [r for r in rules_for(product.contract) if r.query]
    if not rules:
        return
    with _binder().cursor() as con:  # a cursor of one in-memory database: a new database costs ~25 ms
        con.register("empty_batch", product.contract.arrow_schema().empty_table())
        for rule in rules:
            try:
                con.sql(f"EXPLAIN {rule.query.replace(TABLE, 'empty_batch')}")
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


@dataclass
class DomainReport:
    domain: str
    ok: bool
    products: list[str]
    error: str | None = None
    policies: list[dict] = field(default_factory=list)  # one finding per (product, policy)


def _findings(root: Path, mesh: Mesh, domain, defs=None, error: Exception | None = None) -> list[dict]:
    """The location's policy verdict; when it failed to load for another reason, the global
    policies are still evaluated from its descriptors so the report stays complete."""
    from .definitions import POLICY_REPORT_KEY
    from .governance.global_policies import GLOBAL_POLICIES
    from .governance.policies import PolicyContext, PolicyViolation, combine, evaluate

    if isinstance(error, PolicyViolation):
        report = error.report
    elif defs is not None and POLICY_REPORT_KEY in (defs.metadata or {}):
        return list(defs.metadata[POLICY_REPORT_KEY].data)
    elif domain is not None:
        report = evaluate(domain.products.values(), PolicyContext(mesh), combine(GLOBAL_POLICIES, (), domain.name))
    else:
        return []
    return [f.as_dict() for f in report.findings]


def validate_mesh(root: Path) -> list[DomainReport]:
    """Load every location of the workspace as Dagster would, and say what fails and why.
    One broken domain never stops the others from being checked."""
    from .build import load_location  # imports Dagster definitions: only when asked
    from .mesh import workspace_locations

    mesh = Mesh.load(root)
    reports = []
    for name, module in workspace_locations(root).items():
        domain = mesh.domains.get(name)
        products = sorted(domain.products) if domain else []
        try:
            if domain is None:
                folder = root.joinpath(*module.split(".")[:-1]).resolve()
                raise mesh.broken.get(folder) or MeshError(f"location {name!r} has no domain.yaml the platform can read")
            defs = load_location(root, module)
        except Exception as exc:  # every failure becomes one line of the report
            text = " ".join(str(exc).split()) if isinstance(exc, MeshError) else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            reports.append(DomainReport(name, False, products, text, _findings(root, mesh, domain, error=exc)))
        else:
            reports.append(DomainReport(name, True, products, policies=_findings(root, mesh, domain, defs=defs)))
    _report_missing_locations(root, reports)
    try:
        mesh.domain_order()
    except MeshError as exc:
        reports.append(DomainReport("(mesh)", False, [], str(exc)))
    return reports


def _report_missing_locations(root: Path, reports: list[DomainReport]) -> None:
    """A domain folder workspace.yaml or the dg workspace leaves out fails validation: each tool
    would silently load the mesh without it."""
    by_domain = {r.domain: r for r in reports}
    for domain, line in missing_locations(root):
        report = by_domain.get(domain)
        if report is None:
            report = by_domain[domain] = DomainReport(domain, False, [], line)
            reports.append(report)
        else:
            report.ok, report.error = False, f"{report.error}; {line}" if report.error else line
