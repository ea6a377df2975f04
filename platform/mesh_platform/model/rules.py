"""The rules of a contract: its schema's constraints and its ODCS quality rules, as rule specs
(`rule_spec.py`: a metric, columns, arguments, a threshold; no SQL).

Rules are derived when the contract is loaded, so a bad rule fails at definitions load, naming the
file and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa

from mesh_platform.model.contracts.model import DERIVED_FROM, Column, Contract
from mesh_platform.model.errors import ContractError
from mesh_platform.model.rule_text import describe
from mesh_platform.model.rule_spec import (  # re-exported: callers know rules as `model.rules`
    BLOCKING,
    NO_FAILING_ROWS,
    OPERATORS,
    ROW_METRICS,
    SQL_COLUMN_PLACEHOLDERS,
    SQL_TABLE_PLACEHOLDERS,
    WARNING,
    Comparison,
    Metric,
    Rule,
    RuleSpecError,
    sql_rule,
)

CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
SEVERITIES = {"error": BLOCKING, "warning": WARNING, "info": WARNING}
FORMATS = {
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}


def _typed_bound(column: Column, value: Any, path, field: str) -> Any:
    """A bound of `column` as the Python value of its type, compared by every compiler alike."""
    arrow = column.arrow_type
    try:
        if pa.types.is_date(arrow):
            return dt.date.fromisoformat(str(value))
        if pa.types.is_timestamp(arrow):
            stamp = dt.datetime.fromisoformat(str(value))
            if arrow.tz and stamp.tzinfo is None:
                # A bound without an offset on a zoned column is UTC, as the port stores it.
                stamp = stamp.replace(tzinfo=dt.UTC)
            return stamp
        number = float(value)
    except (TypeError, ValueError):
        raise ContractError(path, field, f"expected a bound of type {column.sql_type}, found {value!r}") from None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else number


def _shown(bound: Any) -> Any:
    """A bound as errors have always shown it: numbers as floats, dates and times as themselves."""
    return float(bound) if isinstance(bound, (int, float)) else bound


def _check_regex(pattern: Any, path, field: str) -> str:
    if not isinstance(pattern, str):
        raise ContractError(path, field, f"expected a regular expression, found {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ContractError(path, field, f"not a valid regular expression ({exc})") from None
    return pattern


class _Builder:
    def __init__(self, contract: Contract):
        self.contract = contract
        self.path = contract.path
        self.rules: list[Rule] = []

    def add(self, rule: Rule, field: str) -> None:
        if not CHECK_NAME.fullmatch(rule.name):
            raise ContractError(self.path, field, f"rule name {rule.name!r} must be snake_case")
        if any(r.name == rule.name for r in self.rules):
            raise ContractError(self.path, field, f"two rules are named {rule.name!r}; give one a distinct 'name'")
        self.rules.append(rule)

    # -- constraints of the schema ------------------------------------------------------------
    def schema_rules(self) -> None:
        for i, column in enumerate(self.contract.columns):
            where = f"schema[0].properties[{i}]"
            name = column.name
            if column.required:
                self.add(Rule(f"{name}_not_null", describe(Metric.NOT_NULL, (name,)), BLOCKING, Metric.NOT_NULL, (name,)), where)
            if column.unique:
                self.add(Rule(f"{name}_unique", describe(Metric.DUPLICATES, (name,)), BLOCKING, Metric.DUPLICATES, (name,)), where)
            self._option_rules(column, where)
            if column.enum:
                self.add(Rule(f"{name}_accepted_values", describe(Metric.ACCEPTED_VALUES, (name,), {"values": list(column.enum)}), BLOCKING,
                              Metric.ACCEPTED_VALUES, (name,), arguments={"values": list(column.enum)}), f"{where}.enum")
            for j, target in enumerate(column.references):
                self._relationship(column, target, f"{where}.relationships[{j}]")
            self._derived_partition(column, where)

    def _option_rules(self, column: Column, where: str) -> None:
        options = column.options
        name = column.name
        field = f"{where}.logicalTypeOptions"
        bounds = {key: _typed_bound(column, options[key], self.path, f"{field}.{key}")
                  for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if key in options}
        low = next((bounds[k] for k in ("exclusiveMinimum", "minimum") if k in bounds), None)
        high = next((bounds[k] for k in ("exclusiveMaximum", "maximum") if k in bounds), None)
        if low is not None and high is not None and low > high:
            raise ContractError(self.path, field, f"minimum {_shown(low)} is greater than maximum {_shown(high)}")
        if bounds:
            self.add(Rule(f"{name}_in_range", describe(Metric.RANGE, (name,), bounds), BLOCKING, Metric.RANGE, (name,), arguments=bounds), field)
        if options.get("minLength", 0) > options.get("maxLength", float("inf")):
            raise ContractError(self.path, field, "minLength is greater than maxLength")
        lengths = {arg: int(options[key]) for key, arg in (("minLength", "min_length"), ("maxLength", "max_length")) if key in options}
        if lengths:
            self.add(Rule(f"{name}_length", describe(Metric.LENGTH, (name,), lengths), BLOCKING, Metric.LENGTH, (name,), arguments=lengths), field)
        patterns = []
        if "pattern" in options:
            patterns.append((f"{name}_pattern", _check_regex(options["pattern"], self.path, f"{field}.pattern")))
        if "format" in options and column.logical_type == "string":
            if options["format"] not in FORMATS:
                raise ContractError(self.path, f"{field}.format", f"unknown format {options['format']!r}; expected one of {', '.join(FORMATS)}")
            patterns.append((f"{name}_format", FORMATS[options["format"]]))
        for rule_name, pattern in patterns:
            self.add(Rule(rule_name, describe(Metric.PATTERN, (name,), {"pattern": pattern}), BLOCKING, Metric.PATTERN, (name,), arguments={"pattern": pattern}), field)

    def _relationship(self, column: Column, target: str, field: str) -> None:
        domain, product, ref_column = target.split(".")
        relationship = next(r for r in self._properties()[column.name].relationships if r.to == target)
        severity = _custom(relationship.customProperties, "severity", BLOCKING)
        if severity not in SEVERITIES:
            raise ContractError(self.path, f"{field}.customProperties", f"severity must be one of {', '.join(SEVERITIES)}")
        self.add(Rule(
            f"{column.name}_references_{domain}_{product}",
            describe(Metric.RELATIONSHIP, (column.name,), {"domain": domain, "product": product, "column": ref_column}),
            SEVERITIES[severity], Metric.RELATIONSHIP, (column.name,),
            arguments={"domain": domain, "product": product, "column": ref_column},
        ), field)

    def _derived_partition(self, column: Column, where: str) -> None:
        """`customProperties: [{property: derivedFrom, value: flight_date}]` on a monthly partition
        column: each row's partition is the month of that date, so a row relabelled into another
        month (and published over that month's rows) is refused before the publish."""
        customs = list(self._properties()[column.name].customProperties or [])
        j = next((j for j, c in enumerate(customs) if c.property == DERIVED_FROM), None)
        if j is None:
            return
        field = f"{where}.customProperties[{j}].value"
        source = customs[j].value
        if not pa.types.is_date(column.arrow_type):
            raise ContractError(self.path, field, f"{column.name} derives from a date, so it is a DATE column (the first day of each month); it is {column.sql_type}")
        if not isinstance(source, str) or source not in self.contract.column_names or source == column.name:
            raise ContractError(self.path, field, f"expected the name of another column of this contract (the date {column.name} is the month of), found {source!r}")
        arrow = self.contract.column(source).arrow_type
        if not (pa.types.is_date(arrow) or pa.types.is_timestamp(arrow)):
            raise ContractError(self.path, field, f"{source} is {self.contract.column(source).sql_type}; {column.name} can derive from a DATE or TIMESTAMP column only")
        self.add(Rule(f"{column.name}_derived_from_{source}", describe(Metric.DERIVED_MONTH, (column.name,), {"source": source}), BLOCKING,
                      Metric.DERIVED_MONTH, (column.name,), arguments={"source": source}), field)

    def _properties(self):
        return {p.name: p for p in self.contract.odcs.schema_[0].properties}

    # -- ODCS quality rules -------------------------------------------------------------------
    def quality_rules(self) -> None:
        for i, column in enumerate(self.contract.columns):
            for j, rule in enumerate(column.quality):
                self._quality(rule, column, f"schema[0].properties[{i}].quality[{j}]")
        for j, rule in enumerate(self.contract.quality):
            self._quality(rule, None, f"schema[0].quality[{j}]")

    def _quality(self, rule, column: Column | None, field: str) -> None:
        kind = rule.type or ("sql" if rule.query else "library")
        if kind == "text":
            return  # prose for people, nothing to run
        if kind not in ("library", "sql"):
            raise ContractError(self.path, f"{field}.type", f"quality type {kind!r} cannot be run by the platform; use library or sql")
        severity = SEVERITIES.get((rule.severity or "error").lower())
        if severity is None:
            raise ContractError(self.path, f"{field}.severity", f"expected one of {', '.join(SEVERITIES)}, found {rule.severity!r}")
        threshold = _comparison(rule, self.path, field)
        percent = (rule.unit or "rows").lower() in ("percent", "%")
        description = rule.description or ""
        columns = (column.name,) if column else ()
        if kind == "sql":
            if threshold is None:
                raise ContractError(self.path, field, "an sql rule needs an operator such as mustBe or mustBeLessThan")
            name = rule.name or f"{column.name if column else self.contract.table}_sql_{len(self.rules)}"
            self.add(sql_rule(name, description or describe(Metric.SQL, arguments={"query": rule.query}, threshold=threshold), severity, rule.query, threshold, column.name if column else None), field)
            return
        metric = rule.metric or rule.rule
        arguments = rule.arguments or {}
        name = rule.name or f"{column.name if column else self.contract.table}_{_snake(metric)}"
        if metric == "rowCount":
            if column is not None:
                raise ContractError(self.path, f"{field}.metric", "rowCount applies to the table: put it in schema[0].quality")
            threshold = threshold or Comparison("mustBeGreaterThan", 0)
            self.add(Rule(name, description or describe(Metric.ROW_COUNT, threshold=threshold), severity, Metric.ROW_COUNT,
                          threshold=threshold), field)
            return
        if metric == "duplicateValues":
            keys = arguments.get("properties") or ([column.name] if column else None)
            if not keys:
                raise ContractError(self.path, f"{field}.arguments.properties", "duplicateValues on the table needs the list of key columns")
            unknown = [c for c in keys if c not in self.contract.column_names]
            if unknown:
                raise ContractError(self.path, f"{field}.arguments.properties", f"names columns {unknown} that the contract does not declare")
            self.add(Rule(name, description or describe(Metric.DUPLICATES, tuple(keys), threshold=threshold or NO_FAILING_ROWS, percent=percent), severity, Metric.DUPLICATES, tuple(keys),
                          threshold or NO_FAILING_ROWS, percent=percent), field)
            return
        if column is None:
            raise ContractError(self.path, f"{field}.metric", f"{metric} applies to a column: put it in that property's quality")
        if metric == "nullValues":
            measured, arguments_ = Metric.NOT_NULL, {}
        elif metric == "missingValues":
            measured, arguments_ = Metric.MISSING_VALUES, {"values": list(arguments.get("missingValues") or [])}
        elif metric == "invalidValues":
            measured, arguments_ = Metric.INVALID_VALUES, self._invalid(arguments, f"{field}.arguments")
        else:  # the JSON schema only lets ODCS metrics through
            raise ContractError(self.path, f"{field}.metric", f"unknown metric {metric!r}")
        self.add(Rule(name, description or describe(measured, columns, arguments_, threshold or NO_FAILING_ROWS, percent), severity, measured, columns,
                      threshold or NO_FAILING_ROWS, arguments_, percent=percent), field)

    def _invalid(self, arguments: dict, field: str) -> dict[str, Any]:
        invalid: dict[str, Any] = {}
        if "validValues" in arguments:
            values = arguments["validValues"]
            if not isinstance(values, list) or not values:
                raise ContractError(self.path, f"{field}.validValues", "expected a non-empty list of valid values")
            invalid["valid_values"] = list(values)
        if "pattern" in arguments:
            invalid["pattern"] = _check_regex(arguments["pattern"], self.path, f"{field}.pattern")
        if not invalid:
            raise ContractError(self.path, field, "invalidValues needs validValues or a pattern")
        return invalid


def _custom(properties, name: str, default: str) -> str:
    for prop in properties or []:
        if prop.property == name:
            return str(prop.value).lower()
    return default


def _snake(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).lower()


def _comparison(rule, path, field: str) -> Comparison | None:
    given = [(name, getattr(rule, name)) for name in (*OPERATORS, "mustBeBetween", "mustNotBeBetween") if getattr(rule, name) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise ContractError(path, field, f"expected one operator, found {', '.join(n for n, _ in given)}")
    name, operand = given[0]
    if name in ("mustBeBetween", "mustNotBeBetween") and (len(operand) != 2 or operand[0] > operand[1]):
        raise ContractError(path, f"{field}.{name}", "expected [low, high] with low <= high")
    return Comparison(name, operand)


__all__ = [
    "BLOCKING", "CHECK_NAME", "FORMATS", "NO_FAILING_ROWS", "ROW_METRICS", "SEVERITIES", "SQL_COLUMN_PLACEHOLDERS",
    "SQL_TABLE_PLACEHOLDERS", "WARNING", "Comparison", "Metric", "Rule", "RuleSpecError", "rules_for", "sql_rule",
]


def rules_for(contract: Contract) -> list[Rule]:
    """Every rule of `contract`, in a stable order; ContractError names the bad field."""
    builder = _Builder(contract)
    builder.schema_rules()
    builder.quality_rules()
    return builder.rules
