"""A `mesh build` killed mid-run leaves no run STARTED for ever: the next `mesh build` marks its
runs failed and says so; the runs of a build that is still alive are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg

from mesh_platform.orchestration.orphaned_runs import HOST_TAG, PID_TAG, PROCESS_TAG, UNFINISHED, build_tags, is_orphaned, process_start
from tests.conftest import BIN, ROOT, copy_project, free_port, group_ends, mesh_env, run_mesh


def test_a_recycled_pid_is_not_taken_for_the_build_that_died():
    tags = build_tags()
    assert not is_orphaned(tags)  # this very process: alive
    assert is_orphaned({**tags, PROCESS_TAG: "another boot:12345"})  # same pid, another process
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert process_start(dead.pid) is None
    assert is_orphaned({**tags, PID_TAG: str(dead.pid)})
    assert not is_orphaned({**tags, HOST_TAG: "another-host"})  # cannot be checked from here: left alone


def runs_of(instance: dg.DagsterInstance, pid: int) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.tags.get(PID_TAG) == str(pid)]


def wait_for_a_started_run(instance: dg.DagsterInstance, build: subprocess.Popen, log: Path, after: str | None = None, timeout: float = 300) -> dg.DagsterRun:
    """A run of `build` in progress (once its run of job `after` has succeeded, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert build.poll() is None, f"the build ended before a run started: {log.read_text()[-2000:]}"
        runs = runs_of(instance, build.pid)
        started = [r for r in runs if r.status == dg.DagsterRunStatus.STARTED]
        if started and (after is None or any(r.job_name == after and r.status == dg.DagsterRunStatus.SUCCESS for r in runs)):
            return started[0]
        time.sleep(0.2)
    raise AssertionError("no run of the build started in time")


def test_the_next_build_fails_the_runs_of_a_killed_one_and_leaves_a_live_ones_alone(tmp_path, mesh_home):
    from mesh_platform.orchestration.build import instance_for

    project = copy_project(tmp_path / "project")
    home, log = mesh_home, tmp_path / "first_build.err"
    # The instance's storage is created here, before the build starts: two processes creating
    # one SQLite instance at once race on its tables.
    with instance_for(project) as instance:
        assert instance.get_runs() == []
        build = subprocess.Popen(
            [str(BIN / "mesh"), "build"], cwd=project, env=mesh_env(home),
            stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True,  # its group is killed below
        )
        try:
            # Past its own build of shared: the concurrent build below publishes shared, and two
            # publishes of one port at once are not what this test is about.
            wait_for_a_started_run(instance, build, log, after="build_shared")
            concurrent = run_mesh(["build", "--domain", "shared"], home, cwd=project)
            assert concurrent.returncode == 0, concurrent.stdout + concurrent.stderr
            assert build.poll() is None, "the first build ended before the second one: the case proves nothing"
            assert "orphaned" not in concurrent.stdout
            assert not [r.run_id for r in runs_of(instance, build.pid) if r.status == dg.DagsterRunStatus.FAILURE]

            killed = wait_for_a_started_run(instance, build, log)
            os.killpg(build.pid, signal.SIGKILL)
            build.wait()
            assert group_ends(build.pid, 30)
            assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED  # what the issue found

            after = run_mesh(["build", "--domain", "shared"], home, cwd=project)
            assert after.returncode == 0, after.stdout + after.stderr
            output = " ".join(after.stdout.split())
            assert f"orphaned: run {killed.run_id} ({killed.job_name}) was STARTED but its mesh build (pid {build.pid}) is gone: marked failed" in output
            assert not [(r.run_id, r.status) for r in instance.get_runs() if r.status in UNFINISHED]
            assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
            logged = [e.message for e in instance.all_logs(killed.run_id) if e.is_dagster_event and e.dagster_event.event_type == dg.DagsterEventType.ENGINE_EVENT]
            assert any(f"pid {build.pid}" in m and "is gone" in m and "mesh build marked it failed" in m for m in logged), logged
        finally:
            if build.poll() is None:
                os.killpg(build.pid, signal.SIGKILL)
                build.wait()


def test_mesh_dev_closes_orphaned_runs_before_it_starts_the_ui(tmp_path, mesh_home):
    from mesh_platform.orchestration.build import instance_for

    gone = subprocess.Popen(["true"])
    gone.wait()
    with instance_for(ROOT) as instance:  # the state a killed build leaves: a STARTED run of a dead pid
        orphan = instance.add_run(dg.DagsterRun(job_name="build_shared", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                                                tags={**build_tags(), PID_TAG: str(gone.pid)}))
        dev = subprocess.Popen(
            [str(BIN / "mesh"), "dev", "--port", str(free_port())], cwd=ROOT, env=mesh_env(mesh_home),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        lines = []
        try:  # what it prints before the UI's address; the UI itself is not needed here
            while not lines or "Dagster UI on" not in lines[-1]:
                line = dev.stdout.readline()
                assert line, f"mesh dev ended early: {lines}"
                lines.append(line)
        finally:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
            assert group_ends(dev.pid, 30)
        printed = " ".join(" ".join(lines).split())
        assert f"orphaned: run {orphan.run_id} (build_shared) was STARTED but its mesh build (pid {gone.pid}) is gone: marked failed" in printed
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
