"""Rules are data, compiled to SQL in one place: every metric runs on a real DuckDB table and
tells a passing batch from a failing one; a dialect the platform cannot write is refused."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from mesh_platform.model.rules import NO_FAILING_ROWS, Comparison, Metric, Rule, RuleSpecError, sql_rule
from mesh_platform.runtime import sealed
from mesh_platform.runtime.global_policies import EMAIL_PATTERN
from mesh_platform.runtime.quality.compile import DIALECTS, UnknownDialectError, compile_rule
from mesh_platform.runtime.quality.engine import audit


def rule(metric: Metric, columns: tuple[str, ...], threshold: Comparison = NO_FAILING_ROWS, **arguments) -> Rule:
    return Rule(f"the_{metric.value}_rule", f"a {metric.value} rule", "error", metric, columns, threshold, arguments)


def batch(**columns) -> pa.Table:
    return pa.table(columns)


# A port referenced by the relationship rule: codes "a" and "b" exist.
CODES = pa.table({"code": ["a", "b"]})
MARCH, APRIL = dt.date(2024, 3, 1), dt.date(2024, 4, 1)

# id -> (rule, a batch it passes, a batch it fails, the failing batch's measured value)
CASES = {
    "not_null": (rule(Metric.NOT_NULL, ("code",)), batch(code=["a", "b"]), batch(code=["a", None]), 1),
    "not_null_percent": (
        Rule("few_nulls", "under half null", "warning", Metric.NOT_NULL, ("code",), Comparison("mustBeLessThan", 50), percent=True),
        batch(code=["a", "b", None]), batch(code=[None, None, "a"]), pytest.approx(200 / 3),
    ),
    "missing_values": (rule(Metric.MISSING_VALUES, ("code",), values=["", "n/a"]), batch(code=["a"]), batch(code=["n/a", None, "x"]), 2),
    "accepted_values": (rule(Metric.ACCEPTED_VALUES, ("code",), values=["a", "b"]), batch(code=["a", None]), batch(code=["c", "a"]), 1),
    "invalid_values": (
        rule(Metric.INVALID_VALUES, ("code",), valid_values=["a", "b", "zz"], pattern="[ab]"),
        batch(code=["a", None]), batch(code=["zz", "c"]), 2,
    ),
    "range": (rule(Metric.RANGE, ("n",), minimum=0, maximum=10), batch(n=[0, 10, None]), batch(n=[11, -1, 5]), 2),
    "range_exclusive_dates": (
        rule(Metric.RANGE, ("day",), exclusiveMinimum=dt.date(2024, 1, 1), exclusiveMaximum=dt.date(2024, 12, 31)),
        batch(day=[dt.date(2024, 1, 2)]), batch(day=[dt.date(2024, 1, 1), dt.date(2024, 6, 1)]), 1,
    ),
    "range_zoned_timestamps": (
        rule(Metric.RANGE, ("at",), minimum=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        batch(at=pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", "UTC"))),
        batch(at=pa.array([dt.datetime(2023, 12, 31, 23, 59, tzinfo=dt.UTC)], pa.timestamp("us", "UTC"))), 1,
    ),
    "length": (rule(Metric.LENGTH, ("code",), min_length=1, max_length=3), batch(code=["ab", None]), batch(code=["abcd", "", "a"]), 2),
    "pattern": (rule(Metric.PATTERN, ("code",), pattern="[A-Z]{2}"), batch(code=["AB", None]), batch(code=["ABC", "AB"]), 1),
    "contains_pattern": (
        rule(Metric.CONTAINS_PATTERN, ("note",), pattern=EMAIL_PATTERN, marker="@"),
        batch(note=["@home", "ping @ops", None]), batch(note=["write to a.b@mail.example", "@home"]), 1,
    ),
    "relationship": (
        rule(Metric.RELATIONSHIP, ("code",), domain="shared", product="codes", column="code"),
        batch(code=["a", None, "b"]), batch(code=["c", "a"]), 1,
    ),
    "derived_month": (
        rule(Metric.DERIVED_MONTH, ("month",), source="day"),
        batch(month=[MARCH], day=[dt.date(2024, 3, 31)]), batch(month=[APRIL, None], day=[dt.date(2024, 3, 15)] * 2), 2,
    ),
    "duplicates": (
        rule(Metric.DUPLICATES, ("code", "n")),
        batch(code=["a", "a", None, None], n=[1, 2, 3, 3]), batch(code=["a", "a", "a"], n=[1, 1, 1]), 2,
    ),
    "row_count": (
        rule(Metric.ROW_COUNT, (), Comparison("mustBeGreaterThan", 0)),
        batch(n=pa.array([1], pa.int64())), batch(n=pa.array([], pa.int64())), 0,
    ),
    "sql": (
        sql_rule("no_negative_n", "n is never negative", "error", "SELECT count(*) FROM ${table} WHERE ${column} < 0", NO_FAILING_ROWS, "n"),
        batch(n=[1, 2]), batch(n=[1, -2]), 1,
    ),
}


def test_every_metric_has_a_case():
    assert {case[0].metric for case in CASES.values()} == set(Metric)


def run(rule_: Rule, table: pa.Table):
    with sealed.connect() as con:  # as a publish audits: user-written sql rules run sealed
        con.register("batch", table)
        [result] = audit(con, "batch", [rule_], references=lambda domain, product, columns: CODES.select(columns))
    return result


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_metric_compiled_for_duckdb_passes_a_good_batch_and_fails_a_bad_one(case):
    rule_, good, bad, measured = CASES[case]
    passed = run(rule_, good)
    assert passed.passed and passed.error is None, passed
    failed = run(rule_, bad)
    assert (failed.passed, failed.error, failed.value) == (False, None, measured), failed


def test_a_failing_row_rule_counts_and_samples_the_rows_that_break_it():
    result = run(CASES["accepted_values"][0], batch(code=["c", "a", "d"]))
    assert result.failing_rows == 2
    assert result.sample == [{"code": "c"}, {"code": "d"}]


def test_a_rule_compiles_to_sql_naming_only_the_relation_it_is_given():
    compiled = compile_rule(CASES["sql"][0], '"warehouse"."route_performance"')
    assert compiled.query == 'SELECT count(*) FROM "warehouse"."route_performance" WHERE "n" < 0'
    compiled = compile_rule(CASES["duplicates"][0], "batch")
    assert "FROM batch " in compiled.query and compiled.failing.startswith('("code", "n") IN')


@pytest.mark.parametrize("dialect", ["spark", "DuckDB", ""])
def test_an_unknown_dialect_is_refused_naming_the_known_ones(dialect):
    assert "duckdb" in DIALECTS
    with pytest.raises(UnknownDialectError) as refused:
        compile_rule(CASES["not_null"][0], "batch", dialect)
    assert str(refused.value) == f"rules cannot be compiled for SQL dialect {dialect!r}; known dialects: duckdb"


@pytest.mark.parametrize(("spec", "refusal"), [
    (dict(metric="not_a_metric", columns=("code",)), "rule 'bad': unknown metric 'not_a_metric'; expected one of not_null, "),
    (dict(metric="pattern", columns=("code",)), "rule 'bad': metric pattern needs the argument(s) pattern"),
    (dict(metric="range", columns=("n",)), "rule 'bad': metric range needs at least one of the arguments minimum, exclusiveMinimum, "),
    (dict(metric="not_null", columns=("a", "b")), "rule 'bad': metric not_null takes 1 column(s), found ['a', 'b']"),
    (dict(metric="duplicates", columns=()), "rule 'bad': metric duplicates takes 1 or more column(s), found []"),
    (dict(metric="not_null", columns=("a",), severity="fatal"), "rule 'bad': severity must be 'error' (blocks the publish) or 'warning', found 'fatal'"),
])
def test_a_rule_written_in_code_that_cannot_be_compiled_is_refused_when_made(spec, refusal):
    """A policy's run-time rules are Python: a wrong one fails where it is written, not mid-publish."""
    with pytest.raises(RuleSpecError) as refused:
        Rule("bad", "a policy's rule", **{"severity": "error", **spec})
    assert str(refused.value).startswith(refusal)
