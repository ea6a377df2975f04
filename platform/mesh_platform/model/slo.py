"""Measured service levels: what a contract's SLAs mean, as numbers a clock can check.

A contract promises, in `slaProperties`, how a product is served; the platform measures four:

- **freshness** (`value`, `unit`): the time since the port's latest publish (its newest Delta
  commit) is at most the value. The same measure as the asset's Dagster freshness policy.
- **latency** (`value`, `unit`, `element`): the latest publish time minus the data's event time,
  the newest value of the SLA's `element` column (else the contract's `slaDefaultElement`, else
  the column a monthly partition is derived from, else the partition column), is at most the
  value. A date stands for its whole day, whose events are complete when it ends: date D is the
  time D+1 00:00 UTC. A timestamp without a time zone is read as UTC.
- **frequency** (`value`, `unit`): the longest of the interval between the port's two latest
  publishes and the time since its latest publish is at most the value, so a product that stops
  publishing breaches it without a run of its own.
- **availability** (`value` in percent, `unit: percent`): over the last 30 days (or since the
  product's first publish attempt, if later), the share of the time in which the port held a
  readable version and the product's latest publish attempt had not failed, is at least the value.
  It goes down when a publish fails and up again with the next publish that succeeds.

Everything here is pure: the clock and the histories come in as arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mesh_platform.model.contracts.model import DERIVED_FROM, Contract
from mesh_platform.model.durations import format_duration, format_elapsed
from mesh_platform.model.errors import ContractError

MEASURED = ("freshness", "latency", "frequency", "availability")
AVAILABILITY_WINDOW = dt.timedelta(days=30)
PERCENT_UNITS = ("percent", "%")
CHECK_PREFIX = "slo_"
UTC = dt.timezone.utc


def slo_check_name(prop: str) -> str:
    """The asset check a measured SLA is evaluated as: `slo_latency`, `slo_frequency`, ..."""
    return f"{CHECK_PREFIX}{prop}"


@dataclass(frozen=True)
class Objective:
    """One measured SLA of a product's contract: a duration (freshness, latency, frequency) or a
    percentage (availability) to hold, and for latency the column that carries event time."""

    property: str
    limit: dt.timedelta | None = None
    percent: float | None = None
    event_column: str | None = None

    @property
    def target(self) -> str:
        return f">= {self.percent:g}%" if self.percent is not None else f"<= {format_duration(self.limit)}"


@dataclass(frozen=True)
class Measurement:
    """The verdict on one objective at one moment: passed, the measured value as text and as a
    number (seconds, or percent for availability), and one line saying why."""

    objective: Objective
    passed: bool
    measured: str
    value: float | None
    summary: str


def _availability_percent(contract: Contract, index: int, value, unit) -> float:
    where = f"slaProperties[{index}]"
    if (unit or "percent").lower() not in PERCENT_UNITS:
        raise ContractError(contract.path, f"{where}.unit", f"availability is measured in percent; expected unit 'percent', found {unit!r}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 100:
        raise ContractError(contract.path, f"{where}.value", f"expected a percentage above 0 and at most 100, found {value!r}")
    return float(value)


def _derived_from(contract: Contract, column: str) -> str | None:
    prop = next((p for p in contract.odcs.schema_[0].properties or [] if p.name == column), None) if contract.odcs.schema_ else None
    return next((c.value for c in (prop.customProperties or []) if c.property == DERIVED_FROM), None) if prop else None


def objectives(contract: Contract, partition_column: str | None = None) -> list[Objective]:
    """The contract's measured SLAs, in the order MEASURED lists them (one per property).
    `partition_column` (a monthly product's) stands in for a latency SLA's missing element."""
    found: dict[str, Objective] = {}
    for level in contract.service_levels:
        if level.property in found or level.property not in MEASURED or level.property == "availability":
            continue
        column = None
        if level.property == "latency":
            column = level.element.split(".")[-1] if level.element else (
                partition_column and (_derived_from(contract, partition_column) or partition_column))
        found[level.property] = Objective(level.property, limit=level.window, event_column=column)
    for i, sla in enumerate(contract.odcs.slaProperties or []):
        if sla.property == "availability" and "availability" not in found:
            found["availability"] = Objective("availability", percent=_availability_percent(contract, i, sla.value, sla.unit))
    return [found[p] for p in MEASURED if p in found]


def as_time(value) -> dt.datetime | None:
    """An event-time value as an aware UTC time: date D is D+1 00:00 UTC (its day has ended);
    a naive timestamp is UTC. None for a missing value."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), UTC)
    raise TypeError(f"an event time must be a date or a timestamp, found {type(value).__name__}")


def _over(objective: Objective, measured: dt.timedelta, what: str) -> Measurement:
    passed = measured <= objective.limit
    verb = "within" if passed else "breaches"
    return Measurement(objective, passed, format_elapsed(measured), measured.total_seconds(),
                       f"{what} {format_elapsed(measured)} {verb} the {objective.property} SLA of {format_duration(objective.limit)}")


def unmeasurable(objective: Objective, why: str) -> Measurement:
    return Measurement(objective, False, "unknown", None, f"{objective.property} cannot be measured: {why}")


def measure_freshness(objective: Objective, publishes: Sequence[dt.datetime], now: dt.datetime) -> Measurement:
    if not publishes:
        return unmeasurable(objective, "the port has never been published")
    return _over(objective, now - max(publishes), "latest publish was")


def measure_frequency(objective: Objective, publishes: Sequence[dt.datetime], now: dt.datetime) -> Measurement:
    if not publishes:
        return unmeasurable(objective, "the port has never been published")
    times = sorted(publishes)
    gaps = [now - times[-1]] + ([times[-1] - times[-2]] if len(times) > 1 else [])
    return _over(objective, max(gaps), "longest interval between publishes is")


def measure_latency(objective: Objective, publishes: Sequence[dt.datetime], newest_event) -> Measurement:
    if objective.event_column is None:
        return unmeasurable(objective, "no event-time column: name one as the SLA's element")
    if not publishes:
        return unmeasurable(objective, "the port has never been published")
    event = as_time(newest_event)
    if event is None:
        return unmeasurable(objective, f"column {objective.event_column} holds no value")
    return _over(objective, max(publishes) - event, f"latest publish minus the newest {objective.event_column} is")


def availability(outcomes: Iterable[tuple[dt.datetime, bool]], now: dt.datetime, window: dt.timedelta = AVAILABILITY_WINDOW) -> float | None:
    """Percent of the window (from `now - window`, or the first attempt if later) during which
    the latest publish attempt had succeeded. `outcomes` are (time, succeeded) of attempts; an
    attempt before the window sets the state the window starts in. None: no attempt at all."""
    ordered = sorted(outcomes)
    if not ordered:
        return None
    start = max(now - window, ordered[0][0])
    if now <= start:
        return 100.0 if ordered[-1][1] else 0.0
    state = next((ok for when, ok in reversed(ordered) if when <= start), ordered[0][1])
    up, since = dt.timedelta(0), start
    for when, ok in ordered:
        if when <= start:
            continue
        if when > now:
            break
        if state:
            up += when - since
        state, since = ok, when
    if state:
        up += now - since
    return 100.0 * (up / (now - start))


def measure_availability(objective: Objective, outcomes: Iterable[tuple[dt.datetime, bool]], now: dt.datetime) -> Measurement:
    share = availability(outcomes, now)
    if share is None:
        return unmeasurable(objective, "the product has never been published")
    passed = share >= objective.percent
    verb = "meets" if passed else "breaches"
    return Measurement(objective, passed, f"{share:.2f}%", round(share, 4),
                       f"available {share:.2f}% of the last {AVAILABILITY_WINDOW.days} days; {verb} the availability SLA of {objective.percent:g}%")
