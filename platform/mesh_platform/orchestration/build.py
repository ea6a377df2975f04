"""`mesh build`: materialize every product of every domain, producers before consumers.

One Dagster run per domain, recorded in the mesh's Dagster instance so that the runs show in the
UI. Each run steps through its job's own executor, the one every run of the mesh uses
(`MESH_EXECUTOR`, orchestration/runs.py): the build decides nothing about execution itself.
Domains of one wave (none consumes another's products) run at once, up to `MESH_BUILD_CONCURRENCY`,
each run in its own process (Dagster captures a step's output per process, and each domain has its
own DuckDB file); one at a time, the run stays in this process. With MESH_BUILD_MODE=queued
(`mesh build --queued`) the runs go through the instance's run queue instead and the daemon
launches them (queued_build.py); waves, progress and the report stay the same.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import multiprocessing
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh, workspace_locations
from mesh_platform.orchestration.build_events import DomainRun, relay_new_events
from mesh_platform.orchestration.definitions import LOCATION_GOVERNANCE, build_job_name
from mesh_platform.orchestration.orphaned_runs import build_tags
from mesh_platform.orchestration.queued_build import QueuedDomain, queued_runs
from mesh_platform.orchestration.runs import check_executor, instance_for
from mesh_platform.runtime.ports.store import check_storage
from mesh_platform.runtime.registry import publish_entries, sync_registry
from mesh_platform.runtime.settings import prepared_dagster_home, run_settings

if TYPE_CHECKING:
    from dagster._core.definitions.reconstruct import ReconstructableJob

    from mesh_platform.model.policies import Governance

# dg.execute_job picks a run's id itself: a tag unique to each run lets the build find it to relay its events.
RUN_TAG = "mesh/build_run"
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class ProductResult:
    product: str
    status: str  # published | failed | skipped | not built
    rows: int | None = None
    version: int | None = None
    detail: str = ""


@dataclass
class DomainResult:
    domain: str
    status: str  # succeeded | partly built | failed | failed to load | skipped
    seconds: float = 0.0
    run_id: str | None = None
    error: str | None = None


@dataclass
class BuildReport:
    domains: list[DomainResult] = field(default_factory=list)
    products: list[ProductResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.status == "succeeded" for d in self.domains)

    def failures(self) -> list[str]:
        return [f"{d.domain}: {d.status}: {d.error}" for d in self.domains if d.status != "succeeded"]


def load_location(root: Path, module_name: str) -> dg.Definitions:
    """Import a code location's module the way `dagster dev` would (project root on sys.path)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module(module_name)
    defs = getattr(module, "defs", None)
    if isinstance(defs, dg.Definitions):
        return defs
    raise MeshError(f"module {module_name} defines no Definitions named 'defs'")


def location_governance(root: Path, domain: str) -> Governance | None:
    """The governance `domain`'s code location publishes under: its global and own policies
    (declared only in its definitions module, `domain_definitions(__file__, policies=...)`), found
    by loading the location as `mesh validate` does. A location that does not load is refused.
    None: the domain has no location in the workspace, so no policies of its own (global only)."""
    module = workspace_locations(root).get(domain)
    if module is None:
        return None
    load_location(root, module)
    if domain not in LOCATION_GOVERNANCE:
        raise MeshError(f"location {module} did not build domain {domain!r} through domain_definitions: its policies are unknown")
    return LOCATION_GOVERNANCE[domain]


def location_job(root: str, module: str, job: str) -> dg.JobDefinition:
    """A location's job, rebuilt from plain names: the reconstructor the run (and, with the
    multiprocess executor, each step's own process) calls to load the job."""
    return load_location(Path(root), module).resolve_job_def(job)


def reconstructable_job(root: Path, module: str, job: str) -> ReconstructableJob:
    """The location's job as a pointer other processes can load (dg.execute_job runs only those)."""
    return dg.build_reconstructable_job(
        __name__, location_job.__name__, reconstructable_kwargs={"root": str(root), "module": module, "job": job},
        reconstructor_working_directory=str(root),
    )


def _partition_tags(job: dg.JobDefinition) -> dict[str, str]:
    """Partitioned products are built for all their months in one run (single-run backfill)."""
    partitions = job.partitions_def
    if partitions is None:
        return {}
    keys = partitions.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


