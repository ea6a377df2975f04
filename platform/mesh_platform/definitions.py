"""The one entry point a domain calls to become a Dagster code location.

    defs = domain_definitions(__file__, products=[flights])

reads the domain's descriptors and contracts, checks every input port exists in the mesh, builds
the Python and dbt products as assets with owners, contract schema and port IO, and declares the
other domains' products it reads so that Dagster draws the edges across code locations.
"""

from __future__ import annotations

import warnings

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from .errors import DescriptorError
from .mesh import Mesh, current_mesh
from .ports.io_manager import CONTRACT_KEY, PARTITION_COLUMN_KEY, PortIOManager, column_schema_metadata
from .products.descriptor import Domain, Product
from .products.python import PythonProduct
from .settings import find_project_root

IO_MANAGER_KEY = "mesh_port"


def build_job_name(domain: str) -> str:
    return f"build_{domain}"


def partitions_of(product: Product) -> dg.PartitionsDefinition | None:
    spec = product.descriptor.partitioning
    if spec is None:
        return None
    return dg.MonthlyPartitionsDefinition(start_date=spec.start.isoformat(), end_date=spec.end.isoformat())


def product_metadata(product: Product, root: Path) -> dict[str, Any]:
    """Definition metadata shown in the UI and read by the IO manager."""
    contract = product.contract
    metadata: dict[str, Any] = {
        "mesh/product": product.id,
        "mesh/kind": product.kind,
        "mesh/access": product.descriptor.access,
        CONTRACT_KEY: str(product.contract_path.relative_to(root)),
        "mesh/contract_version": contract.version,
        "mesh/inputs": ", ".join(i.id for i in product.inputs) or "none",
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(c.name, c.sql_type, description=c.description,
                               constraints=dg.TableColumnConstraints(nullable=not c.required))
                for c in contract.columns
            ]
        ),
    }
    if product.descriptor.partitioning:
        metadata[PARTITION_COLUMN_KEY] = product.descriptor.partitioning.column
    return metadata


def _python_asset(product: Product, impl: PythonProduct, root: Path) -> dg.AssetsDefinition:
    parameters = impl.input_parameters()
    ins: dict[str, dg.AssetIn] = {}
    for port in product.inputs:
        if port.product not in parameters:
            raise DescriptorError(product.path, "inputs", f"{impl.where} has no parameter {port.product!r} for input port {port.id}")
        ins[port.product] = dg.AssetIn(key=dg.AssetKey(list(port.key)))
    for name in parameters:
        if name not in ins:
            raise DescriptorError(product.path, "inputs", f"{impl.where} takes {name!r}, which is not a declared input port")
    partitions = partitions_of(product)
    owner = product.owner
    with warnings.catch_warnings():
        # backfill_policy is beta, but single-run backfills are how a range of months publishes at once.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _asset_decorator(product, ins, owner, partitions, root)(impl.fn)


def _asset_decorator(product: Product, ins, owner, partitions, root: Path):
    return dg.asset(
        key=dg.AssetKey(list(product.key)),
        ins=ins,
        description=product.descriptor.description,
        owners=[f"team:{owner.team}", owner.contact],
        group_name=product.domain,
        kinds={"python", "pandas", "delta"},
        tags={**{t: "" for t in product.descriptor.tags}, "mesh/role": "product", "mesh/kind": product.kind},
        metadata=product_metadata(product, root),
        io_manager_key=IO_MANAGER_KEY,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
    )


def _input_specs(domain: Domain, mesh: Mesh) -> list[dg.AssetSpec]:
    """The other domains' products this domain reads, as external assets loaded from their ports."""
    specs: dict[tuple[str, str], dg.AssetSpec] = {}
    for product in domain.products.values():
        for port in product.inputs:
            producer = mesh.require(port.id, consumer=product.id)
            if producer.domain == domain.name or producer.key in specs:
                continue
            metadata = {}
            if producer.descriptor.partitioning:
                metadata[PARTITION_COLUMN_KEY] = producer.descriptor.partitioning.column
            specs[producer.key] = dg.AssetSpec(
                key=dg.AssetKey(list(producer.key)),
                description=producer.descriptor.description,
                group_name=producer.domain,
                metadata=metadata,
                partitions_def=partitions_of(producer),
            ).with_io_manager_key(IO_MANAGER_KEY)
    return list(specs.values())


def domain_definitions(
    domain_file: str | Path,
    *,
    products: Sequence[PythonProduct] = (),
    dbt_vars: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Build the code location of the domain whose folder holds `domain_file`."""
    folder = Path(domain_file).resolve().parent
    root = find_project_root(folder)
    mesh = current_mesh(root)
    domain = mesh.domain_at(folder)
    inputs = _input_specs(domain, mesh)  # first: an unknown input port fails before any work

    implementations = {impl.name: impl for impl in products}
    for name, impl in implementations.items():
        if name not in domain.products:
            raise DescriptorError(domain.folder / "products", name, f"{impl.where} implements a product with no descriptor products/{name}.yaml")

    assets: list[Any] = [_python_asset(domain.products[n], impl, root) for n, impl in implementations.items()]
    dbt_models: set[str] = set()
    if domain.descriptor.dbt_project:
        from .dbt.assets import build_dbt_assets
        from .dbt.project import DomainDbtProject

        project = DomainDbtProject(domain.name, root / "dbt_projects" / domain.descriptor.dbt_project, dict(dbt_vars or {}))
        dbt_product_metadata = {n: product_metadata(p, root) for n, p in domain.products.items() if n not in implementations}
        dbt = build_dbt_assets(domain, project, mesh, dbt_product_metadata)
        assets.append(dbt)
        dbt_models = {key.path[-1] for key in dbt.keys if key.path[0] == domain.name}

    for name, product in domain.products.items():
        if name not in implementations and name not in dbt_models:
            raise DescriptorError(product.path, "name", f"product {product.id} has no implementation: no @product function and no dbt model named {name!r}")

    assets += inputs
    return dg.Definitions(
        assets=assets,
        resources={IO_MANAGER_KEY: PortIOManager(project_root=str(root), domain=domain.name)},
        jobs=[dg.define_asset_job(build_job_name(domain.name), selection=dg.AssetSelection.all())],
    )
