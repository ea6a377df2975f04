"""`mesh build` runs the domains of one wave at once (MESH_BUILD_CONCURRENCY) and gives the same
report as one domain at a time; a failing domain still stops its dependents. dbt reuses its parse
state from one build to the next, and still sees an edited model."""

from __future__ import annotations

import json
import shutil
import subprocess

import dagster as dg
import pytest
from deltalake import DeltaTable

from tests.conftest import BIN, copy_project, mesh_env

# Waves: shared and fleet, then weather and flight_operations, then punctuality (reads fleet.aircraft).
DOMAINS = ["shared", "fleet", "weather", "flight_operations", "punctuality"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("concurrency") / "project")
    model = root / "dbt_projects" / "fleet" / "models" / "aircraft.sql"
    model.write_text(model.read_text().replace("cast(seats as integer)", "cast(seats as integer) / 0 * no_such_column"))
    return root


def build(project, home, concurrency: int, *domains: str) -> tuple[subprocess.CompletedProcess, dict]:
    args = [str(BIN / "mesh"), "build", "--json", *[a for d in domains for a in ("--domain", d)]]
    env = mesh_env(home, MESH_BUILD_CONCURRENCY=str(concurrency))
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    return done, json.loads(done.stdout)


def outcome(report: dict) -> dict[str, tuple]:
    """What a user reads in the report, minus what differs between any two builds (times, run ids)."""
    return {
        **{d["domain"]: (d["status"], d["error"]) for d in report["domains"]},
        **{p["product"]: (p["status"], p["rows"], p["detail"]) for p in report["products"]},
    }


def test_a_wave_built_at_once_reports_what_one_at_a_time_does_and_a_failure_stops_its_dependents(project, tmp_path):
    at_once, report = build(project, tmp_path / "at_once", 2, *DOMAINS)
    one_by_one, sequential = build(project, tmp_path / "one_by_one", 1, *DOMAINS)

    assert at_once.returncode == one_by_one.returncode == 1
    assert outcome(report) == outcome(sequential)
    status = outcome(report)
    assert status["fleet"][0] == "failed" and "no_such_column" in status["fleet"][1]
    assert status["shared"] == ("succeeded", None) and status["weather"] == ("succeeded", None)
    skipped = {p: s for p, s in status.items() if p.startswith("punctuality.") and s[0] == "skipped"}
    assert skipped and all("input fleet.aircraft" in detail for _, _, detail in skipped.values())
    assert any(s[0] == "published" and s[1] for p, s in status.items() if p.startswith("shared."))
    assert "model.fleet.aircraft" in status["fleet"][1]  # the failed node, named as a sequential build names it

    # The two domains of the first wave really ran at the same time, each in its own run: each
    # run was recorded before the other ended.
    with dg.DagsterInstance.from_config(str(tmp_path / "at_once" / "dagster")) as instance:
        runs = {r.dagster_run.job_name: r for r in instance.get_run_records()}
    shared, fleet = runs["build_shared"], runs["build_fleet"]
    assert shared.create_timestamp.timestamp() < fleet.end_time and fleet.create_timestamp.timestamp() < shared.end_time
    log = (tmp_path / "at_once" / "logs" / "build.log").read_text()
    assert "Running with dbt" in log  # the runs' own processes' output lands in build.log too


def dbt_log(home, domain: str) -> str:
    return (home / "dbt" / domain / "target" / "dbt.log").read_text()


def seats(home) -> list[int]:
    return DeltaTable(str(home / "storage" / "fleet" / "aircraft" / "v1")).to_pyarrow_table().column("seats").to_pylist()


def test_a_second_build_reuses_dbts_parse_state_and_still_sees_an_edited_model(tmp_path):
    root = copy_project(tmp_path / "project")
    # The copy's dbt state came from a parse against another mesh home (dbt keys it on the profile,
    # whose DuckDB path is under the home): this mesh's load parses afresh, as a new checkout does.
    shutil.rmtree(root / "dbt_projects" / "fleet" / "target")
    home = tmp_path / "home"
    first, _ = build(root, home, 1, "fleet")
    assert first.returncode == 0, first.stderr
    assert "PartialParsingSkipParsing" in dbt_log(home, "fleet")  # the load-time parse's state, not a full parse
    before = seats(home)

    model = root / "dbt_projects" / "fleet" / "models" / "aircraft.sql"
    model.write_text(model.read_text().replace("cast(seats as integer) as seats", "cast(seats as integer) + 1 as seats"))
    second, report = build(root, home, 1, "fleet")
    assert second.returncode == 0, second.stdout
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 1 files changed." in dbt_log(home, "fleet")  # only the edited file parsed again
    after = seats(home)
    assert len(after) == len(before) > 0 and sum(after) == sum(before) + len(before)  # the edit is in the port
    assert {p["product"]: p["rows"] for p in report["products"]}["fleet.aircraft"] == len(after)
