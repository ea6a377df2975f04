"""How the mesh keeps itself up to date without anyone pressing a button, per code location.

- **Source-aligned products publish on a schedule** declared in their descriptor
  (`schedule: {cron: "0 6 * * *", timezone: America/New_York}`). Products of one domain with the
  same schedule publish together, in one run, in dependency order. A monthly product's schedule
  publishes the latest complete month at each tick.
- **Every other product that reads another domain's port reacts to it** through declarative
  automation: when an input port publishes a new version, the product is rebuilt once — after
  every input that is still running has finished, never while an input is missing, and never
  while an input's latest publish failed. A product downstream of such a product in its own
  domain reacts the same way.
- **Failed runs raise an alert**: a run-failure sensor per location logs one line naming the
  domain, the products that were not published, the failed steps and their errors, and appends
  it as one JSON line to `<MESH_HOME>/alerts.log`, and posts it to `MESH_ALERT_WEBHOOK` if set
  (runtime/notifications.py).

Each location carries `automation_<domain>` (the automation condition sensor), `failures_<domain>`
and its schedules, all running by default: starting `mesh dev` starts the mesh's automation.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import AUTOMATION_CONDITION_TAG, BACKFILL_ID_TAG, SCHEDULE_NAME_TAG, SENSOR_NAME_TAG

from mesh_platform.model.descriptor import Domain, Partitioning, Product, Schedule
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.redaction import scrub
from mesh_platform.runtime.notifications import notify
from mesh_platform.runtime.settings import INTERVAL_ENV, mesh_home
from mesh_platform.runtime.settings import automation_interval_seconds as interval_seconds

ALERTS_FILE = "alerts.log"
RUNNING = dg.DefaultSensorStatus.RUNNING
SCHEDULE_RUNNING = dg.DefaultScheduleStatus.RUNNING

logger = logging.getLogger("mesh.automation")


def automation_sensor_name(domain: str) -> str:
    return f"automation_{domain}"


def failure_sensor_name(domain: str) -> str:
    return f"failures_{domain}"

# -- consumers: declarative automation -------------------------------------------------------------


def on_new_input_version() -> dg.AutomationCondition:
    """Rebuild when an input port publishes a new version: once, after the inputs settle.

    This is `AutomationCondition.eager()` with three changes:
    - no `in_latest_time_window()`: a monthly product rebuilds the months whose inputs changed
      (a corrected 2013-03 of flights rebuilds 2013-03 downstream; a new version of an unpartitioned
      input rebuilds every month), not only the latest month;
    - `~any_deps_failed`: while an input's latest publish failed (its port still holds the previous
      good version), the product waits for the input to be fixed rather than rebuilding on a mix;
    - `missing_when_first_seen`: a product that has never been published, first seen by the
      sensor with every input published (a new consumer deployed into a running mesh), is built.
      eager() leaves it alone until an input publishes again. It fires on that one evaluation only,
      so a product whose build fails is not retried in a loop.
    It keeps eager's guarantees: `since_last_handled` requests the product once per new input
    version (several inputs updating on one tick, or while others run, still give one rebuild);
    nothing is requested while an input is missing or still running, or while the product itself
    is being built."""
    condition = dg.AutomationCondition
    new_input = (condition.newly_missing() | condition.any_deps_updated()).since_last_handled()
    never_built = (condition.initial_evaluation() & condition.missing()).with_label("missing_when_first_seen")
    return (
        (new_input | never_built)
        & ~condition.any_deps_missing()
        & ~condition.any_deps_in_progress()
        & ~condition.any_deps_match(condition.execution_failed()).with_label("any_deps_failed")
        & ~condition.in_progress()
    ).with_label("on_new_input_version")


def reacting_products(domain: str, products: Mapping[str, Product]) -> set[str]:
    """The products of `domain` rebuilt when an input changes: every product without a schedule
    that reads another domain's port, or a product of its own domain that reacts."""
    reacting: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, product in products.items():
            if name in reacting or product.descriptor.schedule is not None:
                continue
            if any(port.domain != domain or port.product in reacting for port in product.inputs):
                reacting.add(name)
                changed = True
    return reacting


def condition_for(product: Product, root: Path) -> dg.AutomationCondition | None:
    """The automation condition of a product asset (None: it publishes on its schedule or on demand)."""
    domain = current_mesh(root).domains.get(product.domain)
    siblings = {**(domain.products if domain else {}), product.name: product}
    return on_new_input_version() if product.name in reacting_products(product.domain, siblings) else None


