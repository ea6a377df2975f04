"""One place for run settings: every run of the mesh — `mesh build`'s and the ones the daemon
launches for schedules, automation and the UI — steps through the executor `MESH_EXECUTOR`
names and is recorded in one instance, `DAGSTER_HOME` when set, else `<MESH_HOME>/dagster`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.model.errors import MeshError
from mesh_platform.orchestration.runs import EXECUTOR_DEFS
from mesh_platform.runtime.settings import EXECUTORS, INSTANCE_CONFIG_HEADER, run_settings
from tests.conftest import BIN, ROOT, free_port, group_ends, mesh_env
from tests.helpers.executors import steps_executed

SHARED = ["airports", "calendar", "carriers"]  # the shared domain: three Python products, built on their own


def mesh(args: list[str], home: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "mesh"), *args], cwd=ROOT, env=mesh_env(home, **env), capture_output=True, text=True, timeout=timeout
    )


def only_run(instance_home: Path) -> tuple[dg.DagsterRun, str]:
    """The one run recorded in the instance, and how its steps executed."""
    with dg.DagsterInstance.from_config(str(instance_home)) as instance:
        (run,) = instance.get_runs()
        return run, steps_executed(instance, run.run_id)


def test_the_settings_default_to_in_process_and_the_instance_under_mesh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    assert run_settings(ROOT).executor == "in_process"
    assert run_settings(ROOT).instance_home == tmp_path / "home" / "dagster"
    monkeypatch.setenv("MESH_EXECUTOR", "multiprocess")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "instance"))
    assert run_settings(ROOT).executor == "multiprocess"
    assert run_settings(ROOT).instance_home == tmp_path / "instance"
    monkeypatch.setenv("MESH_EXECUTOR", "spark")
    with pytest.raises(MeshError, match="^MESH_EXECUTOR must be one of in_process, multiprocess, celery, k8s, found 'spark'$"):
        run_settings(ROOT)
    assert set(EXECUTOR_DEFS) == set(EXECUTORS)  # every value the setting accepts maps to a Dagster executor


def test_mesh_build_records_under_mesh_home_and_steps_in_process_by_default(tmp_path):
    home = tmp_path / "home"
    build = mesh(["build", "--domain", "shared"], home)
    assert build.returncode == 0, build.stdout + build.stderr
    run, executed = only_run(home / "dagster")
    assert (run.job_name, run.status, executed) == ("build_shared", dg.DagsterRunStatus.SUCCESS, "in_process")


def test_with_dagster_home_set_mesh_build_records_there_and_the_catalog_reads_it(tmp_path):
    """The chosen executor and instance hold for `mesh build` too: a process per step, and the run
    history in DAGSTER_HOME, nothing under MESH_HOME; the catalog shows that run's checks."""
    home, instance_home = tmp_path / "home", tmp_path / "instance"
    settings = {"MESH_EXECUTOR": "multiprocess", "DAGSTER_HOME": str(instance_home)}
    build = mesh(["build", "--domain", "shared"], home, **settings)
    assert build.returncode == 0, build.stdout + build.stderr
    run, executed = only_run(instance_home)
    assert (run.job_name, run.status, executed) == ("build_shared", dg.DagsterRunStatus.SUCCESS, "multiprocess")
    assert not (home / "dagster").exists()
    assert (instance_home / "dagster.yaml").read_text().startswith(INSTANCE_CONFIG_HEADER)  # the mesh's own config, written from settings

    catalog = mesh(["catalog", "--json"], home, **settings)
    assert catalog.returncode == 0, catalog.stderr
    checks = {entry["product"]: entry["checks"] for entry in json.loads(catalog.stdout)}
    for product in SHARED:
        assert checks[f"shared.{product}"]["run_id"] == run.run_id
        assert checks[f"shared.{product}"]["status"] == "passed"


@pytest.mark.parametrize("command", ["build", "dev"])
@pytest.mark.parametrize("setting, value, expected", [
    ("MESH_EXECUTOR", "threads", "error: MESH_EXECUTOR must be one of in_process, multiprocess, celery, k8s, found 'threads'"),
    ("DAGSTER_HOME", "relative/instance", "error: DAGSTER_HOME must be an absolute path (as Dagster requires), found 'relative/instance'"),
    ("MESH_BUILD_CONCURRENCY", "0", "error: MESH_BUILD_CONCURRENCY must be a whole number of domains, 1 or more, found '0'"),
])
def test_a_bad_run_setting_is_refused_in_one_line_before_anything_runs(tmp_path, command, setting, value, expected):
    command = ["build", "--domain", "shared"] if command == "build" else ["dev", "--port", str(free_port())]
    home = tmp_path / "home"
    result = mesh(command, home, timeout=120, **{setting: value})
    assert result.returncode == 1
    assert result.stderr.strip() == expected
    assert not (home / "dagster").exists()


