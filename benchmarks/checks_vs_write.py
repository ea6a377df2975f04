"""Contract checks vs publishing the same product, and vs pandera on pandas.

On TPC-H `lineitem` (~12 M rows at scale factor 2, generated once by `tpchgen-cli` into
benchmarks/.data/), time, best of N runs, wall clock and process CPU (all threads):

  write    what publishing a Python product costs: `ports.delta.publish` (cast to the contract,
           then one Delta commit) of the table as read from Parquet, into a fresh directory;
  checks   every rule of benchmarks/contracts/lineitem.odcs.yaml evaluated by
           `quality.engine.audit` on the batch cast to the contract and registered in a fresh
           in-memory DuckDB, exactly as `publishing.audit_batch` does;
  pandera  `quality.pandera_schema.pandera_schema(contract).validate(df, lazy=True)` on the same
           rows as a pandas DataFrame (`Table.to_pandas()` is timed once and reported apart).

The write and the checks run in alternating rounds, so a burst of load elsewhere on the machine
hits both. It prints checks/write, checks/pandera and the checks' share of the build,
checks / (checks + write), against the target of at most 10 %, and exits non-zero when a rule
fails on TPC-H data (then the benchmark contract is wrong) or there are fewer than 10 M rows.

    python benchmarks/checks_vs_write.py [--scale-factor 2] [--repeat 3] [--profile]

`--profile` also times each rule alone, and a prototype of two engine changes (in this file, not
in the platform) that shows what they would save. Nothing is downloaded: the data comes from the
`tpchgen-cli` binary (pip install tpchgen-cli).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from measure import Step, best_wall, clocked, machine_facts, peak_rss_gib, rounds
from results import ratio, step_run
from results import write as write_results
from tpch_data import DATA, lineitem

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.rules import Metric
from mesh_platform.runtime.ports.conform import conform
from mesh_platform.runtime.ports.delta import publish
from mesh_platform.runtime.quality import Rule, audit, rules_for
from mesh_platform.runtime.quality.compile import compile_rule, quote

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "contracts" / "lineitem.odcs.yaml"
LABEL = "benchmarks.lineitem"
MIN_ROWS = 10_000_000
TARGET_SHARE = 0.10


# -- the measured steps -------------------------------------------------------------------------
def run_audit(table: pa.Table, rules: list[Rule]):
    """What `publishing.audit_batch` does: a fresh in-memory DuckDB, the batch registered, every rule."""
    with duckdb.connect() as con:
        con.register("batch", table)
        return audit(con, "batch", rules)


# -- profile: each rule alone, and a prototype of a faster engine --------------------------------
def _keys(names: list[str]) -> tuple[str, str]:
    """A key's columns as SQL, and the predicate keeping the rows where every one is set."""
    return ", ".join(quote(n) for n in names), " AND ".join(f"{quote(n)} IS NOT NULL" for n in names)


def profile_rules(table: pa.Table, rules: list[Rule]) -> list[tuple[float, str, str]]:
    """Each rule alone (its own query), best of 2: which one dominates the audit."""
    out = []
    with duckdb.connect() as con:
        con.register("batch", table)
        for rule in rules:
            best = best_wall(lambda rule=rule: audit(con, "batch", [rule]), 2)
            compiled = compile_rule(rule, "batch")
            kind = "sql query" if compiled.query else ("row predicate" if compiled.failing else "aggregate")
            out.append((best, rule.name, kind))
    return sorted(out, reverse=True)


