"""Definitions scale (issue 6): loading every code location of a mesh of 2 to 20 domains, against
plain dagster-dbt definitions of the same dbt projects.

    nice -n 19 /work/venv/bin/python benchmarks/definitions_scale.py            # 20 domains x 10 products, best of 3
    nice -n 19 /work/venv/bin/python benchmarks/definitions_scale.py --quick    # smoke run: 2 and 4 domains x 3 products, once
    nice -n 19 /work/venv/bin/python benchmarks/definitions_scale.py --profile  # plus cProfile of one mesh location

Writes into benchmarks/.data/definitions_scale/n<N>_p<P>/ one mesh project per N in 2, 5, 10, 20 (a
location reads every domain's descriptors, so a mesh of N domains is its own project): domains
d01..dN, each a dbt domain of 10 products with full ODCS v3 contracts that pass `mesh validate`.
d01 is source-aligned (models over DuckDB's range()); each later domain reads product_01..03 of the
previous one (input ports, `mesh_port` dbt sources), and product_04..10 each build on the product
three before it. plain_dbt/<d>.py is what a team without the platform writes for the same project:
`@dbt_assets(manifest=<the same manifest.json>)` + `DbtCliResource` in a `dg.Definitions`.

Each dbt project is parsed once (`DomainDbtProject.prepare`; the first ones timed alone: the cold
cost) and the smaller meshes are copies that keep the cached manifests: every timed load is warm. A
load is what `dagster definitions validate` / a code server does: import the module (which builds
the Definitions), `defs.get_repository_def()` and `serialize_value(RepositorySnap.from_def(repo))`.
It runs in a process forked from a server that has imported dagster and dagster_dbt and nothing of
ours, so "load" = import of our code + building the definitions; the start-up both kinds pay
(python, dagster, dagster_dbt) is timed apart in fresh processes, with one fresh-process load of
each kind as a cross-check. Forking keeps a full run near 10 minutes on 2 cores. Wall seconds, best
of 3 per location; CPU seconds show how much of the wall is contention with other work.
Exits non-zero if a location fails to load or any policy finding is not a pass.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import measure
import results
import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / ".data" / "definitions_scale"
COLD_SAMPLES = 3  # projects whose first parse is timed, one at a time
CROSS_INPUTS = 3  # products of domain i that read the same-numbered product of domain i-1
COLUMNS = [  # name, DuckDB type, contract extras, description
    ("record_id", "BIGINT", {"primaryKey": True, "logicalTypeOptions": {"minimum": 1}}, "Identifier of the record, unique in the product."),
    ("recorded_on", "DATE", {"required": True, "logicalTypeOptions": {"minimum": "2024-01-01"}}, "Day the record was made."),
    ("category", "VARCHAR", {"required": True, "enum": [{"value": v} for v in ("standard", "priority", "bulk")]}, "Kind of record: standard, priority or bulk."),
    ("quantity", "INTEGER", {"required": True, "logicalTypeOptions": {"minimum": 0, "maximum": 1000}}, "Units the record covers."),
    ("amount", "DOUBLE", {"logicalTypeOptions": {"minimum": 0}}, "Amount of the record in euros; empty until it is priced."),
]
LOGICAL = {"BIGINT": "integer", "INTEGER": "integer", "DATE": "date", "VARCHAR": "string", "DOUBLE": "number"}
RANGE_SQL = """select
    cast(i as bigint) as record_id,
    cast(date '2024-01-01' + cast(i % 28 as integer) as date) as recorded_on,
    cast(case i % 3 when 0 then 'standard' when 1 then 'priority' else 'bulk' end as varchar) as category,
    cast(case i % 3 when 2 then 10 + i % 90 else i % 10 end as integer) as quantity,
    cast(case when i % 7 = 0 then null else (i % 500) * 1.5 end as double) as amount
