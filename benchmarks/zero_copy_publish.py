"""Publishing one large dbt product: the old second copy against the zero-copy path.

- before: the model read from the domain's DuckDB file as Arrow batches, conformed, and written
  by deltalake's `write_deltalake` (what runtime/ports/delta.py did until the zero-copy publish);
- after: DuckDB's own COPY writes the model once into the port's staging folder
  (engines/duckdb.py `stage_output`), the footers are read (`adopt`) and one Delta commit adds
  the files (`commit`): the write path's stage and commit steps, timed apart.

TPC-H lineitem (SF1 by default, ~6 M rows) in a DuckDB file; median of 3 runs each.
Run: .venv/bin/python -m benchmarks.zero_copy_publish [scale_factor]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import write_deltalake

from benchmarks.tpch_data import lineitem
from mesh_platform.runtime.engines.duckdb import DuckDBEngine
from mesh_platform.runtime.ports import delta
from mesh_platform.runtime.ports.conform import conform

RELATION = '"main"."lineitem"'


def before(db: Path, uri: str, schema: pa.Schema) -> dict[str, float]:
    started = time.perf_counter()
    with duckdb.connect(str(db), read_only=True) as con:
        reader = con.sql(f"select * from {RELATION}").to_arrow_reader(1_000_000)
        write_deltalake(uri, conform(reader, schema, "bench.lineitem"), mode="overwrite", schema_mode="overwrite")
    return {"total": time.perf_counter() - started}


def after(db: Path, uri: str, schema: pa.Schema) -> dict[str, float]:
    engine = DuckDBEngine()
    started = time.perf_counter()
    folder, path = delta.staging_folder(uri)
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        engine.stage_output(con, RELATION, path, schema)
    staged = delta.adopt(uri, folder, schema, label="bench.lineitem")
    written = time.perf_counter()
    delta.commit(staged, {"mesh.product": "bench.lineitem"})
    done = time.perf_counter()
    return {"total": done - started, "stage": written - started, "commit": done - written}


def main(scale_factor: float = 1.0) -> None:
    source = lineitem(scale_factor)
    work = Path(tempfile.mkdtemp(prefix="zero-copy-"))
    try:
        db = work / "domain.duckdb"
        with duckdb.connect(str(db)) as con:
            con.execute(f"create table lineitem as select * from read_parquet('{source}')")
            rows = con.sql("select count(*) from lineitem").fetchone()[0]
            schema = con.sql("select * from lineitem limit 0").to_arrow_table().schema
        print(f"lineitem SF{scale_factor:g}: {rows:,} rows")
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for attempt in range(3):
            for name, publish in (("before", before), ("after", after)):
                uri = str(work / f"{name}-{attempt}")
                runs[name].append(publish(db, uri, schema))
                print(f"  {name} run {attempt + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[name][-1].items()), flush=True)
        for name, results in runs.items():
            medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
            print(f"{name}: median " + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