def _run_in_child(root: str, module: str, job_name: str, home: str, selection, tags: dict[str, str], log_path: str) -> None:
    """A domain's run in a process of its own (one of a wave run at once). Its output goes to
    `log_path`, which the build copies into its own output once the run ends: concurrent runs'
    dbt output never interleaves."""
    job = reconstructable_job(Path(root), module, job_name)
    with dg.DagsterInstance.from_config(home) as instance, open(log_path, "w") as log, contextlib.redirect_stdout(log):
        dg.execute_job(job, instance=instance, asset_selection=selection, tags=tags, raise_on_error=False, run_config=RUN_CONFIG)


@functools.cache
def _run_processes() -> multiprocessing.context.BaseContext:
    """Processes started from a server that imported the platform (Dagster, dagster-dbt) once:
    a run's process starts without importing them again, seconds per domain (and never forks this
    process's threads, which relay other domains' events)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "mesh_platform.orchestration.dbt.assets"])
    return context


def _run_domain(
    instance: dg.DagsterInstance, job: ReconstructableJob, on_event: Callable[[dg.EventLogEntry], None],
    selection: list[dg.AssetKey] | None = None, own_process: tuple[Path, str] | None = None,
) -> DomainRun:
    """Run the (reconstructable) job with its own executor -- in a worker thread, or, given
    `own_process` (the mesh root and the location's module), in a process of its own -- and relay
    its events from the instance as they land."""
    marker = {RUN_TAG: str(uuid.uuid4())}
    tags = {**_partition_tags(job.get_definition()), **build_tags(), **marker}  # build_tags: a later build can tell if this one died
    outcome: dict[str, object] = {}
    log = None
    if own_process is not None:
        root, module = own_process
        log = tempfile.NamedTemporaryFile("r", suffix=".log", prefix=f"mesh-build-{job.job_name}-")
        args = (str(root), module, job.job_name, str(prepared_dagster_home(root)), selection, tags, log.name)
        worker = _run_processes().Process(target=_run_in_child, args=args, name=f"mesh-build-{job.job_name}")
    else:
        def work() -> None:
            try:
                dg.execute_job(job, instance=instance, asset_selection=selection, tags=tags, raise_on_error=False, run_config=RUN_CONFIG)
            except BaseException as exc:  # surfaced in the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"mesh-build-{job.job_name}")
    worker.start()
    cursor, run_id, events = None, None, []
    while True:
        alive = worker.is_alive()
        run_id = run_id or next(iter(instance.get_run_ids(dg.RunsFilter(tags=marker), limit=1)), None)
        if run_id is not None:
            cursor = relay_new_events(instance, run_id, cursor, events, on_event)
        if not alive:
            break
        time.sleep(0.3)
    worker.join()
    if log is not None:
        with log:
            sys.stdout.write(log.read())
        if worker.exitcode != 0:
            outcome["error"] = MeshError(f"the process running {job.job_name} exited with code {worker.exitcode}")
    if "error" in outcome:
        _close_run(instance, run_id)
        raise outcome["error"]  # type: ignore[misc]
    if run_id is None:
        raise MeshError(f"{job.job_name} ended without recording a run")
    run = instance.get_run_by_id(run_id)
    return DomainRun(run_id, run is not None and run.status == dg.DagsterRunStatus.SUCCESS, events)


def _close_run(instance: dg.DagsterInstance, run_id: str | None) -> None:
    """A run whose process died stays STARTED in the UI forever unless marked failed here."""
    run = instance.get_run_by_id(run_id) if run_id else None
    if run is not None and not run.is_finished:
        instance.report_run_failed(run)


def _step_failures(events: list[dg.DagsterEvent]) -> list[str]:
    failures = []
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            cause = (error.cause or error) if error else None  # the user's exception, not Dagster's wrapper
            message = " ".join((cause.message if cause else "unknown error").split())
            failures.append(f"step {event.step_key} failed: {message}")
    if not failures:
        for event in events:
            error = event.event_type == dg.DagsterEventType.RUN_FAILURE and event.event_specific_data.error
            if error:
                failures.append(f"run failed: {' '.join(error.message.split())}")
    return failures


def domain_waves(mesh: Mesh, selected: list[str]) -> list[list[str]]:
    """The selected domains in waves: each wave's domains consume only products of earlier
    waves, so they may run at once. Within a wave, the build's order (`selected`)."""
    graph = mesh.domain_dependencies()
    placed: dict[str, int] = {}
    for name in selected:  # producers come first in `selected`
        placed[name] = 1 + max((placed[d] for d in graph.get(name, ()) if d in placed), default=-1)
    waves: list[list[str]] = [[] for _ in range(max(placed.values(), default=-1) + 1)]
    for name in selected:
        waves[placed[name]].append(name)
    return waves


def build(
    root: Path,
    domains: list[str] | None = None,
    on_event: Callable[[str, dg.EventLogEntry], None] = lambda domain, entry: None,
    on_domain: Callable[[str, str], None] = lambda domain, phase: None,
    queued: bool | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> BuildReport:
    """Build the selected domains (all by default) in dependency order; never raises for a
    domain's failure: the report says which product and step failed. A product whose input did
    not build (or cannot be read) is skipped with that cause; its domain's other products build.
    `queued` (default: MESH_BUILD_MODE) sends the runs through the instance's run queue
    (queued_build.py); `say` gets the build's own notices (a daemon started for it)."""
    sync_registry(root)  # what this checkout consumes of domains it lacks (a location's image: only its own)
    mesh = Mesh.load(root)
    locations = workspace_locations(root)
    unknown = sorted(set(domains or []) - set(locations))
    if unknown:
        raise MeshError(f"unknown domain(s) {', '.join(unknown)}; workspace.yaml lists {', '.join(sorted(locations))}")
    order = mesh.domain_order() + sorted(set(locations) - set(mesh.domains))
    selected = [d for d in order if d in locations and (domains is None or d in domains)]  # never a registry's domain
    settings = run_settings(root)  # a bad MESH_EXECUTOR or DAGSTER_HOME stops the build here, before any domain loads
    check_storage(root, [d for d in selected if d in mesh.domains])  # an unreachable store or refused keys: one line, now
    check_executor(settings)  # a Celery broker that does not answer: one line, now
    instance = instance_for(root)  # an unreachable Postgres stops the build here, in one line
    queued = settings.build_mode == "queued" if queued is None else queued
    report = BuildReport()
    not_built: dict[str, str] = {}  # product id -> why it did not build in this run

    def prepare(name: str):
        """Load the domain and find what it can build now; None when nothing of it runs."""
        domain = mesh.domains.get(name)
        products = sorted(domain.products) if domain else []
        on_domain(name, "start")
        started = time.monotonic()
        try:
            if name not in mesh.domains:
                folder = root.joinpath(*locations[name].split(".")[:-1]).resolve()
                raise mesh.broken.get(folder) or MeshError(f"location {name!r} has no domain.yaml the platform can read")
            defs = load_location(root, locations[name])
            defs.resolve_job_def(build_job_name(name))  # a location that cannot make its job fails to load here
            job = reconstructable_job(root, locations[name], build_job_name(name))
        except Exception as exc:
            error = _one_line(exc)
            report.domains.append(DomainResult(name, "failed to load", time.monotonic() - started, error=error))
            report.products += [ProductResult(f"{name}.{p}", "not built", detail="domain failed to load") for p in products]
            not_built.update({f"{name}.{p}": f"domain {name!r} failed to load" for p in products})
            on_domain(name, "failed")
            return None
        skipped = skipped_products(mesh, domain, defs, not_built)
        runnable = [p for p in products if p not in skipped]
        report.products += [ProductResult(f"{name}.{p}", "skipped", detail=cause) for p, cause in sorted(skipped.items())]
        not_built.update({f"{name}.{p}": f"{name}.{p} was skipped" for p in skipped})
        skip_note = "; ".join(f"{name}.{p} skipped: {cause}" for p, cause in sorted(skipped.items()))
        if not runnable:
            report.domains.append(DomainResult(name, "skipped", time.monotonic() - started, error=skip_note))
            on_domain(name, "skipped")
            return None
        selection = _selection(defs, skipped_keys={dg.AssetKey([name, p]) for p in skipped}) if skipped else None
        return name, job, selection, runnable, skip_note, started

    def run(name, job, selection, own_process: bool):
        try:
            return _run_domain(instance, job, lambda entry, n=name: on_event(n, entry), selection, (root, locations[name]) if own_process else None)
        except MeshError as exc:  # the run's process died: the domain failed, the build goes on
            return exc

    def record(name, outcome, runnable, skip_note, started) -> None:
        if isinstance(outcome, MeshError):
            errors, status, run_id, published = [_one_line(outcome)], "failed", None, {}
        else:
            errors, run_id, published = _step_failures(outcome.events), outcome.run_id, _published(outcome.events)
            if not outcome.success and not errors and outcome.error:
                errors = [outcome.error]  # canceled, or failed before any step
            unregistered = _publish_registry(root, mesh, name, [p for p in runnable if p in published])
            errors += unregistered
            status = "failed" if not outcome.success or unregistered else "partly built" if skip_note else "succeeded"
        report.domains.append(
            DomainResult(name, status, time.monotonic() - started, run_id, "; ".join(errors + ([skip_note] if skip_note else [])) or None)
        )
        for product in runnable:
            if product in published:
                rows, version = published[product]
                report.products.append(ProductResult(f"{name}.{product}", "published", rows, version))
            else:
                report.products.append(ProductResult(f"{name}.{product}", "failed" if errors else "not built", detail="; ".join(errors)))
                not_built[f"{name}.{product}"] = f"{name}.{product} failed" if errors else f"{name}.{product} was not built"
        on_domain(name, status)

    def queued_domain(name, job, selection) -> QueuedDomain:
        return QueuedDomain(name, name, locations[name], job.job_name, selection, _partition_tags(job.get_definition()))

    waves = domain_waves(mesh, selected)
    if queued:
        modules = {name: locations[name] for name in selected}
        with queued_runs(root, instance, prepared_dagster_home(root), modules, say) as submitter:
            for wave in waves:
                ready = [p for p in map(prepare, wave) if p is not None]
                outcomes = submitter.run_wave([queued_domain(name, job, selection) for name, job, selection, *_ in ready], on_event)
                for (name, _, _, runnable, skip_note, started), outcome in zip(ready, outcomes):
                    record(name, outcome, runnable, skip_note, started)
        return report
    for wave in waves:
        ready = [p for p in map(prepare, wave) if p is not None]
        at_once = min(settings.build_concurrency, len(ready))
        if at_once <= 1:
            for name, job, selection, runnable, skip_note, started in ready:
                record(name, run(name, job, selection, own_process=False), runnable, skip_note, started)
            continue
        with ThreadPoolExecutor(max_workers=at_once) as pool:  # threads only relay: each run has its own process
            futures = [pool.submit(run, name, job, selection, True) for name, job, selection, *_ in ready]
            for (name, _, _, runnable, skip_note, started), future in zip(ready, futures):
                record(name, future.result(), runnable, skip_note, started)
    return report


def skipped_products(mesh: Mesh, domain, defs: dg.Definitions, not_built: Mapping[str, str]) -> dict[str, str]:
    """Products of `domain` that cannot build now, each with its cause: an input port that did not
    build in this run or cannot be read at all, and whatever of the domain is downstream of one."""
    blocked: dict[dg.AssetKey, str] = {}
    for product in domain.products.values():
        for port in product.inputs:
            if port.domain == domain.name:
                continue
            reason = mesh.unavailable(port.domain, port.product) or not_built.get(port.id)
            if reason:
                blocked[dg.AssetKey(list(port.key))] = f"input {port.id}: {reason}"
    if not blocked:
        return {}
    graph = defs.resolve_asset_graph()
    skipped: dict[str, str] = {}
    for key, cause in blocked.items():
        for downstream in dg.AssetSelection.assets(key).downstream().resolve(graph):
            if downstream.path[0] == domain.name and downstream.path[-1] in domain.products:
                skipped.setdefault(downstream.path[-1], cause)
    return skipped


def _selection(defs: dg.Definitions, skipped_keys: set[dg.AssetKey]) -> list[dg.AssetKey]:
    """Every asset of the location's build job except the skipped products and what they feed."""
    graph = defs.resolve_asset_graph()
    skipped = dg.AssetSelection.assets(*skipped_keys).downstream().resolve(graph)
    return sorted(graph.materializable_asset_keys - skipped)


def _published(events: list[dg.DagsterEvent]) -> dict[str, tuple[int | None, int | None]]:
    published: dict[str, tuple[int | None, int | None]] = {}
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_MATERIALIZATION:
            continue
        metadata = event.step_materialization_data.materialization.metadata
        if "delta_version" in metadata:
            rows = metadata.get("dagster/row_count")
            published[event.asset_key.path[-1]] = (rows.value if rows else None, metadata["delta_version"].value)
    return published


def _publish_registry(root: Path, mesh: Mesh, domain: str, products: list[str]) -> list[str]:
    """Publish the registry entries of the products a run published (runtime/registry.py); the
    failure, as one line, when they could not be: consumers lacking the domain cannot load them."""
    try:
        publish_entries(root, mesh.domains[domain], products)
    except MeshError as exc:
        return [f"registry entries of {domain} not published: {_one_line(exc)}"]
    return []


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(text.split())}" if not isinstance(exc, MeshError) else " ".join(text.split())
