"""With MESH_INSTANCE_STORAGE=postgres every process of the mesh shares one instance in a real
PostgreSQL: `mesh build` records there (in-process or queued through the daemon), `mesh dev`'s
webserver and daemon read and write there, the catalog reads check results from there, and the
warehouse pools hold across the processes that share it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.settings import prepared_dagster_home
from tests.conftest import BIN, ROOT, free_port, group_ends, mesh_env
from tests.helpers.postgres import PostgresServer, postgres_server
from tests.test_workspace import graphql

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as running:
        yield running


@pytest.fixture
def postgres_env(server, tmp_path) -> dict[str, str]:
    """A fresh database for the test's instance: only its own runs are there."""
    url = server.new_database(f"mesh_{uuid.uuid4().hex[:12]}")
    return {"MESH_INSTANCE_STORAGE": "postgres", "MESH_POSTGRES_URL": url}


def mesh(args: list[str], home: Path, settings: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "mesh"), *args], cwd=ROOT, env=mesh_env(home, **settings), capture_output=True, text=True, timeout=timeout)


def open_instance(home: Path, settings: dict[str, str], monkeypatch) -> dg.DagsterInstance:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)  # the instance's dagster.yaml names MESH_POSTGRES_URL
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def table_rows(output: str) -> list[list[str]]:
    """The cells of `mesh build`'s final table (product, rows, port version, status)."""
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in output.splitlines() if line.startswith("│")]


