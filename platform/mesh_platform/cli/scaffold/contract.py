"""A scaffolded product's declaration: its ODCS contract and its descriptor.

The contract is built through the standard's own pydantic model (open_data_contract_standard),
so a misspelt field or a wrong type fails here, while planning, not when the mesh loads it.
"""

from __future__ import annotations

import yaml
from open_data_contract_standard.model import (
    DataQuality,
    Description,
    EnumValue,
    OpenDataContractStandard,
    Relationship,
    SchemaObject,
    SchemaProperty,
    ServiceLevelAgreementProperty,
    Team,
    TeamMember,
)

from mesh_platform.cli.scaffold.design import Col, Design
from mesh_platform.cli.scaffold.text import render
from mesh_platform.model.descriptor import ProductDescriptor

HEADER = (
    "# The product's ODCS v3 data contract: the port's schema, rules and SLAs. Every publish is cast\n"
    "# to these columns and checked against these rules first; a failing error rule blocks it.\n"
)
# Fields in the order a reader looks for them, at every level (the model's own order starts with
# `version` and puts a column's description before its type); fields not listed keep their order, last.
ORDER = ("apiVersion", "kind", "id", "name", "property", "value", "businessName", "physicalName", "logicalType", "physicalType",
         "primaryKey", "required", "logicalTypeOptions", "enum", "type", "metric", "arguments", "query", "mustBe",
         "mustBeGreaterThan", "mustBeLessThan", "unit", "element", "version", "status", "domain", "dataProduct", "severity",
         "purpose", "usage", "limitations", "description", "team", "username", "role", "members", "relationships", "quality", "properties", "schema",
         "slaProperties")
# Small mappings written on one line, as people write them: `logicalTypeOptions: {minimum: 1}`.
FLOW = ("logicalTypeOptions", "arguments", "enum", "members", "slaProperties")


class _Flow(dict):
    pass


class _FlowList(list):
    pass


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as the demo's contracts are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(_FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def _readable(value, key: str | None = None):
    """The dumped model in reading order, its small mappings in flow style."""
    if isinstance(value, list):
        items = [_readable(item, key) for item in value]
        return _FlowList(items) if key == "enum" else items
    if not isinstance(value, dict):
        return value
    rank = {name: i for i, name in enumerate(ORDER)}
    ordered = {k: _readable(value[k], k) for k in sorted(value, key=lambda k: rank.get(k, len(ORDER)))}
    return _Flow(ordered) if key in FLOW else ordered


def _property(column: Col) -> SchemaProperty:
    return SchemaProperty(
        name=column.name,
        businessName=column.business_name,
        logicalType=column.logical_type,
        physicalType=column.sql_type,
        primaryKey=True if column.primary_key else None,
        required=True if column.required and not column.primary_key else None,  # a primary key is required already
        logicalTypeOptions=column.options or None,
        enum=[EnumValue(value=value) for value in column.enum] or None,
        description=column.description,
        relationships=[Relationship(to=target) for target in column.relationships] or None,
        quality=[DataQuality(**rule) for rule in column.quality] or None,
    )


def contract_model(domain: str, product: str, design: Design, team: str, contact: str, freshness_sla: bool) -> OpenDataContractStandard:
    sla = ServiceLevelAgreementProperty(
        property="freshness", value=1, unit="d", element=f"{product}.{design.freshness}" if design.freshness else None,
        description="Published at least once a day.",
    )
    return OpenDataContractStandard(
        apiVersion="v3.2.0", kind="DataContract", id=f"urn:mesh:{domain}:{product}", name=product, version="1.0.0",
        status="active", domain=domain, dataProduct=product,
        description=Description(purpose=design.purpose, usage=design.usage, limitations=design.limitations),
        team=Team(name=team, members=[TeamMember(username=contact, role="owner")]),
        schema=[SchemaObject(
            name=product, physicalName=product, logicalType="object", description=design.table_description,
            quality=[DataQuality(**rule) for rule in design.table_quality],
            properties=[_property(column) for column in design.columns],
        )],
        slaProperties=[sla] if freshness_sla else None,
    )


def contract_text(domain: str, product: str, design: Design, team: str, contact: str, freshness_sla: bool) -> str:
    """The contract as YAML, in the standard's field names and nothing it does not define."""
    data = contract_model(domain, product, design, team, contact, freshness_sla).model_dump(mode="json", by_alias=True, exclude_none=True)
    return HEADER + yaml.dump(_readable(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def descriptor_text(product: str, design: Design, inputs: list[str], kind: str) -> str:

    # Where the platform publishes source-aligned products on a schedule: shown, not switched on.
    scheduled = kind == "source-aligned" and "schedule" in ProductDescriptor.model_fields
    return render("product.yaml.j2", product=product, description=design.description, inputs=inputs, scheduled=scheduled)
