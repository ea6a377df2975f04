"""The one entry point a domain calls to become a Dagster code location.

    defs = domain_definitions(__file__)

finds the domain's `@product` functions in its package (orchestration.products.discovery), reads
the domain's descriptors and contracts, checks every input port exists in the mesh, builds
the Python and dbt products as assets with owners, contract schema and port IO, and declares the
other domains' products it reads so that Dagster draws the edges across code locations. The
location also carries its automation (mesh_platform.orchestration.automation): the schedules of its source-aligned
products, the sensor that rebuilds its consumers when an input publishes, and failure alerts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.model.descriptor import Domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import Mesh, current_mesh
from mesh_platform.model.policies import Governance, Policy, PolicyContext, PolicyViolation, combine, evaluate
from mesh_platform.model.product import PythonProduct
from mesh_platform.orchestration.automation import location_automation, partitions_of
from mesh_platform.orchestration.io_manager import PARTITION_COLUMN_KEY, PortIOManager
from mesh_platform.orchestration.products.assets import python_product_asset
from mesh_platform.orchestration.products.discovery import discover_products
from mesh_platform.orchestration.products.metadata import IO_MANAGER_KEY
from mesh_platform.orchestration.retention_schedule import retention_vacuum
from mesh_platform.orchestration.runs import executor_for
from mesh_platform.orchestration.slo_checks import domain_slo_checks, slo_schedule
from mesh_platform.runtime.engines import engine_for
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES
from mesh_platform.runtime.registry import sync_registry
from mesh_platform.runtime.settings import find_project_root, run_settings
from mesh_platform.runtime.validation import validate_domain

# domain -> the governance its location was last built with in this process (orchestration/build.py
# `location_governance`: what `mesh rollback` audits with, the same as a publish there).
LOCATION_GOVERNANCE: dict[str, Governance] = {}
POLICY_REPORT_KEY = "mesh/policy_report"  # on the Definitions: every finding, for `mesh validate`


def build_job_name(domain: str) -> str:
    return f"build_{domain}"


def _input_specs(domain: Domain, mesh: Mesh) -> list[dg.AssetSpec]:
    """The other domains' products this domain reads, as external assets loaded from their ports."""
    specs: dict[tuple[str, str], dg.AssetSpec] = {}
    for product in domain.products.values():
        for port in product.inputs:
            reason = mesh.unavailable(port.domain, port.product)
            if reason is not None:
                # Still declared, so the location loads and its other products build; reading it
                # fails at run time naming the cause (the IO manager asks `mesh.require` again).
                specs.setdefault(port.key, dg.AssetSpec(
                    key=dg.AssetKey(list(port.key)), group_name=port.domain,
                    description=f"Cannot be read now: {reason}",
                ).with_io_manager_key(IO_MANAGER_KEY))
                continue
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
    products: Sequence[PythonProduct] | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    policies: Sequence[Policy] = (),
) -> dg.Definitions:
    """Build the code location of the domain whose folder holds `domain_file`.

    The Python products are the `@product` functions found in the domain's package; `products`,
    when given, is used instead of looking (tests swap in an implementation that way).
    `policies` are the domain's own, added to the mesh's global policies (never replacing one).
    A product violating an error policy keeps the whole domain from deploying, with the reason."""
    folder = Path(domain_file).resolve().parent
    root = find_project_root(folder)
    sync_registry(root, [current_mesh(root).domain_at(folder)])  # its inputs of domains this checkout lacks
    mesh = current_mesh(root)
    domain = mesh.domain_at(folder)
    inputs = _input_specs(domain, mesh)  # first: an unknown input port fails before any work
    validate_domain(domain, mesh)  # a broken file is one error naming it, before any policy runs
    governing = combine(GLOBAL_POLICIES, policies, domain.name)
    report = evaluate(domain.products.values(), PolicyContext(mesh), governing)
    if report.errors():
        raise PolicyViolation(domain.name, report)
    governance = Governance(governing, report)
    LOCATION_GOVERNANCE[domain.name] = governance  # what `mesh rollback` audits with: the same as a publish here

    implementations = discover_products(root, folder) if products is None else {impl.name: impl for impl in products}
    for name, impl in implementations.items():
        if name not in domain.products:
            raise DescriptorError(domain.folder / "products" / f"{name}.yaml", None,
                                  f"missing: {impl.where} is an @product function for product {domain.name}.{name}, which has no descriptor")

    assets: list[Any] = [python_product_asset(domain.products[n], impl, root, governance) for n, impl in implementations.items()]
    dbt_models: set[str] = set()
    if domain.descriptor.dbt_project:
        from mesh_platform.orchestration.dbt.assets import build_dbt_assets
        from mesh_platform.orchestration.dbt.project import DomainDbtProject

        project = DomainDbtProject(domain.name, root / "dbt_projects" / domain.descriptor.dbt_project, root, dict(dbt_vars or {}), engine_for(domain))
        dbt = build_dbt_assets(domain, project, mesh, governance)
        assets.append(dbt)
        dbt_models = {key.path[-1] for key in dbt.keys if key.path[0] == domain.name}

    for name, product in domain.products.items():
        if name in implementations and name in dbt_models:
            raise DescriptorError(product.path, "name", f"product {product.id} has two implementations: {implementations[name].where} and the dbt model {name!r}; keep one")
        if name not in implementations and name not in dbt_models:
            where = f"no @product function named {name!r} in {domain.folder}/*.py" + (
                f" and no dbt model {name!r} in dbt_projects/{domain.descriptor.dbt_project}" if domain.descriptor.dbt_project else "")
            raise DescriptorError(product.path, "name", f"product {product.id} has no implementation: {where}")

    product_keys = {dg.AssetKey(list(p.key)) for p in domain.products.values()}
    internal_keys = {key for asset in assets for key in asset.keys} - product_keys  # dbt models that are no product
    build_job = dg.define_asset_job(build_job_name(domain.name), selection=dg.AssetSelection.all())
    automation = location_automation(domain, root, build_job, internal_keys)
    vacuum = retention_vacuum(domain.name, root)  # the contract's retention SLA, enforced daily
    slo_checks = domain_slo_checks(domain, root)  # measured SLOs, after every publish and on their schedule
    slo_jobs, slo_schedules = slo_schedule(domain.name, slo_checks)
    assets += inputs
    return dg.Definitions(
        assets=assets,
        asset_checks=slo_checks,
        resources={IO_MANAGER_KEY: PortIOManager(project_root=str(root), domain=domain.name)},
        jobs=[build_job, *automation.jobs, vacuum.job, *slo_jobs],
        schedules=[*automation.schedules, vacuum.schedule, *slo_schedules],
        sensors=automation.sensors,
        executor=executor_for(run_settings(root)),  # every job's, run by mesh build, a schedule, automation or the UI
        metadata={POLICY_REPORT_KEY: dg.MetadataValue.json(json.loads(report.to_json()))},
    )