def stop(process: subprocess.Popen) -> None:
    with_group = process.pid
    if process.poll() is None:
        os.killpg(with_group, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            process.wait()
    assert group_ends(with_group, timeout=60), "processes of the group still run"


def test_build_records_runs_events_and_checks_in_postgres_which_mesh_dev_and_the_catalog_read(server, postgres_env, tmp_path, monkeypatch):
    home = tmp_path / "home"
    build = mesh(["build", "--domain", "shared", "--domain", "fleet"], home, postgres_env)
    assert build.returncode == 0, build.stdout + build.stderr
    url = postgres_env["MESH_POSTGRES_URL"]
    runs = dict(server.query(url, "select pipeline_name, run_id from runs where status = 'SUCCESS'"))
    assert set(runs) == {"build_shared", "build_fleet"}
    for run_id in runs.values():
        assert server.query(url, "select count(*) from event_logs where run_id = %s", run_id)[0][0] > 10
    checks = dict(server.query(url, "select run_id, count(*) from asset_check_executions group by run_id"))
    assert checks.get(runs["build_shared"], 0) > 0 and checks.get(runs["build_fleet"], 0) > 0
    assert not list((home / "dagster").rglob("*.db"))  # no SQLite run, event or schedule storage
    config = (home / "dagster").joinpath("dagster.yaml").read_text()
    assert "env: MESH_POSTGRES_URL" in config and server.password not in config

    catalog = mesh(["catalog", "--json"], home, postgres_env, timeout=300)
    assert catalog.returncode == 0, catalog.stderr
    states = {entry["product"]: entry["checks"] for entry in json.loads(catalog.stdout)}
    assert states["shared.airports"]["run_id"] == runs["build_shared"] and states["shared.airports"]["status"] == "passed"
    assert states["fleet.aircraft"]["run_id"] == runs["build_fleet"]

    port = free_port()
    dev = subprocess.Popen([str(BIN / "mesh"), "dev", "--port", str(port)], cwd=ROOT, env=mesh_env(home, **postgres_env),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        query = """{ runsOrError { ... on Runs { results { runId jobName status } } }
                     instance { daemonHealth { daemonStatus(daemonType: "QUEUED_RUN_COORDINATOR") { healthy } } } }"""
        deadline, shown = time.monotonic() + 300, None
        while time.monotonic() < deadline:
            assert dev.poll() is None, "mesh dev exited"
            try:
                shown = graphql(port, query)
                if shown["instance"]["daemonHealth"]["daemonStatus"]["healthy"]:
                    break  # the daemon's heartbeat reached Postgres and the webserver read it there
            except OSError:
                pass
            time.sleep(2)
        assert shown is not None and shown["instance"]["daemonHealth"]["daemonStatus"]["healthy"], shown
        listed = {(r["jobName"], r["runId"], r["status"]) for r in shown["runsOrError"]["results"]}
        assert listed == {(job, run_id, "SUCCESS") for job, run_id in runs.items()}
        heartbeats = server.query(url, "select daemon_type from daemon_heartbeats")
        assert ("QUEUED_RUN_COORDINATOR",) in heartbeats
    finally:
        stop(dev)


DOMAINS = ["shared", "fleet", "weather"]  # two waves: weather's rules read shared.airports


@pytest.mark.timeout(1800)  # two builds of three domains, one through a daemon it starts
def test_a_queued_build_runs_through_the_daemon_in_waves_and_reports_as_the_in_process_build(postgres_env, tmp_path, monkeypatch):
    """The daemon launches every domain's run; producers' runs end before their consumers' start,
    and the report is the in-process build's."""
    selection = [arg for domain in DOMAINS for arg in ("--domain", domain)]
    in_process = mesh(["build", *selection], tmp_path / "in_process", {})
    assert in_process.returncode == 0, in_process.stdout + in_process.stderr
    home = tmp_path / "home"
    build = mesh(["build", "--queued", *selection], home, postgres_env, timeout=1500)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "starting one for this build" in build.stdout and "stopped the dagster daemon this build started" in build.stdout
    assert table_rows(build.stdout) == table_rows(in_process.stdout)

    with open_instance(home, postgres_env, monkeypatch) as instance:
        records = {r.dagster_run.job_name.removeprefix("build_"): r for r in instance.get_run_records()}
    assert set(records) == set(DOMAINS)
    assert {r.dagster_run.status for r in records.values()} == {dg.DagsterRunStatus.SUCCESS}
    assert len({r.dagster_run.tags["mesh/build"] for r in records.values()}) == 1  # the UI shows them as one build's
    dependencies = Mesh.load(ROOT).domain_dependencies()
    assert "shared" in dependencies["weather"]
    for consumer in DOMAINS:
        for producer in set(dependencies.get(consumer, ())) & set(DOMAINS):
            assert records[producer].end_time <= records[consumer].start_time, f"{consumer} started before {producer} ended"


def dbt_step(instance: dg.DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    """When the run's dbt step started and ended."""
    times = {}
    for kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
        (record,) = [r for r in instance.get_records_for_run(run_id, of_type=kind).records if r.event_log_entry.step_key == step]
        times[kind] = record.event_log_entry.timestamp
    return times[dg.DagsterEventType.STEP_START], times[dg.DagsterEventType.STEP_SUCCESS]


DAEMON_WORKSPACE = """\
load_from:
  - python_module: {{module_name: domains.fleet.definitions, working_directory: {root}, location_name: fleet}}
  - python_module: {{module_name: domains.weather.definitions, working_directory: {root}, location_name: weather}}
"""


def test_runs_of_one_dbt_domain_take_turns_in_its_pool_while_other_domains_overlap(postgres_env, tmp_path, monkeypatch):
    """Three queued builds submitted together, from three processes, to a daemon already running
    (each build leaves it alone): the two runs of fleet never run their dbt steps at once (the
    domain's warehouse pool, limit 1, held in Postgres); weather's dbt step, in its own pool, runs
    beside them."""
    home = tmp_path / "home"
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(DAEMON_WORKSPACE.format(root=ROOT))
    for name, value in {**postgres_env, "MESH_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    prepared_dagster_home(ROOT)  # the dagster.yaml written from settings, as the builds will find it
    open_instance(home, postgres_env, monkeypatch).dispose()  # the schema, before the daemon and the builds race to create it
    shared = mesh(["build", "--domain", "shared"], home, postgres_env)  # weather's rules read shared.airports
    assert shared.returncode == 0, shared.stdout + shared.stderr
    env = mesh_env(home, **postgres_env, DAGSTER_HOME=str(home / "dagster"))
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with open_instance(home, postgres_env, monkeypatch) as instance:
            deadline = time.monotonic() + 300
            while not [h for h in instance.get_daemon_heartbeats() if h == "QUEUED_RUN_COORDINATOR"] and time.monotonic() < deadline:
                assert daemon.poll() is None, "the daemon exited"
                time.sleep(1)
        builds = [
            subprocess.Popen([str(BIN / "mesh"), "build", "--queued", "--domain", domain], cwd=ROOT, env=mesh_env(home, **postgres_env),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for domain in ("fleet", "fleet", "weather")
        ]
        outputs = [b.communicate(timeout=900)[0] for b in builds]
        assert [b.returncode for b in builds] == [0, 0, 0], outputs
        assert not any("starting one for this build" in output for output in outputs)  # the running daemon was used
        assert daemon.poll() is None  # and left running
        with open_instance(home, postgres_env, monkeypatch) as instance:
            runs = {r.run_id: r.job_name for r in instance.get_runs()}
            fleet = sorted(dbt_step(instance, run_id, "fleet_dbt") for run_id, job in runs.items() if job == "build_fleet")
            (weather,) = [dbt_step(instance, run_id, "weather_dbt") for run_id, job in runs.items() if job == "build_weather"]
        assert len(fleet) == 2
        assert fleet[0][1] <= fleet[1][0], f"fleet's dbt steps overlapped: {fleet}"
        assert any(start < weather[1] and weather[0] < end for start, end in fleet), f"weather's dbt step overlapped no fleet run: {weather} {fleet}"
    finally:
        stop(daemon)
