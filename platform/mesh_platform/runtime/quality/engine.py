"""Evaluate rules as set-based SQL in DuckDB: every row rule in one scan of the batch.

The rules' SQL is written by `compile.py` for the DuckDB dialect; this module only runs it.

The batch is a relation DuckDB can read in place: a table in the domain's own DuckDB file (dbt
products) or an Arrow table registered on an in-memory connection (Python products). Referenced
ports (relationships to global identifiers) are registered as Arrow tables of the looked-up columns.
The connection is sealed by its opener (`sealed.py`): a contract's sql rule reaches nothing else,
and a rule whose SQL is not a query (COPY, ATTACH, ...) is refused by its parsed type before it runs.

What a result keeps of the batch (samples, a measured value, an engine's error) is recorded in
the run history and logs: it never holds a value that may be personal, by the column's
classification or by the value's look (see mesh_platform.model.redaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from mesh_platform.model.redaction import redact_value, without_values
from mesh_platform.model.rule_text import expected, failure
from mesh_platform.model.rules import Rule
from mesh_platform.runtime.quality.compile import CompiledRule, compile_rule, quote, reference_view
from mesh_platform.runtime.sealed import refusal, refused_statement

DIALECT = "duckdb"

SAMPLE_ROWS = 5
REDACTED = "••• (personal data)"
NOT_SHOWN = "not shown: the rule looks for personal data"


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    passed: bool
    value: Any = None  # the measured value the rule's comparison was applied to
    failing_rows: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the rule could not be evaluated (counts as failed)

    def summary(self) -> str:
        if self.error:
            return f"{self.rule.name}: could not be evaluated: {self.error}"
        return f"{self.rule.name}: {failure(self.rule, self.value, self.failing_rows)}"


RULES_WHERE = "contract sql rules"
RULES_REACH = "a rule reads only the batch under audit ({table}) and the ports its relationships reference"


def rule_error(exc: duckdb.Error) -> str:
    """Why a rule's SQL did not run, in one line; a sealed connection's refusal says what a rule may read."""
    # A user's SQL that fails on the data names the value it failed on: quoted values are dropped.
    return refusal(exc, RULES_WHERE, RULES_REACH) or without_values(" ".join(str(exc).split()))


def _sample(con, relation: str, compiled: CompiledRule, personal: list[str]) -> list[dict[str, Any]]:
    predicate, rule = compiled.failing, compiled.rule
    if not predicate:
        return []
    if rule.hides_values:
        return _positions(con, relation, rule, predicate)
    masked = f" REPLACE ({', '.join(f'{_text(REDACTED)} AS {quote(c)}' for c in personal)})" if personal else ""
    relation_ = con.sql(f"SELECT *{masked} FROM {relation} WHERE {predicate} LIMIT {SAMPLE_ROWS}")
    names = relation_.columns
    return [dict(zip(names, (_plain(redact_value(v)) for v in row))) for row in relation_.fetchall()]


def _positions(con, relation: str, rule: Rule, predicate: str) -> list[dict[str, Any]]:
    """Where a rule that looks for personal data found it: the first rows' positions in the batch
    (from 0, as pandas' `iloc`) and the column, never the value."""
    # row_number() OVER () runs as DuckDB's streaming window, which keeps the scan's order: the
    # positions are the batch's. The window is numbered before the filter, over every row.
    numbered = f'SELECT row_number() OVER () - 1 AS "#position", * FROM {relation}'
    rows = con.sql(f'SELECT "#position" FROM ({numbered}) WHERE {predicate} ORDER BY 1 LIMIT {SAMPLE_ROWS}').fetchall()
    return [{"row": position, "column": rule.column, "value": NOT_SHOWN} for (position,) in rows]


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def audit(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    rules: list[Rule],
    *,
    personal_columns: list[str] = (),
    references: Callable[[str, str], Any] | None = None,
) -> list[RuleResult]:
    """Evaluate `rules` over `relation` (a name `con` can select from)."""
    results: dict[str, RuleResult] = {}
    # Each referenced port once, with only the columns the relationships look up: a masked
    # port's other personal columns would otherwise be hashed for nothing.
    looked_up: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        if rule.reference:
            looked_up.setdefault(rule.reference[:2], set()).add(rule.reference[2])
    for (domain, product), columns in looked_up.items():
        try:
            con.register(reference_view(domain, product), references(domain, product, sorted(columns)))
        except Exception as exc:  # an unreadable reference fails its rules, not the audit
            for r in rules:
                if r.reference and r.reference[:2] == (domain, product):
                    results[r.name] = RuleResult(r, False, error=f"reference {domain}.{product}: {exc}")

    compiled = {r.name: compile_rule(r, relation, DIALECT) for r in rules}
    scanned = [compiled[r.name] for r in rules if r.name not in results and compiled[r.name].query is None]
    select = ", ".join(["count(*)"] + [c.value for c in scanned])
    total, *values = con.sql(f"SELECT {select} FROM {relation}").fetchall()[0]

    def measure(rule: Rule, value: Any) -> RuleResult:
        failing = value if rule.counts_rows else None  # rows that break a row rule; extra copies of a key
        measured = (100.0 * value / total if total else 0.0) if rule.percent else value
        # An sql rule may measure text (`SELECT max(note) ...`): it is compared, then kept only if harmless.
        return RuleResult(rule, rule.threshold.holds(measured), redact_value(measured), failing)

    for c, value in zip(scanned, values):
        results[c.rule.name] = measure(c.rule, value)
    for rule in rules:
        query = compiled[rule.name].query
        if query is not None and rule.name not in results:
            refused = refused_statement(query, RULES_WHERE, RULES_REACH)
            if refused is not None:
                results[rule.name] = RuleResult(rule, False, error=refused)
                continue
            try:
                results[rule.name] = measure(rule, con.sql(query).fetchall()[0][0])
            except duckdb.Error as exc:
                results[rule.name] = RuleResult(rule, False, error=rule_error(exc))

    ordered = [results[r.name] for r in rules]
    return [
        RuleResult(r.rule, r.passed, r.value, r.failing_rows, _sample(con, relation, compiled[r.rule.name], list(personal_columns)), r.error)
        if not r.passed and not r.error else r
        for r in ordered
    ]


def blocking_failures(results: list[RuleResult]) -> list[RuleResult]:
    return [r for r in results if not r.passed and r.rule.blocking]


def describe_failures(results: list[RuleResult]) -> str:
    return "; ".join(r.summary() for r in results)


def result_metadata(result: RuleResult) -> Mapping[str, Any]:
    metadata: dict[str, Any] = {"rule": result.rule.description, "expected": expected(result.rule)}
    if result.value is not None:
        metadata["value"] = result.value
    if result.failing_rows is not None:
        metadata["failing_rows"] = result.failing_rows
    if result.sample:
        metadata["failing_sample"] = result.sample
    if result.error:
        metadata["error"] = result.error
    return metadata
