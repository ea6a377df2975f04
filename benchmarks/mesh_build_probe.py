"""The probe around `mesh build` for benchmarks/mesh_vs_duckdb.py's run (c), and what it reads
afterwards to say where the build's time went.

    python benchmarks/mesh_build_probe.py <timings.json> build --project <mesh>

runs the `mesh` CLI's own main() in this process after wrapping a few platform functions with
timers (measure.timed): the contract audit (checks), the Delta publish, code-location loading,
each domain's run and each dbt process. The wrappers cost microseconds. The spans, with this
process's and its children's CPU and peak RSS, go to <timings.json>. `breakdown` then joins them
with the Dagster event log in $MESH_HOME/dagster (step boundaries) and dbt's run_results.json
(node timings), which gives dbt start-up = dbt process wall - node work.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from measure import timed


def mesh_probe(timings_path: Path, argv: list[str]) -> None:
    """Child process: the `mesh` CLI's main(), with timers around the platform's phases."""
    import resource

    t0 = time.perf_counter()
    spans: list[dict] = []

    def span(kind, label=lambda *a, **k: ""):
        """A timer for measure.timed that records a span of `kind`, labelled from the call's arguments."""
        return lambda start, end, args, kwargs: spans.append(
            {"kind": kind, "label": label(*args, **kwargs), "start": start - t0, "end": end - t0})

    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
    from dagster_dbt.core.resource import DbtCliResource

    import mesh_platform.orchestration.build as B
    import mesh_platform.runtime.publishing as P
    from mesh_platform.cli.app import main as mesh_main

    imported = time.perf_counter() - t0
    # The dbt products' write path (runtime/publishing.py; the dbt assets import it when a run
    # publishes): staging (drift check + the engine's one write of the files) and the commit are
    # publishing, the audit of the staged files is checks.
    P.stage_model = timed(P.stage_model, span("publish", lambda store, engine, session, relation, product, **k: product.id))
    P.audit_staged = timed(P.audit_staged, span("checks", lambda store, staged, rules, product, root: product.id))
    P.publish = timed(P.publish, span("publish", lambda store, staged, contract, run_id, **k: staged.label))
    B.load_location = timed(B.load_location, span("load_location", lambda root, module: module))
    B._run_domain = timed(B._run_domain, span("run_domain", lambda instance, job, *rest: job.job_name))
    B.build = timed(B.build, span("build"))

    original_cli, original_stream = DbtCliResource.cli, DbtCliInvocation.stream

    def cli(self, *args, **kwargs):
        start = time.perf_counter()
        invocation = original_cli(self, *args, **kwargs)
        invocation._mesh_probe_start = time.perf_counter()  # the dbt process is running from here
        spans.append({"kind": "dbt_cli_call", "label": str(self.project_dir), "start": start - t0, "end": invocation._mesh_probe_start - t0})
        return invocation

    def stream(self, *args, **kwargs):
        try:
            yield from original_stream(self, *args, **kwargs)
        finally:
            start = getattr(self, "_mesh_probe_start", None)
            if start is not None:
                spans.append({"kind": "dbt", "label": str(self.project_dir), "start": start - t0, "end": time.perf_counter() - t0})

    DbtCliResource.cli, DbtCliInvocation.stream = cli, stream

    sys.argv = ["mesh", *argv]
    code = 0
    try:
        mesh_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        timings_path.write_text(json.dumps({
            "imports": imported, "total": time.perf_counter() - t0, "spans": spans,
            "self_cpu": me.ru_utime + me.ru_stime, "self_maxrss_kb": me.ru_maxrss,
            "children_cpu": kids.ru_utime + kids.ru_stime, "children_maxrss_kb": kids.ru_maxrss,
        }))
    sys.exit(code)


# -- reading what the mesh build exposes -------------------------------------------------------

def _iso(text: str) -> float:
    import datetime as dt
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def dbt_node_work(run_results: Path) -> tuple[float, float, int]:
    """(sum of node compile+execute time, dbt's elapsed_time, nodes) from run_results.json."""
    data = json.loads(run_results.read_text())
    work = 0.0
    for result in data["results"]:
        timing = {t["name"]: t for t in result.get("timing", [])}
        if timing:
            first = timing.get("compile", timing.get("execute"))
            last = timing.get("execute", timing.get("compile"))
            work += _iso(last["completed_at"]) - _iso(first["started_at"])
    return work, data["elapsed_time"], len(data["results"])


def dagster_steps(home: Path) -> dict[str, dict]:
    """Per run (job name): run wall from RUN_START to RUN_SUCCESS, step wall, check events."""
    import dagster as dg

    out: dict[str, dict] = {}
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            stamps: dict[str, float] = {}
            checks = 0
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                kind = event.event_type_value
                if kind in ("RUN_START", "STEP_START") and kind not in stamps:
                    stamps[kind] = entry.timestamp
                if kind in ("RUN_SUCCESS", "RUN_FAILURE", "STEP_SUCCESS", "STEP_FAILURE"):
                    stamps[kind.split("_")[0] + "_END"] = entry.timestamp
                if kind == "ASSET_CHECK_EVALUATION":
                    checks += 1
            out.setdefault(run.job_name, {  # records come newest first: the latest run of each job
                "run": stamps.get("RUN_END", 0) - stamps.get("RUN_START", 0),
                "step": stamps.get("STEP_END", 0) - stamps.get("STEP_START", 0),
                "checks": checks,
            })
    return out


