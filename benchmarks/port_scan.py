"""A consumer's full scan of a port through the mesh, against DuckDB reading the same Parquet files
directly (issue 12). Target: governed / direct ≤ 1.1.

    nice -n 19 python benchmarks/port_scan.py --scale-factor 1      # about 3 min, the port built once

The port is `sales.lineitem` of the TPC-H benchmark mesh (benchmarks/tpch_mesh.py), published by a
real `mesh build` of the domains it needs (all but finance) into its own MESH_HOME under
benchmarks/.data/port_scan_sf<SF>/ (once; --rebuild builds it again). Then, in fresh processes,
--repeat times, alternating:

  governed  what a consumer gets through the platform's public read API, as domain `finance`:
            a `mesh sql` session (runtime/sql.py SqlSession: plan_read + the governed read behind
            each view) running the queries over `sales.lineitem`; and a Python product input
            (runtime/reading.py plan_read + read_table: the whole port as Arrow).
  direct    one DuckDB connection, `read_parquet` of the files of the port's current version
            (from its Delta log), the same queries over the same files.

The queries: count(*); a sum over every row; every row and column materialised as Arrow. Opening
the session (loading the mesh, planning every readable port) is timed apart from the queries: it is
paid once per session, not per scan. The API is called, never its internals, so the figure follows
whatever reader the platform uses (an Arrow dataset today, DuckDB's delta_scan next).

Prints medians and ratios; writes benchmarks/results/port_scan.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import tpch_data
import tpch_mesh
from measure import measure
from results import run, write

PRODUCT = ("sales", "lineitem")
CONSUMER = "finance"  # reads sales.lineitem in the benchmark mesh (its Q1, Q3, Q5, Q10)
BUILD_DOMAINS = ["shared", "customers", "supply", "sales"]  # sales and the products its relationships check
QUERIES = {  # name -> SQL over {port}
    "count": "SELECT count(*) FROM {port}",
    "sum_all_rows": "SELECT sum(l_extendedprice * (1 - l_discount)), sum(l_quantity) FROM {port}",
    "to_arrow": "SELECT * FROM {port}",
}


def _fetch(relation, name: str) -> int:
    """Run a query to the end: the rows it produced (a materialised Arrow table for `to_arrow`)."""
    return relation.to_arrow_table().num_rows if name == "to_arrow" else len(relation.fetchall())


def governed(root: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Child process (MESH_HOME set): the consumer's reads through the platform's API."""
    from mesh_platform.model.identity import operator_reader
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.reading import plan_read, read_table
    from mesh_platform.runtime.sql import SqlSession

    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    session = SqlSession.open(root, CONSUMER)
    timings["open_session"] = time.perf_counter() - started
    port = ".".join(PRODUCT)
    if port not in session.views:
        raise SystemExit(f"{port} is not readable by {CONSUMER} in {root}: {session.refused or session.unpublished}")
    for name, sql in QUERIES.items():
        started = time.perf_counter()
        rows[name] = _fetch(session.sql(sql.format(port=port)), name)
        timings[name] = time.perf_counter() - started
    mesh = Mesh.load(root)
    started = time.perf_counter()  # a Python product's input: planned (access, major, masks), read whole
    table = read_table(plan_read(mesh, operator_reader(CONSUMER), mesh.find(*PRODUCT)))
    timings["python_input_to_arrow"] = time.perf_counter() - started
    rows["python_input_to_arrow"] = table.num_rows
    return timings, rows


