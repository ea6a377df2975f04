"""Which input columns a SQL query reads, and which of them each output column derives from.

Used on a dbt model's compiled SQL (runtime/dbt_sql.py): the consumer-impact policy asks which
columns of each input port a model uses, and the model's asset carries its column lineage. The
query is resolved against the tables' known columns with sqlglot's `qualify` (the columns of a
`select *` expanded, aliases, `using (...)` joins, CTEs and subqueries followed back to the table
they come from), so a column the tables do not declare is an error here rather than a guess.

Tables are `(schema, name)` pairs, as dbt renders a source: `"<catalog>"."<schema>"."<name>"`
(the catalog is dropped: one query reads one database).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from mesh_platform.model.errors import MeshError

Table = tuple[str, str]  # (schema, name)
Origin = tuple[Table, str]  # an input table's column


class SqlUsageError(MeshError):
    """The query does not parse, or names a column or table its inputs do not declare."""


@dataclass(frozen=True)
class SqlUsage:
    # every column of each input the query reads (joins, filters, groups too); None: every column
    # (a star form or a whole-row reference that names no column, e.g. DuckDB's COLUMNS(*))
    used: dict[Table, frozenset[str] | None]
    lineage: dict[str, frozenset[Origin]]  # output column -> the input columns its values derive from
    outputs: tuple[str, ...]  # the query's output columns, in order


def analyse_sql(sql: str, tables: Mapping[Table, Mapping[str, str]], dialect: str = "duckdb") -> SqlUsage:
    """Resolve `sql` against `tables` ((schema, name) -> {column: SQL type}); SqlUsageError names
    what could not be resolved."""
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except SqlglotError as exc:
        raise SqlUsageError(f"the SQL does not parse: {_first_line(exc)}") from None
    for table in tree.find_all(exp.Table):
        table.set("catalog", None)
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for (db, name), columns in tables.items():
        schema.setdefault(db, {})[name] = dict(columns)
    try:
        tree = qualify(tree, schema=schema, dialect=dialect, validate_qualify_columns=True, identify=False)
        root = build_scope(tree)
    except SqlglotError as exc:
        raise SqlUsageError(_first_line(exc)) from None
    if root is None:
        raise SqlUsageError("the SQL is not a query")
    known = {(db, name) for db, name in tables}
    used: dict[Table, set[str]] = {}
    whole: set[Table] = set()
    for scope in root.traverse():
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                key = _table_key(source)
                if key not in known:
                    raise SqlUsageError(f"reads {'.'.join(key)}, whose columns are unknown")
                used.setdefault(key, set()).add(column.name)
        for source in _read_whole(scope):
            key = _table_key(source)
            if key not in known:
                raise SqlUsageError(f"reads {'.'.join(key)}, whose columns are unknown")
            whole.add(key)
    outputs, lineage = [], {}
    for projection in root.expression.selects if isinstance(root.expression, exp.Query) else ():
        name = projection.alias_or_name
        outputs.append(name)
        lineage[name] = frozenset(_origins(root, projection))
    result: dict[Table, frozenset[str] | None] = {k: frozenset(v) for k, v in used.items()}
    result.update(dict.fromkeys(whole))
    return SqlUsage(result, lineage, tuple(outputs))


def _read_whole(scope: Scope) -> set[exp.Table]:
    """The input tables `scope` reads in a form that names no column, so every column counts as read
    (conservative: a breaking change to any of them must not pass as "not read"):
    - DuckDB's COLUMNS(...) (`COLUMNS(*)`, `COLUMNS('re')`, `max(COLUMNS(*))`): the columns are
      chosen at run time, qualify leaves them unresolved, so every table of the scope;
    - a star left after qualify (`struct_pack(*)`, `hash(*)`; `count(*)` reads no column): every
      table of the scope, or the one a `t.*` names;
    - a whole-row reference (`select c from s.c as c`, `to_json(c)`; qualify makes it a
      TableColumn): the table the name denotes."""
    tables = {name: source for name, source in scope.sources.items() if isinstance(source, exp.Table)}
    whole: set[exp.Table] = set()
    for node in scope.find_all(exp.Columns, exp.Star, exp.Column, exp.TableColumn):
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            qualifier = node.table
        elif isinstance(node, exp.Column):
            continue  # an ordinary column, resolved by qualify (scope.columns)
        elif isinstance(node, exp.TableColumn):
            if node.name not in tables:
                continue  # a whole row of a CTE or subquery: the columns it selects are read there
            qualifier = node.name
        elif isinstance(node, exp.Star) and (isinstance(node.parent, exp.Count) or isinstance(node.parent, exp.Column)):
            continue  # count(*) counts rows; a `t.*` is the Column case above
        else:
            qualifier = ""
        if qualifier and qualifier in tables:
            whole.add(tables[qualifier])
        elif not qualifier:
            whole.update(tables.values())
    return whole


def _origins(scope: Scope, projection: exp.Expression) -> set[Origin]:
    """The input columns a projection of `scope` derives from, through CTEs and subqueries."""
    found: set[Origin] = set()
    for column in projection.find_all(exp.Column):
        source = scope.sources.get(column.table)
        if isinstance(source, exp.Table):
            found.add((_table_key(source), column.name))
        elif isinstance(source, Scope):
            inner = next((p for p in _selects(source) if p.alias_or_name == column.name), None)
            if inner is not None:
                found |= _origins(source, inner)
    return found


def _selects(scope: Scope) -> list[exp.Expression]:
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):  # a union: each branch derives the column
        return [p for branch in (expression.left, expression.right) for p in getattr(branch, "selects", [])]
    return list(getattr(expression, "selects", []))


def _table_key(table: exp.Table) -> Table:
    return (table.db, table.name)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split("\n")[0].split())
