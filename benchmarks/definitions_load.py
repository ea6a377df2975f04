"""Definitions load (issue 12): one code location of the demo mesh, loaded in a fresh process,
against the plain Dagster definitions a team without the platform writes for the same assets.

    nice -n 19 .venv/bin/python benchmarks/definitions_load.py              # median of 5 per location
    nice -n 19 .venv/bin/python benchmarks/definitions_load.py --repeat 3   # quicker
    nice -n 19 .venv/bin/python benchmarks/definitions_load.py --only fleet --importtime   # where one load's imports go

The demo mesh (domains/, shared_assets/, dbt_projects/, workspace.yaml) is copied into
benchmarks/.data/definitions_load/demo/ and each location is loaded once untimed, so every dbt
project has a fresh manifest (warm loads: what a code server restarting pays). Beside it,
plain/<domain>.py is the plain counterpart of each location:
- a dbt domain: `@dbt_assets` over the very manifest the mesh parsed + `DbtCliResource` (the
  module definitions_scale.py writes);
- a Python-only domain: one `dg.AssetSpec` per product, same keys, same groups.

Each run is a fresh interpreter (probe below) that imports dagster and dagster_dbt (the start-up
both kinds pay, timed apart), then loads the location as the webserver's code server does: runs the
module, `defs.get_repository_def()` (resolves the asset graph, jobs, schedules, sensors). "load" is
that second part alone; the ratio per location is median mesh load / median plain load. Runs are
interleaved (mesh, plain, mesh, ...) so drift in the machine's load hits both alike. The probe also
reports which data-stack modules the load imported: after issue 12 a location imports none.

Writes benchmarks/results/definitions_load.json: {date, commit, machine{cpu, cores, memory},
runs[{name, wall_s, cpu_s, peak_rss_mb}], ratios{...}}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / ".data" / "definitions_load"
RESULTS = HERE / "results" / "definitions_load.json"
COPIED = ["domains", "shared_assets", "dbt_projects", "workspace.yaml"]
DATA_STACK = ["duckdb", "deltalake", "pandas", "pandera", "pyarrow.dataset", "polars", "datacontract", "dbt.adapters.duckdb"]

# Runs in a fresh interpreter: argv = [root, module]; prints one JSON line.
PROBE = r"""
import json, os, resource, sys, time
started_wall, started_cpu = time.perf_counter(), time.process_time()
import dagster, dagster_dbt  # the start-up both kinds pay
root, module, stack = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sys.path.insert(0, root)
os.chdir(root)
wall, cpu = time.perf_counter(), time.process_time()
import importlib
defs = importlib.import_module(module).defs
repo = defs.get_repository_def()
load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"load_s": load_wall, "load_cpu_s": load_cpu, "startup_s": wall - started_wall,
                  "assets": len(repo.asset_graph.get_all_asset_keys()), "checks": len(repo.asset_graph.asset_check_keys),
                  "schedules": len(repo.schedule_defs), "sensors": len(repo.sensor_defs),
                  "imported": [m for m in stack if m in sys.modules],
                  "platform": getattr(sys.modules.get("mesh_platform"), "__file__", None),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PLAIN_PYTHON = '''"""Plain Dagster for {d}: its products as assets, no platform (benchmarks/definitions_load.py)."""
import dagster as dg

defs = dg.Definitions(assets=[dg.AssetSpec(key, group_name="{d}") for key in {keys!r}])
'''


