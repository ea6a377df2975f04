"""Which DuckDB should the platform run: 1.5.5 with DuckDB's own Delta extension, or 2.0 without
it? (issue 12)

    nice -n 19 python benchmarks/duckdb_version.py --scale-factor 1      # 6 min on 2 busy cores

DuckDB's extensions ship as wheels (`duckdb-extension-delta`) for 1.5.5 only; 2.0 refuses them. So
the choice is between a newer engine and a native Delta reader. Measured in one run, each
measurement in a fresh process, 1.5.5 and 2.0 alternating, median of --repeat (3):

  (a) queries  the TPC-H benchmark mesh's SQL (benchmarks/tpch_products.py: the 8 staging SELECTs
               and TPC-H Q1, Q3, Q5, Q10) over tpchgen-cli's Parquet, each as CREATE TABLE ... AS
               in one in-memory DuckDB: the engine alone, as dbt models run it.
  (b) scans    what a consumer does with a Delta port (TPC-H lineitem written by delta-rs, as the
               mesh publishes): a full scan (an aggregate over every row), a full materialisation
               to Arrow, and a selective scan (one week of l_shipdate, two columns). 1.5.5 reads
               it with `delta_scan` (the extension loaded from its wheel's file, offline);
               2.0 over `DeltaTable(...).to_pyarrow_dataset()`, how the mesh read ports before.
               Each scan's time includes opening the port (reading its log), as a consumer's
               read does; loading the extension (once per database) is timed apart.

DuckDB 2.0 runs in a side venv (duckdb==2.0.0, pyarrow==26.0.1, deltalake==1.6.6, the versions
the platform ran before) created once under --cache (default ~/.cache/mesh-benchmarks) from the
configured package index; nothing is downloaded at run time after that. The child processes run
this file with `_child <spec.json> <out.json>` and import only duckdb, deltalake and the standard
library, so the same code runs in both venvs.

Prints a table of medians and 2.0/1.5.5 ratios; writes benchmarks/results/duckdb_version.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIDE_VERSIONS = {"duckdb": "2.0.0", "pyarrow": "26.0.1", "deltalake": "1.6.6"}
SELECTIVE = "l_shipdate BETWEEN DATE '1995-06-01' AND DATE '1995-06-07'"
SCANS = {  # name -> SQL over the port, named t
    "full_aggregate": "SELECT count(*), sum(l_quantity), sum(l_extendedprice * (1 - l_discount)), max(l_comment) FROM t",
    "full_to_arrow": "SELECT * FROM t",
    "selective": f"SELECT l_orderkey, l_extendedprice FROM t WHERE {SELECTIVE}",
}


# -- the child: runs in either venv, imports nothing of the repository ------------------------

def child(spec_path: Path, out_path: Path) -> None:
    import duckdb

    spec = json.loads(spec_path.read_text())
    timings: dict[str, float] = {}
    if spec["job"] == "queries":
        con = duckdb.connect()
        for name, sql in spec["queries"]:
            started = time.perf_counter()
            con.execute(f"CREATE TABLE {name} AS {sql}")
            timings[name] = time.perf_counter() - started
    else:
        for name, sql in SCANS.items():
            con = duckdb.connect()
            if spec["reader"] == "delta_scan":
                # Once per database, not per read: timed apart, as the session that reads many ports pays it once.
                started = time.perf_counter()
                con.execute(spec["load_delta"])
                timings[f"{name}_load_delta"] = time.perf_counter() - started
            else:
                from deltalake import DeltaTable  # only the Arrow-dataset reader needs delta-rs (imported untimed)
            started = time.perf_counter()  # a consumer's read: the port opened (its log read), the query
            if spec["reader"] == "delta_scan":
                con.execute(f"CREATE VIEW t AS SELECT * FROM delta_scan('{spec['port']}')")
            else:
                con.register("t", DeltaTable(spec["port"]).to_pyarrow_dataset())
            result = con.sql(sql)
            rows = result.to_arrow_table().num_rows if name == "full_to_arrow" else len(result.fetchall())
            timings[name] = time.perf_counter() - started
            timings[f"{name}_rows"] = rows
            con.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out_path.write_text(json.dumps({"duckdb": duckdb.__version__, "timings": timings,
                                    "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))


# -- the parent -------------------------------------------------------------------------------

def side_venv(cache: Path) -> Path:
    """The python of a venv with DuckDB 2.0 (and the pyarrow and deltalake it ran with), created
    once from the configured package index."""
    venv = cache / f"venv-duckdb-{SIDE_VERSIONS['duckdb']}"
    python = venv / "bin" / "python"
    probe = "import duckdb, deltalake, pyarrow; print(duckdb.__version__, deltalake.__version__, pyarrow.__version__)"
    wanted = " ".join(SIDE_VERSIONS[p] for p in ("duckdb", "deltalake", "pyarrow"))
    if python.exists() and subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.strip() == wanted:
        return python
    print(f"side venv: creating {venv} ({', '.join(f'{k}=={v}' for k, v in SIDE_VERSIONS.items())})", flush=True)
    subprocess.run(["python3.11", "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *(f"{k}=={v}" for k, v in SIDE_VERSIONS.items())], check=True)
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    if found != wanted:
        sys.exit(f"side venv {venv}: has duckdb, deltalake, pyarrow {found}, expected {wanted}")
    return python


def delta_port(scale_factor: float, lineitem: Path) -> Path:
    """TPC-H lineitem as a Delta table written by delta-rs from its Parquet (once), as the mesh
    published ports: one commit, the files delta-rs chose."""
    import pyarrow as pa  # the parent's data preparation only; children import no pyarrow
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, write_deltalake

    import tpch_data

    port = tpch_data.DATA / f"duckdb_version_sf{tpch_data.sf_label(scale_factor)}" / "lineitem_delta"
    try:
        if DeltaTable(str(port)).version() >= 0:
            return port
    except Exception:  # noqa: BLE001 -- absent or half-written: write it afresh
        pass
    print(f"data: writing {port} with delta-rs", flush=True)
    source = pq.ParquetFile(lineitem)
    # Without tpchgen's `parquet.field.id` field metadata, as the mesh's ports are (cast to the
    # contract's schema): delta-rs copies it into the Delta schema, and DuckDB 1.5.5's delta_scan
    # then reads every column of such a table as NULL.
    schema = pa.schema([pa.field(f.name, f.type, f.nullable) for f in source.schema_arrow])
    batches = pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in source.iter_batches(batch_size=1_000_000)))
    write_deltalake(str(port), batches, mode="overwrite")
    return port


def measured(python: Path, spec: dict, work: Path, label: str) -> dict:
    """One fresh child process: its timings, with the process's wall (start-up included), CPU
    and peak RSS from measure.measure."""
    from measure import measure  # the parent's timer; the child imports nothing of benchmarks/

    spec_path, out_path = work / f"{label}.spec.json", work / f"{label}.out.json"
    spec_path.write_text(json.dumps(spec))
    process = measure(label, [[str(python), str(Path(__file__)), "_child", str(spec_path), str(out_path)]], env=dict(os.environ), cwd=work)
    return {**json.loads(out_path.read_text()), "process_wall_s": process["wall"], "process_cpu_s": process["cpu"],
            "process_peak_rss_mb": process["maxrss"] / 2**20}


def main() -> None:
    import argparse
    import statistics

    import duckdb

    import tpch_data
    from mesh_platform.runtime.duckdb_extensions import load_statement
    from results import run, write
    from tpch_products import QUERIES, STAGING, render_sql

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", "-s", type=float, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mesh-benchmarks")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args()

    data = tpch_data.all_tables(args.scale_factor)
    port = delta_port(args.scale_factor, data / "lineitem.parquet")
    engines = {duckdb.__version__: Path(sys.executable), SIDE_VERSIONS["duckdb"]: side_venv(args.cache)}
    queries = [(p.name, render_sql(p, tpch=str(data), relation=lambda q: q.name)) for p in [*STAGING, *QUERIES]]
    work = tpch_data.DATA / f"duckdb_version_sf{tpch_data.sf_label(args.scale_factor)}" / "runs"
    work.mkdir(parents=True, exist_ok=True)
    print(f"TPC-H SF {tpch_data.sf_label(args.scale_factor)}; DuckDB {' vs '.join(engines)}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    samples: dict[tuple[str, str], list[dict]] = {}
    for i in range(args.repeat):
        for version, python in engines.items():
            native = version == duckdb.__version__
            reader = "delta_scan" if native else "arrow_dataset"
            specs = {"queries": {"job": "queries", "queries": queries},
                     "scans": {"job": "scans", "reader": reader, "port": str(port), "load_delta": load_statement("delta") if native else None}}
            for job, spec in specs.items():
                samples.setdefault((version, job), []).append(measured(python, spec, work, f"duckdb {version} {job} #{i + 1}"))

    for name in SCANS:  # both readers must return the same rows, or the timings compare nothing
        counts = {v: samples[(v, "scans")][0]["timings"][f"{name}_rows"] for v in engines}
        if len(set(counts.values())) != 1:
            sys.exit(f"scan {name}: the readers returned different row counts {counts}")

    def med(version: str, job: str, key: str) -> float:
        return statistics.median(s["timings"][key] for s in samples[(version, job)])

    new, old = list(engines)
    rows = [("queries: all 12 (CREATE TABLE AS)", "queries", None), *((f"  {n}", "queries", n) for n, _ in queries),
            *((f"scan: {n}", "scans", n) for n in SCANS)]
    print(f"\nmedian of {args.repeat}, fresh process each; 1.5.5 reads the port with delta_scan, 2.0 over an Arrow dataset")
    print(f"{'':<40} {new:>9} {old:>9} {old + '/' + new:>12}")
    runs, ratios = [], {}
    for label, job, key in rows:
        figures = {v: (sum(med(v, job, n) for n, _ in queries) if key is None else med(v, job, key)) for v in engines}
        print(f"{label:<40} {figures[new]:9.3f} {figures[old]:9.3f} {figures[old] / figures[new]:11.2f}x")
        if key is None or job == "scans":
            name = "queries_total" if key is None else key
            ratios[f"{name}:duckdb_{old}/duckdb_{new}"] = round(figures[old] / figures[new], 4)
    for (version, job), taken in samples.items():
        per_query = {n: round(statistics.median(s["timings"][n] for s in taken), 4) for n in taken[0]["timings"]}
        runs.append(run(f"duckdb_{version}_{job}", statistics.median(s["process_wall_s"] for s in taken),
                        statistics.median(s["process_cpu_s"] for s in taken), max(s["process_peak_rss_mb"] for s in taken),
                        duckdb=version, reader=None if job == "queries" else ("delta_scan" if version == new else "arrow_dataset"),
                        median_s=per_query, samples_wall_s=[round(s["process_wall_s"], 3) for s in taken]))
    parameters = {"scale_factor": args.scale_factor, "repeat": args.repeat, "statistic": "median", "port_rows": samples[(new, "scans")][0]["timings"]["full_to_arrow_rows"],
                  "selective_predicate": SELECTIVE, "side_venv": SIDE_VERSIONS}
    write("duckdb_version", parameters, runs, ratios, folder=args.results_dir, duckdb_version=f"{new} and {old}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
