"""A rule as data: what is measured (a metric from a closed set), over which columns, with which
arguments, and what the measured value must satisfy (its threshold).

A rule carries no SQL: `runtime/quality/compile.py` turns it into one dialect's SQL, and
`runtime/quality/pandera_schema.py` into a pandera check, so a rule added once is checked by both.
The one exception is a contract's `sql` rule, whose query the user wrote for the engine.
Contracts' rules are derived in `rules.py`; a policy's run-time rules are written in Python, so a
rule checks its own shape when it is made.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh_platform.model.errors import MeshError

BLOCKING, WARNING = "error", "warning"

# ODCS names the relation and the column of an sql rule with these placeholders; the compiler
# fills them in for its dialect.
SQL_TABLE_PLACEHOLDERS = ("${table}", "{object}", "{table}")
SQL_COLUMN_PLACEHOLDERS = ("${column}", "{property}")

OPERATORS = {
    "mustBe": ("=", operator.eq),
    "mustNotBe": ("!=", operator.ne),
    "mustBeGreaterThan": (">", operator.gt),
    "mustBeGreaterOrEqualTo": (">=", operator.ge),
    "mustBeLessThan": ("<", operator.lt),
    "mustBeLessOrEqualTo": ("<=", operator.le),
}


@dataclass(frozen=True)
class Comparison:
    """An ODCS operator and its operand: what the rule's value must satisfy."""

    name: str
    operand: Any

    def holds(self, value: Any) -> bool:
        if value is None:
            return False
        if self.name == "mustBeBetween":
            return self.operand[0] <= value <= self.operand[1]
        if self.name == "mustNotBeBetween":
            return not self.operand[0] <= value <= self.operand[1]
        return OPERATORS[self.name][1](value, self.operand)

    def __str__(self) -> str:
        if self.name in ("mustBeBetween", "mustNotBeBetween"):
            word = "between" if self.name == "mustBeBetween" else "not between"
            return f"{word} {self.operand[0]} and {self.operand[1]}"
        return f"{OPERATORS[self.name][0]} {self.operand}"


NO_FAILING_ROWS = Comparison("mustBe", 0)


class Metric(enum.StrEnum):
    """What a rule measures. A *row* metric counts the rows that break it (failing rows); the
    others measure the batch as a whole. Adding a rule type is one member here, its shape in _SHAPES,
    and one branch in each compiler (runtime/quality/compile.py, and pandera_schema.py when pandas
    can check it)."""

    NOT_NULL = "not_null"  # the column is null
    MISSING_VALUES = "missing_values"  # null, or one of arguments["values"]
    ACCEPTED_VALUES = "accepted_values"  # set and not one of arguments["values"]
    INVALID_VALUES = "invalid_values"  # set and not in arguments["valid_values"] / not matching arguments["pattern"]
    RANGE = "range"  # set and outside arguments minimum, exclusiveMinimum, maximum, exclusiveMaximum (typed)
    LENGTH = "length"  # set and shorter than arguments["min_length"] or longer than arguments["max_length"]
    PATTERN = "pattern"  # set and not matching arguments["pattern"] as a whole
    CONTAINS_PATTERN = "contains_pattern"  # holds a match of arguments["pattern"] (arguments["marker"]: a text every match contains)
    RELATIONSHIP = "relationship"  # set and absent from arguments domain.product.column
    DERIVED_MONTH = "derived_month"  # is not the month (a DATE, its first day) of arguments["source"]
    DUPLICATES = "duplicates"  # the extra copies of the columns' values, all set (not a row metric)
    ROW_COUNT = "row_count"  # the rows of the batch (not a row metric)
    SQL = "sql"  # the number arguments["query"] returns: user-written SQL for the engine (not a row metric)


