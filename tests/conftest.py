"""Shared fixtures: the real project, copies of it, and a fully built mesh (built once)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    # Under `-n 2 --dist loadgroup`, each file's tests run on one worker (its module fixtures are
    # built once), and every test reading the built demo mesh shares one worker, so it is built once.
    for item in items:
        group = "built_mesh" if "built_mesh" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def built_mesh(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The whole demo mesh built once with the real `mesh build` into a temporary MESH_HOME."""
    home = tmp_path_factory.mktemp("built") / "mesh_home"
    result = run_mesh(["build"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    return home, result
