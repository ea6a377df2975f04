"""Incremental cost: one new month of a partitioned product at 1 vs 10 years of history (issue 6).

Target: publishing one new month into a port holding 10 years of history costs at most 1.2x the
same into a port holding 1 year.

Data: TPC-H `lineitem` from `tpchgen-cli` (generated once into benchmarks/.data/sf<N>/, as
checks_vs_write.py does), partitioned by `ship_month` (the month of l_shipdate), checked against
benchmarks/contracts/lineitem_monthly.odcs.yaml. The months of 1995, TPC-H's steady state, are
real; earlier years are copies of them with every date shifted by whole years (and l_orderkey by
100 M a year, so the key stays unique across the table). So every month holds about the same
number of rows (~375 k at scale factor 5).

Two ports are built through the platform's own publish path, one commit per month, as a monthly
schedule would: "1y" holds 1995-01..1995-12 (12 commits), "10y" holds 1986-01..1995-12 (120
commits). Then, best of N, in alternating rounds (each timed publish gets a fresh copy of the
built table, made before the clock starts):

  new      publish 1996-01 (real data, not in either port): conform, audit, Delta commit with
           the month's overwrite predicate: what products/assets.py and ports/io_manager.py do;
  replace  re-publish 1995-06 (in both ports), replacing its rows;
  read     a consumer reading 1995-06: what the IO manager's load_input touches of the port
           (governance.reading.plan_read's stored_contract, then read_table's read_arrow).

The 10y port stands 9 commits past its last Delta checkpoint (the platform writes one every 10
commits; version 119, checkpoint at 110), the worst point of that cycle; the 1y port 1 commit past.

It prints wall and CPU, 10y/1y against the 1.2x target, and the publish broken down into conform,
audit, table open (log replay) and the Delta write/commit. The first version of this benchmark
found a publish opening the table three times, delta-rs's default checkpoint every 100 commits
and an unpruned one-month read; docs/benchmarks.md has those figures beside today's.

    nice -n 19 python benchmarks/incremental_month.py            # --scale-factor 5 --repeat 5: 5.5 min on 2 busy cores
                                                                 # (47 s of it generating benchmarks/.data/sf5 the first time)
    nice -n 19 python benchmarks/incremental_month.py --quick    # smoke run: scale factor 0.1, 1 repetition

Nothing is downloaded: the data comes from the `tpchgen-cli` binary (pip install tpchgen-cli).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from measure import best_wall, clocked, machine_facts, median, peak_rss_gib, rounds, timed
import results as result_files
from tpch_data import DATA, lineitem  # the same data as checks_vs_write.py

from mesh_platform.model.contracts import parse_contract
from mesh_platform.orchestration.checks import check_results
from mesh_platform.runtime.ports import delta
from mesh_platform.runtime.ports.conform import PartitionSlice, conform
from mesh_platform.runtime.ports.delta import DeltaPortStore, publish, read_arrow
from mesh_platform.runtime.ports.formats import to_arrow
from mesh_platform.runtime.publishing import commit_metadata, violation
from mesh_platform.runtime.quality import audit, rules_for

HERE = Path(__file__).resolve().parent
CONTRACT = parse_contract(HERE / "contracts" / "lineitem_monthly.odcs.yaml")
SCHEMA, RULES = CONTRACT.arrow_schema(), rules_for(CONTRACT)
LABEL, KEY, COLUMN = "benchmarks.lineitem_monthly", dg.AssetKey(["benchmarks", "lineitem_monthly"]), "ship_month"
SOURCE_YEAR = 1995  # lines ship from 1992-01 to 1998-12; 1995 is far from both ramps: full months
NEW, REPLACED = dt.date(1996, 1, 1), dt.date(1995, 6, 1)
KEY_STRIDE = 100_000_000  # > the largest l_orderkey up to scale factor 16
TARGET = 1.2


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months(first: dt.date, count: int) -> list[dt.date]:
    out = [first]
    while len(out) < count:
        out.append(next_month(out[-1]))
    return out


class Source:
    """The product function's output for any month: the real lines when tpchgen-cli has the month
    in the source year (or is NEW), else the source year's month shifted back by whole years."""

    def __init__(self, path: Path):
        self.con = duckdb.connect()
        # 13 months, not the whole file, kept in DuckDB (pyarrow cannot filter tpchgen's string_view).
        self.con.execute(f"CREATE TABLE source AS SELECT * FROM read_parquet('{path}') "
                         f"WHERE l_shipdate >= DATE '{SOURCE_YEAR}-01-01' AND l_shipdate < DATE '{next_month(NEW)}'")
        self.rows = self.con.sql("SELECT count(*) FROM source").fetchall()[0][0]

    def month(self, month: dt.date) -> pa.Table:
        years = 0 if month >= dt.date(SOURCE_YEAR, 1, 1) else month.year - SOURCE_YEAR
        start = month.replace(year=month.year - years)
        # DuckDB clamps 29 February to the 28th; a date plus an interval is a timestamp: cast back.
        shifted = {c: f"CAST({c} + INTERVAL ({years}) YEAR AS DATE)" for c in ("l_shipdate", "l_commitdate", "l_receiptdate")}
        replace = ", ".join([f"l_orderkey + {-years * KEY_STRIDE} AS l_orderkey"] + [f"{e} AS {c}" for c, e in shifted.items()])
        return self.con.sql(
            f"SELECT CAST(date_trunc('month', {shifted['l_shipdate']}) AS DATE) AS {COLUMN}, * REPLACE ({replace}) "
            f"FROM source WHERE l_shipdate >= DATE '{start}' AND l_shipdate < DATE '{next_month(start)}'"
        ).to_arrow_table()


