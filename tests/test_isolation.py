"""The suite runs the same on a developer's machine as in CI: it never reads the user's mesh."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, private_home


def snapshot(folder) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_the_suite_ignores_a_users_mesh_home_with_published_ports(built_mesh, tmp_path):
    """With MESH_HOME (and friends) pointing at a mesh whose ports are published — as the README
    lets a user set them — the tests that compare contracts with published ports still pass, and
    the user's mesh is neither read into the results nor written."""
    home = private_home(built_mesh, tmp_path / "users_mesh_home")  # no other test writes here meanwhile
    before = snapshot(home)
    env = {**os.environ, "MESH_HOME": str(home), "MESH_STORAGE_ROOT": str(home / "storage"),
           "MESH_MASKING_KEY": "the-users-own-key", "DAGSTER_HOME": str(home / "dagster")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_contract_inputs.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
    assert snapshot(home) == before