from range(1, {rows}) as t(i)"""
DERIVED_SQL = """select record_id, recorded_on, category, quantity, cast(amount * {factor} as double) as amount
from {upstream}
where quantity <= 1000"""


dname = "d{:02d}".format  # domain i
pname = "product_{:02d}".format  # product j of a domain


def dump(path: Path, data, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=120))


def contract(domain: str, product: str, description: str) -> dict:
    properties = [{"name": n, "logicalType": LOGICAL[t], "physicalType": t, **extra, "description": text} for n, t, extra, text in COLUMNS]
    properties[-1]["quality"] = [{"name": "amount_mostly_priced", "metric": "nullValues", "mustBeLessThan": 50, "unit": "percent",
                                  "severity": "warning", "description": "Most records are priced when they are published."}]
    return {
        "apiVersion": "v3.2.0", "kind": "DataContract", "id": f"urn:mesh:{domain}:{product}", "name": product, "version": "1.0.0",
        "status": "active", "domain": domain, "dataProduct": product,
        "description": {"purpose": f"Synthetic records of {domain}.{product} for the definitions scale benchmark.",
                        "usage": f"Read the port {domain}.{product} with DuckDB, pandas or Polars.",
                        "limitations": "Generated rows; the benchmark times loading the definitions, not the data."},
        "team": {"name": f"team_{domain}", "members": [{"username": f"{domain}@scale.example", "role": "owner"}]},
        "schema": [{"name": product, "physicalName": product, "logicalType": "object", "description": description,
                    "quality": [{"name": "records_published", "metric": "rowCount", "mustBeGreaterThan": 0, "description": "An empty batch is a broken build."},
                                {"name": "bulk_records_carry_ten_units", "type": "sql", "mustBe": 0, "description": "A bulk record covers at least ten units.",
                                 "query": "SELECT count(*) FROM ${table} WHERE category = 'bulk' AND quantity < 10"}],
                    "properties": properties}],
        "slaProperties": [{"property": "freshness", "value": 1, "unit": "d", "element": f"{product}.recorded_on", "description": "Published at least once a day."},
                          {"property": "retention", "value": 365, "unit": "d", "description": "One year of history is kept."}],
    }


PLAIN = '''"""Plain dagster-dbt for {d}: what a team without the platform writes (benchmarks/definitions_scale.py)."""
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

PROJECT = Path(__file__).resolve().parent.parent / "dbt_projects" / "{d}"

class Translator(DagsterDbtTranslator):
    # Every project has a product_01: models go under the domain's name (sources already are [d, table]).
    def get_asset_key(self, props):
        key = super().get_asset_key(props)
        return key.with_prefix("{d}") if props["resource_type"] == "model" else key

@dbt_assets(manifest=PROJECT / "target" / "manifest.json", dagster_dbt_translator=Translator())
def {d}_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()

defs = dg.Definitions(assets=[{d}_dbt], resources={{"dbt": DbtCliResource(project_dir=str(PROJECT))}})
'''


def write_domain(root: Path, i: int, products: int) -> None:
    d, prev = dname(i), dname(i - 1)
    folder, project = root / "domains" / d, root / "dbt_projects" / d
    kind = "source-aligned" if i == 1 else "aggregate"
    dump(folder / "domain.yaml", {"name": d, "kind": kind, "owner": {"team": f"team_{d}", "contact": f"{d}@scale.example"}, "dbt_project": d,
                                  "description": f"Synthetic {kind} domain number {i} of the definitions scale benchmark."})
    (folder / "__init__.py").write_text("")
    (folder / "definitions.py").write_text(f'"""{d}: a synthetic dbt domain (benchmarks/definitions_scale.py)."""\n\n'
                                           "from mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__)\n")
    for j in range(1, products + 1):
        p = pname(j)
        cross = i > 1 and j <= CROSS_INPUTS
        desc = f"Records of {d} derived from {prev}.{p}, the previous domain's port." if cross else f"Synthetic records number {j} of domain {d}, one row per record."
        spec: dict = {"name": p, "description": desc, "tags": ["benchmark"], "inputs": [f"{prev}.{p}"] if cross else []}
        if i == 1:  # source-aligned products publish on a schedule, all in one run
            spec["schedule"] = {"cron": "0 6 * * *", "timezone": "UTC"}
        dump(folder / "products" / f"{p}.yaml", spec)
        dump(folder / "contracts" / f"{p}.odcs.yaml", contract(d, p, desc), "# ODCS v3 contract, generated by benchmarks/definitions_scale.py\n")
        if cross:
            sql = DERIVED_SQL.format(factor=1.1, upstream=f"{{{{ source('{prev}', '{p}') }}}}")
        elif j <= CROSS_INPUTS:
            sql = RANGE_SQL.format(rows=100 * j + 1)
        else:  # in-domain lineage: the product three before this one
            sql = DERIVED_SQL.format(factor=0.9, upstream=f"{{{{ ref('{pname(j - CROSS_INPUTS)}') }}}}")
        (project / "models").mkdir(parents=True, exist_ok=True)
        (project / "models" / f"{p}.sql").write_text(f"-- {desc}\n{sql}\n")
    dump(project / "dbt_project.yml", {"name": d, "version": "1.0.0", "profile": "mesh", "models": {d: {"+materialized": "table"}}})
    (root / "plain_dbt").mkdir(exist_ok=True)
    (root / "plain_dbt" / "__init__.py").write_text("")
    (root / "plain_dbt" / f"{d}.py").write_text(PLAIN.format(d=d))


def generated_yml(root: Path, n: int) -> None:
    """The dbt yml the platform generates from the contracts, written as a repository checks it in:
    the plain dagster-dbt loads read the same project files as the mesh's."""
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.orchestration.dbt.generated import write_generated

    mesh = Mesh.load(root)
    for i in range(1, n + 1):
        write_generated(mesh.domains[dname(i)], root / "dbt_projects" / dname(i), root)


