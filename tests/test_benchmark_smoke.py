"""The TPC-H benchmark, at a tiny scale: its generated mesh is valid, builds, and publishes exactly
what raw DuckDB computes from the same SQL. The timed runs live in benchmarks/ (docs/benchmarks.md);
this keeps them from rotting as the platform changes."""

from __future__ import annotations

import sys

from tests.conftest import ROOT, run_mesh

sys.path.insert(0, str(ROOT / "benchmarks"))
import mesh_vs_duckdb  # noqa: E402
import tpch_data  # noqa: E402
import tpch_mesh  # noqa: E402

SCALE = 0.01  # 60 k order lines: seconds of SQL, the rest is the mesh's fixed costs


def test_the_tpch_mesh_builds_and_agrees_with_raw_duckdb(tmp_path, monkeypatch):
    monkeypatch.setattr(tpch_data, "DATA", tmp_path / "data")  # the TPC-H files and the generated mesh
    root = tpch_mesh.generate(SCALE, use_scaffold=False)  # ends with `mesh validate`, which must pass
    assert {d.name for d in tpch_mesh.DOMAINS} == {"shared", "customers", "supply", "sales", "finance"}

    raw = tmp_path / "raw"
    mesh_vs_duckdb.raw_duckdb(SCALE, raw)
    home = root / ".mesh"  # where `mesh validate` parsed the dbt projects: the build starts from that state
    build = run_mesh(["build", "--project", str(root)], home, cwd=root)
    assert build.returncode == 0, build.stdout + build.stderr
    for name in tpch_mesh.PRODUCTS:
        assert (raw / f"{name}.parquet").is_file()
    assert mesh_vs_duckdb.compare_outputs(raw, None, home) == []

