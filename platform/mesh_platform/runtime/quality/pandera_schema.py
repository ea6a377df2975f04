"""The contract as a pandera schema, for domain engineers who test Python products on DataFrames.

Its checks are the contract's rules (`rules_for`), the very specs the publish audit compiles to
SQL: each check carries its rule's name, so a failure case names the rule the Dagster check and
the catalog show, and a rule added to the model is checked here as soon as it has a branch below.
Rules a lone frame cannot answer are left to the audit: relationships (they read another port)
and contract sql rules (written for the engine). Publishing does not use this schema: the
platform evaluates the same rules as one DuckDB scan, which `benchmarks/checks_vs_write.py` shows
is much faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pandera.pandas as pa

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.rule_spec import NO_FAILING_ROWS, Metric, Rule
from mesh_platform.model.rules import rules_for

# Left to the SQL audit: they need the engine or another port.
NOT_ON_A_FRAME = frozenset({Metric.RELATIONSHIP, Metric.SQL})
_RANGE = {"minimum": "lt", "exclusiveMinimum": "le", "maximum": "gt", "exclusiveMaximum": "ge"}


def failing_rows(rule: Rule, frame: pd.DataFrame) -> pd.Series:
    """True on the rows of `frame` that break `rule` (a row rule, or duplicates), with the SQL
    audit's semantics: a predicate on a null value is not a failure unless the rule is about nulls."""
    args = rule.arguments
    if rule.metric == Metric.DUPLICATES:
        keys = frame[list(rule.columns)]
        complete = keys.notna().all(axis=1)
        return complete & keys[complete].duplicated(keep=False).reindex(frame.index, fill_value=False)
    column = frame[rule.columns[0]]
    present = column.notna()
    if rule.metric == Metric.NOT_NULL:
        return ~present
    if rule.metric == Metric.MISSING_VALUES:
        return ~present | column.isin(args.get("values") or [])
    if rule.metric == Metric.ACCEPTED_VALUES:
        return present & ~column.isin(args["values"])
    if rule.metric == Metric.INVALID_VALUES:
        invalid = pd.Series(False, index=frame.index)
        if "valid_values" in args:
            invalid |= ~column.isin(args["valid_values"])
        if "pattern" in args:
            invalid |= ~_text(column).str.fullmatch(args["pattern"]).fillna(True).astype(bool)
        return present & invalid
    if rule.metric == Metric.RANGE:
        broken = pd.Series(False, index=frame.index)
        for key, op in _RANGE.items():
            if key in args:
                broken |= getattr(column[present], op)(_bound(args[key], column)).reindex(frame.index, fill_value=False)
        return present & broken
    if rule.metric == Metric.LENGTH:
        lengths = _text(column).str.len()
        return present & ((lengths < args.get("min_length", 0)) | (lengths > args.get("max_length", float("inf"))))
    if rule.metric == Metric.PATTERN:
        return present & ~_text(column).str.fullmatch(args["pattern"]).fillna(True).astype(bool)
    if rule.metric == Metric.CONTAINS_PATTERN:
        return present & _text(column).str.contains(args["pattern"], regex=True).fillna(False).astype(bool)
    if rule.metric == Metric.DERIVED_MONTH:
        month = _month(frame[args["source"]])
        stated = pd.to_datetime(column)
        same = (stated == month) | (stated.isna() & month.isna())
        return ~same.fillna(False).astype(bool)
    raise AssertionError(f"metric {rule.metric!r} has no pandas branch")  # a new Metric member needs one


def measure(rule: Rule, frame: pd.DataFrame):
    """The value the rule's threshold is compared with, as the SQL audit measures it."""
    if rule.metric == Metric.ROW_COUNT:
        return len(frame)
    failing = failing_rows(rule, frame)
    if rule.metric == Metric.DUPLICATES:  # the extra copies of each key, not every copy
        keys = frame.loc[failing, list(rule.columns)]
        value = int(keys.duplicated(keep="first").sum())
    else:
        value = int(failing.sum())
    return (100.0 * value / len(frame) if len(frame) else 0.0) if rule.percent else value


def _check(rule: Rule) -> pa.Check:
    if rule.metric != Metric.ROW_COUNT and rule.threshold == NO_FAILING_ROWS and not rule.percent:
        # Row by row: pandera's failure cases then show the rows that break the rule.
        return pa.Check(lambda frame: ~failing_rows(rule, frame), name=rule.name, ignore_na=False)
    return pa.Check(lambda frame: rule.threshold.holds(measure(rule, frame)), name=rule.name)


def _text(column: pd.Series) -> pd.Series:
    return column.astype("string")


def _bound(value, column: pd.Series):
    """A typed bound (a number, date or datetime) comparable with the column as pandas holds it:
    dates stay dates against Delta's date objects; against timestamps, a Timestamp of the same zone."""
    if not pd.api.types.is_datetime64_any_dtype(column):
        return value
    stamp = pd.Timestamp(value)
    zone = getattr(column.dt, "tz", None)
    if zone is not None and stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    if zone is None and stamp.tzinfo is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _month(column: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(column)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.dt.to_period("M").dt.start_time


def pandera_schema(contract: Contract, rules: Sequence[Rule] | None = None) -> pa.DataFrameSchema:
    """`contract`'s columns, checked by `rules` (the contract's own by default; pass
    `governance.audit_rules(product)` to add the policies' run-time rules, as a publish does)."""
    rules = rules_for(contract) if rules is None else rules
    checks = [_check(rule) for rule in rules if rule.metric not in NOT_ON_A_FRAME]
    return pa.DataFrameSchema(
        {c.name: pa.Column(nullable=True, required=True) for c in contract.columns},
        checks=checks,
        name=contract.table,
        strict=True,  # a column the contract does not declare is an error, as when publishing
    )
