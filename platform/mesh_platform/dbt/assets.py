"""dbt products: `dbt build` in the domain's own DuckDB file, then each product model is
published to its Delta port (DuckDB -> Arrow -> Delta) once dbt has exited and let go of the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import json

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets

from ..errors import DescriptorError, PublishError
from ..mesh import Mesh
from ..names import product_id
from ..ports.delta import port_uri, publish
from ..ports.io_manager import port_metadata
from ..products.descriptor import Domain
from ..settings import mesh_home, storage_root, warehouse_path
from .port_source import PLUGIN_ALIAS
from .project import DomainDbtProject, dbt_executable, write_profile
from .translator import MeshDbtTranslator

_BATCH_ROWS = 1_000_000


def _relation_of(manifest: Mapping[str, Any], domain: str, model: str) -> str:
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] == model:
            # Catalog left out: the manifest may come from a parse against another database file.
            return f'"{node["schema"]}"."{node["alias"]}"'
    raise PublishError(f"{product_id(domain, model)}: no dbt model named {model!r}")


def publish_models(
    database: Path, root: Path, domain: Domain, models: list[str], manifest: Mapping[str, Any], run_id: str
) -> dict[str, dict[str, Any]]:
    """Publish each product model from the domain's DuckDB file to its port; metadata per model."""
    published: dict[str, dict[str, Any]] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for model in models:
            product = domain.products[model]
            contract = product.contract
            reader = con.sql(f"select * from {_relation_of(manifest, domain.name, model)}").to_arrow_reader(_BATCH_ROWS)
            result = publish(
                port_uri(storage_root(root), domain.name, model),
                reader,
                contract.arrow_schema(),
                label=product.id,
                commit_metadata={"mesh.product": product.id, "mesh.contract_version": contract.version, "mesh.run_id": run_id},
            )
            published[model] = port_metadata(result, contract)
    return published


def failure_summary(invocation) -> str:
    """One line per failed dbt node: which node, and dbt's own message."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception:  # dbt died before writing its results
        return "dbt exited before reporting results; see the step's logs"
    lines = [
        f"{r['unique_id']}: {' '.join(str(r.get('message') or r['status']).split())}"
        for r in results
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    return "; ".join(lines) or "see the step's logs"


def check_input_sources(manifest: Mapping[str, Any], domain: Domain, mesh: Mesh, project_dir: Path) -> None:
    """Every source read through the port plugin must be a product this domain declares as input."""
    declared = {port.id for product in domain.products.values() for port in product.inputs}
    for source in manifest["sources"].values():
        meta = {**source.get("meta", {}), **source.get("config", {}).get("meta", {})}
        if meta.get("plugin") != PLUGIN_ALIAS:
            continue
        wanted = f"{source['source_name']}.{source['name']}"
        where = project_dir / source["original_file_path"]
        mesh.require(wanted, consumer=f"dbt project of domain {domain.name!r} ({where})")
        if wanted not in declared:
            raise DescriptorError(
                where, f"sources.{source['source_name']}.{source['name']}",
                f"reads product {wanted}, which no product of domain {domain.name!r} declares in its inputs",
            )


def build_dbt_assets(
    domain: Domain, project: DomainDbtProject, mesh: Mesh, product_metadata: Mapping[str, Mapping[str, Any]]
) -> dg.AssetsDefinition:
    root = mesh.root
    manifest_path = project.prepare()
    check_input_sources(json.loads(manifest_path.read_text()), domain, mesh, project.project_dir)
    translator = MeshDbtTranslator(domain, product_metadata)

    @dbt_assets(manifest=manifest_path, dagster_dbt_translator=translator, name=f"{domain.name}_dbt")
    def _dbt_models(context):  # no annotation: postponed annotations would hide its type from Dagster
        home = mesh_home(root)
        database = warehouse_path(root, domain.name)
        database.parent.mkdir(parents=True, exist_ok=True)
        run_dir = home / "dbt" / domain.name
        profiles = write_profile(run_dir / "profile", database=str(database), storage_root=storage_root(root), domain=domain.name)
        dbt = DbtCliResource(project_dir=str(project.project_dir), profiles_dir=str(profiles), dbt_executable=dbt_executable())
        # One target folder per domain, replaced on each run: no pile of per-run folders.
        target = run_dir / "target"
        project.clean_run_folder(target)
        invocation = dbt.cli(["build", *project.vars_arg()], context=context, target_path=target, raise_on_error=False)
        held: dict[str, dg.Output] = {}
        for event in invocation.stream():
            model = context.asset_key_for_output(event.output_name).path[-1] if isinstance(event, dg.Output) else None
            if model in domain.products:
                held[model] = event  # its port is published after dbt lets go of the DuckDB file
            else:
                yield event
        published = publish_models(database, root, domain, list(held), invocation.manifest, context.run.run_id)
        for model, event in held.items():
            yield event.with_metadata({**event.metadata, **published[model]})
        if not invocation.is_successful():
            raise PublishError(f"dbt build of domain {domain.name!r} failed: {failure_summary(invocation)}")

    return _dbt_models
