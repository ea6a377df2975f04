"""A contract change is classified by what it means to consumers, and the version must follow."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mesh_platform.contracts.model import contract_from_mapping
from mesh_platform.contracts.versions import diff_contracts, required_version
from mesh_platform.errors import ContractError

COLUMNS = [
    {"name": "flight_id", "logicalType": "integer", "physicalType": "BIGINT", "primaryKey": True},
    {"name": "carrier", "logicalType": "string", "required": True, "description": "Carrier code."},
    {"name": "fare_class", "logicalType": "string", "enum": [{"value": "first"}, {"value": "economy"}]},
    {"name": "seats", "logicalType": "integer", "physicalType": "INTEGER"},
    {"name": "fare", "logicalType": "number", "physicalType": "DECIMAL(10,3)"},
    {"name": "passenger_email", "logicalType": "string", "classification": "pii",
     "customProperties": [{"property": "masking", "value": "hash"}]},
    {"name": "booked_on", "logicalType": "date"},
]


def odcs(version: str = "1.0.0", columns: list[dict] | None = None, **top) -> dict:
    """A valid ODCS v3.2.0 document with one schema object: the port's table."""
    properties = copy.deepcopy(COLUMNS if columns is None else columns)
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": "urn:test:sales:bookings",
        "version": version,
        "status": "active",
        "schema": [{"name": "bookings", "properties": properties}],
        **top,
    }


def contract(data: dict):
    return contract_from_mapping(data, Path("bookings.odcs.yaml"))


def edited(name: str, **fields) -> list[dict]:
    """COLUMNS with one column's fields replaced (a field set to None is dropped)."""
    columns = copy.deepcopy(COLUMNS)
    column = next(c for c in columns if c["name"] == name)
    column.update(fields)
    for key in [k for k, v in column.items() if v is None]:
        del column[key]
    return columns


def without(name: str) -> list[dict]:
    return [c for c in copy.deepcopy(COLUMNS) if c["name"] != name]


SLA = [{"property": "freshness", "value": 1, "unit": "d"}]

CASES = {
    "column removed": (without("carrier"), {}, "major", "carrier"),
    "column renamed": ([*without("carrier"), {"name": "carrier_code", "logicalType": "string"}], {}, "major", "renamed to carrier_code"),
    "int64 narrowed to int32": (edited("flight_id", physicalType="INTEGER"), {}, "major", "flight_id"),
    "decimal precision lowered": (edited("fare", physicalType="DECIMAL(8,3)"), {}, "major", "fare"),
    "string to integer": (edited("carrier", logicalType="integer"), {}, "major", "carrier"),
    "optional made required": (edited("seats", required=True), {}, "major", "seats"),
    "required made optional": (edited("carrier", required=None), {}, "major", "carrier"),
    "enum value removed": (edited("fare_class", enum=[{"value": "economy"}]), {}, "major", "fare_class: first"),
    "classification pii removed": (edited("passenger_email", classification=None), {}, "major", "passenger_email"),
    "masking removed": (edited("passenger_email", customProperties=None), {}, "major", "passenger_email"),
    "date to timestamp": (edited("booked_on", logicalType="timestamp"), {}, "major", "booked_on"),
    "primary key removed": (edited("flight_id", primaryKey=None), {}, "major", "flight_id"),
    "column added": ([*COLUMNS, {"name": "gate", "logicalType": "string", "required": True}], {}, "minor", "gate"),
    "int32 widened to int64": (edited("seats", physicalType="BIGINT"), {}, "minor", "seats"),
    "decimal precision raised": (edited("fare", physicalType="DECIMAL(12,3)"), {}, "minor", "fare"),
    "enum value added": (edited("fare_class", enum=[{"value": "first"}, {"value": "economy"}, {"value": "business"}]), {}, "minor", "business"),
    "enum introduced": (edited("carrier", enum=[{"value": "AA"}]), {}, "minor", "carrier"),
    "classification added": (edited("booked_on", classification="internal"), {}, "minor", "booked_on"),
    "quality rule added": (edited("seats", quality=[{"name": "seats_positive", "metric": "invalidValues", "arguments": {"validValues": [0]}, "mustBe": 0}]), {}, "minor", "seats_positive"),
    "column description changed": (edited("carrier", description="IATA carrier code."), {}, "patch", "carrier"),
    "column type spelt differently": (edited("carrier", physicalType="VARCHAR"), {}, "patch", "carrier"),
    "contract description changed": (None, {"description": {"purpose": "Bookings."}}, "patch", "description"),
    "SLA changed": (None, {"slaProperties": SLA}, "patch", "SLA"),
    "other column field changed": (edited("booked_on", tags=["calendar"]), {}, "patch", "booked_on"),
}