def local_results_file(path: Path, runs: list[dict], ratios: dict) -> None:
    """The results file's shape (date, commit, machine, runs, ratios). Local until the shared
    writer benchmarks/results.py lands; this writes exactly its keys."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    data = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": measure.git_revision(),
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "memory": f"{memory / 2**30:.1f} GiB"},
            "runs": runs, "ratios": ratios}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def prepare(root: Path) -> dict[str, str]:
    """A fresh copy of the demo mesh; returns location name -> module, first loading each location
    once (untimed) so its dbt manifest is parsed and every timed load is warm."""
    from definitions_scale import PLAIN

    shutil.rmtree(root, ignore_errors=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("target", "logs", "__pycache__", ".user.yml"))
        else:
            shutil.copy2(source, root / name)
    sys.path.insert(0, str(REPO / "platform"))
    from mesh_platform.model.mesh import Mesh, workspace_locations

    mesh = Mesh.load(root)
    locations = workspace_locations(root)
    (root / "plain").mkdir()
    (root / "plain" / "__init__.py").write_text("")
    for name in locations:
        domain = mesh.domains[name]
        if domain.descriptor.dbt_project:
            text = PLAIN.format(d=name).replace(f'"dbt_projects" / "{name}"', f'"dbt_projects" / "{domain.descriptor.dbt_project}"')
        else:
            text = PLAIN_PYTHON.format(d=name, keys=sorted(list(p.key) for p in domain.products.values()))
        (root / "plain" / f"{name}.py").write_text(text)
    for name, module in locations.items():  # warm-up: parses each dbt project once
        probe(root, module)
    return locations


def probe(root: Path, module: str, platform_dir: Path | None = None) -> dict:
    # dbt on PATH, as in the environment of a team running plain dagster-dbt (DbtCliResource looks there).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MESH_HOME": str(root / ".mesh"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": path}
    if platform_dir is not None:  # another version of the platform (--before), first on sys.path
        env["PYTHONPATH"] = str(platform_dir)
    wall, cpu = time.perf_counter(), os.times()
    done = subprocess.run([sys.executable, "-c", PROBE, str(root), module, ",".join(DATA_STACK)],
                          capture_output=True, text=True, cwd=root, env=env)
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"loading {module} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - wall
    result["cpu_s"] = (after.children_user - cpu.children_user) + (after.children_system - cpu.children_system)
    return result


def importtime(root: Path, module: str) -> None:
    """The largest imports of one mesh load, beyond dagster and dagster_dbt (python -X importtime)."""
    code = f"import dagster, dagster_dbt, sys; sys.path.insert(0, {str(root)!r}); import importlib; importlib.import_module({module!r}).defs.get_repository_def()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "MESH_HOME": str(root / ".mesh")})
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative) / 1e6, len(name) - len(name.lstrip()), name.strip()))
    print(f"largest imports of {module} (cumulative s, nesting):")
    for seconds, depth, name in sorted((r for r in rows if r[1] <= 5), reverse=True)[:25]:
        print(f"  {seconds:6.3f} {'.' * (depth - 1)}{name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh-process loads per location and kind; the median is kept")
    parser.add_argument("--only", action="append", help="just these locations")
    parser.add_argument("--importtime", action="store_true", help="also print the largest imports of each mesh load")
    parser.add_argument("--workdir", type=Path, default=OUT / "demo", help="where the demo mesh is copied")
    parser.add_argument("--before", type=Path, help="also load each location with the platform package in this folder "
                        "(e.g. `git archive <commit> platform | tar -x -C DIR`, then DIR/platform), interleaved with the others")
    parser.add_argument("--no-results", action="store_true", help="do not write benchmarks/results/definitions_load.json")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"definitions load: demo mesh, median of {args.repeat} fresh processes per location; {os.cpu_count()} cores, "
          f"nice {os.nice(0)}, load average before {measure.load_average()}")
    root = args.workdir.resolve()
    locations = prepare(root)
    if args.only:
        locations = {k: v for k, v in locations.items() if k in args.only}
    before = args.before.resolve() if args.before else None
    kinds = [("mesh", None), ("plain", None)] + ([("before", before)] if before else [])
    samples: dict[tuple[str, str], list[dict]] = {}
    for i in range(args.repeat):
        for name, module in locations.items():
            for kind, platform_dir in kinds:
                result = probe(root, f"plain.{name}" if kind == "plain" else module, platform_dir)
                if kind != "plain" and not result["platform"].startswith(str(platform_dir or REPO)):
                    raise SystemExit(f"{kind} load of {name} used the platform at {result['platform']}")
                samples.setdefault((name, kind), []).append(result)
        print(f"  round {i + 1} of {args.repeat} done ({time.perf_counter() - started:.0f} s)", flush=True)

    def med(name: str, kind: str, field: str) -> float:
        return statistics.median(r[field] for r in samples[(name, kind)])

    runs, ratios, failures = [], {}, []
    print(f"\n{'location':<18} | {'mesh load s':>11} {'plain load s':>12} {'ratio':>6} | {'mesh proc s':>11} {'plain proc s':>12} {'ratio':>6} | "
          f"{'assets':>6} {'checks':>6} | data stack imported")
    for name in locations:
        for kind, _ in kinds:
            runs.append({"name": f"{name}/{kind}", "wall_s": round(med(name, kind, "wall_s"), 3), "cpu_s": round(med(name, kind, "cpu_s"), 3),
                         "peak_rss_mb": round(med(name, kind, "peak_rss_mb"), 1), "load_s": round(med(name, kind, "load_s"), 3),
                         "load_cpu_s": round(med(name, kind, "load_cpu_s"), 3)})
        ratio = med(name, "mesh", "load_s") / med(name, "plain", "load_s")
        process = med(name, "mesh", "wall_s") / med(name, "plain", "wall_s")
        ratios[f"{name}/load"] = round(ratio, 2)
        ratios[f"{name}/process"] = round(process, 2)
        if before:
            ratios[f"{name}/before_load"] = round(med(name, "before", "load_s") / med(name, "plain", "load_s"), 2)
        last = samples[(name, "mesh")][-1]
        imported = sorted({m for r in samples[(name, "mesh")] for m in r["imported"]})
        if imported:
            failures.append(f"{name} imports {', '.join(imported)} at load")
        print(f"{name:<18} | {med(name, 'mesh', 'load_s'):>11.2f} {med(name, 'plain', 'load_s'):>12.2f} {ratio:>6.2f} | "
              f"{med(name, 'mesh', 'wall_s'):>11.2f} {med(name, 'plain', 'wall_s'):>12.2f} {process:>6.2f} | "
              f"{last['assets']:>6} {last['checks']:>6} | {', '.join(imported) or 'none'}")
        if before:
            old = sorted({m for r in samples[(name, "before")] for m in r["imported"]})
            print(f"{'  before':<18} | {med(name, 'before', 'load_s'):>11.2f} {'':>12} {ratios[f'{name}/before_load']:>6.2f} | "
                  f"{med(name, 'before', 'wall_s'):>11.2f} {'':>12} {med(name, 'before', 'wall_s') / med(name, 'plain', 'wall_s'):>6.2f} | "
                  f"{'':>6} {'':>6} | {', '.join(old) or 'none'}")
    startup = statistics.median(r["startup_s"] for rs in samples.values() for r in rs)
    dbt = [n for n in locations if (root / "plain" / f"{n}.py").read_text().find("dbt_assets") >= 0]
    if dbt:
        worst = max(ratios[f"{n}/load"] for n in dbt)
        ratios["dbt_locations/worst_load"] = worst
        print(f"\nstart-up both pay (python + import dagster, dagster_dbt): median {startup:.2f} s, not in 'load'")
        print(f"target load <= 1.2x plain dagster-dbt, worst dbt location ({', '.join(dbt)}): {worst:.2f}x -> {'met' if worst <= 1.2 else 'NOT met'}")
    if args.importtime:
        for name, module in locations.items():
            importtime(root, module)
    if not args.no_results:
        local_results_file(RESULTS, runs, ratios)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    print(f"load average after {measure.load_average()}; wall time of this run {time.perf_counter() - started:.0f} s")
    if failures:
        print("DATA STACK IMPORTED AT LOAD: " + "; ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
