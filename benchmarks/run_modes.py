"""The demo mesh built three ways, timed: in-process (the default), queued, and on Celery workers.

  in_process  `mesh build`: each domain's run in the build's own process, steps in sequence;
  queued      `MESH_BUILD_MODE=queued mesh build`: one run per domain through the instance's run
              queue (reported as unavailable when the mode is refused or not implemented);
  celery      `MESH_EXECUTOR=celery mesh build` with a real redis-server and 2 Celery workers
              (tests/helpers/celery.py; the workers are started before the clock starts).

Each leg builds the whole mesh with the real `mesh build --json` in a fresh MESH_HOME with local
ports. Per domain: the run's wall (RUN_START to its end, from the run's events), the steps' own
time (while at least one step ran: each STEP_START to its STEP_SUCCESS or STEP_FAILURE, steps
running at once counted once) and the overhead, their difference: what the run mode costs beyond
the work. The build's wall beyond its runs (loading code locations, planning) is `outside_runs_s`. The machine may be shared: the load average before and after
each leg is recorded beside the figures.

    .venv/bin/python benchmarks/run_modes.py [--legs in_process,queued,celery]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (ROOT, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import dagster as dg  # noqa: E402
from results import write  # noqa: E402

LEGS = ("in_process", "queued", "celery")
BIN = Path(sys.executable).parent
STEP_ENDS = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


def build_env(home: Path, **settings: str) -> dict[str, str]:
    """The build's environment: none of the user's own mesh settings, this leg's instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_") and k != "DAGSTER_HOME"}
    return {**env, "MESH_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "DAGSTER_DISABLE_TELEMETRY": "1", **settings}


def busy_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of `spans` ran: steps running at once on two workers
    count once, so that the overhead is the time no step of the run was running."""
    busy, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            busy += end - max(start, reached)
            reached = end
    return busy


def run_times(home: Path) -> tuple[dict[str, dict[str, float]], int]:
    """Per domain (its build job's last run): the run's wall, the steps' own seconds, the overhead;
    and how many runs went through the instance's run queue."""
    domains: dict[str, dict[str, float]] = {}
    queued = 0
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for run in reversed(instance.get_runs()):  # oldest first: a later run of a job replaces it
            if not run.job_name.startswith("build_"):
                continue
            start = end = None
            started: dict[str, float] = {}
            spans: list[tuple[float, float]] = []
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type == dg.DagsterEventType.RUN_ENQUEUED:
                    queued += 1
                elif event.event_type == dg.DagsterEventType.RUN_START:
                    start = entry.timestamp
                elif event.event_type in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
                    end = entry.timestamp
                elif event.event_type == dg.DagsterEventType.STEP_START:
                    started[event.step_key] = entry.timestamp
                elif event.event_type in STEP_ENDS and event.step_key in started:
                    spans.append((started.pop(event.step_key), entry.timestamp))
            if start is not None and end is not None:
                wall, steps = end - start, busy_seconds(spans)
                domains[run.job_name.removeprefix("build_")] = {"run_s": round(wall, 3), "steps_s": round(steps, 3), "overhead_s": round(wall - steps, 3)}
    return domains, queued


def build_leg(name: str, **settings: str) -> dict[str, Any]:
    """One whole-mesh build in a fresh MESH_HOME; `settings` select the run mode."""
    with tempfile.TemporaryDirectory(prefix=f"mesh-run-modes-{name}-") as folder:
        home = Path(folder) / "mesh_home"
        if name == "celery":
            from tests.helpers.celery import celery_mesh  # reason: the test suite's Redis + workers, only for this leg

            with celery_mesh(Path(folder) / "celery", home) as celery:
                return _timed_build(name, home, {**settings, **celery.settings()})
        return _timed_build(name, home, settings)


def _timed_build(name: str, home: Path, settings: dict[str, str]) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.monotonic()
    build = subprocess.run([str(BIN / "mesh"), "build", "--json"], cwd=ROOT, env=build_env(home, **settings),
                           capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    load = {"load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}
    if build.returncode != 0:
        lines = (build.stderr.strip() or build.stdout.strip() or "no output").splitlines()
        return {"name": name, "available": False, "reason": lines[-1][:500], "wall_s": round(wall, 3), **load}
    report = json.loads(build.stdout)
    if not report["ok"]:
        return {"name": name, "available": False, "reason": f"the build failed: {[d for d in report['domains'] if d['status'] != 'succeeded']}", **load}
    domains, queued = run_times(home)
    if settings.get("MESH_BUILD_MODE") == "queued" and not queued:
        # Accepted but not applied (the build ran its runs itself): no queued figure to report.
        return {"name": name, "available": False, "reason": "MESH_BUILD_MODE=queued was accepted, but no run went through the run queue", **load}
    return {
        "name": name, "available": True, "wall_s": round(wall, 3), "cpu_s": None, "peak_rss_mb": None,
        "overhead_s": round(sum(d["overhead_s"] for d in domains.values()), 3),
        "outside_runs_s": round(wall - sum(d["run_s"] for d in domains.values()), 3), "domains": domains, **load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", default=",".join(LEGS), help="comma-separated, of: " + ", ".join(LEGS))
    parser.add_argument("--results", type=Path, default=None, help="folder of the results file (default benchmarks/results)")
    args = parser.parse_args()
    legs = [leg.strip() for leg in args.legs.split(",") if leg.strip()]
    unknown = sorted(set(legs) - set(LEGS))
    if unknown:
        parser.error(f"unknown leg(s) {', '.join(unknown)}; choose from {', '.join(LEGS)}")
    settings = {"in_process": {}, "queued": {"MESH_BUILD_MODE": "queued"}, "celery": {}}
    runs = []
    for leg in legs:
        result = build_leg(leg, **settings[leg])
        runs.append(result)
        shown = f"{result['wall_s']:7.1f} s, overhead {result['overhead_s']:6.1f} s" if result["available"] else f"unavailable: {result['reason']}"
        print(f"{leg:<11} {shown}  (load {result['load_before'][0]:.1f} -> {result['load_after'][0]:.1f})", flush=True)
    measured = {r["name"]: r for r in runs if r["available"]}
    ratios = {}
    if "in_process" in measured:
        for leg, result in measured.items():
            if leg != "in_process":
                ratios[f"{leg}/in_process"] = round(result["wall_s"] / measured["in_process"]["wall_s"], 4)
                ratios[f"{leg}/in_process overhead"] = round(result["overhead_s"] / max(measured["in_process"]["overhead_s"], 1e-3), 4)
    for result in runs:
        result.setdefault("cpu_s", None), result.setdefault("peak_rss_mb", None)
        if not result["available"]:
            result["wall_s"] = None  # a refused leg has no figure to compare
    write("run_modes", {"legs": legs, "celery_workers": 2, "ports": "local disk", "statistic": "one build per leg"}, runs, ratios, folder=args.results)
    for leg, ratio in ratios.items():
        print(f"{leg}: {ratio:.2f}")


if __name__ == "__main__":
    main()