@pytest.mark.parametrize(("columns", "top", "level", "named"), CASES.values(), ids=CASES.keys())
def test_each_change_is_classified_and_named(columns, top, level, named):
    diff = diff_contracts(contract(odcs()), contract(odcs("1.0.0", columns, **top)))
    assert diff.required == level
    top_changes = [c for c in diff.changes if c.level == level]
    assert top_changes and any(named in c.text for c in top_changes), diff.changes


def test_an_unchanged_contract_needs_no_bump():
    diff = diff_contracts(contract(odcs()), contract(odcs()))
    assert diff.changes == [] and diff.required is None and diff.problem() is None


def test_sla_change_is_patch_when_the_contract_already_had_one():
    longer = [{"property": "freshness", "value": 2, "unit": "d"}]
    diff = diff_contracts(contract(odcs(slaProperties=SLA)), contract(odcs("1.0.1", slaProperties=longer)))
    assert diff.required == "patch" and diff.problem() is None


def test_a_rename_is_a_removal_and_an_addition():
    renamed = [*without("carrier"), {"name": "carrier_code", "logicalType": "string"}]
    diff = diff_contracts(contract(odcs()), contract(odcs("2.0.0", renamed)))
    assert [(c.level, c.subject) for c in diff.changes][:2] == [("major", "carrier"), ("minor", "carrier_code")]
    assert diff.changes[0].text == "column carrier removed (renamed to carrier_code?)"


def test_breaking_change_with_a_minor_bump_is_a_problem_naming_the_major():
    columns = [c for c in edited("fare_class", enum=[{"value": "economy"}]) if c["name"] != "carrier"]
    diff = diff_contracts(contract(odcs()), contract(odcs("1.1.0", columns)))
    assert diff.bumped == "minor"
    assert diff.problem() == (
        "contract version 1.0.0 -> 1.1.0 is not enough: breaking changes need a major bump (2.0.0): "
        "column carrier removed; enum values removed from fare_class: first"
    )


def test_breaking_change_with_a_major_bump_is_fine():
    diff = diff_contracts(contract(odcs()), contract(odcs("2.0.0", without("carrier"))))
    assert diff.bumped == "major" and diff.required == "major" and diff.problem() is None


def test_additive_change_with_a_patch_bump_is_a_problem():
    added = [*COLUMNS, {"name": "gate", "logicalType": "string"}]
    problem = diff_contracts(contract(odcs("1.4.2")), contract(odcs("1.4.3", added))).problem()
    assert problem == "contract version 1.4.2 -> 1.4.3 is not enough: additive changes need a minor bump (1.5.0): column gate added"


def test_additive_change_with_an_unchanged_version_is_a_problem():
    added = [*COLUMNS, {"name": "gate", "logicalType": "string"}]
    diff = diff_contracts(contract(odcs()), contract(odcs("1.0.0", added)))
    assert diff.bumped is None
    assert diff.problem() == "contract version 1.0.0 is unchanged: changes need at least a minor bump (1.1.0): column gate added"


def test_a_downgrade_is_a_problem_even_without_changes():
    diff = diff_contracts(contract(odcs("1.2.0")), contract(odcs("1.1.9")))
    assert diff.bumped == "downgrade"
    assert "1.2.0 -> 1.1.9 goes down" in diff.problem()


def test_required_version_is_the_smallest_bump():
    assert required_version("1.4.2", "major") == "2.0.0"
    assert required_version("1.4.2", "minor") == "1.5.0"
    assert required_version("1.4.2", "patch") == "1.4.3"


def test_contract_major_is_the_pinned_version():
    assert contract(odcs("3.1.4")).major == 3


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0.0", "", "1.0.0-rc.1", 1.0])
def test_a_contract_version_must_be_semantic(version):
    with pytest.raises(ContractError) as raised:
        contract(odcs(version))
    assert raised.value.field == "version"
    if version:
        assert "expected a semantic version MAJOR.MINOR.PATCH (e.g. 1.2.0)" in str(raised.value)
        assert f"found '{version}'" in str(raised.value)