# -- the platform's publish path, timed in parts -------------------------------------------------
class Probe:
    """Times what ports.delta.publish and read_arrow spend opening the table (log replay) and in
    `write_deltalake` (finds the files the predicate replaces, writes Parquet, commits), by
    wrapping the names that module calls."""

    def __init__(self, parts: dict[str, float]):
        self.parts = parts

    def _timed(self, part: str, fn: Callable) -> Callable:
        def add(start: float, end: float, *_) -> None:
            self.parts[part] += end - start
        return timed(fn, add)

    def __enter__(self):
        self.saved = delta.DeltaTable, delta.write_deltalake
        delta.DeltaTable, delta.write_deltalake = self._timed("table opens", DeltaTable), self._timed("write + commit", write_deltalake)

    def __exit__(self, *exc):
        delta.DeltaTable, delta.write_deltalake = self.saved


def publish_month(uri: str, data: pa.Table, month: dt.date, run_id: str, parts: dict[str, float]):
    """One partition of a Python product: products/assets.py `compute` (conform, audit_batch,
    verdict) then ports/io_manager.py `handle_output` (publish with the month's slice)."""
    started = time.perf_counter()
    batch = conform(to_arrow(data, LABEL), SCHEMA, LABEL).read_all()
    parts["conform"] += time.perf_counter() - started
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.register("batch", batch)
        results = audit(con, "batch", RULES)
    check_results(KEY, results)
    problem = violation(LABEL, results)
    if problem is not None:
        raise problem  # a rule fails on this data: the contract (or the shifting) is wrong
    parts["audit"] += time.perf_counter() - started
    started = time.perf_counter()
    with Probe(parts):
        result = publish(uri, to_arrow(batch, LABEL), SCHEMA, label=LABEL, partition_by=COLUMN,
                           partition=PartitionSlice(COLUMN, month, next_month(month)),
                           commit_metadata=commit_metadata(CONTRACT, LABEL, run_id))
    parts["publish"] += time.perf_counter() - started
    return result


def read_month(uri: str, month: dt.date, parts: dict[str, float]) -> int:
    """What a consumer's load_input touches of the port: plan_read's stored_contract (open +
    history(1)), then read_table's read_arrow (open, a dataset of the month's files, scan)."""
    started = time.perf_counter()
    DeltaPortStore(str(Path(uri).parents[2])).stored_contract(uri)
    parts["contract lookup"] += time.perf_counter() - started
    started = time.perf_counter()
    piece = PartitionSlice(COLUMN, month, next_month(month))
    with Probe(parts):
        table = read_arrow(uri, LABEL, piece)
    parts["read"] += time.perf_counter() - started
    return table.num_rows


