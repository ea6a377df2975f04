"""What the platform tells Dagster about a product: owners, tags, contract schema, freshness,
and how it is kept up to date (its automation condition)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.model.descriptor import Product
from mesh_platform.model.lifecycle import status_of
from mesh_platform.model.policies import Governance, report_markdown
from mesh_platform.orchestration.automation import condition_for
from mesh_platform.orchestration.io_manager import CONTRACT_KEY, PARTITION_COLUMN_KEY, column_schema

IO_MANAGER_KEY = "mesh_port"


def freshness_of(product: Product) -> dg.FreshnessPolicy | None:
    """The contract's freshness SLA as a Dagster freshness policy (shown in the UI)."""
    sla = product.contract.service_level("freshness")
    return dg.FreshnessPolicy.time_window(fail_window=sla.window) if sla and sla.window else None


def product_metadata(product: Product, root: Path, governance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Definition metadata shown in the UI and read by the IO manager (and the policy results)."""
    contract = product.contract
    metadata: dict[str, Any] = {
        "mesh/product": product.id,
        "mesh/kind": product.kind,
        "mesh/access": product.descriptor.access,
        CONTRACT_KEY: str(product.contract_path.relative_to(root)),
        "mesh/contract_version": contract.version,
        "mesh/status": contract.odcs.status,  # the lifecycle (model/lifecycle.py): who may read it now
        "mesh/inputs": ", ".join(i.id for i in product.inputs) or "none",
        "dagster/column_schema": column_schema(contract),
    }
    for level in contract.service_levels:
        metadata[f"mesh/sla/{level.property}"] = str(level.window or level.description or "")
    if product.descriptor.partitioning:
        metadata[PARTITION_COLUMN_KEY] = product.descriptor.partitioning.column
    return {**metadata, **(governance or {})}


def product_tags(product: Product) -> dict[str, str]:
    return {**{t: "" for t in product.descriptor.tags}, "mesh/role": "product", "mesh/kind": product.kind,
            "mesh/status": status_of(product)}


def owners_of(product: Product) -> list[str]:
    return [f"team:{product.owner.team}", product.owner.contact]


def automation_condition_of(product: Product, root: Path) -> dg.AutomationCondition | None:
    """A product reading other domains' ports is rebuilt when they publish a new version; a
    source-aligned product publishes on its schedule (see mesh_platform.orchestration.automation)."""
    return condition_for(product, root)


def asset_attributes(product: Product, root: Path, governance: dict[str, Any] | None = None) -> dict[str, Any]:
    """The attributes every product asset shares, whatever builds it."""
    return dict(
        description=product.descriptor.description,
        owners=owners_of(product),
        group_name=product.domain,
        tags=product_tags(product),
        metadata=product_metadata(product, root, governance),
        freshness_policy=freshness_of(product),
        automation_condition=automation_condition_of(product, root),
    )


def policy_metadata(governance: Governance, product: Product) -> dict[str, Any]:
    """The policies' verdict on a product, as its asset shows it in the UI."""
    findings = governance.report.for_product(product.id)
    failed = [f for f in findings if f.status == "fail"]
    summary = f"{len(findings) - len(failed)} of {len(findings)} policies pass" + (
        f"; warnings: {', '.join(f.policy for f in failed)}" if failed else "")
    return {"mesh/policies": dg.MetadataValue.md(report_markdown(findings)), "mesh/policy_status": summary}
