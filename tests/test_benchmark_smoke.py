"""The TPC-H benchmark, at a tiny scale: its generated mesh is valid, builds, and publishes exactly
what raw DuckDB and plain dbt compute from the same SQL; and the run leaves its machine-readable
results file. The timed runs live in benchmarks/ (docs/benchmarks.md); this keeps them from
rotting as the platform changes."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import mesh_vs_duckdb  # noqa: E402
import tpch_data  # noqa: E402
import tpch_mesh  # noqa: E402

SCALE = 0.01  # 60 k order lines: seconds of SQL, the rest is the mesh's fixed costs
RUNS = ["raw_duckdb", "mesh_build", "mesh_build_again"]


# The benchmark's own run, without plain dbt (two more dbt builds of every project would double the
# test's time in a suite that has 10 minutes on 2 cores); the plain-dbt ratio is the same division.
@pytest.mark.timeout(1800)
def test_the_tpch_benchmark_agrees_with_raw_duckdb_and_writes_its_results(tmp_path, monkeypatch):
    monkeypatch.setattr(tpch_data, "DATA", tmp_path / "data")  # the TPC-H files, the generated mesh, the runs
    root = tpch_mesh.generate(SCALE, use_scaffold=False)  # ends with `mesh validate`, which must pass
    assert {d.name for d in tpch_mesh.DOMAINS} == {"shared", "customers", "supply", "sales", "finance"}

    path = mesh_vs_duckdb.run(SCALE, only={"a", "c"}, results_dir=tmp_path / "results")  # the benchmark's own run, every run in it

    assert path == tmp_path / "results" / "mesh_vs_duckdb_sf0.01.json"
    assert not (ROOT / "benchmarks" / "results" / path.name).exists()  # a test never writes into the repository
    for name in tpch_mesh.PRODUCTS:
        assert (tpch_data.DATA / "bench_sf0.01" / "raw" / f"{name}.parquet").is_file()
    result = json.loads(path.read_text())
    assert result["benchmark"] == "mesh_vs_duckdb"
    assert result["parameters"] == {"scale_factor": SCALE, "runs": RUNS, "outputs_agree": True}  # (a) and (c) hold the same rows
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert result["commit"].removesuffix("+dirty") == head
    assert result["date"].endswith("+00:00")
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["memory_gb"] > 0 and machine["duckdb"] == version("duckdb")
    assert machine["python"].startswith("3.11") and machine["cpu"] and machine["os"]

    runs = {r["name"]: r for r in result["runs"]}
    assert list(runs) == RUNS
    for r in runs.values():
        assert r["wall_s"] > 0 and r["cpu_s"] > 0 and r["peak_rss_mb"] > 0, r
    for build in ("mesh_build", "mesh_build_again"):
        parts = runs[build]["breakdown_s"]
        assert 0 < parts["publishing"] < runs[build]["wall_s"] and 0 < parts["checks"] < runs[build]["wall_s"]

    ratios = result["ratios"]
    assert "mesh_build_again/plain_dbt_again" not in ratios  # no ratio without its baseline run
    for ours, base in (("mesh_build", "raw_duckdb"), ("mesh_build_again", "raw_duckdb")):
        assert ratios[f"{ours}/{base}"] == pytest.approx(runs[ours]["wall_s"] / runs[base]["wall_s"], rel=1e-3)
    assert ratios["publish_share"] == pytest.approx(runs["mesh_build"]["breakdown_s"]["publishing"] / runs["mesh_build"]["wall_s"], abs=1e-3)
    for share in ("publish_share", "checks_share", "publish_share_again", "checks_share_again"):
        assert 0 < ratios[share] < 1
