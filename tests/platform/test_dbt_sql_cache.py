"""The compiled-SQL cache of a dbt project (runtime/dbt_sql.py): keyed on what the compile reads,
so a consumer-impact verdict is never that of SQL no longer there, and never keeping a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.dbt_sql import COMPILED_FILE, _fingerprint, compiled_models
from tests.conftest import ROOT


def test_an_edit_that_keeps_the_file_s_mtime_changes_the_fingerprint(tmp_path):
    """A checkout or a copy may keep the mtime of a changed file: the contents decide."""
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    model = tmp_path / "models" / "m.sql"
    model.write_text("select name from {{ source('shared', 'carriers') }}")
    stamp = model.stat().st_mtime_ns
    before = _fingerprint(tmp_path)
    model.write_text("select * from {{ source('shared', 'carriers') }}")
    os.utime(model, ns=(stamp, stamp))
    assert _fingerprint(tmp_path) != before
    (tmp_path / "dbt_packages" / "util" / "macros").mkdir(parents=True)  # an installed package is compiled in too
    (tmp_path / "dbt_packages" / "util" / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}")
    with_package = _fingerprint(tmp_path)
    assert with_package != _fingerprint(tmp_path.parent / "missing") and with_package != before
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / COMPILED_FILE).write_text("{}")  # dbt's own output is no input
    assert _fingerprint(tmp_path) == with_package


def test_a_failed_compile_is_not_kept_and_the_next_load_compiles_again(tmp_path):
    root = tmp_path / "mesh"
    shutil.copytree(ROOT / "domains", root / "domains")
    shutil.copytree(ROOT / "shared_assets", root / "shared_assets")
    shutil.copytree(ROOT / "dbt_projects" / "punctuality", root / "dbt_projects" / "punctuality",
                    ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy(ROOT / "workspace.yaml", root / "workspace.yaml")
    domain = Mesh.load(root).domains["punctuality"]
    model = root / "dbt_projects/punctuality/models/route_performance.sql"
    good = model.read_text()
    model.write_text(good + "\n{{ this_macro_does_not_exist() }}\n")
    with pytest.raises(MeshError, match="dbt compile of .* failed"):
        compiled_models(root, domain)
    assert not (root / "dbt_projects/punctuality/target" / COMPILED_FILE).exists()
    model.write_text(good)
    assert "route_performance" in compiled_models(root, domain)
