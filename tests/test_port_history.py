"""A port's past: rollback, withdrawal of a major, time travel and the retention vacuum.

On a small mesh written for each test: `shared.carriers`, whose `contact` column is personal
(so each publish also writes its masked projection), published through the real write path;
`lab` is a consumer domain that sees `contact` masked. The `mesh` commands run as subprocesses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import yaml
import pytest
from deltalake import DeltaTable

from mesh_platform.model.access import AccessDenied
from mesh_platform.model.contracts.versions import withdrawal_problem
from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader, os_user
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import PolicyContext
from mesh_platform.runtime.ports.history import parse_as_of, port_history
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.ports.withdrawal import WithdrawnPortError, latest_serving, withdraw
from mesh_platform.orchestration.retention_schedule import retention_vacuum
from mesh_platform.runtime.global_policies import contract_version
from mesh_platform.runtime.publishing import commit
from mesh_platform.runtime.reading import plan_read, read_table
from mesh_platform.runtime.retention import oldest_kept, vacuum_mesh
from mesh_platform.runtime.rollback import rollback
from tests.conftest import run_mesh
from tests.helpers.mini_mesh import column, contract, write_mesh

GOOD = {"carrier": ["AA", "UA", "DL"], "name": ["American", "United", "Delta"], "contact": ["a@x.example", "u@x.example", "d@x.example"]}
BAD = {"carrier": ["AA"], "name": ["American"], "contact": ["a@x.example"]}  # too few: breaks `carriers_listed` once declared
NEWER = {"carrier": ["AA", "UA", "DL", "B6"], "name": ["American", "United", "Delta", "JetBlue"], "contact": ["a@x.example", "u@x.example", "d@x.example", "b@x.example"]}


def carriers_contract(version: str = "1.0.0", *, rule: bool = True, **extra) -> dict:
    document = contract("shared", "carriers", [
        column("carrier", primaryKey=True), column("name", required=True),
        column("contact", classification="pii", customProperties=[{"property": "masking", "value": "hash"}]),
    ], **extra)
    document["version"] = version
    document["slaProperties"].append({"property": "retention", "value": 1, "unit": "d"})
    if rule:
        document["schema"][0]["quality"] = [{"name": "carriers_listed", "metric": "rowCount", "mustBeGreaterOrEqualTo": 2,
                                             "description": "Every carrier flying from the hub is listed."}]
    return document


def mesh_files(carriers: dict) -> dict:
    owner = {"team": "lab_team", "contact": "lab@mesh.example"}
    return {
        "shared_assets": {
            "domain.yaml": {"name": "shared", "kind": "source-aligned", "description": "Reference data every domain joins to.",
                            "owner": {"team": "governance", "contact": "gov@mesh.example"}},
            "products/carriers.yaml": {"name": "carriers", "description": "Every carrier flying from the hub, with its contact."},
            "contracts/carriers.odcs.yaml": carriers,
        },
        "domains/lab": {
            "domain.yaml": {"name": "lab", "kind": "consumer-aligned", "description": "A laboratory domain for tests.", "owner": owner},
        },
    }


@pytest.fixture
def mesh_root(tmp_path, mesh_home) -> Path:
    return write_mesh(tmp_path / "mesh", mesh_files(carriers_contract(rule=False)))


def carriers(root: Path):
    return Mesh.load(root).find("shared", "carriers")


def publish(root: Path, rows: dict) -> int:
    product = carriers(root)
    result = commit(port_store(root, acting="shared"), "shared", "carriers", product.contract, pa.table(rows), run_id="test-run", root=root)
    time.sleep(0.01)  # commit timestamps are in ms: keep versions apart in time
    return result.version


def read(root: Path, domain: str, **options) -> pa.Table:
    product = carriers(root)
    table = read_table(plan_read(Mesh.load(root), domain_reader(domain), product, **options))
    return table.sort_by("carrier")


def port(home: Path, major: int = 1, masked: bool = False) -> Path:
    return home / "storage" / "shared" / "carriers" / ("masked" if masked else "") / f"v{major}"


def mesh(root: Path, home: Path, *args: str):
    return run_mesh(list(args), home, cwd=root, timeout=120)


# -- rollback ------------------------------------------------------------------------------------

def test_rollback_restores_an_earlier_version_as_a_new_one_and_the_masked_projection_follows(mesh_root, mesh_home):
    assert publish(mesh_root, GOOD) == 0
    assert publish(mesh_root, NEWER) == 1
    result = rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="operator 'ana' as domain 'shared'")
    assert (result.version, result.rows) == (2, 3)
    assert read(mesh_root, "shared").column("carrier").to_pylist() == ["AA", "DL", "UA"]
    masked = read(mesh_root, "lab")  # the consumer reads the projection: raw version 2, masked
    assert masked.column("carrier").to_pylist() == ["AA", "DL", "UA"] and "a@x.example" not in masked.column("contact").to_pylist()
    projection = DeltaTable(str(port(mesh_home, masked=True)))
    assert projection.history(1)[0]["mesh.projection_of_version"] == "2"
    latest = port_history(port_store(mesh_root), str(port(mesh_home)))[0]
    assert (latest.version, latest.rollback_of, latest.by, latest.rows, latest.contract_version) == (2, 0, "operator 'ana' as domain 'shared'", 3, "1.0.0")

    listed = mesh(mesh_root, mesh_home, "history", "shared.carriers")
    assert listed.returncode == 0, listed.stderr
    assert "rollback to v0 by operator 'ana' as domain 'shared'" in listed.stdout and "1.0.0" in listed.stdout


def test_a_rollback_to_a_version_that_breaks_todays_rules_is_refused_and_nothing_changes(mesh_root, mesh_home):
    publish(mesh_root, BAD)  # version 0: one carrier, before the contract asked for two
    write_mesh(mesh_root, mesh_files(carriers_contract("1.1.0")))
    publish(mesh_root, GOOD)  # version 1
    folders = sorted(p.name for p in port(mesh_home).iterdir())
    with pytest.raises(MeshError, match=r"rollback of shared.carriers to version 0 refused: .*carriers_listed"):
        rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="test")
    assert DeltaTable(str(port(mesh_home))).version() == 1 and DeltaTable(str(port(mesh_home, masked=True))).version() == 1
    assert sorted(p.name for p in port(mesh_home).iterdir()) == folders  # its staged files went with it
    assert read(mesh_root, "shared").num_rows == 3


def test_only_the_owner_may_roll_back(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    publish(mesh_root, NEWER)
    with pytest.raises(AccessDenied, match="domain 'lab' may not roll back shared.carriers: only its owner, domain 'shared', may"):
        rollback(mesh_root, carriers(mesh_root), 0, acting="lab", by="test")
    refused = mesh(mesh_root, mesh_home, "rollback", "shared.carriers", "--to-version", "0", "--as", "lab")
    assert refused.returncode == 1 and "only its owner, domain 'shared', may" in refused.stderr
    assert DeltaTable(str(port(mesh_home))).version() == 1
    done = mesh(mesh_root, mesh_home, "rollback", "shared.carriers", "--to-version", "0")
    assert done.returncode == 0, done.stderr
    assert "version 2 restores the 3 rows of version 0" in done.stdout
    # Local disk binds no identity (one trusted user, docs/security.md): the commit says who it was.
    assert port_history(port_store(mesh_root), str(port(mesh_home)))[0].by == f"operator {os_user()!r} as domain 'shared'"
    assert "\n" not in refused.stderr.strip()  # the refusal is one line


# -- time travel ---------------------------------------------------------------------------------

def test_a_port_is_read_as_of_a_version_or_a_moment_masked_readers_on_the_projection(mesh_root, mesh_home):
    before_any = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    publish(mesh_root, GOOD)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    publish(mesh_root, NEWER)
    assert read(mesh_root, "shared").num_rows == 4
    assert read(mesh_root, "shared", as_of=0).num_rows == 3
    assert read(mesh_root, "shared", as_of=between).num_rows == 3
    owner_plan = plan_read(Mesh.load(mesh_root), domain_reader("shared"), carriers(mesh_root), as_of=between)
    masked_plan = plan_read(Mesh.load(mesh_root), domain_reader("lab"), carriers(mesh_root), as_of=0)
    assert "masked" not in owner_plan.uri and masked_plan.uri.endswith("masked/v1") and masked_plan.version == 0
    assert read(mesh_root, "lab", as_of=0).num_rows == 3
    with pytest.raises(MeshError, match=r"^shared.carriers has no version as of .*: its oldest version \(0\) was published at "):
        read(mesh_root, "shared", as_of=before_any)
    with pytest.raises(MeshError, match="shared.carriers has no version 7: its versions go from 0 to 1"):
        read(mesh_root, "shared", as_of=7)

    by_version = mesh(mesh_root, mesh_home, "sql", "--as", "lab", "--as-of", "0", "--json", "-c", "select count(*) as n from shared.carriers")
    assert by_version.returncode == 0, by_version.stderr
    assert json.loads(by_version.stdout) == [{"n": 3}]
    by_moment = mesh(mesh_root, mesh_home, "sql", "--as-of", between.isoformat(), "--json", "-c", "select carrier from shared.carriers order by 1")
    assert by_moment.returncode == 0, by_moment.stderr
    assert [r["carrier"] for r in json.loads(by_moment.stdout)] == ["AA", "DL", "UA"]


def test_every_major_a_consumer_may_pin_is_a_view_in_mesh_sql(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    two = carriers_contract("2.0.0", customProperties=[{"property": "previousMajorReadableUntil", "value": "2099-12-31"}])
    two["schema"][0]["properties"][1]["description"] = "The carrier's full name, as registered."
    write_mesh(mesh_root, mesh_files(two))
    publish(mesh_root, NEWER)
    result = mesh(mesh_root, mesh_home, "sql", "--as", "lab", "--json", "-c",
                  'select (select count(*) from shared.carriers) as current, (select count(*) from shared."carriers@v1") as pinned')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"current": 4, "pinned": 3}]


# -- withdrawal ----------------------------------------------------------------------------------

def test_a_withdrawn_major_is_refused_to_a_pinned_consumer_with_the_reason_and_the_major_to_move_to(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    two = carriers_contract("2.0.0", customProperties=[{"property": "previousMajorReadableUntil", "value": "2099-12-31"}])
    write_mesh(mesh_root, mesh_files(two))
    publish(mesh_root, NEWER)
    refused = mesh(mesh_root, mesh_home, "withdraw", "shared.carriers@v2", "--reason", "contacts were swapped", "--as", "lab")
    assert refused.returncode == 1 and "only its owner, domain 'shared', may" in refused.stderr
    done = mesh(mesh_root, mesh_home, "withdraw", "shared.carriers@v2", "--reason", "contacts were swapped")
    assert done.returncode == 0, done.stderr
    store = port_store(mesh_root)
    assert (port(mesh_home, 2) / "_mesh_withdrawn.json").exists() and (port(mesh_home, 2, masked=True) / "_mesh_withdrawn.json").exists()
    with pytest.raises(WithdrawnPortError, match=r"^domain 'lab' reads shared.carriers@v2, withdrawn by its owner on \d{4}-\d\d-\d\d: "
                                                r"contacts were swapped; move to v1$"):
        read(mesh_root, "lab", major=2)
    assert read(mesh_root, "lab", major=1).num_rows == 3  # pinned to v1: still served
    assert read(mesh_root, "shared", major=2).num_rows == 4  # its owner still reads what it withdrew
    catalog = mesh(mesh_root, mesh_home, "catalog", "--json")
    assert catalog.returncode == 0, catalog.stderr
    (entry,) = json.loads(catalog.stdout)
    assert entry["withdrawn_majors"] == {"v2": "contacts were swapped"}
    sql = mesh(mesh_root, mesh_home, "sql", "--as", "lab", "--json", "-c", 'select count(*) as n from shared."carriers@v1"')
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": 3}]  # the current major is withdrawn: v1 is still a view
    assert "reads shared.carriers@v2, withdrawn by its owner on " in " ".join(sql.stderr.split())
    # The version policy: v2 takes no more publishes; going back to 1.x or on to 3.0.0 may.
    assert latest_serving(store, "shared", "carriers")[0] == 1
    def version_policy() -> list[str]:
        return list(contract_version.check(carriers(mesh_root), PolicyContext(Mesh.load(mesh_root))))

    assert version_policy() == ["contract version 2.0.0 publishes to v2, which its owner withdrew (contacts were swapped): "
                                "publish a major above it (3.0.0) or go back to an earlier major"]
    write_mesh(mesh_root, mesh_files(carriers_contract("1.1.0")))  # back to 1.x: compared with v1's 1.0.0, not v2's 2.0.0
    assert version_policy() == []
    three = carriers_contract("3.0.0", customProperties=[{"property": "previousMajorReadableUntil", "value": "2099-12-31"}])
    write_mesh(mesh_root, mesh_files(three))
    assert version_policy() == []
    assert withdrawal_problem(carriers(mesh_root).contract, {2: "contacts were swapped"}) is None
    with pytest.raises(ValueError, match=r"shared.carriers@v5 was never published \(published majors: v1, v2\)"):
        withdraw(store, "shared", "carriers", 5, "why", acting="shared", by="test")
    with pytest.raises(AccessDenied, match="domain 'lab' may not withdraw shared.carriers@v1: only its owner"):
        withdraw(store, "shared", "carriers", 1, "why", acting="lab", by="test")


# -- retention -----------------------------------------------------------------------------------

def test_the_retention_vacuum_removes_expired_versions_and_orphans_keeps_the_latest_and_says_so_on_reads(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    first = dt.datetime.now(dt.timezone.utc)  # when version 0 was the latest
    publish(mesh_root, NEWER)
    publish(mesh_root, GOOD)
    orphan = port(mesh_home) / "w-0123456789abcdef" / "part-0.parquet"  # a killed publish's staged file
    orphan.parent.mkdir()
    orphan.write_bytes(b"PAR1")
    old = time.time() - 7 * 3600
    os.utime(orphan, (old, old))
    files_before = {p for p in port(mesh_home).rglob("*.parquet") if "_delta_log" not in p.parts}

    within = vacuum_mesh(mesh_root, "shared")  # today: every version is within the 1-day retention
    raw = next(r for r in within if r.uri == str(port(mesh_home)))
    assert (raw.oldest_kept, raw.latest, raw.files) == (0, 2, ["w-0123456789abcdef/part-0.parquet"])
    assert not orphan.exists() and read(mesh_root, "shared", as_of=0).num_rows == 3

    dry = mesh(mesh_root, mesh_home, "vacuum", "--domain", "shared", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "retention 1 day; versions 0..2 kept; would remove 0 files, 0 log entries" in dry.stdout

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)  # every version but the latest expired
    preview = vacuum_mesh(mesh_root, "shared", now=later, dry_run=True)
    assert read(mesh_root, "shared", as_of=0).num_rows == 3  # a dry run removes nothing
    done = vacuum_mesh(mesh_root, "shared", now=later)
    assert [(r.uri, r.files, r.log_entries) for r in done] == [(r.uri, r.files, r.log_entries) for r in preview]
    raw = next(r for r in done if r.uri == str(port(mesh_home)))
    assert (raw.oldest_kept, raw.latest) == (2, 2) and raw.files and raw.log_entries
    assert any(r.uri == str(port(mesh_home, masked=True)) and r.files for r in done)  # the projection too
    kept = {p for p in port(mesh_home).rglob("*.parquet") if "_delta_log" not in p.parts}
    assert kept < files_before - {orphan}
    assert read(mesh_root, "shared").num_rows == 3 and read(mesh_root, "lab").num_rows == 3  # the latest is kept
    for as_of in (0, first):
        with pytest.raises(MeshError, match=r"^shared.carriers cannot be read as of .*: the retention vacuum of .* removed it "
                                            r"\(retention 1 day\); its oldest readable version is 2$"):
            read(mesh_root, "shared", as_of=as_of)
    with pytest.raises(MeshError, match="the retention vacuum"):
        read(mesh_root, "lab", as_of=0)
    with pytest.raises(MeshError, match="shared.carriers cannot be read as of version 1: the retention vacuum"):
        read(mesh_root, "shared", version=1)  # a run pinned to a version, re-executed after the vacuum
    with pytest.raises(MeshError, match="shared.carriers cannot be read as of version 0: the retention vacuum"):
        rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="test")
    listed = mesh(mesh_root, mesh_home, "history", "shared.carriers")
    assert listed.returncode == 0, listed.stderr
    assert "versions before 2 removed by the retention vacuum of " in listed.stdout and "(retention 1 day)" in listed.stdout


def test_each_domain_runs_its_vacuum_daily_as_a_dagster_job(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    orphan = port(mesh_home) / "w-fedcba9876543210" / "part-0.parquet"
    orphan.parent.mkdir()
    orphan.write_bytes(b"PAR1")
    old = time.time() - 7 * 3600
    os.utime(orphan, (old, old))
    vacuum = retention_vacuum("shared", mesh_root)
    assert (vacuum.schedule.name, vacuum.schedule.cron_schedule, vacuum.schedule.job_name) == ("vacuum_shared_daily", "30 3 * * *", "vacuum_shared")
    assert vacuum.schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert vacuum.job.execute_in_process().success
    assert not orphan.exists() and read(mesh_root, "shared").num_rows == 3


def test_the_versions_a_retention_keeps_and_how_as_of_is_typed():
    day = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    commits = [{"version": v, "timestamp": int((day + dt.timedelta(days=v)).timestamp() * 1000)} for v in range(5)]
    assert oldest_kept(commits, day + dt.timedelta(days=2, hours=12)) == 2  # version 2 was the latest at the cutoff
    assert oldest_kept(commits, day - dt.timedelta(days=1)) == 0  # everything is within the retention
    assert oldest_kept(commits, day + dt.timedelta(days=9)) == 4  # the latest is always kept
    assert parse_as_of("12") == 12
    assert parse_as_of("2026-12-01T08:00:00") == dt.datetime(2026, 12, 1, 8, tzinfo=dt.timezone.utc)
    assert parse_as_of("2026-12-01T08:00:00+01:00").utcoffset() == dt.timedelta(hours=1)
    for typed in ("²", "-1", "yesterday"):
        with pytest.raises(MeshError, match=f"--as-of {typed!r}: expected a port version"):
            parse_as_of(typed)


# -- on an object store --------------------------------------------------------------------------

@pytest.mark.objectstore
def test_on_an_object_store_each_domain_goes_back_with_its_own_keys(mesh_root, tmp_path, monkeypatch):
    from mesh_platform.runtime.objectstore.access import apply_access  # reason: the object-store helpers load only for this test
    from tests.helpers.objectstore import local_s3, s3_settings

    home = tmp_path / "home"
    monkeypatch.setenv("MESH_HOME", str(home))
    with local_s3(home, mesh_root) as server:
        for name, value in s3_settings(server, home).items():
            monkeypatch.setenv(name, value)
        apply_access(mesh_root, Mesh.load(mesh_root))
        publish(mesh_root, GOOD)
        publish(mesh_root, NEWER)
        assert rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="test").version == 2
        assert read(mesh_root, "lab", as_of=1).num_rows == 4  # the masked reader, on the projection, with its own keys
        assert read(mesh_root, "lab").num_rows == 3
        withdraw(port_store(mesh_root, acting="shared"), "shared", "carriers", 1, "contacts were swapped", acting="shared", by="test")
        with pytest.raises(WithdrawnPortError, match="contacts were swapped; no other major is published yet"):
            read(mesh_root, "lab")
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
        done = vacuum_mesh(mesh_root, "shared", now=later)
        assert all(r.oldest_kept == r.latest == 2 and r.files and r.log_entries for r in done) and len(done) == 2
        with pytest.raises(MeshError, match="shared.carriers cannot be read as of version 0: the retention vacuum"):
            read(mesh_root, "shared", as_of=0)


def test_an_older_major_is_vacuumed_with_the_retention_it_was_published_with(mesh_root, mesh_home):
    publish(mesh_root, GOOD)
    publish(mesh_root, NEWER)  # major 1 promised a 1-day retention
    path = mesh_root / "shared_assets" / "contracts" / "carriers.odcs.yaml"
    document = yaml.safe_load(path.read_text())
    document["version"] = "2.0.0"  # the working tree moves to major 2, keeping 30 days
    document["slaProperties"] = [s for s in document["slaProperties"] if s["property"] != "retention"]
    document["slaProperties"].append({"property": "retention", "value": 30, "unit": "d"})
    path.write_text(yaml.safe_dump(document))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    done = vacuum_mesh(mesh_root, "shared", now=later, dry_run=True)
    assert {r.uri for r in done} == {str(port(mesh_home)), str(port(mesh_home, masked=True))}
    for result in done:  # raw and projection: major 1's own day, not the 30 days major 2 promises
        assert (result.retention, result.oldest_kept, result.latest) == (dt.timedelta(days=1), 1, 1), result.uri


def test_a_rollback_is_audited_with_the_domains_own_policies_as_a_publish_is(mesh_root, mesh_home):
    from mesh_platform.model.policies import Governance, PolicyReport, combine, policy
    from mesh_platform.model.rule_spec import Metric, Rule
    from mesh_platform.runtime.global_policies import GLOBAL_POLICIES

    # shared's own policy (what its definitions.py passes as `policies=`): only United and Delta listed.
    no_american = policy("no-american", "American is no longer listed.", audit_rules=lambda product: [Rule(
        name="policy_no_american", description="[policy no-american] American is not listed", severity="error",
        metric=Metric.ACCEPTED_VALUES, columns=("name",), arguments={"values": ["United", "Delta"]})])(lambda product, context: [])
    governance = Governance(combine(GLOBAL_POLICIES, [no_american], "shared"), PolicyReport())
    publish(mesh_root, GOOD)
    publish(mesh_root, {"carrier": ["UA", "DL"], "name": ["United", "Delta"], "contact": ["u@x.example", "d@x.example"]})
    with pytest.raises(MeshError, match=r"rollback of shared.carriers to version 0 refused: .*policy_no_american") as refused:
        rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="test", governance=governance)
    assert "\n" not in str(refused.value)
    assert port_history(port_store(mesh_root), str(port(mesh_home)))[0].version == 1  # nothing changed
    assert rollback(mesh_root, carriers(mesh_root), 0, acting="shared", by="test").version == 2  # the global policies alone let it through


IMPLEMENTATION = '''
import pandas as pd

from mesh_platform import product


@product
def carriers() -> pd.DataFrame:
    return pd.DataFrame({"carrier": ["UA"], "name": ["United"], "contact": ["u@x.example"]})
'''

LOCATION = '''
from mesh_platform import domain_definitions, policy
from mesh_platform.model.rule_spec import Metric, Rule


@policy("listed-names", "Only United and Delta are listed.", audit_rules=lambda product: [Rule(
    name="policy_listed_names", description="[policy listed-names] only United and Delta", severity="error",
    metric=Metric.ACCEPTED_VALUES, columns=("name",), arguments={"values": ["United", "Delta"]})])
def listed_names(product, context):
    return []


defs = domain_definitions(__file__, policies=[listed_names])
'''


def test_mesh_rollback_loads_the_domains_own_policies_from_its_location(mesh_root, mesh_home):
    (mesh_root / "shared_assets" / "definitions.py").write_text(LOCATION)  # shared's own policy, as a domain adds one
    (mesh_root / "shared_assets" / "carriers.py").write_text(IMPLEMENTATION)
    (mesh_root / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "shared_assets.definitions", "working_directory": ".", "location_name": "shared"}}]}))
    publish(mesh_root, GOOD)
    publish(mesh_root, {"carrier": ["UA", "DL"], "name": ["United", "Delta"], "contact": ["u@x.example", "d@x.example"]})
    refused = mesh(mesh_root, mesh_home, "rollback", "shared.carriers", "--to-version", "0")
    assert refused.returncode == 1 and "policy_listed_names" in refused.stderr, refused.stderr
    assert port_history(port_store(mesh_root), str(port(mesh_home)))[0].version == 1  # nothing changed
