"""How dbt resources of a domain appear in Dagster.

Models get the key `[domain, model]`; a source named after another domain maps to that domain's
product key, so the cross-domain edge is visible in both dbt and Dagster. Product models carry
the same owners, description, tags, contract schema and freshness as Python products.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from ..products.descriptor import Domain
from ..products.metadata import freshness_of, owners_of, product_metadata, product_tags


class MeshDbtTranslator(DagsterDbtTranslator):
    def __init__(self, domain: Domain, root: Path, governance=None):
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.domain = domain
        self.root = root
        self.governance = governance

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
        return product_metadata(product, self.root, self.governance.metadata(product) if self.governance else None)

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        product = self._product(self.get_resource_props(manifest, unique_id))
        if product:
            spec = spec.merge_attributes(kinds={"delta"}).replace_attributes(freshness_policy=freshness_of(product))
        return spec
