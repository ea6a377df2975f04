"""MESH_EXECUTOR=celery: every step of a run goes to Celery workers through MESH_CELERY_BROKER.

A real redis-server and two real Celery workers (tests/helpers/celery.py) take the steps of the
real `mesh build`; what they publish is what an in-process build publishes. A broker that does
not answer stops the build in one line; a worker's process lost mid-step fails the run (it does
not hang) and leaves the port at its previous version."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from tests.conftest import BIN, ROOT, free_port, mesh_env
from tests.helpers.celery import CeleryMesh, celery_mesh, descendants, steps_on_workers
from tests.helpers.s3_mesh import port_fingerprints

pytestmark = pytest.mark.celery

DOMAINS = ["shared", "fleet"]  # three Python products built at once, and a dbt project
PORTS = [("shared", "airports", 1), ("shared", "calendar", 1), ("shared", "carriers", 1), ("fleet", "aircraft", 1)]


def mesh_build(home: Path, domain: str, timeout: int = 600, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "mesh"), "build", "--domain", domain], cwd=ROOT, env=mesh_env(home, **settings),
                          capture_output=True, text=True, timeout=timeout)


def runs_of(home: Path) -> dict[str, dg.DagsterRun]:
    """The latest run of each job recorded under MESH_HOME `home`."""
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs: dict[str, dg.DagsterRun] = {}
        for run in reversed(instance.get_runs()):
            runs[run.job_name] = run
        return runs


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> tuple[CeleryMesh, Path, dict[str, subprocess.CompletedProcess]]:
    """Redis and two workers for one MESH_HOME, and the celery builds of shared and fleet into it."""
    folder = tmp_path_factory.mktemp("celery")
    home = folder / "mesh_home"
    with celery_mesh(folder / "deployment", home) as celery:
        builds = {domain: mesh_build(home, domain, **celery.settings()) for domain in DOMAINS}
        yield celery, home, builds


@pytest.fixture(scope="module")
def in_process_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("in_process") / "mesh_home"
    for domain in DOMAINS:
        build = mesh_build(home, domain)
        assert build.returncode == 0, build.stdout + build.stderr
    return home


def test_mesh_build_runs_every_step_on_a_celery_worker_and_publishes_what_in_process_publishes(deployment, in_process_home):
    celery, home, builds = deployment
    for domain, build in builds.items():
        assert build.returncode == 0, build.stdout + build.stderr
    runs = runs_of(home)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for domain in DOMAINS:
            run = runs[f"build_{domain}"]
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert "redis://" not in str(run.run_config)  # the executor names the broker's variable, never its URL
            steps = steps_on_workers(instance, run.run_id)
            assert steps, f"{domain}: no step ran"
            for step, seen in steps.items():
                assert seen.get("worker") in celery.workers, f"{domain}: step {step} was not taken by a worker: {seen}"
                assert seen["pid"] != seen["run_pid"], f"{domain}: step {step} ran in the run's own process"
                assert seen["pid"] not in {w.pid for w in celery.workers.values()}  # a worker's pool process, not its main one
    published = port_fingerprints(str(home / "storage"), PORTS)
    assert published == port_fingerprints(str(in_process_home / "storage"), PORTS)
    assert all(rows > 0 for rows, _ in published.values())


def test_both_workers_take_steps(deployment):
    """The shared domain's three steps are submitted at once; each worker runs one at a time."""
    celery, home, builds = deployment
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        taken = {seen["worker"] for run in instance.get_runs() for seen in steps_on_workers(instance, run.run_id).values()}
    assert taken == set(celery.workers)


def test_a_broker_that_does_not_answer_stops_the_build_in_one_line(tmp_path):
    port = free_port()  # nothing listens there
    started = time.monotonic()
    build = mesh_build(tmp_path / "home", "shared", timeout=120, MESH_EXECUTOR="celery",
                       MESH_CELERY_BROKER=f"redis://mesh:s3cret@127.0.0.1:{port}/0")
    assert build.returncode == 1
    assert build.stderr.strip() == (
        f"error: the Celery broker MESH_CELERY_BROKER names, 127.0.0.1:{port}, does not answer (connection refused): "
        "start the broker, or unset MESH_EXECUTOR"
    )
    assert "s3cret" not in build.stdout + build.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "home" / "storage").exists()


def wait_for_step_start(home: Path, before: set[str], build: subprocess.Popen, timeout: float) -> int:
    """The pid the first step of a new run started in."""
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        while time.monotonic() < deadline:
            assert build.poll() is None, "the build ended before its step started"
            for run in instance.get_runs():
                if run.run_id not in before:
                    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
                        return entry.dagster_event.pid
            time.sleep(0.2)
    raise AssertionError(f"no step started within {timeout:.0f} s")


def test_a_worker_process_killed_mid_step_fails_the_run_and_the_port_keeps_its_version(deployment):
    """fleet's step runs dbt, then publishes: killed (with its dbt) as soon as it starts, it never
    reaches the commit. The worker reports the lost process; the run fails within seconds."""
    celery, home, builds = deployment
    assert builds["fleet"].returncode == 0, builds["fleet"].stdout + builds["fleet"].stderr
    port = str(home / "storage" / "fleet" / "aircraft" / "v1")
    version, before = DeltaTable(port).version(), port_fingerprints(str(home / "storage"), PORTS[3:])
    runs_before = {run.run_id for run in _all_runs(home)}
    build = subprocess.Popen([str(BIN / "mesh"), "build", "--domain", "fleet"], cwd=ROOT,
                             env=mesh_env(home, **celery.settings()), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        step_pid = wait_for_step_start(home, runs_before, build, timeout=300)
        for pid in [step_pid, *descendants(step_pid)]:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = build.communicate(timeout=300)
    finally:
        if build.poll() is None:
            build.kill()
    assert time.monotonic() - killed < 120, "the run did not end soon after its worker process died"
    assert build.returncode == 1, out + err
    assert "fleet: failed" in out, out
    assert err.strip().startswith("failed: fleet: failed: run failed: ") and "WorkerLostError" in err, err
    (run,) = [r for r in _all_runs(home) if r.run_id not in runs_before]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert DeltaTable(port).version() == version
    assert port_fingerprints(str(home / "storage"), PORTS[3:]) == before


def _all_runs(home: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        return list(instance.get_runs())