def write_workspaces(root: Path, n: int) -> None:
    for file, module in (("workspace.yaml", "domains.{d}.definitions"), ("workspace.plain.yaml", "plain_dbt.{d}")):
        dump(root / file, {"load_from": [{"python_module": {"module_name": module.format(d=dname(i)), "working_directory": ".", "location_name": dname(i)}}
                                          for i in range(1, n + 1)]}, "# generated by benchmarks/definitions_scale.py\n")


def dbt_project(root: Path, domain: str):
    """The platform's view of a domain's dbt project, as domain_definitions builds it."""
    from mesh_platform.orchestration.dbt.project import DomainDbtProject

    os.environ["MESH_HOME"] = str(root / ".mesh")  # the parse's profile names the domain's DuckDB file there
    return DomainDbtProject(domain=domain, project_dir=root / "dbt_projects" / domain, root=root)


def generate(sizes: list[int], products: int) -> tuple[dict[int, Path], list[float]]:
    """Write the largest mesh, parse each dbt project once (timed: the cold cost), then copy the first
    N domains for each smaller N. copytree keeps mtimes, so the copies reuse the cached manifests."""
    roots = {n: OUT / f"n{n:02d}_p{products:02d}" for n in sizes}
    big = max(sizes)
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)
    for i in range(1, big + 1):
        write_domain(roots[big], i, products)
    write_workspaces(roots[big], big)
    generated_yml(roots[big], big)
    cold = []
    for i in range(1, min(COLD_SAMPLES, big) + 1):  # timed alone: the cold figure
        started = time.perf_counter()
        dbt_project(roots[big], dname(i)).prepare()
        cold.append(time.perf_counter() - started)
    # The rest two at a time, untimed: halves the run's longest phase (each parse is mostly
    # dbt's own start-up), and under nice 19 it only takes what other work leaves idle.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: dbt_project(roots[big], dname(i)).prepare(), range(COLD_SAMPLES + 1, big + 1)))
    for n in sizes:
        if n != big:
            dropped = {dname(i) for i in range(n + 1, big + 1)} | {f"{dname(i)}.py" for i in range(n + 1, big + 1)} | {".mesh"}
            shutil.copytree(roots[big], roots[n], ignore=lambda _dir, names: [x for x in names if x in dropped])
            write_workspaces(roots[n], n)
        for i in range(1, n + 1):  # every timed load must find its manifest fresh
            manifest = roots[n] / "dbt_projects" / dname(i) / "target" / "manifest.json"
            before = manifest.stat().st_mtime_ns
            dbt_project(roots[n], dname(i)).prepare()
            if manifest.stat().st_mtime_ns != before:
                raise SystemExit(f"{manifest} was parsed again in a copied project: timed loads would not be warm")
    return roots, cold


