"""`mesh build`: materialize every product of every domain, producers before consumers.

One Dagster run per domain, recorded in the mesh's Dagster instance so that the runs show in the
UI. Each run steps through its job's own executor, the one every run of the mesh uses
(`MESH_EXECUTOR`, orchestration/runs.py): the build decides nothing about execution itself.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh, workspace_locations
from mesh_platform.orchestration.definitions import build_job_name
from mesh_platform.orchestration.orphaned_runs import build_tags
from mesh_platform.orchestration.runs import instance_for
from mesh_platform.runtime.settings import run_settings

if TYPE_CHECKING:
    from dagster._core.definitions.reconstruct import ReconstructableJob

# dg.execute_job picks a run's id itself: a tag unique to each run lets the build find it to relay its events.
RUN_TAG = "mesh/build_run"
PROGRESS_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}


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


def _run_domain(
    instance: dg.DagsterInstance, job: ReconstructableJob, on_event: Callable[[dg.EventLogEntry], None],
    selection: list[dg.AssetKey] | None = None,
) -> dg.JobExecutionResult:
    """Run the (reconstructable) job in a worker thread with its own executor, and relay its
    events from the instance as they land."""
    marker = {RUN_TAG: str(uuid.uuid4())}
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["result"] = dg.execute_job(
                job,
                instance=instance,
                asset_selection=selection,
                tags={**_partition_tags(job.get_definition()), **build_tags(), **marker},  # build_tags: a later build can tell if this one died
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        except BaseException as exc:  # surfaced in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"mesh-build-{job.job_name}")
    worker.start()
    cursor, run_id = None, None
    while True:
        alive = worker.is_alive()
        run_id = run_id or next(iter(instance.get_run_ids(dg.RunsFilter(tags=marker), limit=1)), None)
        if run_id is not None:
            records = instance.get_records_for_run(run_id, cursor=cursor, of_type=PROGRESS_EVENTS)
            cursor = records.cursor
            for record in records.records:
                on_event(record.event_log_entry)
        if not alive:
            break
        time.sleep(0.3)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def _step_failures(result: dg.JobExecutionResult) -> list[str]:
    failures = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            cause = (error.cause or error) if error else None  # the user's exception, not Dagster's wrapper
            message = " ".join((cause.message if cause else "unknown error").split())
            failures.append(f"step {event.step_key} failed: {message}")
    return failures


def build(
    root: Path,
    domains: list[str] | None = None,
    on_event: Callable[[str, dg.EventLogEntry], None] = lambda domain, entry: None,
    on_domain: Callable[[str, str], None] = lambda domain, phase: None,
) -> BuildReport:
    """Build the selected domains (all by default) in dependency order; never raises for a
    domain's failure: the report says which product and step failed. A product whose input did
    not build (or cannot be read) is skipped with that cause; its domain's other products build."""
    mesh = Mesh.load(root)
    locations = workspace_locations(root)
    unknown = sorted(set(domains or []) - set(locations))
    if unknown:
        raise MeshError(f"unknown domain(s) {', '.join(unknown)}; workspace.yaml lists {', '.join(sorted(locations))}")
    order = mesh.domain_order() + sorted(set(locations) - set(mesh.domains))
    selected = [d for d in order if domains is None or d in domains]
    run_settings(root)  # a bad MESH_EXECUTOR or DAGSTER_HOME stops the build here, before any domain loads
    instance = instance_for(root)
    report = BuildReport()
    not_built: dict[str, str] = {}  # product id -> why it did not build in this run

    for name in selected:
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
            continue
        skipped = skipped_products(mesh, domain, defs, not_built)
        runnable = [p for p in products if p not in skipped]
        report.products += [ProductResult(f"{name}.{p}", "skipped", detail=cause) for p, cause in sorted(skipped.items())]
        not_built.update({f"{name}.{p}": f"{name}.{p} was skipped" for p in skipped})
        skip_note = "; ".join(f"{name}.{p} skipped: {cause}" for p, cause in sorted(skipped.items()))
        if not runnable:
            report.domains.append(DomainResult(name, "skipped", time.monotonic() - started, error=skip_note))
            on_domain(name, "skipped")
            continue
        selection = _selection(defs, skipped_keys={dg.AssetKey([name, p]) for p in skipped}) if skipped else None
        result = _run_domain(instance, job, lambda entry, n=name: on_event(n, entry), selection)
        published = _published(result)
        errors = _step_failures(result)
        status = "failed" if not result.success else "partly built" if skipped else "succeeded"
        report.domains.append(
            DomainResult(name, status, time.monotonic() - started, result.run_id, "; ".join(errors + ([skip_note] if skip_note else [])) or None)
        )
        for product in runnable:
            if product in published:
                rows, version = published[product]
                report.products.append(ProductResult(f"{name}.{product}", "published", rows, version))
            else:
                report.products.append(ProductResult(f"{name}.{product}", "failed" if errors else "not built", detail="; ".join(errors)))
                not_built[f"{name}.{product}"] = f"{name}.{product} failed" if errors else f"{name}.{product} was not built"
        on_domain(name, status)
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


def _published(result: dg.JobExecutionResult) -> dict[str, tuple[int | None, int | None]]:
    published: dict[str, tuple[int | None, int | None]] = {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        if "delta_version" in metadata:
            rows = metadata.get("dagster/row_count")
            published[event.asset_key.path[-1]] = (rows.value if rows else None, metadata["delta_version"].value)
    return published


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(text.split())}" if not isinstance(exc, MeshError) else " ".join(text.split())
