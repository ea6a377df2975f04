"""How dbt resources of a domain appear in Dagster.

Models get the key `[domain, model]`; a source named after another domain maps to that domain's
product key, so the cross-domain edge is visible in both dbt and Dagster. Product models carry
the same owners, description, tags, contract schema and freshness as Python products, and the
same automation: a model reading another domain's port (directly or through the domain's own
models) is rebuilt when that port publishes a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from mesh_platform.model.descriptor import Domain
from mesh_platform.orchestration.automation import on_new_input_version, reacting_products
from mesh_platform.orchestration.dbt.lineage import COLUMN_LINEAGE_KEY, dbt_column_lineage
from mesh_platform.orchestration.products.metadata import freshness_of, owners_of, policy_metadata, product_metadata, product_tags
from mesh_platform.runtime.engines import engine_for


class MeshDbtTranslator(DagsterDbtTranslator):
    def __init__(self, domain: Domain, root: Path, governance=None, manifest: Mapping[str, Any] | None = None):
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.domain = domain
        self.root = root
        self.governance = governance
        self.manifest = manifest  # to follow a model's lineage to the ports it reads
        self.engine = engine_for(domain)  # which sources are bound to output ports is the engine's to say
        self._reacting = reacting_products(domain.name, domain.products)
        self._reacts: dict[str, bool] = {}
        self._lineage: dict[str, dg.TableColumnLineage] | None = None  # compiled on first use

    def _product(self, props: Mapping[str, Any]):
        if props["resource_type"] == "model":
            return self.domain.products.get(props["name"])
        return None

    def get_asset_key(self, props: Mapping[str, Any]) -> dg.AssetKey:
        if props["resource_type"] == "source":
            return dg.AssetKey([props["source_name"], props["name"]])
        return dg.AssetKey([self.domain.name, props["name"]])

    def get_group_name(self, props: Mapping[str, Any]) -> str | None:
        return self.domain.name

    def get_description(self, props: Mapping[str, Any]) -> str:
        product = self._product(props)
        return product.descriptor.description if product else (props.get("description") or f"internal model {props['name']}")

    def get_owners(self, props: Mapping[str, Any]):
        product = self._product(props)
        if product:
            return owners_of(product)
        owner = self.domain.descriptor.owner
        return [f"team:{owner.team}", owner.contact]

    def get_tags(self, props: Mapping[str, Any]) -> Mapping[str, str]:
        product = self._product(props)
        return product_tags(product) if product else {"mesh/role": "internal"}

    def get_metadata(self, props: Mapping[str, Any]) -> Mapping[str, Any]:
        product = self._product(props)
        if not product:
            return {}
        metadata = product_metadata(product, self.root, policy_metadata(self.governance, product) if self.governance else None)
        if self._lineage is None:
            self._lineage = dbt_column_lineage(self.root, self.domain)
        if product.name in self._lineage:
            metadata[COLUMN_LINEAGE_KEY] = self._lineage[product.name]
        return metadata

    def get_automation_condition(self, props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        """Product models follow their descriptor (a scheduled product never reacts); internal
        models react when they are built from a port of another domain or from a reacting model,
        so that the products above them see the change."""
        if props["resource_type"] != "model":
            return None
        product = self._product(props)
        if product is not None and product.descriptor.schedule is not None:
            return None
        reacts = (product is not None and product.name in self._reacting) or self._reads_reacting(props)
        return on_new_input_version() if reacts else None

    def _reads_reacting(self, props: Mapping[str, Any]) -> bool:
        if self.manifest is None:
            return False
        unique_id = props["unique_id"]
        if unique_id not in self._reacts:
            self._reacts[unique_id] = False  # a cycle (dbt forbids them) ends here
            self._reacts[unique_id] = any(self._node_reacts(parent) for parent in props.get("depends_on", {}).get("nodes", []))
        return self._reacts[unique_id]

    def _node_reacts(self, unique_id: str) -> bool:
        assert self.manifest is not None
        if unique_id in self.manifest.get("sources", {}):
            source = self.manifest["sources"][unique_id]
            if not self.engine.binds_port(source):
                return False  # a domain's own raw data: its schedule publishes it
            return source["source_name"] != self.domain.name or source["name"] in self._reacting
        node = self.manifest.get("nodes", {}).get(unique_id)
        if node is None or node.get("resource_type") != "model":
            return False
        return self.get_automation_condition(node) is not None

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        product = self._product(self.get_resource_props(manifest, unique_id))
        if product:
            spec = spec.merge_attributes(kinds={"delta"}).replace_attributes(freshness_policy=freshness_of(product))
        return spec
