"""Column lineage of a domain's dbt models, as Dagster's `dagster/column_lineage` definition
metadata: each output column -> the input columns it derives from, read from the compiled SQL
(runtime/dbt_sql.py, model/sql_usage.py). An input port's columns are the producer domain's asset
(`[domain, product]`), so the lineage crosses domains; a project model's are that model's asset.
A model whose SQL cannot be analysed carries no lineage: no guessing."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mesh_platform.model.descriptor import Domain
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.sql_usage import SqlUsage
from mesh_platform.orchestration.products.metadata import COLUMN_LINEAGE_KEY
from mesh_platform.runtime.consumer_impact import analyse_models
from mesh_platform.runtime.dbt_sql import compiled_models



def dbt_column_lineage(root: Path, domain: Domain) -> dict[str, dg.TableColumnLineage]:
    """Model name -> its column lineage, for the models whose SQL could be analysed."""
    try:
        models = compiled_models(root, domain)
    except MeshError:
        return {}  # the models still load and build; only their lineage is missing
    analyses = analyse_models(current_mesh(root), models, {})
    keys = {model.relation: dg.AssetKey([domain.name, model.name]) for model in models.values()}
    for model in models.values():
        keys.update({relation: dg.AssetKey(list(port)) for relation, port in model.ports.items()})
    lineage = {}
    for name, result in analyses.items():
        if isinstance(result, SqlUsage):
            lineage[name] = dg.TableColumnLineage(deps_by_column={
                column: [dg.TableColumnDep(asset_key=keys[table], column_name=source) for table, source in sorted(origins) if table in keys]
                for column, origins in result.lineage.items()})
    return lineage


__all__ = ["COLUMN_LINEAGE_KEY", "dbt_column_lineage"]
