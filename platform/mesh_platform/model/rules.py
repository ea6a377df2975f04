"""The rules of a contract: schema constraints and ODCS quality rules, each one SQL.

Every rule is either a *row rule* (a predicate selecting the rows that break it, counted in one
scan with all the others) or a *metric rule* (an aggregate or a query whose value must satisfy an
ODCS operator such as `mustBeGreaterThan`). Rules are derived when the contract is loaded, so a
bad rule fails at definitions load, naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from mesh_platform.model.contracts.model import DERIVED_FROM, Column, Contract
from mesh_platform.model.errors import ContractError

CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
BLOCKING, WARNING = "error", "warning"
SEVERITIES = {"error": BLOCKING, "warning": WARNING, "info": WARNING}
FORMATS = {
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
TABLE = "{table}"  # placeholder for the relation under audit in predicates and queries

_OPERATORS = {
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
        return _OPERATORS[self.name][1](value, self.operand)

    def __str__(self) -> str:
        if self.name in ("mustBeBetween", "mustNotBeBetween"):
            word = "between" if self.name == "mustBeBetween" else "not between"
            return f"{word} {self.operand[0]} and {self.operand[1]}"
        return f"{_OPERATORS[self.name][0]} {self.operand}"


NO_FAILING_ROWS = Comparison("mustBe", 0)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: str  # "error" blocks the publish; "warning" reports
    column: str | None = None
    failing: str | None = None  # row rule: SQL predicate true for the rows that break it
    metric: str | None = None  # metric rule: SQL aggregate over the batch
    query: str | None = None  # sql rule: a full query returning one number
    comparison: Comparison = NO_FAILING_ROWS
    percent: bool = False  # compare the share of failing rows, in percent, not their count
    reference: tuple[str, str, str] | None = None  # relationship: (domain, product, column)
    hides_values: bool = False  # it looks for personal data: its sample names rows, never values

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def reference_view(domain: str, product: str) -> str:
    """The name under which a referenced port is visible to rules during an audit."""
    return quote(f"ref__{domain}__{product}")


def _typed_literal(column: Column, value: Any, path, field: str) -> tuple[str, Any]:
    """SQL literal for a bound of `column`, and the Python value used to compare bounds."""
    arrow = column.arrow_type
    try:
        if pa.types.is_date(arrow):
            return f"DATE {literal(value)}", dt.date.fromisoformat(str(value))
        if pa.types.is_timestamp(arrow):
            kind = "TIMESTAMPTZ" if arrow.tz else "TIMESTAMP"
            return f"{kind} {literal(value)}", dt.datetime.fromisoformat(str(value))
        number = float(value)
    except (TypeError, ValueError):
        raise ContractError(path, field, f"expected a bound of type {column.sql_type}, found {value!r}") from None
    return literal(value), number


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
            q = quote(column.name)
            if column.required:
                self.add(Rule(f"{column.name}_not_null", f"{column.name} is required", BLOCKING, column.name, f"{q} IS NULL"), where)
            if column.unique:
                self.add(self._duplicates(f"{column.name}_unique", f"{column.name} is unique", BLOCKING, [column.name]), where)
            self._option_rules(column, where)
            if column.enum:
                values = ", ".join(literal(v) for v in column.enum)
                self.add(Rule(f"{column.name}_accepted_values", f"{column.name} is one of {list(column.enum)}", BLOCKING,
                              column.name, f"{q} NOT IN ({values})"), f"{where}.enum")
            for j, target in enumerate(column.references):
                self._relationship(column, target, f"{where}.relationships[{j}]")
            self._derived_partition(column, where)

    def _option_rules(self, column: Column, where: str) -> None:
        options = column.options
        q = quote(column.name)
        field = f"{where}.logicalTypeOptions"
        bounds, low, high = [], None, None
        for key, sql_op in (("minimum", "<"), ("exclusiveMinimum", "<="), ("maximum", ">"), ("exclusiveMaximum", ">=")):
            if key in options:
                sql, value = _typed_literal(column, options[key], self.path, f"{field}.{key}")
                bounds.append(f"{q} {sql_op} {sql}")
                if "inimum" in key:
                    low = value
                else:
                    high = value
        if low is not None and high is not None and low > high:
            raise ContractError(self.path, field, f"minimum {low} is greater than maximum {high}")
        if bounds:
            self.add(Rule(f"{column.name}_in_range", f"{column.name} within {options}", BLOCKING, column.name, " OR ".join(bounds)), field)
        lengths = []
        if "minLength" in options:
            lengths.append(f"length({q}) < {int(options['minLength'])}")
        if "maxLength" in options:
            lengths.append(f"length({q}) > {int(options['maxLength'])}")
        if options.get("minLength", 0) > options.get("maxLength", float("inf")):
            raise ContractError(self.path, field, "minLength is greater than maxLength")
        if lengths:
            self.add(Rule(f"{column.name}_length", f"length of {column.name}", BLOCKING, column.name, " OR ".join(lengths)), field)
        patterns = []
        if "pattern" in options:
            patterns.append((f"{column.name}_pattern", _check_regex(options["pattern"], self.path, f"{field}.pattern")))
        if "format" in options and column.logical_type == "string":
            if options["format"] not in FORMATS:
                raise ContractError(self.path, f"{field}.format", f"unknown format {options['format']!r}; expected one of {', '.join(FORMATS)}")
            patterns.append((f"{column.name}_format", FORMATS[options["format"]]))
        for name, pattern in patterns:
            self.add(Rule(name, f"{column.name} matches {pattern}", BLOCKING, column.name,
                          f"NOT regexp_full_match({q}, {literal(pattern)})"), field)

    def _relationship(self, column: Column, target: str, field: str) -> None:
        domain, product, ref_column = target.split(".")
        relationship = next(r for r in self._properties()[column.name].relationships if r.to == target)
        severity = _custom(relationship.customProperties, "severity", BLOCKING)
        if severity not in SEVERITIES:
            raise ContractError(self.path, f"{field}.customProperties", f"severity must be one of {', '.join(SEVERITIES)}")
        q = quote(column.name)
        self.add(Rule(
            f"{column.name}_references_{domain}_{product}",
            f"every {column.name} exists as {ref_column} in {domain}.{product}",
            SEVERITIES[severity], column.name,
            f"{q} IS NOT NULL AND {q} NOT IN (SELECT {quote(ref_column)} FROM {reference_view(domain, product)})",
            reference=(domain, product, ref_column),
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
        q, month = quote(column.name), f"CAST(date_trunc('month', {quote(source)}) AS DATE)"
        self.add(Rule(f"{column.name}_derived_from_{source}", f"{column.name} is the month of {source}", BLOCKING, column.name,
                      f"{q} IS DISTINCT FROM {month}"), field)

    def _properties(self):
        return {p.name: p for p in self.contract.odcs.schema_[0].properties}

    def _duplicates(self, name: str, description: str, severity: str, columns: list[str], comparison=NO_FAILING_ROWS, percent=False) -> Rule:
        keys = ", ".join(quote(c) for c in columns)
        row = f"({keys})" if len(columns) > 1 else keys
        not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
        # "#copies" cannot be a column's name (columns are identifiers), so it never shadows one.
        duplicated = f'SELECT {keys}, count(*) AS "#copies" FROM {TABLE} WHERE {not_null} GROUP BY {keys} HAVING count(*) > 1'
        return Rule(
            name, description, severity, columns[0] if len(columns) == 1 else None,
            failing=f"{row} IN (SELECT {keys} FROM ({duplicated}))",
            # Its own GROUP BY query: a count(DISTINCT (a, b)) inside the shared scan hashes a
            # struct per row and slowed every other rule (benchmarks/checks_vs_write.py).
            query=f'SELECT coalesce(sum("#copies" - 1), 0) FROM ({duplicated})',
            comparison=comparison, percent=percent,
        )

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
        comparison = _comparison(rule, self.path, field)
        percent = (rule.unit or "rows").lower() in ("percent", "%")
        description = rule.description or ""
        if kind == "sql":
            if comparison is None:
                raise ContractError(self.path, field, "an sql rule needs an operator such as mustBe or mustBeLessThan")
            query = rule.query.replace("${table}", TABLE).replace("{object}", TABLE)
            if column is not None:
                query = query.replace("${column}", quote(column.name)).replace("{property}", quote(column.name))
            name = rule.name or f"{column.name if column else self.contract.table}_sql_{len(self.rules)}"
            self.add(Rule(name, description or f"sql: {rule.query}", severity, column.name if column else None,
                          query=query, comparison=comparison), field)
            return
        metric = rule.metric or rule.rule
        arguments = rule.arguments or {}
        base = column.name if column else self.contract.table
        name = rule.name or f"{base}_{_snake(metric)}"
        q = quote(column.name) if column else None
        if metric == "rowCount":
            if column is not None:
                raise ContractError(self.path, f"{field}.metric", "rowCount applies to the table: put it in schema[0].quality")
            self.add(Rule(name, description or "row count", severity, metric="count(*)",
                          comparison=comparison or Comparison("mustBeGreaterThan", 0)), field)
            return
        if metric == "duplicateValues":
            columns = arguments.get("properties") or ([column.name] if column else None)
            if not columns:
                raise ContractError(self.path, f"{field}.arguments.properties", "duplicateValues on the table needs the list of key columns")
            unknown = [c for c in columns if c not in self.contract.column_names]
            if unknown:
                raise ContractError(self.path, f"{field}.arguments.properties", f"names columns {unknown} that the contract does not declare")
            self.add(self._duplicates(name, description or f"no duplicate {columns}", severity, list(columns),
                                      comparison or NO_FAILING_ROWS, percent), field)
            return
        if column is None:
            raise ContractError(self.path, f"{field}.metric", f"{metric} applies to a column: put it in that property's quality")
        if metric == "nullValues":
            failing = f"{q} IS NULL"
        elif metric == "missingValues":
            missing = arguments.get("missingValues") or []
            failing = f"{q} IS NULL" + (f" OR {q} IN ({', '.join(literal(v) for v in missing)})" if missing else "")
        elif metric == "invalidValues":
            failing = self._invalid(column, arguments, f"{field}.arguments")
        else:  # the JSON schema only lets ODCS metrics through
            raise ContractError(self.path, f"{field}.metric", f"unknown metric {metric!r}")
        self.add(Rule(name, description or f"{metric} of {column.name}", severity, column.name, failing,
                      comparison=comparison or NO_FAILING_ROWS, percent=percent), field)

    def _invalid(self, column: Column, arguments: dict, field: str) -> str:
        q = quote(column.name)
        parts = []
        if "validValues" in arguments:
            values = arguments["validValues"]
            if not isinstance(values, list) or not values:
                raise ContractError(self.path, f"{field}.validValues", "expected a non-empty list of valid values")
            parts.append(f"{q} NOT IN ({', '.join(literal(v) for v in values)})")
        if "pattern" in arguments:
            parts.append(f"NOT regexp_full_match({q}, {literal(_check_regex(arguments['pattern'], self.path, f'{field}.pattern'))})")
        if not parts:
            raise ContractError(self.path, field, "invalidValues needs validValues or a pattern")
        return f"{q} IS NOT NULL AND ({' OR '.join(parts)})"


def _custom(properties, name: str, default: str) -> str:
    for prop in properties or []:
        if prop.property == name:
            return str(prop.value).lower()
    return default


def _snake(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).lower()


def _comparison(rule, path, field: str) -> Comparison | None:
    given = [(name, getattr(rule, name)) for name in (*_OPERATORS, "mustBeBetween", "mustNotBeBetween") if getattr(rule, name) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise ContractError(path, field, f"expected one operator, found {', '.join(n for n, _ in given)}")
    name, operand = given[0]
    if name in ("mustBeBetween", "mustNotBeBetween") and (len(operand) != 2 or operand[0] > operand[1]):
        raise ContractError(path, f"{field}.{name}", "expected [low, high] with low <= high")
    return Comparison(name, operand)


def rules_for(contract: Contract) -> list[Rule]:
    """Every rule of `contract`, in a stable order; ContractError names the bad field."""
    builder = _Builder(contract)
    builder.schema_rules()
    builder.quality_rules()
    return builder.rules
