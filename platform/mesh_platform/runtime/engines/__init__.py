"""Compute engines for dbt domains: the seam between the platform and the SQL engine a domain's
dbt project runs on (base.py). DuckDB is the first and default engine; a domain names another
with `engine: <name>` in its domain.yaml, and a deployment may move a domain to another engine
with `MESH_ENGINES` (runtime/settings.py) without touching the domain."""

from __future__ import annotations

import os
from pathlib import Path

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import SHARED_DOMAIN, SHARED_FOLDER, domain_folders
from mesh_platform.runtime.engines.base import ComputeEngine
from mesh_platform.runtime.engines.duckdb import DuckDBEngine
from mesh_platform.runtime.engines.spark import SparkEngine
from mesh_platform.runtime.settings import ENGINES_ENV, engines_override

DEFAULT_ENGINE = DuckDBEngine.name
ENGINES: dict[str, ComputeEngine] = {engine.name: engine for engine in (DuckDBEngine(), SparkEngine())}

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ComputeEngine", "DuckDBEngine", "SparkEngine", "engine_for"]


def _mesh_domains(domain: Domain) -> list[str]:
    """The domain names of the mesh `domain` belongs to (shared_assets/ or domains/<name>/)."""
    root = domain.folder.parent if domain.folder.name == SHARED_FOLDER else domain.folder.parent.parent
    return [SHARED_DOMAIN if folder.name == SHARED_FOLDER else folder.name for folder in domain_folders(Path(root))]


def engine_for(domain: Domain) -> ComputeEngine:
    """The engine the domain's dbt project runs on: `MESH_ENGINES`'s choice for it, else its
    domain.yaml's `engine:`, else DuckDB."""
    chosen = engines_override(_mesh_domains(domain), tuple(ENGINES)) if os.environ.get(ENGINES_ENV, "").strip() else {}
    if domain.name in chosen and domain.descriptor.dbt_project is not None:
        return ENGINES[chosen[domain.name]]
    name = domain.descriptor.engine or DEFAULT_ENGINE
    engine = ENGINES.get(name)
    if engine is None:
        raise DescriptorError(domain.folder / DOMAIN_FILE, "engine",
                              f"unknown compute engine {name!r}; expected one of: {', '.join(sorted(ENGINES))}")
    return engine
