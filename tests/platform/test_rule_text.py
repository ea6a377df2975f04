"""Rules read as English wherever people see them: every rule kind's description, its threshold,
and how a failed rule failed (model/rule_text.py); SLA windows as one phrase (model/durations.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from mesh_platform.model.durations import format_duration
from mesh_platform.model.rule_spec import NO_FAILING_ROWS, Comparison, Metric, Rule
from mesh_platform.model.rule_text import comparison_text, describe, failure

# Every rule kind: (columns, arguments, threshold, percent) -> its description.
DESCRIPTIONS = {
    Metric.NOT_NULL: (("carrier",), {}, NO_FAILING_ROWS, False, "carrier is required"),
    Metric.MISSING_VALUES: (("tier",), {"values": ["", "n/a"]}, NO_FAILING_ROWS, False, "tier is set and not one of , n/a"),
    Metric.ACCEPTED_VALUES: (("origin",), {"values": ["EWR", "JFK"]}, NO_FAILING_ROWS, False, "origin is one of EWR, JFK"),
    Metric.INVALID_VALUES: (("tier",), {"valid_values": ["gold", "basic"]}, NO_FAILING_ROWS, False, "tier is one of gold, basic"),
    Metric.RANGE: (("delayed_share",), {"minimum": 0.0, "maximum": 1}, NO_FAILING_ROWS, False, "delayed_share is between 0 and 1"),
    Metric.LENGTH: (("full_name",), {"min_length": 3}, NO_FAILING_ROWS, False, "full_name is at least 3 characters long"),
    Metric.PATTERN: (("faa",), {"pattern": "[A-Z]{3}"}, NO_FAILING_ROWS, False, "faa matches the pattern [A-Z]{3}"),
    Metric.CONTAINS_PATTERN: (("note",), {"pattern": "@"}, NO_FAILING_ROWS, False, "note holds no match of the pattern @"),
    Metric.RELATIONSHIP: (("dest",), {"domain": "shared", "product": "airports", "column": "faa"}, NO_FAILING_ROWS, False,
                          "every dest exists as faa in shared.airports"),
    Metric.DERIVED_MONTH: (("flight_month",), {"source": "flight_date"}, NO_FAILING_ROWS, False, "flight_month is the month of flight_date"),
    Metric.DUPLICATES: (("carrier", "origin", "month"), {}, NO_FAILING_ROWS, False, "no two rows share carrier, origin and month"),
    Metric.ROW_COUNT: ((), {}, Comparison("mustBeGreaterThan", 0), False, "the table has more than 0 rows"),
    Metric.SQL: ((), {"query": "SELECT count(*)\n  FROM t WHERE x < 0"}, Comparison("mustBe", 0), False,
                 "the query SELECT count(*) FROM t WHERE x < 0 returns 0"),
}


def test_every_rule_kind_has_words():
    assert set(DESCRIPTIONS) == set(Metric)  # a new rule kind fails here until it is described


@pytest.mark.parametrize("metric", list(DESCRIPTIONS), ids=str)
def test_each_rule_kind_reads_as_english(metric):
    columns, arguments, threshold, percent, expected = DESCRIPTIONS[metric]
    text = describe(metric, columns, arguments, threshold, percent)
    assert text == expected
    assert not any(mark in text for mark in ("{", "}'", "[", "'", "=")) or metric in (Metric.PATTERN, Metric.SQL)


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"minimum": 0}, "at least 0"),
    ({"maximum": 5}, "at most 5"),
    ({"exclusiveMinimum": 0}, "more than 0"),
    ({"exclusiveMinimum": 0, "maximum": 1.5}, "more than 0 and at most 1.5"),
    ({"minimum": dt.date(2013, 1, 1), "maximum": dt.date(2013, 12, 31)}, "between 2013-01-01 and 2013-12-31"),
])
def test_range_bounds_are_phrases_not_dicts(arguments, expected):
    assert describe(Metric.RANGE, ("x",), arguments) == f"x is {expected}"


@pytest.mark.parametrize(("name", "operand", "expected"), [
    ("mustBe", 0, "0"), ("mustNotBe", 3, "anything but 3"), ("mustBeGreaterThan", 0, "more than 0"),
    ("mustBeGreaterOrEqualTo", 1.0, "at least 1"), ("mustBeLessThan", 10, "less than 10"),
    ("mustBeLessOrEqualTo", 2.5, "at most 2.5"), ("mustBeBetween", [0, 1], "between 0 and 1"),
    ("mustNotBeBetween", [0, 1], "not between 0 and 1"),
])
def test_every_operator_reads_as_a_phrase(name, operand, expected):
    assert comparison_text(Comparison(name, operand)) == expected


def test_a_threshold_other_than_no_failing_row_is_said():
    text = describe(Metric.NOT_NULL, ("dep_time",), threshold=Comparison("mustBeLessThan", 5), percent=True)
    assert text == "dep_time is required, with less than 5% of rows failing"


def test_failures_say_what_was_expected_and_what_was_found():
    rows = Rule("carrier_references_shared_carriers", "", "error", Metric.RELATIONSHIP, ("carrier",),
                arguments={"domain": "shared", "product": "carriers", "column": "carrier"})
    assert failure(rows, 3, 3) == "expected 0 failing rows, found 3 failing rows"
    count = Rule("flights_published", "", "error", Metric.ROW_COUNT, threshold=Comparison("mustBeGreaterThan", 0))
    assert failure(count, 0) == "expected more than 0 rows, found 0 rows"
    query = Rule("no_negative", "", "warning", Metric.SQL, threshold=Comparison("mustBe", 0), arguments={"query": "SELECT 1"})
    assert failure(query, 1) == "expected 0, found 1"
    share = Rule("few_nulls", "", "error", Metric.NOT_NULL, ("x",), Comparison("mustBeLessThan", 5), percent=True)
    assert failure(share, 7.5, 15) == "expected less than 5% of rows failing, found 7.5% of rows failing (15 failing rows)"
    keys = Rule("one_per_key", "", "error", Metric.DUPLICATES, ("a", "b"))
    assert failure(keys, 2, 2) == "expected 0 duplicate rows, found 2 duplicate rows"


@pytest.mark.parametrize(("window", "expected"), [
    (dt.timedelta(days=1), "1 day"), (dt.timedelta(days=2), "2 days"), (dt.timedelta(hours=36), "36 hours"),
    (dt.timedelta(minutes=90), "90 minutes"), (dt.timedelta(weeks=1), "7 days"), (dt.timedelta(hours=1), "1 hour"),
    (dt.timedelta(seconds=1.5), "1.5 seconds"), (dt.timedelta(days=365), "365 days"),
])
def test_an_sla_window_reads_as_people_say_it(window, expected):
    assert format_duration(window) == expected
