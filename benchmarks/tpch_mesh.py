"""Generate the TPC-H benchmark mesh (issue 6, part 1): a complete mesh project, from scratch.

    python benchmarks/tpch_mesh.py --scale-factor 0.1      # -> benchmarks/.data/tpch_mesh_sf0.1/

Writes, outside the demo mesh, a project of its own (workspace.yaml, shared_assets/, domains/,
dbt_projects/) on TPC-H data that `tpchgen-cli` generates once into benchmarks/.data/tpch_sf<SF>/:

  shared     (source-aligned reference)  nation, region: the global identifiers
  customers  (source-aligned)            customer (internal, personal columns hashed for others)
  supply     (source-aligned)            part, supplier, partsupp
  sales      (source-aligned)            orders, lineitem
  finance    (consumer-aligned)          q1_pricing_summary, q3_shipping_priority,
                                         q5_local_supplier_volume, q10_returned_items

Every product is a dbt model with a full ODCS contract (every column described, freshness and
retention SLAs, quality rules, relationships to the shared global identifiers and to the
products a result is keyed on). Source-aligned models read tpchgen's Parquet files through the dbt
var `tpch_dir` (passed by each domain's definitions.py, as domains/weather does); finance's models
read the other domains' ports through dbt sources with `meta: {plugin: mesh_port}`.

The domains are scaffolded with `mesh new domain` / `mesh new product` (so the benchmark also
exercises the self-serve path), then every generated file is overwritten with the TPC-H one; the
`shared` domain lives in shared_assets/, which `mesh new` does not create, so it is written
directly. `--no-scaffold` writes every file directly (the same result, faster). The script ends
with `mesh validate`, which also runs `dbt parse` once per project so that timed builds start
from cached manifests.

The products and their SQL live once in benchmarks/tpch_products.py (STAGING, QUERIES), rendered
both into the dbt models here and, by benchmarks/mesh_vs_duckdb.py, into the raw-DuckDB baseline,
so all three runs execute the same SQL. The data comes from benchmarks/tpch_data.py.

Finance's models call a tiny macro `port(domain, product)` instead of `source(...)` directly: it
is `source(domain, product)` (the mesh_port plugin) unless the dbt var `tpch_plain` is true, in
which case it names the upstream table in the same DuckDB file. That switch is only for the
plain-dbt baseline, which has no platform and no ports.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import tpch_data
import yaml
from tpch_data import sf_label
from tpch_products import DOMAINS, PRODUCTS, DomainSpec, Product, render_sql

BIN = Path(sys.executable).parent


def mesh_dir(scale_factor: float) -> Path:
    return tpch_data.DATA / f"tpch_mesh_sf{sf_label(scale_factor)}"


# -- files ------------------------------------------------------------------------------------

def dump(path: Path, data, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))


def contract(product: Product, spec: DomainSpec) -> dict:
    properties = []
    for c in product.columns:
        prop: dict = {"name": c.name}
        if c.business_name:
            prop["businessName"] = c.business_name
        prop.update({"logicalType": c.logical, "physicalType": c.type})
        if c.pk:
            prop["primaryKey"] = True
        if c.required:
            prop["required"] = True
        options = {k: v for k, v in (("minimum", c.minimum), ("maximum", c.maximum)) if v is not None}
        if options:
            prop["logicalTypeOptions"] = options
        if c.enum:
            prop["enum"] = [{"value": v} for v in c.enum]
        if c.personal:
            prop["classification"] = "pii"
            prop["customProperties"] = [{"property": "masking", "value": "hash"}]
        elif c.type == "VARCHAR" and any(h in c.name for h in ("address", "phone")):
            prop["classification"] = "public"
        prop["description"] = c.description
        if c.references:
            prop["relationships"] = [{"to": r} for r in c.references]
        properties.append(prop)
    sla = [
        {"property": "freshness", "value": 1, "unit": "d",
         "element": f"{product.name}.{product.freshness_column or product.columns[0].name}",
         "description": "Published at least once a day."},
        {"property": "retention", "value": 3650, "unit": "d", "description": "Ten years of history are kept (TPC-H covers 1992-1998)."},
    ]
    return {
        "apiVersion": "v3.2.0", "kind": "DataContract", "id": f"urn:mesh:{product.domain}:{product.name}",
        "name": product.name, "version": "1.0.0", "status": "active", "domain": product.domain, "dataProduct": product.name,
        "description": {"purpose": product.purpose, "usage": f"Read the port {product.domain}.{product.name} with DuckDB, pandas or Polars.",
                        "limitations": product.limitations},
        "team": {"name": spec.team, "members": [{"username": f"{spec.name}@tpch.example", "role": "owner"}]},
        "schema": [{"name": product.name, "physicalName": product.name, "logicalType": "object",
                    "description": product.description, "quality": product.quality, "properties": properties}],
        "slaProperties": sla,
    }


def descriptor(product: Product) -> dict:
    data: dict = {"name": product.name, "description": product.description, "tags": ["tpch", "benchmark"]}
    data.update(product.access)
    data["inputs"] = list(product.inputs)
    return data


PORT_MACRO = """\
{# An input port. In the mesh: the producer's port, through the platform's mesh_port plugin.
   With --vars '{tpch_plain: true}' (the plain-dbt baseline, no platform): the upstream table
   in the same DuckDB file. #}
{% macro port(domain, product) -%}
  {%- if var('tpch_plain', false) -%} main.{{ product }}
  {%- else -%} {{ source(domain, product) }}
  {%- endif -%}
{%- endmacro %}
"""


def write_domain_files(root: Path, spec: DomainSpec, data_dir: Path) -> None:
    folder = root / ("shared_assets" if spec.name == "shared" else f"domains/{spec.name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    dump(folder / "domain.yaml", {"name": spec.name, "kind": spec.kind, "description": spec.description,
                                   "owner": {"team": spec.team, "contact": f"{spec.name}@tpch.example"}, "dbt_project": spec.name})
    needs_data = spec.kind == "source-aligned"
    (folder / "definitions.py").write_text(
        f'"""{spec.name}: {spec.description} (generated by benchmarks/tpch_mesh.py)."""\n\n'
        "from mesh_platform import domain_definitions\n\n"
        + (f"TPCH_DIR = {str(data_dir)!r}  # tpchgen-cli's Parquet files\n\n"
           'defs = domain_definitions(__file__, dbt_vars={"tpch_dir": TPCH_DIR})\n' if needs_data
           else "defs = domain_definitions(__file__)\n")
    )
    for name in spec.products:
        p = PRODUCTS[name]
        dump(folder / "products" / f"{name}.yaml", descriptor(p))
        dump(folder / "contracts" / f"{name}.odcs.yaml", contract(p, spec),
             "# ODCS v3 contract, generated by benchmarks/tpch_mesh.py\n")

    project = root / "dbt_projects" / spec.name
    for stale in ("models", "macros"):
        shutil.rmtree(project / stale, ignore_errors=True)
    dump(project / "dbt_project.yml", {"name": spec.name, "version": "1.0.0", "profile": "mesh",
                                        "models": {spec.name: {"+materialized": "table"}}})
    for name in spec.products:
        p = PRODUCTS[name]
        if spec.kind == "source-aligned":
            sql = render_sql(p, tpch='{{ var("tpch_dir") }}', relation=lambda q: "")
        else:
            sql = render_sql(p, tpch="", relation=lambda q: f"{{{{ port('{q.domain}', '{q.name}') }}}}")
        (project / "models").mkdir(parents=True, exist_ok=True)
        (project / "models" / f"{name}.sql").write_text(f"-- {p.description}\n{sql}\n")
    # The models' yml (contract columns, input ports as sources) is the platform's to generate.
    if spec.kind != "source-aligned":
        (project / "macros").mkdir(parents=True, exist_ok=True)
        (project / "macros" / "port.sql").write_text(PORT_MACRO)


def workspace(root: Path) -> None:
    entries = [{"python_module": {"module_name": "shared_assets.definitions" if d.name == "shared" else f"domains.{d.name}.definitions",
                                  "working_directory": ".", "location_name": d.name}} for d in DOMAINS]
    dump(root / "workspace.yaml", {"load_from": entries}, "# The TPC-H benchmark mesh, generated by benchmarks/tpch_mesh.py\n")


def mesh(*args: str, root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [str(BIN / "mesh"), *args]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def scaffold(root: Path, data_dir: Path) -> None:
    """Create each domain and product the self-serve way; their files are then replaced."""
    for spec in DOMAINS:
        if spec.name == "shared":
            continue
        first, *rest = spec.products
        inputs = [arg for port in PRODUCTS[first].inputs for arg in ("--input", port)]
        mesh("new", "domain", spec.name, "--dbt", "--kind", spec.kind, "--product", first, "--team", spec.team,
             "--contact", f"{spec.name}@tpch.example", "--description", spec.description, *inputs, "--project", ".", root=root)
        for name in rest:
            inputs = [arg for port in PRODUCTS[name].inputs for arg in ("--input", port)]
            mesh("new", "product", spec.name, name, "--dbt", *inputs, "--project", ".", root=root)
        # Replace the scaffolded example files with the TPC-H ones (the scaffolded ones may be
        # named after their first input and go stale otherwise).
        write_domain_files(root, spec, data_dir)


def generate(scale_factor: float, *, use_scaffold: bool = True, validate: bool = True) -> Path:
    data_dir = tpch_data.all_tables(scale_factor)
    root = mesh_dir(scale_factor)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    shared = next(d for d in DOMAINS if d.name == "shared")
    # The shared domain first: the others' contracts reference its keys.
    dump(root / "workspace.yaml", {"load_from": [{"python_module": {
        "module_name": "shared_assets.definitions", "working_directory": ".", "location_name": "shared"}}]})
    write_domain_files(root, shared, data_dir)
    if use_scaffold:
        scaffold(root, data_dir)
    else:
        for spec in DOMAINS:
            write_domain_files(root, spec, data_dir)
    workspace(root)  # the final one, in dependency order, whatever mesh new appended
    (root / ".gitignore").write_text(".mesh/\ndbt_projects/*/target/\ndbt_projects/*/logs/\n")
    print(f"wrote {root} ({'scaffolded with mesh new, then ' if use_scaffold else ''}generated in {time.perf_counter() - started:.1f} s)")
    if validate:
        started = time.perf_counter()
        env = {**os.environ, "MESH_HOME": str(root / ".mesh")}
        done = mesh("validate", "--project", ".", root=root, env=env)
        print(done.stdout.rstrip())
        print(f"mesh validate: ok ({time.perf_counter() - started:.1f} s, including one dbt parse per project)")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", "-s", type=float, default=0.1)
    parser.add_argument("--no-scaffold", action="store_true", help="write every file directly instead of via mesh new")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    generate(args.scale_factor, use_scaffold=not args.no_scaffold, validate=not args.no_validate)


if __name__ == "__main__":
    main()