ROW_METRICS = frozenset(Metric) - {Metric.DUPLICATES, Metric.ROW_COUNT, Metric.SQL}
# What each metric needs, checked when a rule is made (a policy's rules are written in Python):
# how many columns, the arguments it must have, and those of which it needs at least one.
_ONE, _SOME, _NONE, _AT_MOST_ONE = (1, 1), (1, None), (0, 0), (0, 1)
_SHAPES: dict[Metric, tuple[tuple[int, int | None], tuple[str, ...], tuple[str, ...]]] = {
    Metric.NOT_NULL: (_ONE, (), ()),
    Metric.MISSING_VALUES: (_ONE, (), ()),
    Metric.ACCEPTED_VALUES: (_ONE, ("values",), ()),
    Metric.INVALID_VALUES: (_ONE, (), ("valid_values", "pattern")),
    Metric.RANGE: (_ONE, (), ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")),
    Metric.LENGTH: (_ONE, (), ("min_length", "max_length")),
    Metric.PATTERN: (_ONE, ("pattern",), ()),
    Metric.CONTAINS_PATTERN: (_ONE, ("pattern",), ()),
    Metric.RELATIONSHIP: (_ONE, ("domain", "product", "column"), ()),
    Metric.DERIVED_MONTH: (_ONE, ("source",), ()),
    Metric.DUPLICATES: (_SOME, (), ()),
    Metric.ROW_COUNT: (_NONE, (), ()),
    Metric.SQL: (_AT_MOST_ONE, ("query",), ()),
}


class RuleSpecError(MeshError):
    """A rule written in code (a policy's run-time rule) is not a rule the platform can compile."""


def _check_shape(rule: Rule) -> None:
    if rule.severity not in (BLOCKING, WARNING):
        raise RuleSpecError(f"rule {rule.name!r}: severity must be {BLOCKING!r} (blocks the publish) or {WARNING!r}, found {rule.severity!r}")
    (fewest, most), needed, one_of = _SHAPES[rule.metric]
    count = len(rule.columns)
    if count < fewest or (most is not None and count > most):
        wanted = f"{fewest}" if fewest == most else (f"{fewest} or more" if most is None else f"{fewest} to {most}")
        raise RuleSpecError(f"rule {rule.name!r}: metric {rule.metric.value} takes {wanted} column(s), found {list(rule.columns)}")
    missing = [key for key in needed if key not in rule.arguments]
    if missing:
        raise RuleSpecError(f"rule {rule.name!r}: metric {rule.metric.value} needs the argument(s) {', '.join(missing)}")
    if one_of and not any(key in rule.arguments for key in one_of):
        raise RuleSpecError(f"rule {rule.name!r}: metric {rule.metric.value} needs at least one of the arguments {', '.join(one_of)}")


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: str  # "error" blocks the publish; "warning" reports
    metric: Metric
    columns: tuple[str, ...] = ()
    threshold: Comparison = NO_FAILING_ROWS
    arguments: Mapping[str, Any] = field(default_factory=dict)
    percent: bool = False  # compare the share of failing rows, in percent, not their count
    hides_values: bool = False  # it looks for personal data: its sample names rows, never values

    def __post_init__(self):
        try:
            object.__setattr__(self, "metric", Metric(self.metric))  # frozen: set once, here
        except ValueError:
            raise RuleSpecError(f"rule {self.name!r}: unknown metric {self.metric!r}; expected one of {', '.join(Metric)}") from None
        object.__setattr__(self, "columns", tuple(self.columns))
        _check_shape(self)

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    @property
    def column(self) -> str | None:
        """The one column the rule is about, if it is about one."""
        return self.columns[0] if len(self.columns) == 1 else None

    @property
    def reference(self) -> tuple[str, str, str] | None:
        """A relationship's target: (domain, product, column)."""
        if self.metric != Metric.RELATIONSHIP:
            return None
        return self.arguments["domain"], self.arguments["product"], self.arguments["column"]

    @property
    def counts_rows(self) -> bool:
        """Its value is a number of failing rows, each of which can be shown in a sample."""
        return self.metric in ROW_METRICS or self.metric == Metric.DUPLICATES


def sql_rule(name: str, description: str, severity: str, query: str, threshold: Comparison, column: str | None = None) -> Rule:
    """A rule whose value is the number a user-written query returns."""
    return Rule(name, description, severity, Metric.SQL, (column,) if column else (), threshold, {"query": query})
