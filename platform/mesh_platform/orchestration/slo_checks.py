"""Measured SLOs as non-blocking Dagster asset checks, one per measured SLA of a product.

Each product whose contract declares freshness, latency, frequency or availability gets one
multi-asset check (`slo_<product>`) holding a check per property, named `slo_<property>`
(model/slo.py defines the measures). It runs after every publish (it is part of the domain's build
job and of every job that selects the product) and on the location's SLO schedule (`slo_<domain>`,
every 30 minutes), so a product that stops publishing breaches freshness and frequency without a
run of its own. A breach is a failed check of severity WARN, never blocking: the port keeps what
was published. Each check's metadata holds `measured` (text), `value` (seconds, or percent for
availability) and `target`; `slo_state` reads the latest of them from an instance.

A breach is also an alert: one JSON line in alerts.log (kind `slo_breach`) and a post to
MESH_ALERT_WEBHOOK, once when a check goes from passing (or never evaluated) to failing, not again
on every evaluation of a breach that lasts.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg

from mesh_platform.model.descriptor import Domain, Product
from mesh_platform.model.redaction import without_values
from mesh_platform.model.slo import (
    AVAILABILITY_WINDOW, MEASURED, Measurement, Objective, slo_check_name, measure_availability, measure_freshness, measure_frequency,
    measure_latency, objectives, unmeasurable,
)
from mesh_platform.orchestration.automation import record_alert
from mesh_platform.runtime.notifications import notify

SLO_CRON = "*/30 * * * *"
HISTORY_DEPTH = 500  # commits read per evaluation: enough for 30 days of publishes every couple of hours
logger = logging.getLogger("mesh.slo")


def slo_job_name(domain: str) -> str:
    return f"slo_{domain}"


def product_objectives(product: Product) -> list[Objective]:
    partitioning = product.descriptor.partitioning
    return objectives(product.contract, partitioning.column if partitioning else None)


def _spec(key: dg.AssetKey, objective: Objective) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        slo_check_name(objective.property), asset=key, blocking=False,
        description=f"Measured {objective.property} SLO: {objective.target} (warns, never blocks publish)",
    )


@dataclass
class SloBreach:
    """One line of alerts.log for an SLO that a product stopped meeting."""

    domain: str
    product: str
    check: str
    measured: str
    target: str
    summary: str
    run_id: str
    time: str
    kind: str = "slo_breach"

    def line(self) -> str:
        return f"SLO breached by {self.product} in domain {self.domain}: {self.check} {self.summary} (target {self.target})"


# -- what is measured -------------------------------------------------------------------------------


def _publish_times(history: list[dict]) -> list[dt.datetime]:
    """Commit times of the port's publishes (commits the write path made: they carry a run id)."""
    from mesh_platform.runtime.ports.port import RUN_ID_KEY  # reason: the port layer (pyarrow) loads when a check runs, not at location load

    return [dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.timezone.utc) for entry in history if entry.get(RUN_ID_KEY)]


def _newest_event(store, uri: str, product: Product, column: str):
    import pyarrow.compute as pc  # reason: pyarrow loads when a check runs, not at location load

    values = store.scan(uri, product.id, columns=[column]).column(column)
    return pc.max(values).as_py() if len(values) else None