# -- the fork server: one forked process per location load --------------------------------------

def serve() -> None:
    """Import what both kinds of location need and nothing of ours; then, per request line
    {root, module, profile}, fork a child that loads that location and reports one JSON line."""
    import dagster  # noqa: F401
    import dagster_dbt  # noqa: F401
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    print("{}", flush=True)  # ready
    for line in sys.stdin:
        request = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            os.dup2(2, 1)  # whatever the location prints must not mix with the reports on stdout
            try:
                result = _load(request, RepositorySnap, serialize_value)
            except BaseException as exc:  # noqa: BLE001 - any failure is reported, the server goes on
                import traceback
                result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
            with os.fdopen(write, "w") as out:
                out.write(json.dumps(result))
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            text = pipe.read()
        os.waitpid(pid, 0)
        print(text or json.dumps({"error": "the child died without a report"}), flush=True)


def _load(request: dict, RepositorySnap, serialize_value) -> dict:
    root = request["root"]
    os.chdir(root)
    sys.path.insert(0, root)
    os.environ["MESH_HOME"] = str(Path(root) / ".mesh")  # nothing is published there: no stored contract to compare
    profiler = None
    if request.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    module = importlib.import_module(request["module"])  # runs domain_definitions(...) / @dbt_assets
    imported = time.perf_counter()
    if not hasattr(module, "defs"):  # a reference import, e.g. the platform alone
        return {"wall": imported - wall, "cpu": time.process_time() - cpu}
    repo = module.defs.get_repository_def()  # resolves the asset graph, jobs, schedules, sensors
    resolved = time.perf_counter()
    snapshot = serialize_value(RepositorySnap.from_def(repo))  # what a code server ships to the webserver
    done, cpu = time.perf_counter(), time.process_time() - cpu
    result = {"wall": done - wall, "cpu": cpu, "import": imported - wall, "resolve": resolved - imported, "snapshot": done - resolved,
              "assets": len(repo.asset_graph.get_all_asset_keys()), "checks": len(repo.asset_graph.asset_check_keys), "bytes": len(snapshot)}
    report = (module.defs.metadata or {}).get("mesh/policy_report")
    result["policy_failures"] = [f for f in (report.data if report else []) if f["status"] == "fail"]
    if profiler is not None:
        import io  # noqa: E401
        import pstats
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(r"mesh_platform|definitions\.py", 12)
        result["profile"] = text.getvalue()
    return result


class Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.process.stdout.readline()  # ready: dagster and dagster_dbt are imported

    def load(self, root: Path, module: str, profile: bool = False) -> dict:
        self.process.stdin.write(json.dumps({"root": str(root), "module": module, "profile": profile}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()  # the server ends at the end of its input
        self.process.wait()


def fresh_wall(code: str, cwd: Path, repeat: int) -> float:
    """Best wall time of a fresh interpreter running `code` in a mesh project (start-up, as a code
    server pays it)."""
    return measure.fresh_wall(code, cwd, repeat, env={**os.environ, "MESH_HOME": str(cwd / ".mesh")})


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys))
    return slope, intercept, 1 - residual / total if total else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 and 4 domains x 3 products, 1 repetition: a smoke run")
    parser.add_argument("--repeat", type=int, help="repetitions per load, best kept (default 3, 1 with --quick)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one mesh location of the largest mesh")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    sizes, products = ([2, 4], 3) if args.quick else ([2, 5, 10, 20], 10)
    repeat = args.repeat or (1 if args.quick else 3)
    started = time.perf_counter()
    print(f"definitions scale: {sizes} domains x {products} products, best of {repeat}; {os.cpu_count()} cores, "
          f"nice {os.nice(0)}, load average before {measure.load_average()}")

    roots, cold = generate(sizes, products)
    big = roots[max(sizes)]
    print(f"generated {', '.join(r.name for r in roots.values())} in {OUT.relative_to(HERE.parent)}/ ({time.perf_counter() - started:.0f} s)")
    print(f"cold: first `dbt parse` of a {products}-model project (DomainDbtProject.prepare; a location's first load adds it, "
          f"later loads reuse the manifest): mean {statistics.fmean(cold):.2f} s, min {min(cold):.2f}, max {max(cold):.2f} ({len(cold)} projects timed alone)")

    # Both sides pay the interpreter and these imports once per location; neither owns them.
    base = fresh_wall("import dagster", big, repeat)
    base_dbt = fresh_wall("import dagster, dagster_dbt", big, repeat)
    print(f"start-up, fresh process (not in load): python + import dagster {base:.2f} s; + import dagster_dbt {base_dbt:.2f} s")

    server = Server()
    failures: list[str] = []
    best: dict[tuple[int, str, str], dict] = {}
    for _ in range(repeat):
        for n, root in roots.items():
            for i in range(1, n + 1):
                # Interleaved, so drift in the machine's load hits both kinds alike.
                for kind, module in (("mesh", f"domains.{dname(i)}.definitions"), ("plain", f"plain_dbt.{dname(i)}")):
                    result = server.load(root, module)
                    if "error" in result or result["policy_failures"]:
                        failures.append(f"{root.name} {kind} {dname(i)}: {result.get('error') or result['policy_failures']}\n{result.get('traceback', '')}")
                        continue
                    key = (n, kind, dname(i))
                    best[key] = min(best.get(key, result), result, key=lambda r: r["wall"])
    if failures:
        server.close()
        print("\n".join(["LOCATIONS FAILED TO LOAD:", *failures]))
        return 1
    platform = min(server.load(big, "mesh_platform.orchestration.dbt.assets")["wall"] for _ in range(repeat))
    check_mesh = fresh_wall(f"import domains.{dname(1)}.definitions as m; m.defs.get_repository_def()", big, min(repeat, 2))
    check_plain = fresh_wall(f"import plain_dbt.{dname(1)} as m; m.defs.get_repository_def()", big, min(repeat, 2))

    rows = []  # (domains, products, wall by kind, CPU by kind, the per-location results by kind)
    for n in sizes:
        total = {kind: [best[(n, kind, dname(i))] for i in range(1, n + 1)] for kind in ("mesh", "plain")}
        rows.append((n, n * products, *({k: sum(r[m] for r in v) for k, v in total.items()} for m in ("wall", "cpu")), total))
    print(f"\nloading every location (warm manifests; wall s, best of {repeat} per location, summed over locations)")
    print(f"{'domains':>7} {'products':>8} | {'mesh s':>7} {'plain s':>7} {'ratio':>6} | {'mesh ms/prod':>12} {'plain ms/prod':>13} | "
          f"{'CPU ratio':>9} | {'ratio incl. start-up':>20}")
    for n, p, wall, cpu, _ in rows:
        startup = n * base_dbt  # each location's own process: interpreter + dagster + dagster_dbt
        print(f"{n:>7} {p:>8} | {wall['mesh']:>7.2f} {wall['plain']:>7.2f} {wall['mesh'] / wall['plain']:>6.2f} | "
              f"{1000 * wall['mesh'] / p:>12.1f} {1000 * wall['plain'] / p:>13.1f} | {cpu['mesh'] / cpu['plain']:>9.2f} | "
              f"{(wall['mesh'] + startup) / (wall['plain'] + startup):>20.2f}")
    xs = [float(p) for _, p, *_ in rows]
    for kind in ("mesh", "plain"):
        slope, intercept, r2 = fit(xs, [wall[kind] for _, _, wall, _, _ in rows])
        # A cost that grows with the mesh's size (e.g. reading every domain's files) shows as ms/product rising with N.
        growth = (rows[-1][2][kind] / rows[-1][1]) / (rows[0][2][kind] / rows[0][1]) - 1
        print(f"linear fit, {kind:<5}: {1000 * slope:6.1f} ms/product, intercept {intercept:+.2f} s, R\u00b2 {r2:.4f}; "
              f"ms/product at {rows[-1][0]} vs {rows[0][0]} domains {100 * growth:+.0f} %")
    n, _, _, _, total = rows[-1]
    print(f"\nper location at {n} domains (mean; wall s):")
    for kind in ("mesh", "plain"):
        mean = {k: statistics.fmean(r[k] for r in total[kind]) for k in ("wall", "cpu", "import", "resolve", "snapshot", "assets", "checks", "bytes")}
        print(f"  {kind:<5} load {mean['wall']:.3f} (CPU {mean['cpu']:.3f}) = import+build {mean['import']:.3f} + get_repository_def {mean['resolve']:.3f} "
              f"+ snapshot {mean['snapshot']:.3f}; {mean['assets']:.0f} assets, {mean['checks']:.0f} checks, snapshot {mean['bytes'] / 1024:.0f} KiB")
    print(f"  of a mesh load, importing the platform (mesh_platform.orchestration.dbt.assets and what it imports) alone: {platform:.3f} s, once per location")
    first = {k: best[(n, k, dname(1))]["wall"] for k in ("mesh", "plain")}
    print(f"cross-check, {dname(1)} as a fresh process (start-up + load, wall): mesh {check_mesh:.2f} s, plain {check_plain:.2f} s "
          f"(forked load {first['mesh']:.2f} / {first['plain']:.2f} s + start-up {base_dbt:.2f} s)")
    ratio = rows[-1][2]["mesh"] / rows[-1][2]["plain"]
    print(f"target load <= 1.2x plain dagster-dbt at {n} domains: {ratio:.2f}x -> {'met' if ratio <= 1.2 else 'NOT met'}")
    # Every location's load summed, per mesh size and kind; RSS is not measured (forked loader processes).
    runs = [results.run(f"{kind}_{n_}_domains", wall[kind], cpu[kind], None, domains=n_, products=p_)
            for n_, p_, wall, cpu, _ in rows for kind in ("mesh", "plain")]
    ratios = {f"mesh/plain:{n_}_domains": results.ratio(runs, f"mesh_{n_}_domains", f"plain_{n_}_domains") for n_, *_ in rows}
    ratios["mesh/plain_with_startup"] = round((rows[-1][2]["mesh"] + n * base_dbt) / (rows[-1][2]["plain"] + n * base_dbt), 4)
    results.write("definitions_scale", {"sizes": sizes, "products_per_domain": products, "repeat": repeat, "statistic": "best",
                                        "startup_s": round(base_dbt, 3)}, runs, ratios)

    if args.profile:
        result = server.load(big, f"domains.{dname(max(sizes) // 2)}.definitions", profile=True)
        print(f"\ncProfile of mesh location {dname(max(sizes) // 2)} ({result.get('wall', 0):.2f} s under the profiler), our code by cumulative time:")
        print(result.get("profile") or result)
    server.close()
    print(f"\nload average after {measure.load_average()}; wall time of this run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