def direct(files: list[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Child process: DuckDB over the same Parquet files, no platform."""
    import duckdb

    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    listed = ", ".join("'{}'".format(f.removeprefix("file://").replace("'", "''")) for f in files)
    con.execute(f"CREATE VIEW port AS SELECT * FROM read_parquet([{listed}])")
    timings["open_session"] = time.perf_counter() - started
    for name, sql in QUERIES.items():
        started = time.perf_counter()
        rows[name] = _fetch(con.sql(sql.format(port="port")), name)
        timings[name] = time.perf_counter() - started
    return timings, rows


def build_port(scale_factor: float, root: Path, home: Path, rebuild: bool) -> None:
    """Publish sales.lineitem with a real `mesh build` of the domains it needs, once."""
    if not rebuild and (home / "port_built").is_file():
        return
    env = {**os.environ, "MESH_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    domains = [arg for d in BUILD_DOMAINS for arg in ("--domain", d)]
    print(f"port: mesh build {' '.join(domains)} (MESH_HOME {home})", flush=True)
    done = subprocess.run([str(Path(sys.executable).parent / "mesh"), "build", *domains, "--project", str(root)],
                          env=env, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mesh build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (home / "port_built").write_text(f"scale factor {scale_factor}\n")


def current_files(root: Path, home: Path) -> list[str]:
    """The Parquet files of the port's current version, from its Delta log."""
    os.environ["MESH_HOME"] = str(home)  # the store's location follows the setting, read at call time
    from deltalake import DeltaTable  # the direct reader's file list only

    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.ports.store import port_store

    product = Mesh.load(root).find(*PRODUCT)
    uri = port_store(root).uri(product.domain, product.name, product.contract.major)
    return DeltaTable(uri).file_uris()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("_governed", "_direct"):
        timings, rows = governed(Path(sys.argv[2])) if sys.argv[1] == "_governed" else direct(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps({"seconds": timings, "rows": rows}))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", "-s", type=float, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="publish the port again with `mesh build`")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args()

    sf = tpch_data.sf_label(args.scale_factor)
    root = tpch_mesh.mesh_dir(args.scale_factor)
    if not (root / "workspace.yaml").is_file():
        tpch_mesh.generate(args.scale_factor, use_scaffold=False)
    work = tpch_data.DATA / f"port_scan_sf{sf}"
    home = work / "home"
    build_port(args.scale_factor, root, home, args.rebuild)
    files = current_files(root, home)
    (work / "files.json").write_text(json.dumps(files))
    env = {**os.environ, "MESH_HOME": str(home)}
    print(f"port {'.'.join(PRODUCT)} at SF {sf}: {len(files)} Parquet files; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    samples: dict[str, list[dict]] = {"governed": [], "direct": []}
    processes: dict[str, list[dict]] = {"governed": [], "direct": []}
    for i in range(args.repeat):
        for reader, arg in (("governed", root), ("direct", work / "files.json")):
            out = work / f"{reader}.json"
            processes[reader].append(measure(f"{reader} #{i + 1}", [[sys.executable, str(Path(__file__)), f"_{reader}", str(arg), str(out)]], env=env, cwd=root))
            samples[reader].append(json.loads(out.read_text()))

    def med(reader: str, key: str) -> float:
        return statistics.median(s["seconds"][key] for s in samples[reader])

    for name in QUERIES:
        rows = {r: samples[r][0]["rows"][name] for r in samples}
        if len(set(rows.values())) != 1:
            sys.exit(f"{name}: the governed and the direct read returned different rows {rows}")
    pairs = [*((q, q) for q in ("open_session", *QUERIES)), ("python_input_to_arrow", "to_arrow")]
    print(f"\nmedian of {args.repeat}, fresh process each, seconds   governed   direct   governed/direct")
    ratios = {}
    for ours, base in pairs:
        g, d = med("governed", ours), med("direct", base)
        print(f"  {ours + ('' if ours == base else ' vs ' + base):<44} {g:8.3f} {d:8.3f} {g / d:9.2f}x")
        if ours != "open_session":
            ratios[f"governed/direct:{ours}"] = round(g / d, 4)
    scans = [*QUERIES]
    ratios["governed/direct:all_queries"] = round(sum(med("governed", q) for q in scans) / sum(med("direct", q) for q in scans), 4)
    print(f"  {'all three queries':<44} {'':8} {'':8} {ratios['governed/direct:all_queries']:9.2f}x   (target ≤ 1.1)")

    runs = [run(reader, statistics.median(p["wall"] for p in processes[reader]), statistics.median(p["cpu"] for p in processes[reader]),
                max(p["maxrss"] for p in processes[reader]) / 2**20,
                median_s={k: round(med(reader, k), 4) for k in samples[reader][0]["seconds"]})
            for reader in samples]
    parameters = {"scale_factor": args.scale_factor, "port": ".".join(PRODUCT), "consumer": CONSUMER, "rows": samples["direct"][0]["rows"]["to_arrow"],
                  "files": len(files), "repeat": args.repeat, "statistic": "median", "queries": QUERIES}
    write("port_scan", parameters, runs, ratios, folder=args.results_dir)


if __name__ == "__main__":
    main()