def profile_variants(table: pa.Table, rules: list[Rule]) -> list[tuple[float, str]]:
    """The parts of the audit, and the alternatives the prototype uses, each best of 3."""
    compiled = [compile_rule(r, "batch") for r in rules]
    row_rules = [c for c in compiled if c.query is None and c.failing]
    variants: list[tuple[str, str | Callable[[], object]]] = [
        (f"scan of the {len(row_rules)} row rules as count(*) FILTER (WHERE p) (audit today)",
         "SELECT count(*), " + ", ".join(f"count(*) FILTER (WHERE {r.failing})" for r in row_rules) + " FROM batch"),
        (f"scan of the {len(row_rules)} row rules as count_if(p) (prototype)",
         "SELECT count(*), " + ", ".join(f"count_if({r.failing})" for r in row_rules) + " FROM batch"),
    ]
    for rule in rules:
        if rule.metric == Metric.DUPLICATES:
            names = list(rule.columns)
            keys, not_null = _keys(names)
            variants += [
                (f"{rule.name}: count(*) - count(DISTINCT ({keys})) alone", f"SELECT count(*) - count(DISTINCT ({keys})) FROM batch WHERE {not_null}"),
                (f"{rule.name}: GROUP BY {keys} HAVING count(*) > 1 (prototype, unsorted)",
                 f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM batch WHERE {not_null} GROUP BY {keys} HAVING count(*) > 1)"),
                (f"{rule.name}: rows strictly increasing by key, Arrow compute (prototype, sorted)",
                 lambda names=names: strictly_increasing(table, names)),
            ]
    out = []
    with duckdb.connect() as con:
        con.register("batch", table)
        for label, run in variants:
            best = best_wall(lambda run=run: con.sql(run).fetchall() if isinstance(run, str) else run(), 3)
            out.append((best, label))
    return out


def strictly_increasing(table: pa.Table, keys: list[str]) -> bool:
    """True when the rows are sorted by `keys` with no key repeated: then the key is unique.

    A vectorised comparison of each row with the next (Arrow compute, no hashing): about 30 ms
    for 12 M rows. Producers often emit rows in key order (TPC-H does); when they do not, the
    caller falls back to hashing.
    """
    columns = [table.column(k) for k in keys]
    if table.num_rows < 2:
        return True
    if any(c.null_count for c in columns):
        return False
    n = table.num_rows
    ok = None
    for column in reversed(columns):  # lexicographic: (a, b) < (a', b') iff a < a' or (a = a' and b < b')
        before, after = column.slice(0, n - 1), column.slice(1)
        greater = pc.greater(after, before)
        ok = greater if ok is None else pc.or_(greater, pc.and_(pc.equal(after, before), ok))
    return bool(pc.all(ok).as_py())


