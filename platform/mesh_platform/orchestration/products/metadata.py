"""What the platform tells Dagster about a product: owners, tags, contract schema, freshness,
and how it is kept up to date (its automation condition)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.model.descriptor import Product
from mesh_platform.model.durations import format_duration
from mesh_platform.model.lifecycle import status_of
from mesh_platform.model.policies import Governance, report_markdown
from mesh_platform.orchestration.automation import condition_for
from mesh_platform.orchestration.io_manager import CONTRACT_KEY, PARTITION_COLUMN_KEY, column_schema

IO_MANAGER_KEY = "mesh_port"
COLUMN_LINEAGE_KEY = "dagster/column_lineage"  # Dagster's own key: the UI draws it


DAGSTER_MIN_FRESHNESS = dt.timedelta(minutes=1)  # Dagster refuses a shorter fail_window


def freshness_of(product: Product) -> dg.FreshnessPolicy | None:
    """The contract's freshness SLA as a Dagster freshness policy (shown in the UI). A window
    under a minute is shown as one minute; the `slo_freshness` check measures the exact one."""
    sla = product.contract.service_level("freshness")
    return dg.FreshnessPolicy.time_window(fail_window=max(sla.window, DAGSTER_MIN_FRESHNESS)) if sla and sla.window else None


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
        # Said as the catalog says it (`1 day`), never as a timedelta's str (`1 day, 0:00:00`).
        metadata[f"mesh/sla/{level.property}"] = format_duration(level.window) if level.window else (level.description or "")
    if product.descriptor.partitioning:
        metadata[PARTITION_COLUMN_KEY] = product.descriptor.partitioning.column
    if product.descriptor.lineage:
        metadata[COLUMN_LINEAGE_KEY] = declared_lineage(product)
    return {**metadata, **(governance or {})}


def declared_lineage(product: Product) -> dg.TableColumnLineage:
    """A product's column lineage as its descriptor declares it (`lineage:`); each input column is
    the producer domain's asset's, so the lineage crosses domains in the UI."""
    return dg.TableColumnLineage(deps_by_column={
        output: [dg.TableColumnDep(asset_key=dg.AssetKey(origin.split(".")[:2]), column_name=origin.split(".")[2]) for origin in origins]
        for output, origins in product.descriptor.lineage})


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
