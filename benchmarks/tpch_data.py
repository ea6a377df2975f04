"""TPC-H data for the benchmarks: Parquet files from the `tpchgen-cli` binary, generated once into
benchmarks/.data/ (which git ignores) and reused. Nothing is downloaded (pip install tpchgen-cli).

Two layouts, as the benchmarks and docs/benchmarks.md name them:
  .data/tpch_sf<SF>/  every table: the TPC-H benchmark mesh's sources (tpch_mesh.py);
  .data/sf<SF>/       lineitem alone: the single-product benchmarks (checks_vs_write.py,
                      incremental_month.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / ".data"  # read at call time: tests point it at a temporary folder
TABLES = ["nation", "region", "customer", "part", "supplier", "partsupp", "orders", "lineitem"]


def sf_label(scale_factor: float) -> str:
    """The scale factor as folders and tpchgen-cli spell it: 0.1, 1, 10."""
    return f"{scale_factor:g}"


def tpch_dir(scale_factor: float) -> Path:
    return DATA / f"tpch_sf{sf_label(scale_factor)}"


def tpchgen() -> str:
    """The tpchgen-cli binary: next to this interpreter (a venv), else on PATH."""
    local = Path(sys.executable).parent / "tpchgen-cli"
    found = str(local) if local.exists() else shutil.which("tpchgen-cli")
    if found is None:
        sys.exit("tpchgen-cli not found: pip install tpchgen-cli (it generates the benchmarks' TPC-H data)")
    return found


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def generate_parquet(scale_factor: float, folder: Path, tables: list[str]) -> None:
    """Generate `tables` into `folder`. tpchgen-cli writes into a staging folder first and each
    file is moved in once complete, so an interrupted run never leaves a file that looks whole."""
    DATA.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".sf{sf_label(scale_factor)}-", dir=DATA))
    chosen = [] if tables == TABLES else ["--tables", ",".join(tables)]  # tpchgen-cli's default is every table
    command = [tpchgen(), "parquet", "--scale-factor", sf_label(scale_factor), *chosen, "--output-dir", str(staging), "--no-progress"]
    print(f"data: generating TPC-H {', '.join(tables)} at scale factor {sf_label(scale_factor)}: "
          f"tpchgen-cli {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    try:
        subprocess.run(command, check=True)
        folder.mkdir(parents=True, exist_ok=True)
        for table in tables:
            (staging / f"{table}.parquet").rename(folder / f"{table}.parquet")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = [folder / f"{t}.parquet" for t in tables]
    wrote = _shown(files[0] if len(files) == 1 else folder)
    size = sum(f.stat().st_size for f in files)
    print(f"data: wrote {wrote} ({size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.1f} s", flush=True)


def all_tables(scale_factor: float) -> Path:
    """.data/tpch_sf<SF>/ with every table's Parquet file, generated once."""
    folder = tpch_dir(scale_factor)
    if not all((folder / f"{t}.parquet").is_file() for t in TABLES):
        generate_parquet(scale_factor, folder, TABLES)
    return folder


def lineitem(scale_factor: float) -> Path:
    """.data/sf<SF>/lineitem.parquet, generated once (about 10 s at scale factor 2 on 2 cores)."""
    path = DATA / f"sf{sf_label(scale_factor)}" / "lineitem.parquet"
    if path.exists():
        print(f"data: {_shown(path)} (cached)")
    else:
        generate_parquet(scale_factor, path.parent, ["lineitem"])
    return path
