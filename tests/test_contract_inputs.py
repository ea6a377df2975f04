"""Bad contracts and descriptors: each gives ONE clear error naming the file, the field and what
was expected, when the domain loads; the other domains still load (`mesh validate`)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mesh_platform import domain_definitions
from mesh_platform.model.errors import DescriptorError
from shared_assets.reference_data import airports, calendar, carriers
from tests.conftest import copy_project, run_mesh

CARRIERS = "shared_assets/contracts/carriers.odcs.yaml"
AIRCRAFT = "domains/fleet/contracts/aircraft.odcs.yaml"
# A product model's yml is generated from its contract; one written by hand beside it is refused.
FLEET_YML = "dbt_projects/fleet/models/aircraft.yml"


def edit(path: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        file = root / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, count))
    return apply


def write(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(text)


CARRIER_PROPERTY = "      - name: carrier\n        businessName: carrier_code\n        logicalType: string\n"
QUALITY = "    quality:\n      - {name: carriers_listed, metric: rowCount, mustBeGreaterOrEqualTo: 10, description: The list has every carrier flying from NYC.}\n"

CASES = {
    "malformed YAML": (edit(CARRIERS, "    properties:\n", "    properties: [\n"), CARRIERS, re.compile(r"line \d+, column \d+"), "malformed YAML"),
    "unknown logicalType": (edit(CARRIERS, CARRIER_PROPERTY, "      - name: carrier\n        businessName: carrier_code\n        logicalType: text\n"),
                            CARRIERS, "schema[0].properties[0].logicalType", "'text' is not one of"),
    "missing required ODCS field": (edit(CARRIERS, "version: 1.0.0\n", ""), CARRIERS, "version", "required ODCS field is missing"),
    "rule naming an unknown column": (edit(CARRIERS, QUALITY, "    quality:\n      - {metric: duplicateValues, arguments: {properties: [carrier, code]}, mustBe: 0}\n"),
                                      CARRIERS, "schema[0].quality[0].arguments.properties", "names columns ['code'] that the contract does not declare"),
    "duplicate column names": (edit(CARRIERS, "      - {name: name,", "      - {name: carrier,"), CARRIERS, "schema[0].properties[1].name", "duplicate column 'carrier'"),
    "pattern that is not a regex": (edit(CARRIERS, 'pattern: "[A-Z0-9]{2}"', 'pattern: "[A-Z"'), CARRIERS,
                                    "schema[0].properties[0].logicalTypeOptions.pattern", "not a valid regular expression"),
    "minimum greater than maximum": (edit(AIRCRAFT, "logicalTypeOptions: {minimum: 1, maximum: 4}", "logicalTypeOptions: {minimum: 5, maximum: 4}"),
                                     AIRCRAFT, "schema[0].properties[5].logicalTypeOptions", "minimum 5.0 is greater than maximum 4.0"),
    "empty enumeration": (edit(CARRIERS, "      - {name: name, logicalType: string, physicalType: VARCHAR, required: true, description: Airline name.}",
                               "      - name: name\n        logicalType: string\n        quality: [{metric: invalidValues, arguments: {validValues: []}, mustBe: 0}]"),
                          CARRIERS, "schema[0].properties[1].quality[0].arguments.validValues", "expected a non-empty list of valid values"),
    "unknown quality metric": (edit(CARRIERS, "metric: rowCount", "metric: rowCnt"), CARRIERS, "schema[0].quality[0].metric", "'rowCnt' is not one of"),
    "SLA with an unknown unit": (edit(CARRIERS, "value: 30, unit: d,", "value: 30, unit: fortnights,"), CARRIERS, "slaProperties[0].unit", "unknown unit 'fortnights'"),
    "SLA element naming an unknown column": (edit(CARRIERS, "element: carriers.carrier", "element: carriers.code"), CARRIERS,
                                             "slaProperties[0].element", "names column 'code'"),
    "sql rule that does not bind": (edit(CARRIERS, QUALITY, "    quality:\n      - {name: names_present, type: sql, query: 'SELECT count(*) FROM ${table} WHERE nam IS NULL', mustBe: 0}\n"),
                                    CARRIERS, "quality rule names_present", "the sql does not run"),
    "relationship to no product": (edit(AIRCRAFT, "      - {name: manufacturer,", "      - {name: manufacturer, relationships: [{to: shared.carrier.name}],"),
                                   AIRCRAFT, "schema[0].properties[2].relationships", "references shared.carrier, which no domain publishes; closest: shared.carriers"),
    "unknown rule severity": (edit(CARRIERS, "mustBeGreaterOrEqualTo: 10,", "mustBeGreaterOrEqualTo: 10, severity: fatal,"), CARRIERS,
                              "schema[0].quality[0].severity", "expected one of error, warning, info"),
    "contract for a product that does not exist": (write("shared_assets/contracts/timezones.odcs.yaml", "apiVersion: v3.2.0\n"),
                                                   "shared_assets/contracts/timezones.odcs.yaml", None, "no product claims this contract"),
    "two products claiming the same port": (write("shared_assets/products/airlines.yaml", "name: airlines\ndescription: x\ncontract: contracts/carriers.odcs.yaml\n"),
                                            "shared_assets/products/carriers.yaml", "contract", "already claimed by product 'airlines'"),
    "a hand-written yml for a product model": (write(FLEET_YML, "version: 2\nmodels:\n  - name: aircraft\n    columns: [{name: seats, data_type: varchar}]\n"),
                                               FLEET_YML, "models.aircraft", "is described by the platform's generated models/_mesh/aircraft.yml (from its contract)"),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("pristine") / "project")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_error_naming_file_and_field(case, pristine, tmp_path):
    mutate, file, field, expected = CASES[case]
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    mutate(root)
    domain = "shared_assets" if file.startswith("shared_assets") or "carriers" in file else "domains/fleet"
    products = [airports, carriers, calendar] if domain == "shared_assets" else []
    with pytest.raises(DescriptorError) as error:
        domain_definitions(root / domain / "definitions.py", products=products)
    assert Path(error.value.path) == (root / file).resolve() or Path(error.value.path) == root / file
    if isinstance(field, re.Pattern):
        assert field.fullmatch(error.value.field)
    else:
        assert error.value.field == field
    assert expected in error.value.expected
    assert str(error.value).count("\n") == 0  # one line a person can read


def test_mesh_validate_names_the_broken_domain_and_checks_the_others(pristine, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    edit("domains/weather/contracts/hourly_observations.odcs.yaml", "value: 1, unit: d,", "value: 1, unit: lunar_month,")(root)
    write("domains/fleet/products/aircraft.yaml", "name: aircraft\ndescription: TODO\n")(root)  # a warning policy
    result = run_mesh(["validate", "--json"], tmp_path / "home", cwd=root)
    assert result.returncode == 1
    reports = {r["domain"]: r for r in json.loads(result.stdout)}
    assert reports["weather"]["ok"] is False
    assert "hourly_observations.odcs.yaml: slaProperties[0].unit: unknown unit 'lunar_month'" in reports["weather"]["error"]
    assert all(reports[d]["ok"] for d in ("shared", "flight_operations", "fleet", "punctuality", "loyalty", "customer_insights"))
    # Policies: one finding per product and policy, also for the domain that did not load.
    findings = {(f["product"], f["policy"]): f for r in reports.values() for f in r["policies"]}
    assert {p for p, _ in findings} == {p for r in reports.values() for p in (f"{r['domain']}.{n}" for n in r["products"])}
    weather_contract = findings[("weather.hourly_observations", "valid-contract")]
    assert weather_contract["status"] == "fail" and "unknown unit 'lunar_month'" in weather_contract["messages"][0]
    described = findings[("fleet.aircraft", "meaningful-description")]
    assert (described["status"], described["severity"]) == ("fail", "warning")  # reported; fleet still deploys
    assert findings[("punctuality.route_performance", "readable-inputs")]["status"] == "pass"

    table = run_mesh(["validate"], tmp_path / "home", cwd=root)
    assert table.returncode == 1
    assert "fleet.aircraft" in table.stdout and "meaningful" in table.stdout and "warning" in table.stdout