def _failed_attempts(instance: dg.DagsterInstance, key: dg.AssetKey, since: dt.datetime) -> list[dt.datetime]:
    """When runs that set out to publish the product ended without publishing it (failed or
    canceled): Dagster records no event of its own for an asset a failed step never produced."""
    planned = instance.fetch_planned_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_timestamp=since.timestamp()), limit=HISTORY_DEPTH).records
    run_ids = list({r.run_id for r in planned})
    if not run_ids:
        return []
    ended = instance.get_run_records(dg.RunsFilter(run_ids=run_ids, statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]))
    failures = []
    for record in ended:
        produced = instance.get_records_for_run(record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        if any(r.event_log_entry.dagster_event.asset_key == key for r in produced if r.event_log_entry.dagster_event):
            continue  # the product was published; another step of the run failed
        end = record.end_time or record.update_timestamp.timestamp()
        failures.append(dt.datetime.fromtimestamp(end, dt.timezone.utc))
    return failures


def measure_product(product: Product, root: Path, instance: dg.DagsterInstance, now: dt.datetime) -> list[Measurement]:
    """Every measured SLO of `product` at `now`, from its port's commit history, its newest event
    time and the failed publish attempts the instance recorded."""
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store (deltalake) loads when a check runs, not at location load

    store = port_store(root, acting=product.domain)
    uri = store.uri(product.domain, product.name, product.contract.major)
    publishes = _publish_times(store.history(uri, HISTORY_DEPTH))
    results = []
    for objective in product_objectives(product):
        if objective.property == "freshness":
            results.append(measure_freshness(objective, publishes, now))
        elif objective.property == "frequency":
            results.append(measure_frequency(objective, publishes, now))
        elif objective.property == "latency":
            newest = _newest_event(store, uri, product, objective.event_column) if publishes and objective.event_column else None
            results.append(measure_latency(objective, publishes, newest))
        else:
            key = dg.AssetKey(list(product.key))
            failures = _failed_attempts(instance, key, now - AVAILABILITY_WINDOW - dt.timedelta(days=1))
            outcomes = [(t, True) for t in publishes] + [(t, False) for t in failures]
            results.append(measure_availability(objective, outcomes, now))
    return results


# -- as asset checks --------------------------------------------------------------------------------


def _result(key: dg.AssetKey, m: Measurement) -> dg.AssetCheckResult:
    metadata = {"measured": m.measured, "target": m.objective.target, "summary": m.summary}
    if m.value is not None:
        metadata["value"] = dg.MetadataValue.float(float(m.value))
    return dg.AssetCheckResult(
        asset_key=key, check_name=slo_check_name(m.objective.property), passed=m.passed,
        severity=dg.AssetCheckSeverity.WARN, metadata=metadata, description=m.summary,
    )


def _latest_evaluation(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, not_of_run: str | None = None):
    """The newest finished execution of a check (skipping `not_of_run`'s), or None."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus  # reason: Dagster has no public name for a check execution's status

    finished = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
    history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5, status=finished)
    return next((r for r in history if r.run_id != not_of_run and r.evaluation is not None), None)


def _newly_failing(instance: dg.DagsterInstance, key: dg.AssetKey, failed: list[Measurement], run_id: str) -> list[Measurement]:
    """The breaches whose check passed (or never ran) in the latest evaluation before this run's:
    a breach that lasts is alerted once, when it starts."""
    new = []
    for m in failed:
        previous = _latest_evaluation(instance, dg.AssetCheckKey(key, slo_check_name(m.objective.property)), not_of_run=run_id)
        if previous is None or previous.evaluation.passed:
            new.append(m)
    return new


def alert_breaches(root: Path, product: Product, breaches: list[Measurement], run_id: str, log) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for m in breaches:
        breach = SloBreach(product.domain, product.id, slo_check_name(m.objective.property), m.measured, m.objective.target, m.summary, run_id, now)
        path = record_alert(root, breach)
        log.warning(f"{breach.line()} (recorded in {path})")
        notify(breach.line(), asdict(breach))  # MESH_ALERT_WEBHOOK, if set; never raises


def product_slo_checks(product: Product, root: Path) -> dg.AssetChecksDefinition | None:
    """The product's SLO checks, or None when its contract declares no measured SLA."""
    found = product_objectives(product)
    if not found:
        return None
    key = dg.AssetKey(list(product.key))

    @dg.multi_asset_check(
        specs=[_spec(key, o) for o in found], name=f"slo_{product.name}", can_subset=True,
        description=f"Measured SLOs of {product.id} (warn, never block).",
    )
    def _slo(context):  # no annotation: postponed annotations would hide its type from Dagster
        selected = {k.name for k in context.selected_asset_check_keys}
        try:
            measured = measure_product(product, root, context.instance, dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # an SLO never fails a run: an unreadable history is a failed check, saying why
            why = f"{type(exc).__name__}: {without_values(str(exc))}"
            measured = [unmeasurable(o, why) for o in found]
        measured = [m for m in measured if slo_check_name(m.objective.property) in selected]
        breaches = _newly_failing(context.instance, key, [m for m in measured if not m.passed], context.run.run_id)
        yield from (_result(key, m) for m in measured)  # results first: an alert that fails must not lose them
        alert_breaches(root, product, breaches, context.run.run_id, context.log)

    return _slo


def domain_slo_checks(domain: Domain, root: Path) -> list[dg.AssetChecksDefinition]:
    return [c for c in (product_slo_checks(domain.products[n], root) for n in sorted(domain.products)) if c is not None]


def slo_schedule(domain: str, checks: list[dg.AssetChecksDefinition]) -> tuple[list[dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]]:
    """The job evaluating the domain's SLO checks alone, and its schedule (running by default)."""
    if not checks:
        return [], []
    job = dg.define_asset_job(slo_job_name(domain), selection=dg.AssetSelection.checks(*checks))
    schedule = dg.ScheduleDefinition(
        name=f"slo_schedule_{domain}", job=job, cron_schedule=SLO_CRON, default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Re-measures the SLOs of {domain}'s products, published or not.",
    )
    return [job], [schedule]


@dataclass(frozen=True)
class SloState:
    """The latest evaluation of one SLO check of a product, as `mesh health` shows it."""

    check: str
    passed: bool | None  # None: never evaluated
    measured: str | None
    target: str | None
    summary: str | None
    evaluated_at: dt.datetime | None


def slo_state(instance: dg.DagsterInstance, product: Product) -> list[SloState]:
    """The latest evaluation of each of the product's SLO checks in `instance` (for `mesh health`)."""
    key = dg.AssetKey(list(product.key))
    states = []
    for name in (slo_check_name(o.property) for o in product_objectives(product)):
        record = _latest_evaluation(instance, dg.AssetCheckKey(key, name))
        if record is None:
            states.append(SloState(name, None, None, None, None, None))
            continue
        meta = {k: v.value for k, v in record.evaluation.metadata.items()}  # measured, target, summary, value
        states.append(SloState(name, record.evaluation.passed, meta.get("measured"), meta.get("target"), meta.get("summary"),
                               dt.datetime.fromtimestamp(record.event.timestamp, dt.timezone.utc)))
    return states


def latest_slo_evaluations(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[SloState]:
    """The latest evaluation of every SLO check recorded for the asset `key`, whatever its contract
    declares today (an SLA dropped since still shows its last verdict), read per check key so that
    newer evaluations of other checks never hide one."""
    found = []
    for name in (slo_check_name(p) for p in MEASURED):
        record = _latest_evaluation(instance, dg.AssetCheckKey(key, name))
        if record is not None:
            meta = {k: v.value for k, v in record.evaluation.metadata.items()}
            found.append(SloState(name, record.evaluation.passed, meta.get("measured"), meta.get("target"),
                                  record.evaluation.description or meta.get("summary"),
                                  dt.datetime.fromtimestamp(record.event.timestamp, dt.timezone.utc)))
    return found

