"""Rules compiled to SQL for one dialect: the only place the platform writes a rule's SQL.

A rule (mesh_platform.model.rules) is data: a metric, its columns, arguments and threshold. Here
each metric becomes, for the relation under audit:

- `failing`: a predicate true for the rows that break a row rule (also used for its sample);
- `value`: an aggregate measuring the rule in the one shared scan of the batch;
- `query`: a query of its own returning one number (duplicates, contract sql rules).

What differs between engines (quoting, literals, regular expressions, month truncation, a fast
conditional count) is a method of a `Dialect`; the metric's logic is written once, over those
methods, as dbt's `adapter.dispatch` does. DuckDB is the first dialect; another engine subclasses
`Dialect`, overrides what its SQL spells differently and is added to DIALECTS.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mesh_platform.model.errors import MeshError
from mesh_platform.model.rule_spec import SQL_COLUMN_PLACEHOLDERS, SQL_TABLE_PLACEHOLDERS, Metric, Rule

DEFAULT_DIALECT = "duckdb"
_RANGE_OPERATORS = {"minimum": "<", "exclusiveMinimum": "<=", "maximum": ">", "exclusiveMaximum": ">="}


class UnknownDialectError(MeshError):
    """Rules were asked for in a SQL dialect the platform cannot write."""


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    failing: str | None = None  # predicate over the relation's rows: true where the rule breaks
    value: str | None = None  # aggregate over the relation, evaluated in the shared scan
    query: str | None = None  # a full query returning one number, run on its own


class Dialect:
    """How one engine spells the pieces of a rule. Defaults are ANSI SQL where ANSI has them."""

    name = "ansi"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, dt.datetime):  # before date: a datetime is a date too
            kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
            return f"{kind} {self.text(value.isoformat())}"
        if isinstance(value, dt.date):
            return f"DATE {self.text(value.isoformat())}"
        return self.text(str(value))

    def text(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def full_match(self, column: str, pattern: str) -> str:
        raise NotImplementedError(f"{self.name}: full_match")

    def contains_match(self, column: str, pattern: str) -> str:
        raise NotImplementedError(f"{self.name}: contains_match")

    def contains_text(self, column: str, text: str) -> str:
        return f"strpos({column}, {self.text(text)}) > 0"

    def length(self, column: str) -> str:
        return f"char_length({column})"

    def month_of(self, column: str) -> str:
        return f"CAST(date_trunc('month', {column}) AS DATE)"

    def count_failing(self, predicate: str) -> str:
        return f"coalesce(sum(CASE WHEN {predicate} THEN 1 ELSE 0 END), 0)"


class DuckDB(Dialect):
    name = "duckdb"

    def full_match(self, column: str, pattern: str) -> str:
        return f"regexp_full_match({column}, {self.literal(pattern)})"

    def contains_match(self, column: str, pattern: str) -> str:
        return f"regexp_matches({column}, {self.literal(pattern)})"

    def contains_text(self, column: str, text: str) -> str:
        return f"contains({column}, {self.text(text)})"

    def length(self, column: str) -> str:
        return f"length({column})"

    def count_failing(self, predicate: str) -> str:
        # count_if is count(*) FILTER (WHERE ...) by another name and markedly faster in DuckDB, but
        # it is NULL, not 0, when the predicate is NULL on every row (a range rule on an empty column).
        return f"coalesce(count_if({predicate}), 0)"


DIALECTS: dict[str, Dialect] = {"duckdb": DuckDB()}


def dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise UnknownDialectError(f"rules cannot be compiled for SQL dialect {name!r}; known dialects: {', '.join(sorted(DIALECTS))}") from None


def quote(identifier: str, dialect_name: str = DEFAULT_DIALECT) -> str:
    return dialect(dialect_name).quote(identifier)


def reference_view(domain: str, product: str) -> str:
    """The name (unquoted) under which a referenced port is visible to rules during an audit."""
    return f"ref__{domain}__{product}"


def compile_rule(rule: Rule, relation: str, dialect_name: str = DEFAULT_DIALECT) -> CompiledRule:
    """`rule` over `relation` (a name the engine can select from, already quoted as needed)."""
    sql = dialect(dialect_name)
    if rule.metric == Metric.ROW_COUNT:
        return CompiledRule(rule, value="count(*)")
    if rule.metric == Metric.SQL:
        return CompiledRule(rule, query=_user_query(rule, relation, sql))
    if rule.metric == Metric.DUPLICATES:
        return _duplicates(rule, relation, sql)
    failing = _failing(rule, sql)
    return CompiledRule(rule, failing=failing, value=sql.count_failing(failing))


def _failing(rule: Rule, sql: Dialect) -> str:
    """The predicate of a row rule: true on the rows that break it (NULL counts as not broken)."""
    q = sql.quote(rule.columns[0])
    args = rule.arguments
    metric = rule.metric
    if metric == Metric.NOT_NULL:
        return f"{q} IS NULL"
    if metric == Metric.MISSING_VALUES:
        missing = args.get("values") or []
        return f"{q} IS NULL" + (f" OR {q} IN ({_list(missing, sql)})" if missing else "")
    if metric == Metric.ACCEPTED_VALUES:
        return f"{q} NOT IN ({_list(args['values'], sql)})"
    if metric == Metric.INVALID_VALUES:
        parts = []
        if "valid_values" in args:
            parts.append(f"{q} NOT IN ({_list(args['valid_values'], sql)})")
        if "pattern" in args:
            parts.append(f"NOT {sql.full_match(q, args['pattern'])}")
        return f"{q} IS NOT NULL AND ({' OR '.join(parts)})"
    if metric == Metric.RANGE:
        return " OR ".join(f"{q} {op} {sql.literal(args[key])}" for key, op in _RANGE_OPERATORS.items() if key in args)
    if metric == Metric.LENGTH:
        bounds = [f"{sql.length(q)} {op} {int(args[key])}" for key, op in (("min_length", "<"), ("max_length", ">")) if key in args]
        return " OR ".join(bounds)
    if metric == Metric.PATTERN:
        return f"NOT {sql.full_match(q, args['pattern'])}"
    if metric == Metric.CONTAINS_PATTERN:
        search = sql.contains_match(q, args["pattern"])
        if "marker" not in args:
            return search
        # The regular expression only where the marker is: CASE evaluates it on those rows alone
        # (an AND would not), 5x faster over 60 M TPC-H comments.
        return f"CASE WHEN {sql.contains_text(q, args['marker'])} THEN {search} ELSE false END"
    if metric == Metric.RELATIONSHIP:
        view = sql.quote(reference_view(args["domain"], args["product"]))
        return f"{q} IS NOT NULL AND {q} NOT IN (SELECT {sql.quote(args['column'])} FROM {view})"
    if metric == Metric.DERIVED_MONTH:
        return f"{q} IS DISTINCT FROM {sql.month_of(sql.quote(args['source']))}"
    raise AssertionError(f"metric {metric!r} has no compile branch")  # a new Metric member needs one


def _duplicates(rule: Rule, relation: str, sql: Dialect) -> CompiledRule:
    keys = ", ".join(sql.quote(c) for c in rule.columns)
    row = f"({keys})" if len(rule.columns) > 1 else keys
    not_null = " AND ".join(f"{sql.quote(c)} IS NOT NULL" for c in rule.columns)
    # "#copies" cannot be a column's name (columns are identifiers), so it never shadows one.
    duplicated = f'SELECT {keys}, count(*) AS "#copies" FROM {relation} WHERE {not_null} GROUP BY {keys} HAVING count(*) > 1'
    return CompiledRule(
        rule,
        failing=f"{row} IN (SELECT {keys} FROM ({duplicated}))",
        # Its own GROUP BY query: a count(DISTINCT (a, b)) inside the shared scan hashes a
        # struct per row and slowed every other rule (benchmarks/checks_vs_write.py).
        query=f'SELECT coalesce(sum("#copies" - 1), 0) FROM ({duplicated})',
    )


def _user_query(rule: Rule, relation: str, sql: Dialect) -> str:
    """A contract's sql rule with ODCS's placeholders filled in: the relation, and its column."""
    query = rule.arguments["query"]
    for placeholder in SQL_TABLE_PLACEHOLDERS:  # "${table}" before "{table}", which it contains
        query = query.replace(placeholder, relation)
    if rule.column is not None:
        for placeholder in SQL_COLUMN_PLACEHOLDERS:
            query = query.replace(placeholder, sql.quote(rule.column))
    return query


def _list(values, sql: Dialect) -> str:
    return ", ".join(sql.literal(v) for v in values)
