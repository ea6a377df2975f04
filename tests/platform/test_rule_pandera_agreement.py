"""The pandera schema and the publish audit check the same rule specs: on any batch, each rule
pandera can check on a DataFrame passes or fails there exactly as the SQL audit in DuckDB says."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pandera.errors
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mesh_platform.model.contracts.model import contract_from_mapping
from mesh_platform.model.rules import Metric, Rule, rules_for
from mesh_platform.runtime import sealed
from mesh_platform.runtime.global_policies import EMAIL_PATTERN
from mesh_platform.runtime.quality.engine import audit
from mesh_platform.runtime.quality.pandera_schema import pandera_schema
from tests.helpers.mini_mesh import column, contract

# One contract using every metric pandera can check, with default and explicit thresholds.
SURVEY = contract("lab", "survey", [
    column("id", "integer", "BIGINT", primaryKey=True),
    column("score", "number", "DOUBLE", logicalTypeOptions={"minimum": 0, "exclusiveMaximum": 100},
           quality=[{"name": "score_mostly_set", "metric": "nullValues", "unit": "percent", "mustBeLessThan": 50}]),
    column("label", required=True, enum=[{"value": v} for v in "abc"], logicalTypeOptions={"maxLength": 1, "pattern": "[a-c]"}),
    column("code", logicalTypeOptions={"minLength": 1, "maxLength": 2}, quality=[
        {"metric": "invalidValues", "arguments": {"validValues": ["x", "y", "xy"], "pattern": "x.*"}, "mustBe": 0},
        {"name": "code_rarely_missing", "metric": "missingValues", "arguments": {"missingValues": [""]}, "mustBeLessOrEqualTo": 1},
    ]),
    column("contact", logicalTypeOptions={"format": "email"}),
    column("day", "date", "DATE", logicalTypeOptions={"minimum": "2024-01-01", "maximum": "2024-12-31"}),
    column("month", "date", "DATE", customProperties=[{"property": "derivedFrom", "value": "day"}]),
])
SURVEY["schema"][0]["quality"] = [
    {"name": "at_least_three_rows", "metric": "rowCount", "mustBeGreaterThan": 2},
    {"name": "label_code_rarely_repeat", "metric": "duplicateValues", "arguments": {"properties": ["label", "code"]}, "mustBeLessThan": 2},
    {"name": "ids_are_small", "type": "sql", "query": "SELECT count(*) FROM ${table} WHERE id > 5", "mustBe": 0},
]
CONTRACT = contract_from_mapping(SURVEY, Path("survey.odcs.yaml"))
# A policy's run-time rule (personal-data-protected's, on the unclassified `code`) joins the
# contract's, as governance.audit_rules adds it before a publish.
POLICY_RULE = Rule("policy_no_unclassified_email_code", "no e-mail address in code", "error", Metric.CONTAINS_PATTERN,
                   ("code",), arguments={"pattern": EMAIL_PATTERN, "marker": "@"}, hides_values=True)
RULES = [*rules_for(CONTRACT), POLICY_RULE]
ON_A_FRAME = [r for r in RULES if r.metric not in (Metric.SQL, Metric.RELATIONSHIP)]

DAYS = st.one_of(st.none(), st.dates(dt.date(2023, 12, 30), dt.date(2025, 1, 2)))
rows = st.lists(st.fixed_dictionaries({
    "id": st.one_of(st.none(), st.integers(0, 6)),
    "score": st.one_of(st.none(), st.floats(-5, 105, allow_nan=False)),
    "label": st.sampled_from(["a", "b", "c", "d", "ab", None]),
    "code": st.sampled_from(["x", "y", "xy", "xz", "z", "", "xyz", "x@y.io", "@", None]),
    "contact": st.sampled_from(["a@b.co", "no-at", "x@y", "a b@c.de", None]),
    "day": DAYS,
    "month_shift": st.sampled_from([0, 0, 0, 1, None]),  # mostly the day's month, sometimes not
}), max_size=8)


def as_batch(rows: list[dict]) -> pa.Table:
    for row in rows:
        shift, day = row.pop("month_shift"), row["day"]
        first = day.replace(day=1) if day else dt.date(2024, 6, 1)
        row["month"] = None if shift is None else (first + dt.timedelta(days=31 * shift)).replace(day=1)
    return pa.Table.from_pylist(rows, schema=CONTRACT.arrow_schema())


@functools.cache
def _connection():
    return sealed.connect()  # as a publish audits; one for all examples (a new one costs ~25 ms)


def sql_failures(table: pa.Table) -> set[str]:
    con = _connection()
    con.register("batch", table)
    try:
        results = audit(con, "batch", ON_A_FRAME)
    finally:
        con.unregister("batch")
    assert not [r.error for r in results if r.error]
    return {r.rule.name for r in results if not r.passed}


def pandera_failures(table: pa.Table) -> set[str]:
    # As a domain engineer's test holds a port: pandas from Arrow (dates as objects, ints with
    # nulls as floats, text as str).
    try:
        pandera_schema(CONTRACT, RULES).validate(table.to_pandas(), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return set(errors.failure_cases["check"])
    return set()


def test_the_rules_use_every_metric_pandera_checks_and_pandera_leaves_out_only_what_needs_the_engine():
    assert {r.metric for r in ON_A_FRAME} == set(Metric) - {Metric.SQL, Metric.RELATIONSHIP}
    assert [c.name for c in pandera_schema(CONTRACT, RULES).checks] == [r.name for r in ON_A_FRAME]
    # By default the contract's rules: all but the sql rule, which only the engine can run.
    assert [c.name for c in pandera_schema(CONTRACT).checks] == [r.name for r in rules_for(CONTRACT) if r.metric != Metric.SQL]


@settings(max_examples=30, deadline=None)  # ~1 min on 2 busy cores; the @examples pin the edge cases
@given(rows=rows)
@example(rows=[])
@example(rows=[{"id": i, "score": 50.0, "label": label, "code": "x", "contact": "a@b.co", "day": dt.date(2024, 3, 9), "month_shift": 0}
               for i, label in enumerate("abc")])  # a batch every rule passes
def test_pandera_and_the_sql_audit_give_every_rule_the_same_verdict(rows):
    table = as_batch(rows)
    assert pandera_failures(table) == sql_failures(table)
