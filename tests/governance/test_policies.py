"""Every shipped global policy: one mesh that passes it, one that fails it with the expected message."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import Governance, PolicyContext, PolicyReport, combine, evaluate
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES
from mesh_platform.runtime.ports.delta import publish
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.publishing import commit_metadata
from mesh_platform.runtime.quality.engine import audit
from tests.helpers.mini_mesh import column, contract, edited, write_mesh

TODAY = dt.date(2026, 11, 22)
READINGS = "domains/lab"


def lab_contract(files):
    return files[READINGS]["contracts/readings.odcs.yaml"]


def lab_columns(files):
    return lab_contract(files)["schema"][0]["properties"]


def add_vault(access: str, readers=()):
    """A third domain holding one product with the given access level, read by lab."""
    def change(files):
        descriptor = {"name": "secrets", "description": "Secret keys of the vault domain for tests.", "access": access}
        if readers:
            descriptor["readers"] = list(readers)
        files["domains/vault"] = {
            "domain.yaml": {"name": "vault", "kind": "source-aligned", "description": "A domain that keeps things.", "owner": {"team": "vault_team", "contact": "vault@mesh.example"}},
            "products/secrets.yaml": descriptor,
            "contracts/secrets.odcs.yaml": contract("vault", "secrets", [column("secret_id", primaryKey=False)]),
        }
        files[READINGS]["products/readings.yaml"]["inputs"] = ["shared.airports", "vault.secrets"]
    return change


CASES = {
    "valid-contract": (
        lambda f: lab_contract(f).update(dataProduct="other_product"),
        "dataProduct: expected 'readings' (the product claiming this contract), found 'other_product'",
    ),
    "owner-contact": (lambda f: lab_contract(f).pop("team"), "readings.odcs.yaml names no team"),
    "meaningful-description": (
        lambda f: f[READINGS]["products/readings.yaml"].update(description="TODO"),
        "the description 'TODO' is a placeholder",
    ),
    "columns-documented": (lambda f: lab_columns(f)[1].pop("description"), "column 'reading_value' has no description"),
    "snake-case-names": (lambda f: lab_columns(f)[1].update(name="ReadingValue"), "column 'ReadingValue' is not snake_case (e.g. 'reading_value')"),
    "global-identifiers": (
        lambda f: lab_columns(f)[0].pop("relationships"),
        "column 'station' carries the global identifier shared.airports.faa but declares no relationship to it",
    ),
    "personal-data-protected": (
        lambda f: lab_columns(f).append(column("operator_email")),
        "column 'operator_email' looks like personal data but has no classification",
    ),
    "source-freshness-sla": (lambda f: lab_contract(f).pop("slaProperties"), "declares no freshness SLA"),
    "no-domain-cycles": (
        lambda f: f["shared_assets"]["products/airports.yaml"].update(inputs=["lab.readings"]),
        "its inputs shared.airports close the cycle",
    ),
    "readable-inputs": (
        add_vault("restricted"),
        "consumer lab.readings may not read vault.secrets: it is restricted to its owner domain 'vault' [policy readable-inputs]",
    ),
    "released-inputs": (
        lambda f: f["shared_assets"]["contracts/airports.odcs.yaml"].update(status="proposed"),
        "consumer lab.readings may not read shared.airports: its contract is proposed, readable only by its owner domain 'shared' until it is active",
    ),
    "deprecated-inputs": (
        lambda f: f["shared_assets"]["contracts/airports.odcs.yaml"].update(
            status="deprecated", customProperties=[{"property": "retireOn", "value": "2026-12-31"}]),
        "consumer lab.readings reads shared.airports, which is deprecated, retiring on 2026-12-31 (39 days)",
    ),
    "known-readers": (
        lambda f: f[READINGS]["products/readings.yaml"].update(access="internal", readers=["shared", "sharred"]),
        "domains/lab/products/readings.yaml: readers[1]: no domain 'sharred' in this mesh, so it grants nothing (did you mean 'shared'?)",
    ),
    "declared-columns": (
        lambda f: f[READINGS]["products/readings.yaml"].update(columns={"shared.airports": ["faa", "city"]}),
        "readings.yaml: columns.shared.airports: shared.airports declares no column 'city'",
    ),
    "supported-input-versions": (
        lambda f: (
            f["shared_assets"]["contracts/airports.odcs.yaml"].update(
                version="2.0.0", customProperties=[{"property": "previousMajorReadableUntil", "value": "2026-01-31"}]),
            f[READINGS]["products/readings.yaml"].update(inputs=["shared.airports@v1"]),
        ),
        "pins shared.airports@v1, retired on 2026-01-31: reads are refused; move to v2",
    ),
    "available-dependencies": (
        lambda f: f["shared_assets"]["contracts/airports.odcs.yaml"]["schema"][0]["properties"][1].update(required="yes"),
        "relationship station -> shared.airports.faa cannot be checked: the contract of shared.airports does not load",
    ),
}


def findings(root, policy_id: str, product: str = "lab.readings"):
    mesh = Mesh.load(root)
    assert not mesh.broken, mesh.broken
    report = evaluate(mesh.products(), PolicyContext(mesh, today=TODAY), combine(GLOBAL_POLICIES, (), "lab"))
    return [f for f in report.findings if f.policy == policy_id and f.product == product]


def test_every_shipped_policy_has_a_case():
    declarative = {p.id for p in GLOBAL_POLICIES if p.audit_rules is None}
    # contract-version is below (it needs a published port); consumer-impact too, in tests/governance/test_consumer_impact_policy.py
    assert declarative - {"contract-version", "consumer-impact"} == set(CASES)


@pytest.mark.parametrize("policy_id", sorted(CASES))
def test_a_policy_passes_the_base_mesh_and_fails_the_changed_one(tmp_path, mesh_home, policy_id):
    change, expected = CASES[policy_id]
    [passing] = findings(write_mesh(tmp_path / "good", edited()), policy_id)
    assert passing.status == "pass", passing
    [failing] = findings(write_mesh(tmp_path / "bad", edited(change)), policy_id)
    assert failing.status == "fail", failing
    assert any(expected in message for message in failing.messages), failing.messages


def test_access_allow_list_passes_readable_inputs(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(add_vault("internal", readers=["lab"])))
    [finding] = findings(root, "readable-inputs")
    assert finding.status == "pass"


def _publish(root, product_id: str):
    mesh = Mesh.load(root)
    product = mesh.find(*product_id.split("."))
    table = product.contract.arrow_schema().empty_table()
    uri = port_store(root).uri(product.domain, product.name, product.contract.major)
    publish(uri, table, product.contract.arrow_schema(), label=product.id, commit_metadata=commit_metadata(product.contract, product.id, "test"))


def test_contract_version_compares_with_the_published_port(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited())
    [first] = findings(root, "contract-version")
    assert first.status == "pass"  # never published: any version is a first version
    _publish(root, "lab.readings")

    write_mesh(root, edited(lambda f: lab_columns(f).pop(1)))  # a column removed, still 1.0.0
    [breaking] = findings(root, "contract-version")
    assert breaking.status == "fail"
    assert "major bump (2.0.0)" in breaking.messages[0] and "column reading_value removed" in breaking.messages[0]

    def minor_bump(f):
        lab_columns(f).pop(1)
        lab_contract(f)["version"] = "1.1.0"
    write_mesh(root, edited(minor_bump))
    assert "1.0.0 -> 1.1.0" in findings(root, "contract-version")[0].messages[0]

    def major_bump(f):
        minor_bump(f)
        lab_contract(f)["version"] = "2.0.0"
    write_mesh(root, edited(major_bump))
    [undated] = findings(root, "contract-version")
    assert "declare until when consumers can still read v1" in undated.messages[0]

    def dated(f):
        major_bump(f)
        lab_contract(f)["customProperties"] = [{"property": "previousMajorReadableUntil", "value": "2027-06-30"}]
    write_mesh(root, edited(dated))
    assert findings(root, "contract-version")[0].status == "pass"


def test_the_run_time_policy_refuses_email_addresses_in_unclassified_columns(tmp_path, mesh_home):
    def note_and_status(f):
        lab_columns(f).append(column("note"))
        lab_columns(f).append(column("status") | {"enum": [{"value": "ok"}, {"value": "faulty"}]})  # an enum rule guards it

    root = write_mesh(tmp_path, edited(note_and_status))
    product = Mesh.load(root).find("lab", "readings")
    rules = Governance(combine(GLOBAL_POLICIES, (), "lab"), PolicyReport()).audit_rules(product)
    policy_rules = [r for r in rules if r.name.startswith("policy_")]
    assert {r.name for r in policy_rules} == {"policy_no_unclassified_email_station", "policy_no_unclassified_email_note"}
    airports = pa.table({"faa": ["JFK", "EWR"], "name": ["Kennedy", "Newark"]})

    def run(notes):
        batch = pa.table({"station": ["JFK", "EWR"], "reading_value": [1.0, 2.0], "note": notes})
        with duckdb.connect() as con:
            con.register("batch", batch)
            return {r.rule.name: r for r in audit(con, "batch", policy_rules, personal_columns=[], references=lambda d, p, columns: airports)}

    clean = run(["calibrated", None])
    assert all(r.passed for r in clean.values())
    leaked = run(["calibrated", "call jane.doe@example.org"])
    assert not leaked["policy_no_unclassified_email_note"].passed
    assert leaked["policy_no_unclassified_email_note"].failing_rows == 1
    assert run(["@home", "ping @ops"])["policy_no_unclassified_email_note"].passed  # an '@' alone is no address


@pytest.mark.parametrize("partition_column,expected", [
    ("taken_on", "expected a column of the contract readings.odcs.yaml, found 'taken_on'"),
    ("station", "expected a required DATE column, found 'station' (VARCHAR)"),
])
def test_a_monthly_port_is_partitioned_on_a_required_date_column_of_its_contract(tmp_path, mesh_home, partition_column, expected):
    partitioning = {"column": partition_column, "start": "2013-01-01", "end": "2014-01-01"}
    root = write_mesh(tmp_path, edited(lambda f: f[READINGS]["products/readings.yaml"].update(partitioning=partitioning)))
    [finding] = findings(root, "valid-contract")
    assert finding.status == "fail" and f"partitioning.column: {expected}" in finding.messages[0]