DAEMON_WORKSPACE = """\
load_from:
  - python_module:
      module_name: shared_assets.definitions
      working_directory: {root}
      location_name: shared
"""


def wait_for_run(instance: dg.DagsterInstance, daemon: subprocess.Popen, timeout: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "the daemon exited"
        runs = instance.get_runs()
        if runs and runs[0].is_finished:
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"no finished run after {timeout:.0f} s: {[(r.run_id, r.status) for r in instance.get_runs()]}")


def test_a_run_the_daemon_launches_steps_through_the_executor_from_settings(tmp_path):
    """The path of a schedule's, a sensor's or the UI's run: submitted to the instance's queue,
    dequeued by the daemon, run by a run worker the code location starts. Its steps run in the
    run worker's process, as in `mesh build`: the mesh's default, not Dagster's (a process per
    step). The multiprocess choice reaching the location's jobs is shown by the build above."""
    instance_home = tmp_path / "instance"
    instance_home.mkdir()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(DAEMON_WORKSPACE.format(root=ROOT))
    env = mesh_env(tmp_path / "home", DAGSTER_HOME=str(instance_home))
    # Create the instance's SQLite storages first: the daemon and `dagster job launch` opening an
    # empty instance at the same moment race on its schema migrations (alembic CommandError).
    dg.DagsterInstance.from_config(str(instance_home)).dispose()
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,  # its own group: its code server stops with it
    )
    try:
        launch = subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-l", "shared", "-j", "build_shared"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert launch.returncode == 0, launch.stdout + launch.stderr
        with dg.DagsterInstance.from_config(str(instance_home)) as instance:
            run = wait_for_run(instance, daemon, timeout=400)
            assert run.status == dg.DagsterRunStatus.SUCCESS, [e.message for e in instance.all_logs(run.run_id)][-5:]
            assert steps_executed(instance, run.run_id) == "in_process"
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        assert group_ends(daemon.pid, timeout=60), "the daemon left processes running"


def test_the_deployment_settings_refuse_what_they_cannot_run_without(tmp_path, monkeypatch):
    """Postgres storage needs its URL, Celery its broker: refused in one line naming the variable,
    never echoing a URL (it holds a password)."""
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    settings = run_settings(ROOT)
    assert (settings.instance_storage, settings.build_mode, settings.celery_broker) == ("sqlite", "in_process", None)
    monkeypatch.setenv("MESH_INSTANCE_STORAGE", "postgres")
    with pytest.raises(MeshError, match=r"^MESH_INSTANCE_STORAGE=postgres needs MESH_POSTGRES_URL \("):
        run_settings(ROOT)
    monkeypatch.setenv("MESH_POSTGRES_URL", "mysql://user:s3cret@127.0.0.1/db")
    with pytest.raises(MeshError, match="^MESH_POSTGRES_URL must be a postgresql:// URL") as refused:
        run_settings(ROOT)
    assert "s3cret" not in str(refused.value)
    monkeypatch.setenv("MESH_POSTGRES_URL", "postgresql://user:s3cret@127.0.0.1:5432/mesh")
    assert run_settings(ROOT).instance_storage == "postgres"
    monkeypatch.setenv("MESH_EXECUTOR", "celery")
    with pytest.raises(MeshError, match="^MESH_EXECUTOR=celery needs MESH_CELERY_BROKER"):
        run_settings(ROOT)
    monkeypatch.setenv("MESH_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("MESH_BUILD_MODE", "queued")
    settings = run_settings(ROOT)
    assert (settings.executor, settings.celery_broker, settings.build_mode) == ("celery", "redis://127.0.0.1:6379/0", "queued")
    monkeypatch.setenv("MESH_BUILD_MODE", "parallel")
    with pytest.raises(MeshError, match="^MESH_BUILD_MODE must be one of in_process, queued, found 'parallel'$"):
        run_settings(ROOT)
