"""Machine-readable results: every benchmark also writes `benchmarks/results/<name>.json`.

    {"benchmark", "date" (UTC ISO), "commit" (git HEAD, "+dirty" when the tree has changes),
     "machine": {"cpu", "cores", "memory_gb", "python", "duckdb", "os"},
     "parameters": {...}, "runs": [{"name", "wall_s", "cpu_s", "peak_rss_mb", ...extras}],
     "ratios": {...}}

docs/benchmarks.md keeps the tables and the why; these files keep the figures, so that a later run
can be compared with an earlier one by a script rather than by reading prose. The figures
themselves are taken by measure.py; this module only shapes and writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from measure import REPO, package_version

RESULTS = REPO / "benchmarks" / "results"  # read at call time: tests write into a temporary folder
MiB = 2**20


def commit() -> str:
    """The full commit measured, "+dirty" when tracked files differ from it (untracked files, such
    as benchmarks/.data, do not change what was measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changed else "")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(duckdb_version: str | None = None) -> dict[str, Any]:
    """The machine and the versions a figure depends on. `duckdb_version` when the runs used
    another DuckDB than this interpreter's (benchmarks/duckdb_version.py)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb_version or package_version("duckdb"),
        "os": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def run(name: str, wall_s: float, cpu_s: float | None, peak_rss_mb: float | None, **extras: Any) -> dict[str, Any]:
    """One run as the results file holds it; `extras` are the benchmark's own figures for it."""
    return {"name": name, "wall_s": _round(wall_s), "cpu_s": _round(cpu_s), "peak_rss_mb": _round(peak_rss_mb), **extras}


def measured_run(name: str, result: dict[str, Any], **extras: Any) -> dict[str, Any]:
    """A run from measure.measure's result: wall, CPU of the whole child tree, peak RSS of its
    largest process (and of the tree, summed), each command's wall."""
    return run(name, result["wall"], result["cpu"], result["maxrss"] / MiB,
               tree_rss_mb=_round(result["tree_rss"] / MiB), command_walls_s=[_round(w) for w in result["walls"]], **extras)


def step_run(name: str, step: Any, **extras: Any) -> dict[str, Any]:
    """A run from measure.Step (in this process): its best wall and that run's CPU, every wall,
    and the peak RSS of the benchmark process when the step was last run (an upper bound: the
    process's peak so far, not the step's own)."""
    wall, cpu = step.best
    return run(name, wall, cpu, step.peak_rss_mb, walls_s=[_round(w) for w in step.wall], rss_scope="benchmark process so far", **extras)


def ratio(runs: list[dict[str, Any]], numerator: str, denominator: str, key: str = "wall_s") -> float:
    """`numerator`'s figure over `denominator`'s, by run name: the ratios are computed from the
    runs in the file, never typed in separately."""
    by_name = {r["name"]: r for r in runs}
    return _round(by_name[numerator][key] / by_name[denominator][key], 4)


def write(benchmark: str, parameters: dict[str, Any], runs: list[dict[str, Any]], ratios: dict[str, float],
          *, folder: Path | None = None, duckdb_version: str | None = None, file_name: str | None = None) -> Path:
    """Write `<folder>/<file_name or benchmark>.json` (folder: benchmarks/results) and say where."""
    for r in runs:
        for key in ("wall_s", "cpu_s", "peak_rss_mb"):
            value = r.get(key)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{benchmark}: run {r['name']!r} has {key} = {value!r}, expected a non-negative number")
    document = {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(duckdb_version),
        "parameters": parameters,
        "runs": runs,
        "ratios": ratios,
    }
    folder = RESULTS if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_name or benchmark}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    print(f"results: {shown}", flush=True)
    return path


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