# -- cases --------------------------------------------------------------------------------------
def restore(built: Path, target: Path) -> None:
    """A fresh copy of a built port: data files hard-linked (Delta never rewrites one), the log
    copied (it is what a publish changes). Not timed."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(built, target, copy_function=os.link, ignore=shutil.ignore_patterns("_delta_log"))
    shutil.copytree(built / "_delta_log", target / "_delta_log")


@dataclass
class Case:
    name: str
    history: str  # "1y" or "10y"
    run: Callable[[str, dict], object]
    built: Path
    scratch: Path | None = None  # restore `built` here before each run (the case writes)
    prepare: Callable[[str], None] | None = None  # more untimed set-up on the copy
    runs: list[tuple[float, float, dict]] = field(default_factory=list)
    result: object = None

    def once(self) -> None:
        uri = str(self.built)
        if self.scratch is not None:
            restore(self.built, self.scratch)
            uri = str(self.scratch)
            if self.prepare:
                self.prepare(uri)
        parts: dict[str, float] = defaultdict(float)
        self.result, wall, cpu = clocked(lambda: self.run(uri, parts))
        self.runs.append((wall, cpu, parts))
        print(f"  {self.name:<22} {self.history:>3}: {self.runs[-1][0]:6.3f} s wall, {self.runs[-1][1]:6.3f} s CPU", flush=True)

    @property
    def best(self) -> tuple[float, float, dict]:
        return min(self.runs, key=lambda r: r[0])

    def part(self, name: str) -> float:
        """The fastest of the runs for one part (parts vary independently)."""
        return min(r[2].get(name, 0.0) for r in self.runs)


def build(uri: Path, source: Source, history: list[dt.date]) -> list[tuple[float, int, dict]]:
    """The port as a monthly schedule leaves it: one publish (one commit) per month, oldest first."""
    timings = []
    for i, month in enumerate(history):
        data = source.month(month)  # the product function's work: not the platform's
        parts: dict[str, float] = defaultdict(float)
        started = time.perf_counter()
        result = publish_month(str(uri), data, month, f"build-{i}", parts)
        timings.append((time.perf_counter() - started, result.rows, parts))
    return timings


def log_facts(uri: Path) -> str:
    log = sorted(p.name for p in (uri / "_delta_log").iterdir())
    checkpoints = [int(n.split(".")[0]) for n in log if ".checkpoint." in n]
    table = DeltaTable(str(uri))
    return (f"version {table.version()}, {len(table.file_uris())} data files, {sum(n.endswith('.json') for n in log)} commit files "
            f"({sum((uri / '_delta_log' / n).stat().st_size for n in log) / 2**10:,.0f} KiB of log), "
            f"checkpoint at {checkpoints[-1] if checkpoints else 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factor", type=float, default=5, help="TPC-H scale factor (5: ~375 k rows a month)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best run of each case is reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: scale factor 0.1, 1 repetition")
    args = parser.parse_args()
    if args.quick:
        args.scale_factor, args.repeat = 0.1, 1
    begun = time.perf_counter()
    print(machine_facts(["duckdb", "pyarrow", "deltalake", "dagster"], nice=True))
    source = Source(lineitem(args.scale_factor))
    print(f"source: {source.rows:,} lines shipped {SOURCE_YEAR}-01..{NEW:%Y-%m}; {len(RULES)} contract rules")

    scratch = Path(tempfile.mkdtemp(prefix="incremental-", dir=DATA))
    try:
        ports: dict[str, Path] = {}
        for name, first, count in (("1y", dt.date(SOURCE_YEAR, 1, 1), 12), ("10y", dt.date(SOURCE_YEAR - 9, 1, 1), 120)):
            ports[name] = scratch / f"built-{name}"
            started = time.perf_counter()
            timings = build(ports[name], source, months(first, count))
            rows = [r for _, r, _ in timings]
            print(f"built {name}: {count} monthly publishes in {time.perf_counter() - started:.1f} s; {sum(rows):,} rows, "
                  f"{min(rows):,} to {max(rows):,} a month; {log_facts(ports[name])}", flush=True)
            # What the log costs as commits pile up: early, late, and the last 20 publishes.
            for low, high in ((0, 12), (87, 99), (100, 120)) if count == 120 else ((0, 12),):
                window = timings[low:high]
                print(f"  publishes {low + 1}-{high}: median {median([w for w, _, _ in window]):.3f} s, of which table opens "
                      f"{median([p['table opens'] for _, _, p in window]) * 1e3:.0f} ms, write + commit {median([p['write + commit'] for _, _, p in window]) * 1e3:.0f} ms")
        new_data, replaced_data = source.month(NEW), source.month(REPLACED)

        def publishing(data, month):
            return lambda uri, parts: publish_month(uri, data, month, "timed", parts)

        specs = [
            ("new month", publishing(new_data, NEW), True, None),
            ("replace a month", publishing(replaced_data, REPLACED), True, None),
            ("read a month", lambda uri, parts: read_month(uri, REPLACED, parts), False, None),
        ]
        cases = [Case(n, h, run, ports[h], scratch / "copy" if writes else None, prep)
                 for n, run, writes, prep in specs for h in ("1y", "10y")]
        print(f"\n{len(cases)} cases x {args.repeat} rounds (1y and 10y alternate)")
        rounds(cases, args.repeat)
        shutil.rmtree(scratch / "copy", ignore_errors=True)
        for case in cases:
            if "read" in case.name:
                assert case.result == replaced_data.num_rows, (case.name, case.history, case.result)
            else:  # one commit on top of the built port
                assert case.result.rows == (new_data if "new" in case.name else replaced_data).num_rows, case.result
                assert case.result.version == (11 if case.history == "1y" else 119) + 1, case.result
        by = {(c.name, c.history): c for c in cases}

        # -- report -------------------------------------------------------------------------------
        peak = peak_rss_gib()
        print(f"\nTPC-H lineitem SF {args.scale_factor:g}: new month {NEW:%Y-%m} {new_data.num_rows:,} rows, replaced/read "
              f"{REPLACED:%Y-%m} {replaced_data.num_rows:,} rows; best of {args.repeat}; peak RSS {peak:.1f} GiB; "
              f"load average now {os.getloadavg()[0]:.2f}")
        print(f"{'case':<22}{'1y wall':>9}{'CPU':>8}{'10y wall':>10}{'CPU':>8}{'10y/1y wall':>13}{'CPU':>7}   target <= {TARGET}x")
        verdicts = {}
        for name, *_ in specs:
            (w1, c1, _), (w10, c10, _) = by[(name, "1y")].best, by[(name, "10y")].best
            ratio = w10 / w1
            verdicts[name] = ratio
            verdict = "MET" if ratio <= TARGET else f"NOT MET by {ratio / TARGET - 1:.0%} ({(w10 - TARGET * w1) * 1e3:.0f} ms too slow)"
            print(f"{name:<22}{w1:>9.3f}{c1:>8.3f}{w10:>10.3f}{c10:>8.3f}{ratio:>12.2f}x{c10 / c1:>6.2f}x   {verdict}")

        print("\nwhere the time goes (ms, each part the fastest of its runs; 10y - 1y = what history costs):")
        for name, *_ in specs:
            c1, c10 = by[(name, "1y")], by[(name, "10y")]
            names = ["contract lookup", "read", "table opens"] if "read" in name else ["conform", "audit", "publish", "table opens", "write + commit"]
            cells = [f"{p} {c1.part(p) * 1e3:.0f}/{c10.part(p) * 1e3:.0f} ({(c10.part(p) - c1.part(p)) * 1e3:+.0f})" for p in names]
            print(f"  {name:<20} " + "; ".join(cells))
        opens = {h: best_wall(lambda uri=str(ports[h]): DeltaTable(uri).version(), max(3, args.repeat)) for h in ports}
        print(f"  one DeltaTable(uri) of the built port: 1y {opens['1y'] * 1e3:.1f} ms, 10y {opens['10y'] * 1e3:.1f} ms; "
              f"a publish opens it once, a read twice (the stored contract, then the data)")
        print(f"\nelapsed {time.perf_counter() - begun:.0f} s")
        # Best run of each case; RSS is this process's peak over the whole benchmark (the cases share it).
        runs = [result_files.run(f"{c.name.replace(' ', '_')}_{c.history}", c.best[0], c.best[1], peak * 1024, rss_scope="benchmark process")
                for c in cases]
        result_files.write("incremental_month", {"scale_factor": args.scale_factor, "repeat": args.repeat, "statistic": "best"}, runs,
                      {f"{name.replace(' ', '_')}:10y/1y": result_files.ratio(runs, f"{name.replace(' ', '_')}_10y", f"{name.replace(' ', '_')}_1y")
                       for name, *_ in specs})
        return 0 if verdicts["new month"] <= TARGET else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