def breakdown(c: dict, probe: dict, home: Path, domains: list[str]) -> dict[str, float]:
    """Where the mesh build's wall time goes, from the probe's timers, Dagster's event log and dbt:
    printed, and returned as seconds per part (the results file's `breakdown_s`)."""
    spans = probe["spans"]
    steps = dagster_steps(home)
    wall = c["wall"]
    print(f"\nmesh build breakdown (wall {wall:.1f} s; probe saw {probe['total']:.1f} s after interpreter start-up)")
    print(f"  {'domain':<10} {'load':>6} {'run':>6} {'step':>6} {'cli()':>6} {'dbt':>6} {'dbt nodes':>9} {'checks':>7} {'publish':>7} {'#checks':>7}")
    runs = {x["label"]: x for x in spans if x["kind"] == "run_domain"}

    def within(kind: tuple[str, ...], d: str) -> float:
        run = runs.get(f"build_{d}")
        if run is None:
            return 0.0
        return sum(x["end"] - x["start"] for x in spans if x["kind"] in kind and run["start"] <= x["start"] and x["end"] <= run["end"])

    rows = {}
    for d in domains:
        module = "shared_assets.definitions" if d == "shared" else f"domains.{d}.definitions"
        load = sum(x["end"] - x["start"] for x in spans if x["kind"] == "load_location" and x["label"] == module)
        run = runs[f"build_{d}"]["end"] - runs[f"build_{d}"]["start"] if f"build_{d}" in runs else 0.0
        node_work, _, _ = dbt_node_work(home / "dbt" / d / "target" / "run_results.json")
        ev = steps.get(f"build_{d}", {})
        rows[d] = dict(load=load, run=run, step=ev.get("step", 0.0), dbt=within(("dbt",), d), cli=within(("dbt_cli_call",), d), nodes=node_work,
                       checks=within(("checks", "drift"), d), publish=within(("publish",), d))
        r = rows[d]
        print(f"  {d:<10} {load:6.2f} {run:6.2f} {r['step']:6.2f} {r['cli']:6.2f} {r['dbt']:6.2f} {node_work:9.2f} {r['checks']:7.2f} {r['publish']:7.2f} {ev.get('checks', 0):7d}")
    s = {k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values()))}
    build_span = next((x for x in spans if x["kind"] == "build"), None)
    before_build = build_span["start"] if build_span else 0.0
    after_build = probe["total"] - build_span["end"] if build_span else 0.0
    interpreter = wall - probe["total"]
    dbt_startup = s["dbt"] - s["nodes"]
    dagster_run = s["run"] - s["step"]
    in_step_other = s["step"] - s["dbt"] - s["cli"] - s["checks"] - s["publish"]
    in_build_other = (build_span["end"] - build_span["start"] if build_span else 0) - s["load"] - s["run"]
    parts = [  # (key in the results file, label printed, seconds)
        ("dbt_node_work", "dbt: node work (models + dbt tests)", s["nodes"]),
        ("dbt_startup", "dbt: start-up/teardown (process wall - node work)", dbt_startup),
        ("checks", "checks: contract audit of the staged files", s["checks"]),
        ("publishing", "publishing: drift check, DuckDB COPY to staged Parquet, Delta commit", s["publish"]),
        ("dagster_run_outside_step", "orchestration: Dagster run outside the step", dagster_run),
        ("dbt_cli_call", "orchestration: DbtCliResource.cli() before dbt runs", s["cli"]),
        ("in_step_other", "orchestration: in the step, outside dbt/checks/publish", in_step_other),
        ("location_loading", "orchestration: code-location loading (definitions)", s["load"]),
        ("cli_imports_and_load", "orchestration: mesh CLI imports + mesh load before build", before_build),
        ("between_domains_and_exit", "orchestration: between domains / after build / exit", in_build_other + after_build),
        ("interpreter_startup", "python interpreter start-up (wall - probe)", interpreter),
    ]
    print(f"\n  {'share of the mesh build':<58} {'s':>7} {'%':>6}")
    for _, name, seconds in parts:
        print(f"  {name:<58} {seconds:7.2f} {100 * seconds / wall:5.1f}%")
    print(f"  {'sum':<58} {sum(x for _, _, x in parts):7.2f}")
    print(f"\n  CPU: mesh process {probe['self_cpu']:.1f} s (Dagster, checks, publishing, dagster-dbt), "
          f"dbt processes {probe['children_cpu']:.1f} s; peak RSS mesh process {probe['self_maxrss_kb'] / 1024:.0f} MiB, "
          f"largest dbt process {probe['children_maxrss_kb'] / 1024:.0f} MiB")
    return {key: round(seconds, 3) for key, _, seconds in parts}


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: mesh_build_probe.py <timings.json> <mesh arguments, e.g. build --project DIR>")
    mesh_probe(Path(sys.argv[1]), sys.argv[2:])
