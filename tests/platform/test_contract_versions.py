"""A contract change is classified by what it means to consumers, and the version must follow."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from mesh_platform.model.contracts.model import contract_from_mapping
from mesh_platform.model.contracts.versions import diff_contracts, required_version
from mesh_platform.model.errors import ContractError
from tests.conftest import run_mesh
from tests.governance.test_port_majors import publish_readings, standalone_readings
from tests.helpers.mini_mesh import edited as mesh_edited
from tests.helpers.mini_mesh import write_mesh

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
    "partition declared the month of a date": (
        edited("booked_on", customProperties=[{"property": "derivedFrom", "value": "booked_at"}]), {}, "minor", "booked_on_derived_from_booked_at"),
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


# -- YAML dates: a contract means the date whether it is quoted or not ------------------------------


def test_an_unquoted_yaml_date_is_read_as_its_iso_text(tmp_path):
    """docs/governance.md writes `value: 2027-06-30` unquoted; YAML reads it as a date, which the
    ODCS schema (strings only) refused with "datetime.date(2027, 6, 30) is not valid ..."."""
    from mesh_platform.model.contracts.model import parse_contract
    from mesh_platform.model.contracts.versions import retirement_of

    data = odcs("2.0.0", edited("booked_on", logicalTypeOptions={"minimum": dt.date(2013, 1, 1)}),
                customProperties=[{"property": "previousMajorReadableUntil", "value": dt.date(2027, 6, 30)}])
    path = tmp_path / "bookings.odcs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert "value: 2027-06-30\n" in path.read_text()  # unquoted, exactly as the docs show it
    parsed = parse_contract(path)
    assert retirement_of(parsed) == dt.date(2027, 6, 30)
    assert parsed.column("booked_on").options == {"minimum": "2013-01-01"}


# -- `mesh contract diff` and `mesh validate` give one verdict ----------------------------------------


def _readings_contract(files) -> dict:
    return files["domains/lab"]["contracts/readings.odcs.yaml"]


def _published_then(change):
    def apply(files):
        standalone_readings(files)
        change(_readings_contract(files))
    return apply


def _drop_value(c):
    c["schema"][0]["properties"].pop(1)


def _add_note(c):
    c["schema"][0]["properties"].append({"name": "note", "logicalType": "string", "physicalType": "VARCHAR", "description": "A note."})


def _retires(c, value):
    c["customProperties"] = [{"property": "previousMajorReadableUntil", "value": value}]


AGREEMENT = {
    "unchanged": (lambda c: None, True),
    "breaking, same version": (_drop_value, False),
    "breaking, minor bump": (lambda c: (_drop_value(c), c.update(version="1.1.0")), False),
    "breaking, major bump, no retirement date": (lambda c: (_drop_value(c), c.update(version="2.0.0")), False),
    "breaking, major bump, unquoted retirement date": (
        lambda c: (_drop_value(c), c.update(version="2.0.0"), _retires(c, dt.date(2027, 6, 30))), True),
    "additive, patch bump": (lambda c: (_add_note(c), c.update(version="1.0.1")), False),
    "additive, minor bump": (lambda c: (_add_note(c), c.update(version="1.1.0")), True),
    "downgrade": (lambda c: c.update(version="0.9.0"), False),
}


def _as_locations(root: Path, products: dict[str, str]) -> None:
    """Make each mini-mesh domain a code location of workspace.yaml, as `mesh validate` loads them."""
    entries = []
    for domain, product in products.items():
        folder = "shared_assets" if domain == "shared" else f"domains/{domain}"  # shared lives in shared_assets/
        (root / folder / "definitions.py").write_text(
            "import pandas as pd\nfrom mesh_platform import domain_definitions\nfrom mesh_platform.model.product import PythonProduct\n"
            f"defs = domain_definitions(__file__, products=[PythonProduct({product!r}, lambda: pd.DataFrame())])\n"
        )
        module = folder.replace("/", ".") + ".definitions"
        entries.append(f"  - python_module: {{module_name: {module}, working_directory: ., location_name: {domain}}}")
    (root / "workspace.yaml").write_text("load_from:\n" + "\n".join(entries) + "\n")


def test_contract_diff_and_validate_agree_on_every_version_change(tmp_path, mesh_home):
    """They disagreed: `contract diff` only asked whether the bump fit the change, `validate` also
    wanted a new major to declare the old one's retirement date, so diff said "version 2.0.0 fits
    the change" (exit 0) for a contract validate refused. Now both call `release_problem`."""
    root = write_mesh(tmp_path, mesh_edited(standalone_readings))
    _as_locations(root, {"lab": "readings", "desk": "summary"})
    publish_readings(root, dg.DagsterInstance.ephemeral(), pd.DataFrame({"station": ["JFK"], "reading_value": [1.0]}))
    verdicts = {}
    for case, (change, acceptable) in AGREEMENT.items():
        write_mesh(root, mesh_edited(_published_then(change)))
        _as_locations(root, {"lab": "readings", "desk": "summary"})
        diff = run_mesh(["contract", "diff", "lab.readings", "--json"], mesh_home, cwd=root)
        validate = run_mesh(["validate", "--json"], mesh_home, cwd=root)
        reports = json.loads(validate.stdout)
        findings = [f for r in reports for f in r["policies"]
                    if f["product"] == "lab.readings" and f["policy"] == "contract-version"]
        refused_by_validate = any(f["status"] == "fail" for f in findings)
        problem = json.loads(diff.stdout)["problem"] if diff.stdout.strip() else diff.stderr
        verdicts[case] = (diff.returncode == 0, not refused_by_validate)
        assert verdicts[case] == (acceptable, acceptable), (case, problem, reports)
        if not acceptable:
            assert problem and all(problem in m for f in findings for m in f["messages"]), (case, problem, findings)


def test_dropping_a_partition_derivation_is_a_patch():
    derived = edited("booked_on", customProperties=[{"property": "derivedFrom", "value": "booked_at"}])
    diff = diff_contracts(contract(odcs("1.0.0", derived)), contract(odcs("1.0.1")))
    assert [(c.level, c.text) for c in diff.changes] == [("patch", "booked_on no longer declared the month of booked_at")]
    assert diff.problem() is None