def automation_sensor(domain: str) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        automation_sensor_name(domain),
        target=dg.AssetSelection.all(),  # only this location's assets carrying a condition are evaluated
        default_status=RUNNING,
        minimum_interval_seconds=interval_seconds(),
        description=f"Rebuilds the products of {domain} that read other domains' ports when those publish a new version.",
    )

# -- source-aligned products: schedules ------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleGroup:
    schedule: Schedule
    partitioning: Partitioning | None
    products: tuple[Product, ...]


def schedule_groups(domain: Domain) -> list[ScheduleGroup]:
    """Scheduled products of the domain, grouped by identical schedule (and partitioning): each
    group publishes in one run."""
    groups: dict[tuple, list[Product]] = {}
    for name in sorted(domain.products):
        product = domain.products[name]
        spec = product.descriptor.schedule
        if spec is not None:
            groups.setdefault((spec, product.descriptor.partitioning), []).append(product)
    return [ScheduleGroup(spec, parts, tuple(products)) for (spec, parts), products in groups.items()]


def partitions_of(product: Product) -> dg.PartitionsDefinition | None:
    spec = product.descriptor.partitioning
    if spec is None:
        return None
    return dg.MonthlyPartitionsDefinition(start_date=spec.start.isoformat(), end_date=spec.end.isoformat())


def latest_complete_partition(partitions: dg.PartitionsDefinition, when: dt.datetime) -> str | None:
    """The last partition whose window has ended at `when` (None before the first one ends)."""
    with dg.partition_loading_context(effective_dt=when):
        return partitions.get_last_partition_key()