def prototype_audit(table: pa.Table, rules: list[Rule]) -> dict[str, object]:
    """The same rules, evaluated the way this benchmark suggests `engine.audit` could (not platform code).

    1. Row rules as `count_if(predicate)` instead of `count(*) FILTER (WHERE predicate)`.
    2. Duplicate-key rules out of the shared scan: inside it, `count(DISTINCT (a, b))` makes DuckDB
       fan the scan out to a hash aggregate over a STRUCT per row. Instead: a sortedness check of
       the Arrow key columns proves the key unique without hashing; otherwise a GROUP BY on the
       key columns counts the surplus rows.
    Returns each rule's measured value (percent rules not handled: the benchmark contract has none).
    """
    values: dict[str, object] = {}
    with duckdb.connect() as con:
        con.register("batch", table)
        scanned, grouped = [], []
        for rule in rules:
            if rule.metric == Metric.DUPLICATES:
                grouped.append((rule, *_keys(list(rule.columns))))
            elif rule.metric != Metric.SQL:
                scanned.append(compile_rule(rule, "batch"))
        metrics = [c.value for c in scanned]
        for compiled, value in zip(scanned, con.sql(f"SELECT {', '.join(metrics)} FROM batch").fetchall()[0]):
            values[compiled.rule.name] = value
        for rule, keys, not_null in grouped:
            names = list(rule.columns)
            if strictly_increasing(table, names):
                values[rule.name] = 0
                continue
            # count(*) - count(DISTINCT key) over the non-null keys = sum of (n - 1) over repeated keys
            values[rule.name] = con.sql(
                f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM batch WHERE {not_null} "
                f"GROUP BY {keys} HAVING count(*) > 1)"
            ).fetchall()[0][0]
        for rule in rules:
            if rule.metric == Metric.SQL:
                values[rule.name] = con.sql(compile_rule(rule, "batch").query).fetchall()[0][0]
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factor", type=float, default=2, help="TPC-H scale factor (2 gives ~12 M lineitem rows)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of write and checks; the best run of each is reported")
    parser.add_argument("--pandera-repeat", type=int, default=None,
                        help="runs of the pandera baseline (default: --repeat, at most 2: it takes ~40 s a run)")
    parser.add_argument("--profile", action="store_true", help="time each rule alone, and the prototype engine")
    args = parser.parse_args()
    pandera_repeat = args.pandera_repeat or min(args.repeat, 2)

    print(machine_facts(["duckdb", "pyarrow", "deltalake", "pandas", "pandera"]))
    path = lineitem(args.scale_factor)

    contract = parse_contract(CONTRACT)
    schema = contract.arrow_schema()
    rules = rules_for(contract)
    # The rules pandera checks too: all but relationships and sql rules, which need the engine
    # (pandera_schema.NOT_ON_A_FRAME; not imported here, pandera is slow to import).
    schema_rules = [r for r in rules if r.metric not in (Metric.RELATIONSHIP, Metric.SQL)]

    started = time.perf_counter()
    raw = pq.read_table(path)  # as tpchgen-cli writes it: string_view columns, the producer's own types
    print(f"loaded {raw.num_rows:,} rows x {raw.num_columns} columns from Parquet in {time.perf_counter() - started:.1f} s "
          f"({raw.nbytes / 2**30:.2f} GiB in Arrow)")
    if raw.num_rows < MIN_ROWS:
        print(f"WARNING: {raw.num_rows:,} rows is below the {MIN_ROWS:,} the benchmark requires; use --scale-factor 2")

    # The batch the platform audits is the one cast to the contract (assets.py: conform(...).read_all()).
    started = time.perf_counter()
    batch = conform(raw, schema, LABEL).read_all()
    print(f"cast to the contract's schema once, for the audit: {time.perf_counter() - started:.2f} s (not counted)")

    scratch = Path(tempfile.mkdtemp(prefix="delta-", dir=DATA))
    target = {"n": 0}

    def fresh() -> None:
        target["n"] += 1
        target["uri"] = str(scratch / f"lineitem-{target['n']}")

    def clean() -> None:
        shutil.rmtree(target["uri"], ignore_errors=True)

    write = Step("write", lambda: publish(target["uri"], raw, schema, label=LABEL), setup=fresh, teardown=clean)
    checks = Step("checks", lambda: run_audit(batch, rules))
    same = Step("checks-same", lambda: run_audit(batch, schema_rules))
    prototype = Step("prototype", lambda: prototype_audit(batch, rules)) if args.profile else None
    print(f"\nwrite = conform + publish (Delta, one commit); checks = audit of all {len(rules)} rules; "
          f"checks-same = the {len(schema_rules)} rules pandera also expresses"
          + ("; prototype = the same rules with the engine changes sketched in prototype_audit()" if prototype else ""))
    try:
        rounds([write, checks, same] + ([prototype] if prototype else []), args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert write.result.rows == raw.num_rows, write.result
    results = checks.result
    failed = [r for r in results if not r.passed]
    print(f"  {len(results) - len(failed)}/{len(results)} rules pass")
    for r in failed:
        print(f"  FAILED {r.summary()}")

    profile = []
    if prototype:
        print("\nprofile: each rule alone")
        profile = profile_rules(batch, rules)
        variants = profile_variants(batch, rules)
        expected = {r.rule.name: r.value for r in results}
        wrong = {k: (v, expected[k]) for k, v in prototype.result.items() if v != expected[k]}
        if wrong:
            print(f"  prototype disagrees with audit (prototype, audit): {wrong}")

    print(f"\npandera: DataFrameSchema.validate(lazy=True) on pandas, {pandera_repeat} runs")
    import pandera.errors  # imported late: pandera is slow to import

    from mesh_platform.runtime.quality.pandera_schema import pandera_schema

    frame, wall, cpu = clocked(batch.to_pandas)
    to_pandas = Step("to_pandas", lambda: None, wall=[wall], cpu=[cpu])
    print(f"  Arrow -> pandas: {to_pandas.best[0]:.2f} s wall, {to_pandas.best[1]:.2f} s CPU")
    validator = pandera_schema(contract)
    failures = []

    def validate() -> None:
        try:
            validator.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            failures.append(exc)

    pandera = Step("pandera", validate)
    rounds([pandera], pandera_repeat)
    if failures:
        print(f"  pandera reports failures:\n{failures[0]}")
    del frame
    peak = peak_rss_gib()

    # -- report ---------------------------------------------------------------------------------
    rows = raw.num_rows
    print(f"\nTPC-H lineitem, scale factor {args.scale_factor:g}: {rows:,} rows; best of {args.repeat} "
          f"(pandera: best of {pandera_repeat}); peak RSS {peak:.1f} GiB; load average now {os.getloadavg()[0]:.2f}")
    print(f"{'step':<58}{'wall s':>8}{'CPU s':>8}{'M rows/s':>10}")
    lines = [
        ("write: conform + publish (Delta, one commit)", write),
        (f"checks: audit, all {len(rules)} rules", checks),
        (f"checks: audit, the {len(schema_rules)} rules pandera also expresses", same),
    ]
    if prototype:
        lines.append((f"(prototype engine, all {len(rules)} rules, see --profile)", prototype))
    lines += [
        (f"pandera: validate, {len(validator.columns)} columns, {len(schema_rules)} rules", pandera),
        ("(pandera's input: Arrow -> pandas, not counted)", to_pandas),
    ]
    for name, step in lines:
        wall, cpu = step.best
        print(f"{name:<58}{wall:>8.2f}{cpu:>8.2f}{rows / wall / 1e6:>10.1f}")

    (w_wall, w_cpu), (c_wall, c_cpu), (s_wall, _), (p_wall, _) = write.best, checks.best, same.best, pandera.best
    share = c_wall / (c_wall + w_wall)
    print(f"\nchecks / write            = {c_wall / w_wall:6.1%}   (CPU: {c_cpu / w_cpu:.1%})")
    print(f"checks / pandera          = {c_wall / p_wall:6.1%}   (pandera {p_wall / c_wall:.1f}x slower while checking "
          f"{len(schema_rules)} of the {len(rules)} rules; same rules: {s_wall / p_wall:.1%}, {p_wall / s_wall:.0f}x)")
    print(f"checks share of the build = {share:6.1%}   = checks / (checks + write); target <= {TARGET_SHARE:.0%}: "
          f"{'MET' if share <= TARGET_SHARE else 'NOT MET'}")
    if profile:
        print(f"\neach rule alone, best of 2 (audit() evaluates the {sum(1 for r in rules if r.query is None)} row and "
              f"aggregate rules in one scan, and each sql rule as its own query):")
        for seconds, name, kind in profile:
            print(f"  {seconds:7.3f} s  {name:<36} {kind}")
        print("parts of the audit, and the prototype's alternatives (best of 3):")
        for seconds, label in variants:
            print(f"  {seconds:7.3f} s  {label}")
        p_share = prototype.best[0] / (prototype.best[0] + w_wall)
        print(f"prototype engine: {prototype.best[0]:.2f} s = {prototype.best[0] / w_wall:.1%} of the write, "
              f"{p_share:.1%} of the build")
    runs = [step_run(name, step, rows=rows) for name, step in (("write", write), ("checks", checks), ("checks_same_rules", same),
                                                              ("pandera", pandera), ("to_pandas", to_pandas), ("prototype", prototype)) if step]
    ratios = {"checks/write": ratio(runs, "checks", "write"), "checks/pandera": ratio(runs, "checks", "pandera"),
              "checks_same_rules/pandera": ratio(runs, "checks_same_rules", "pandera"), "checks_share": round(share, 4)}
    write_results("checks_vs_write", {"scale_factor": args.scale_factor, "rows": rows, "rules": len(rules), "repeat": args.repeat,
                                      "pandera_repeat": pandera_repeat, "statistic": "best"}, runs, ratios)
    if failed:
        print("\nERROR: some rules fail on TPC-H data: the benchmark contract is wrong")
    return 0 if not failed and not failures and rows >= MIN_ROWS else 1


if __name__ == "__main__":
    sys.exit(main())
