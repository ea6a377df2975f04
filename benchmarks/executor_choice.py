"""In-process vs multiprocess executor for `mesh build`, timed on the demo mesh.

Every run of the mesh (`mesh build`'s and the daemon's) steps through the executor `MESH_EXECUTOR`
names; its default is in-process (one process, steps in sequence). Dagster's default is the
multiprocess executor (one process per step, steps in parallel up to the core count), which buys
parallelism at the price of starting a process and re-importing the code location for every step.
This script measures both on the same machine in the same run, so that the default documented in
platform/mesh_platform/runtime/settings.py rests on figures:

  in-process    job.execute_in_process(instance=..., tags=...);
  multiprocess  dagster.execute_job(reconstructable job with multiprocess_executor, instance=...).

Domains are built in dependency order (later domains read earlier domains' ports), each variant
in a fresh temporary MESH_HOME per repetition; partitioned jobs run all partitions in one run, as
mesh build does. Code locations are imported before timing, so only runs are timed.
Reported: the repetition with the best total, per domain and in all.

    cd /work/main && python benchmarks/executor_choice.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The step processes of the multiprocess run import this file as benchmarks.executor_choice,
# with neither the repository nor benchmarks/ (where measure.py is) on their path.
for folder in (ROOT, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import dagster as dg  # noqa: E402
from measure import clocked  # noqa: E402
from results import ratio, write  # noqa: E402
# As result_run: main() has a loop variable named run.
from results import run as result_run  # noqa: E402

from mesh_platform.model.mesh import workspace_locations  # noqa: E402
from mesh_platform.orchestration.build import _partition_tags, instance_for, load_location  # noqa: E402
from mesh_platform.orchestration.definitions import build_job_name  # noqa: E402

DOMAINS = ["shared", "fleet", "flight_operations", "weather", "punctuality"]
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def domain_job(domain: str) -> dg.JobDefinition:
    """The domain's build job as mesh build resolves it."""
    return load_location(ROOT, workspace_locations(ROOT)[domain]).resolve_job_def(build_job_name(domain))


def multiprocess_job(domain: str) -> dg.JobDefinition:
    """Module-level reconstructor: every step process calls it to rebuild the job."""
    return domain_job(domain).with_executor_def(dg.multiprocess_executor)


def run_in_process(domain: str, instance: dg.DagsterInstance) -> bool:
    job = domain_job(domain)
    result = job.execute_in_process(instance=instance, tags=_partition_tags(job), run_config=QUIET, raise_on_error=False)
    return result.success


def run_multiprocess(domain: str, instance: dg.DagsterInstance) -> bool:
    recon = dg.build_reconstructable_job(
        "benchmarks.executor_choice", "multiprocess_job", reconstructable_kwargs={"domain": domain},
        reconstructor_working_directory=str(ROOT),
    )
    tags = _partition_tags(domain_job(domain))
    with dg.execute_job(recon, instance=instance, tags=tags, run_config=QUIET) as result:
        return result.success


VARIANTS = {"in-process": run_in_process, "multiprocess": run_multiprocess}


@contextlib.contextmanager
def output_to(path: Path):
    """Send fds 1 and 2 (dbt's output, the step processes' logs) to a file, as mesh build does."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def build_once(run) -> dict[str, float]:
    """One full build of the demo mesh in a fresh MESH_HOME; seconds per domain."""
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mesh-executor-") as home:
        os.environ["MESH_HOME"] = home  # inherited by the multiprocess executor's step processes
        log = Path(home) / "build.log"
        with output_to(log), instance_for(ROOT) as instance:
            for domain in DOMAINS:
                ok, wall, _ = clocked(lambda domain=domain: run(domain, instance))
                if not ok:
                    break
                seconds[domain] = wall
        if len(seconds) < len(DOMAINS):
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise SystemExit(f"{run.__name__}: domain {DOMAINS[len(seconds)]} failed; end of the log:\n{tail}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.chdir(ROOT)
    for domain in DOMAINS:  # import every code location (and prepare dbt manifests) before timing
        domain_job(domain)

    best: dict[str, dict[str, float]] = {}
    for name, run in VARIANTS.items():
        for attempt in range(1, args.repeat + 1):
            seconds = build_once(run)
            total = sum(seconds.values())
            print(f"{name:<12} run {attempt}: {total:6.1f} s", flush=True)
            if name not in best or total < sum(best[name].values()):
                best[name] = seconds

    a, b = best["in-process"], best["multiprocess"]
    print(f"\nbest of {args.repeat}, wall seconds per domain ({os.cpu_count()} cores)\n")
    print(f"{'domain':<18} {'in-process':>11} {'multiprocess':>13} {'ratio':>6}")
    for domain in [*DOMAINS, "total"]:
        x = sum(a.values()) if domain == "total" else a[domain]
        y = sum(b.values()) if domain == "total" else b[domain]
        print(f"{domain:<18} {x:>11.1f} {y:>13.1f} {y / x:>6.2f}")
    print(f"\nmultiprocess / in-process (total): {sum(b.values()) / sum(a.values()):.2f}")
    # Wall per domain run, best of N; CPU and RSS are not measured apart here (the runs share this process).
    runs = [result_run(name, sum(seconds.values()), None, None, domains_s={d: round(x, 3) for d, x in seconds.items()}) for name, seconds in best.items()]
    write("executor_choice", {"repeat": args.repeat, "statistic": "best", "domains": list(DOMAINS)}, runs,
          {"multiprocess/in-process": ratio(runs, "multiprocess", "in-process")})


if __name__ == "__main__":
    main()
