"""The measured SLOs (model/slo.py) on fixed clocks: what each SLA means as a number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import ContractError
from mesh_platform.model.durations import format_elapsed
from mesh_platform.model.slo import (
    as_time, availability, slo_check_name, measure_availability, measure_freshness, measure_frequency,
    measure_latency, objectives,
)

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.timezone.utc
NOON = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def contract_with(tmp_path: Path, slas: str):
    """The real members contract with its SLAs replaced."""
    text = (ROOT / "domains/loyalty/contracts/members.odcs.yaml").read_text()
    head = text[: text.index("slaProperties:")]
    path = tmp_path / "members.odcs.yaml"
    path.write_text(head + "slaProperties:\n" + slas)
    return parse_contract(path)


def test_each_measured_sla_of_a_contract_becomes_one_objective(tmp_path):
    contract = contract_with(tmp_path, """\
  - {property: availability, value: 99.5, unit: percent}
  - {property: latency, value: 1, unit: d, element: members.joined_on}
  - {property: frequency, value: 6, unit: h}
  - {property: freshness, value: 2, unit: d}
  - {property: retention, value: 365, unit: d}
""")
    found = {o.property: o for o in objectives(contract)}
    assert list(found) == ["freshness", "latency", "frequency", "availability"]  # retention is not measured here
    assert found["latency"].event_column == "joined_on" and found["latency"].target == "<= 1 day"
    assert found["frequency"].limit == 6 * HOUR
    assert found["availability"].percent == 99.5 and found["availability"].target == ">= 99.5%"
    assert [slo_check_name(p) for p in found] == ["slo_freshness", "slo_latency", "slo_frequency", "slo_availability"]


def test_latency_without_an_element_falls_back_to_the_month_a_partition_is_derived_from(tmp_path):
    flights = ROOT / "domains/flight_operations/contracts/flights.odcs.yaml"
    (latency,) = [o for o in objectives(parse_contract(flights), "flight_month") if o.property == "latency"]
    assert latency.event_column == "scheduled_departure"  # the contract's slaDefaultElement
    path = tmp_path / "flights.odcs.yaml"
    path.write_text(flights.read_text().replace("slaDefaultElement: flights.scheduled_departure\n", ""))
    contract = parse_contract(path)
    (latency,) = [o for o in objectives(contract, "flight_month") if o.property == "latency"]
    assert latency.event_column == "flight_date"  # flight_month is derivedFrom flight_date
    (unpartitioned,) = [o for o in objectives(contract) if o.property == "latency"]
    assert unpartitioned.event_column is None
    verdict = measure_latency(unpartitioned, [NOON], None)
    assert not verdict.passed and "no event-time column: name one as the SLA's element" in verdict.summary


@pytest.mark.parametrize(("value", "unit", "field", "expected"), [
    (99.5, "hours", "slaProperties[0].unit", "availability is measured in percent; expected unit 'percent', found 'hours'"),
    (150, "percent", "slaProperties[0].value", "expected a percentage above 0 and at most 100, found 150"),
    ("high", "percent", "slaProperties[0].value", "expected a percentage above 0 and at most 100, found 'high'"),
])
def test_a_bad_availability_names_the_contract_and_the_field(tmp_path, value, unit, field, expected):
    contract = contract_with(tmp_path, f"  - {{property: availability, value: {value!r}, unit: {unit}}}\n".replace("'", ""))
    with pytest.raises(ContractError) as error:
        objectives(contract)
    assert error.value.path == str(contract.path) and error.value.field == field
    assert expected in str(error.value)


def test_a_date_is_the_end_of_its_day_and_a_naive_timestamp_is_utc():
    assert as_time(dt.date(2026, 12, 1)) == dt.datetime(2026, 12, 2, tzinfo=UTC)
    assert as_time(dt.datetime(2026, 12, 1, 8, 30)) == dt.datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert as_time(dt.datetime(2026, 12, 1, 8, 30, tzinfo=eastern)) == dt.datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    assert as_time(None) is None


def test_latency_is_the_latest_publish_minus_the_newest_event_time(tmp_path):
    (latency,) = objectives(contract_with(tmp_path, "  - {property: latency, value: 1, unit: d, element: members.joined_on}\n"))
    on_time = measure_latency(latency, [NOON - 2 * HOUR, NOON], dt.date(2026, 12, 1))  # its day ended 12 h before
    assert on_time.passed and on_time.measured == "12 hours" and on_time.value == 12 * 3600
    late = measure_latency(latency, [NOON], dt.date(2026, 11, 29))
    assert not late.passed and late.measured == "2 days 12 hours"
    assert late.summary == "latest publish minus the newest joined_on is 2 days 12 hours breaches the latency SLA of 1 day"
    assert not measure_latency(latency, [], None).passed  # never published: not met


def test_freshness_is_the_time_since_the_latest_publish(tmp_path):
    (freshness,) = objectives(contract_with(tmp_path, "  - {property: freshness, value: 1, unit: d}\n"))
    assert measure_freshness(freshness, [NOON - 30 * HOUR, NOON - 3 * HOUR], NOON).passed
    stale = measure_freshness(freshness, [NOON - 25 * HOUR], NOON)
    assert not stale.passed and stale.measured == "1 day 1 hour"


def test_frequency_breaches_on_a_long_gap_and_when_publishing_stops(tmp_path):
    (frequency,) = objectives(contract_with(tmp_path, "  - {property: frequency, value: 6, unit: h}\n"))
    assert measure_frequency(frequency, [NOON - 8 * HOUR, NOON - 4 * HOUR, NOON - HOUR], NOON).passed
    gap = measure_frequency(frequency, [NOON - 9 * HOUR, NOON - 2 * HOUR], NOON)
    assert not gap.passed and gap.measured == "7 hours"  # the two latest publishes were 7 h apart
    stopped = measure_frequency(frequency, [NOON - 10 * HOUR, NOON - 8 * HOUR], NOON)
    assert not stopped.passed and stopped.measured == "8 hours"  # nothing published for 8 h


def test_availability_is_the_share_of_the_window_since_which_the_latest_attempt_succeeded():
    day = dt.timedelta(days=1)
    assert availability([], NOON) is None
    assert availability([(NOON - 40 * day, True)], NOON) == 100.0  # published before the window, never failed
    # up for 10 h, down for 2 h (a failed publish until the next good one), up again for 12 h
    outcomes = [(NOON - 24 * HOUR, True), (NOON - 14 * HOUR, False), (NOON - 12 * HOUR, True)]
    assert availability(outcomes, NOON) == pytest.approx(100 * 22 / 24)
    # a failure 20 days ago left the port down until now; the window starts 30 days back
    assert availability([(NOON - 60 * day, True), (NOON - 20 * day, False)], NOON) == pytest.approx(100 * 10 / 30)


def test_availability_breaches_below_its_percentage(tmp_path):
    (objective,) = objectives(contract_with(tmp_path, "  - {property: availability, value: 99.5, unit: percent}\n"))
    down = measure_availability(objective, [(NOON - 10 * HOUR, True), (NOON - HOUR, False)], NOON)
    assert not down.passed and down.measured == "90.00%"
    assert down.summary == "available 90.00% of the last 30 days; breaches the availability SLA of 99.5%"
    assert measure_availability(objective, [(NOON - 10 * HOUR, True)], NOON).passed


def test_durations_read_the_same_everywhere():
    # measured times and SLA windows in the same words as the catalog and Dagster's metadata (model/durations.py)
    assert [format_elapsed(dt.timedelta(seconds=s)) for s in (0, 45, 90, 3600, 86400 + 7200, 5 * 86400 + 3661, 86405)] == [
        "0 seconds", "45 seconds", "1 minute 30 seconds", "1 hour", "1 day 2 hours", "5 days 1 hour", "1 day"]
