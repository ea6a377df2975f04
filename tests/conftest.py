"""Shared fixtures: the real project, copies of it, and a fully built mesh (built once per run)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock
from xdist.scheduler import LoadGroupScheduling

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The suite never reads the user's mesh: a MESH_HOME with published ports, a storage root, a
# masking key or a Dagster instance of theirs would change what the tests see. Cleared before any
# test module is imported; tests that need one set their own.
ISOLATED = ("DAGSTER_HOME",)
for _name in [n for n in os.environ if n.startswith("MESH_") or n in ISOLATED]:
    del os.environ[_name]


def mesh_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a mesh command run against `home` (venv tools first on PATH)."""
    env = {**os.environ, "MESH_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MESH_STORAGE_ROOT", None)
    for size in ("COLUMNS", "LINES"):  # pytest-xdist workers set 80x24: let the CLI size piped output itself
        env.pop(size, None)
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"  # a test's own DAGSTER_HOME has no config: post no usage logs
    env.update(extra)
    return env


def run_mesh(args: list[str], home: Path, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "mesh"), *args], cwd=cwd, env=mesh_env(home), capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_ends(group: int, timeout: float) -> bool:
    """True once no process of the group is left (a server stopped with all its children)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def copy_project(destination: Path) -> Path:
    """A private copy of the project (its dbt manifests included) that a test may change."""
    ignore = shutil.ignore_patterns(".mesh", ".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", "logs", ".data", "artifacts")
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


@pytest.fixture
def mesh_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "mesh_home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_ROOT", raising=False)
    return home


class FileScheduling(LoadGroupScheduling):
    """`--dist loadgroup` with each test file one unit of work, its slowest files handed out first.

    pytest-xdist 3.8 marks a test's group by rewriting `item._nodeid`, which pytest 9 no longer
    reads (a node's id is `item._id`): every test became its own unit, so both workers built each
    file's module fixtures and the demo mesh. Grouping by file here keeps a file's module fixtures
    on one worker whatever xdist does with markers; an explicit `@group` suffix still wins."""

    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        return nodeid.split("::", 1)[0] if scope == nodeid else scope

    def _assign_work_unit(self, node) -> None:
        # xdist orders files by their number of tests; a file of one test taking minutes would
        # then start last and leave the other worker idle at the end.
        for scope in reversed(SLOWEST_FILES):
            if scope in self.workqueue:
                self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)


# Files taking 20 s or more in all, slowest first (`--durations`, the last full run on 2 cores):
# handed out first, the many short files then fill both workers evenly to the end. A file missing
# here is queued by its number of tests, so a slow file of one or two tests would start last and
# leave the other worker idle for its whole length (test_build_concurrency did: 131 s at the end).
SLOWEST_FILES = (
    "tests/test_blast_radius.py",
    "tests/test_benchmark_smoke.py",
    "tests/test_conventions.py",
    "tests/test_build_concurrency.py",
    "tests/test_automation.py",
    "tests/test_scaffold.py",
    "tests/test_failures.py",
    "tests/test_health.py",
    "tests/test_workspace.py",
    "tests/test_write_audit_publish.py",
    "tests/test_port_reliability.py",
    "tests/test_tutorial.py",
    "tests/test_orphaned_runs.py",
    "tests/test_new_product_files.py",
    "tests/governance/test_no_personal_data.py",
    "tests/test_run_settings.py",
    "tests/test_isolation.py",
    "tests/platform/test_contract_versions.py",
    "tests/test_contract_inputs.py",
)


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadgroup":
        return FileScheduling(config, log)
    return None


def build_demo_mesh(home: Path) -> subprocess.CompletedProcess:
    result = run_mesh(["build"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def built_mesh(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The whole demo mesh built once with the real `mesh build` into a temporary MESH_HOME.

    Under xdist the workers share one build (xdist's documented pattern): the first to need it
    builds under a lock in the run's common temporary folder, the other waits and reuses it. Tests
    only read it; a test that writes into a MESH_HOME takes a `private_home` copy instead."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        home = tmp_path_factory.mktemp("built") / "mesh_home"
        return home, build_demo_mesh(home)
    shared = tmp_path_factory.getbasetemp().parent / "built"
    shared.mkdir(exist_ok=True)
    home, record = shared / "mesh_home", shared / "build.json"
    with FileLock(str(shared / "build.lock")):
        if not record.is_file():
            result = run_mesh(["build"], home)
            record.write_text(json.dumps({"args": result.args, "returncode": result.returncode,
                                          "stdout": result.stdout, "stderr": result.stderr}))
    result = subprocess.CompletedProcess(**json.loads(record.read_text()))
    assert result.returncode == 0, result.stdout + result.stderr  # a failed build fails on both workers
    return home, result


def private_home(built_mesh, destination: Path) -> Path:
    """A copy of the built mesh's MESH_HOME for a test that writes into it (or watches it stay
    unchanged): the shared one is read by the other worker's tests at the same time."""
    return shutil.copytree(built_mesh[0], destination, symlinks=True)
