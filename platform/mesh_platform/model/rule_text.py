"""Rules in English: what a rule requires (`delay_minutes at least 0`, `between 0 and 1`) and how
a failed rule failed (`expected 0 failing rows, found 3 failing rows`).

One formatter for every rule kind (model/rule_spec.py `Metric`), used by the contract's rules
(model/rules.py, when an author wrote no description), the audit's failure summaries and the
check metadata (runtime/quality/engine.py): people never read a Python dict or an operator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from mesh_platform.model.rule_spec import NO_FAILING_ROWS, Comparison, Metric, Rule

# An ODCS operator as a phrase before its operand.
_PHRASES = {
    "mustBe": "",
    "mustNotBe": "anything but ",
    "mustBeGreaterThan": "more than ",
    "mustBeGreaterOrEqualTo": "at least ",
    "mustBeLessThan": "less than ",
    "mustBeLessOrEqualTo": "at most ",
}


def value_text(value: Any) -> str:
    """A bound or a measured value as people write it: `0` not `0.0`, dates in ISO form."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def comparison_text(comparison: Comparison) -> str:
    """`between 0 and 1`, `at least 0`, `0`, `anything but 3`."""
    if comparison.name in ("mustBeBetween", "mustNotBeBetween"):
        low, high = (value_text(v) for v in comparison.operand)
        return f"between {low} and {high}" if comparison.name == "mustBeBetween" else f"not between {low} and {high}"
    return _PHRASES[comparison.name] + value_text(comparison.operand)


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(value_text(v) for v in values)


def _range(arguments: Mapping[str, Any]) -> str:
    """The bounds of a range rule: `between 0 and 1`, `at least 0`, `more than 0 and at most 5`."""
    low = next(((k, arguments[k]) for k in ("minimum", "exclusiveMinimum") if k in arguments), None)
    high = next(((k, arguments[k]) for k in ("maximum", "exclusiveMaximum") if k in arguments), None)
    if low and high and low[0] == "minimum" and high[0] == "maximum":
        return f"between {value_text(low[1])} and {value_text(high[1])}"
    parts = []
    if low:
        parts.append(("at least " if low[0] == "minimum" else "more than ") + value_text(low[1]))
    if high:
        parts.append(("at most " if high[0] == "maximum" else "less than ") + value_text(high[1]))
    return " and ".join(parts)


def _length(arguments: Mapping[str, Any]) -> str:
    low, high = arguments.get("min_length"), arguments.get("max_length")
    if low is not None and high is not None:
        return f"{low} to {high} characters long" if low != high else f"exactly {low} characters long"
    return f"at least {low} characters long" if low is not None else f"at most {high} characters long"


def _condition(metric: Metric, columns: tuple[str, ...], arguments: Mapping[str, Any]) -> str:
    """What each row (or the batch) must satisfy, in words."""
    column = columns[0] if columns else "the value"
    if metric == Metric.NOT_NULL:
        return f"{column} is required"
    if metric == Metric.MISSING_VALUES:
        values = arguments.get("values") or []
        return f"{column} is set" + (f" and not one of {_listed(values)}" if values else "")
    if metric == Metric.ACCEPTED_VALUES:
        return f"{column} is one of {_listed(arguments['values'])}"
    if metric == Metric.INVALID_VALUES:
        parts = [f"is one of {_listed(arguments['valid_values'])}"] if "valid_values" in arguments else []
        parts += [f"matches the pattern {arguments['pattern']}"] if "pattern" in arguments else []
        return f"{column} " + " and ".join(parts)
    if metric == Metric.RANGE:
        return f"{column} is {_range(arguments)}"
    if metric == Metric.LENGTH:
        return f"{column} is {_length(arguments)}"
    if metric == Metric.PATTERN:
        return f"{column} matches the pattern {arguments['pattern']}"
    if metric == Metric.CONTAINS_PATTERN:
        return f"{column} holds no match of the pattern {arguments['pattern']}"
    if metric == Metric.RELATIONSHIP:
        return f"every {column} exists as {arguments['column']} in {arguments['domain']}.{arguments['product']}"
    if metric == Metric.DERIVED_MONTH:
        return f"{column} is the month of {arguments['source']}"
    if metric == Metric.DUPLICATES:
        keys = ", ".join(columns[:-1]) + f" and {columns[-1]}" if len(columns) > 1 else columns[0]
        return f"{keys} is unique" if len(columns) == 1 else f"no two rows share {keys}"
    if metric == Metric.ROW_COUNT:
        return "the table has rows"
    if metric == Metric.SQL:
        return f"the query {' '.join(str(arguments['query']).split())}"
    raise ValueError(f"no words for metric {metric!r}")  # a new Metric member needs its sentence here


def _unit(metric: Metric, percent: bool) -> str:
    """What a rule's measured value counts."""
    if percent:
        return "% of rows failing"
    if metric == Metric.ROW_COUNT:
        return "rows"
    if metric == Metric.DUPLICATES:
        return "duplicate rows"
    if metric == Metric.SQL:
        return ""
    return "failing rows"


def _amount(text: str, unit: str) -> str:
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("%") else f"{text} {unit}"


def describe(metric: Metric | str, columns: tuple[str, ...] = (), arguments: Mapping[str, Any] | None = None,
             threshold: Comparison = NO_FAILING_ROWS, percent: bool = False) -> str:
    """A rule's description when its author wrote none: the condition, and its threshold when it
    is not the default (no failing row)."""
    metric = Metric(metric)
    condition = _condition(metric, tuple(columns), arguments or {})
    if metric == Metric.ROW_COUNT:
        return f"the table has {comparison_text(threshold)} rows"
    if metric == Metric.SQL:
        return f"{condition} returns {comparison_text(threshold)}"
    if threshold == NO_FAILING_ROWS and not percent:
        return condition
    return f"{condition}, with {_amount(comparison_text(threshold), _unit(metric, percent))}"


def expected(rule: Rule) -> str:
    """What the rule's measured value must be: `0 failing rows`, `more than 0 rows`, `at most 5% of rows failing`."""
    return _amount(comparison_text(rule.threshold), _unit(rule.metric, rule.percent))


def failure(rule: Rule, value: Any, failing_rows: int | None = None) -> str:
    """How a rule failed: `expected 0 failing rows, found 3 failing rows`."""
    found = _amount(value_text(value), _unit(rule.metric, rule.percent))
    if rule.percent and failing_rows is not None:
        found += f" ({failing_rows} failing rows)"
    return f"expected {expected(rule)}, found {found}"