def scheduled_publishing(
    domain: Domain, build_job: dg.UnresolvedAssetJobDefinition, internal_keys: Iterable[dg.AssetKey]
) -> tuple[list[dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]]:
    """One schedule per group of scheduled products. A group holding every product of the domain
    runs the domain's build job (what `mesh build --domain` runs); another group gets a job of its
    products and the internal models (dbt staging) they are built from."""
    groups = schedule_groups(domain)
    jobs: list[dg.UnresolvedAssetJobDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    internal = dg.AssetSelection.assets(*internal_keys)
    for group in groups:
        names = [p.name for p in group.products]
        suffix = "" if len(groups) == 1 else f"_{names[0]}"
        if set(names) == set(domain.products):
            job = build_job
        else:
            keys = [dg.AssetKey(list(p.key)) for p in group.products]
            selection = dg.AssetSelection.assets(*keys)
            job = dg.define_asset_job(f"publish_{domain.name}{suffix}", selection=selection | (selection.upstream() & internal))
            jobs.append(job)
        ids = ", ".join(p.id for p in group.products)
        spec = group.schedule
        name = f"schedule_{domain.name}{suffix}"
        if group.partitioning is None:
            schedules.append(dg.ScheduleDefinition(
                name=name, job=job, cron_schedule=spec.cron, execution_timezone=spec.timezone, default_status=SCHEDULE_RUNNING,
                description=f"Publishes {ids}.",
            ))
        else:
            schedules.append(_latest_complete_partition_schedule(name, job, spec, partitions_of(group.products[0]), ids))
    return jobs, schedules


def _latest_complete_partition_schedule(
    name: str, job: dg.UnresolvedAssetJobDefinition, spec: Schedule, partitions: dg.PartitionsDefinition, ids: str
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name, job=job, cron_schedule=spec.cron, execution_timezone=spec.timezone, default_status=SCHEDULE_RUNNING,
        description=f"Publishes the latest complete month of {ids}.",
    )
    def _publish_latest_month(context: dg.ScheduleEvaluationContext):
        key = latest_complete_partition(partitions, context.scheduled_execution_time)
        if key is None:
            return dg.SkipReason(f"no month of {ids} is complete at {context.scheduled_execution_time:%Y-%m-%d %H:%M %Z}")
        return dg.RunRequest(partition_key=key, tags={"mesh/scheduled_partition": key})

    return _publish_latest_month

# -- failures: alerts ------------------------------------------------------------------------------


@dataclass
class Alert:
    domain: str
    run_id: str
    job: str
    trigger: str  # automation | schedule <name> | sensor <name> | backfill <id> | manual
    products: list[str] = field(default_factory=list)  # planned products the run did not publish
    steps: list[dict[str, str]] = field(default_factory=list)  # {"step": ..., "error": ...}
    error: str = ""  # the run's own failure message
    time: str = ""

    def line(self) -> str:
        products = ", ".join(self.products) or "none"
        steps = "; ".join(f"step {s['step']} failed: {s['error']}" for s in self.steps) or self.error
        return f"mesh publish failed in domain {self.domain} (run {self.run_id}, {self.trigger}): not published: {products}; {steps}"


def _one_line(text: str, limit: int = 1000) -> str:
    # A failed step's error may be a product's own exception: what looks personal stays out of alerts.log.
    text = scrub(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(error) -> str:
    """`PublishError: ...` rather than `mesh_platform.model.errors.PublishError: ...`."""
    prefix, sep, rest = error.message.partition(": ")
    if sep and error.cls_name and prefix.split(".")[-1] == error.cls_name:
        return f"{error.cls_name}: {rest}"
    return error.message


def _trigger(tags: dict[str, str]) -> str:
    if tags.get(AUTOMATION_CONDITION_TAG) == "true":
        return "automation"
    if SCHEDULE_NAME_TAG in tags:
        return f"schedule {tags[SCHEDULE_NAME_TAG]}"
    if BACKFILL_ID_TAG in tags:
        return f"backfill {tags[BACKFILL_ID_TAG]}"
    if SENSOR_NAME_TAG in tags:
        return f"sensor {tags[SENSOR_NAME_TAG]}"
    return "manual"


def describe_failure(
    domain: str, run: dg.DagsterRun, instance: dg.DagsterInstance, step_failures: Sequence[dg.DagsterEvent] = (),
    run_failure: dg.DagsterEvent | None = None,
) -> Alert:
    """What failed in a run: the planned products it did not publish, each failed step and its error."""
    planned: set[tuple[str, ...]] = set()
    published: set[tuple[str, ...]] = set()
    records = instance.get_records_for_run(
        run.run_id, of_type={dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_MATERIALIZATION}
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key is None:
            continue
        target = planned if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED else published
        target.add(tuple(event.asset_key.path))
    steps = []
    for event in step_failures:
        error = event.step_failure_data.error if event.step_failure_data else None
        cause = (error.cause or error) if error else None  # the user's exception, not Dagster's wrapper
        steps.append({"step": event.step_key or "?", "error": _one_line(_message(cause) if cause else event.message or "unknown error")})
    return Alert(
        domain=domain,
        run_id=run.run_id,
        job=run.job_name,
        trigger=_trigger(dict(run.tags)),
        products=sorted(".".join(key) for key in planned - published),
        steps=steps,
        error=_one_line(run_failure.message or "") if run_failure is not None else "",
        time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def alerts_path(root: Path) -> Path:
    return mesh_home(root) / ALERTS_FILE


def record_alert(root: Path, alert) -> Path:
    """Append the alert (a run's Alert, an SloBreach) as one JSON line (one write: lines of concurrent writers never interleave)."""
    path = alerts_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(alert), ensure_ascii=False) + "\n")
    return path


def failure_sensor(domain: str, root: Path) -> dg.RunStatusSensorDefinition:
    @dg.run_failure_sensor(
        name=failure_sensor_name(domain),
        default_status=RUNNING,
        minimum_interval_seconds=interval_seconds(),
        description=f"Reports every failed run of {domain} (automation, schedules, launches from the UI) to the log and {ALERTS_FILE}.",
    )
    def _report_failure(context: dg.RunFailureSensorContext) -> None:
        alert = describe_failure(domain, context.dagster_run, context.instance, context.get_step_failure_events(), context.failure_event)
        path = record_alert(root, alert)
        context.log.error(f"{alert.line()} (recorded in {path})")
        logger.error(alert.line())
        notify(alert.line(), {"kind": "run_failure", **asdict(alert)})  # MESH_ALERT_WEBHOOK, if set; never raises

    return _report_failure

# -- one location ----------------------------------------------------------------------------------


@dataclass
class LocationAutomation:
    jobs: list[dg.UnresolvedAssetJobDefinition]
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]


def location_automation(
    domain: Domain, root: Path, build_job: dg.UnresolvedAssetJobDefinition, internal_keys: Iterable[dg.AssetKey]
) -> LocationAutomation:
    """Schedules, the automation condition sensor and the failure sensor of one code location."""
    jobs, schedules = scheduled_publishing(domain, build_job, internal_keys)
    return LocationAutomation(jobs, schedules, [automation_sensor(domain.name), failure_sensor(domain.name, root)])
