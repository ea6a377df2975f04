"""Compute engines for dbt domains: the seam between the platform and the SQL engine a domain's
dbt project runs on (base.py). DuckDB is the first and default engine; a domain names another
with `engine: <name>` in its domain.yaml."""

from __future__ import annotations

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.runtime.engines.base import ComputeEngine
from mesh_platform.runtime.engines.duckdb import DuckDBEngine

DEFAULT_ENGINE = DuckDBEngine.name
ENGINES: dict[str, ComputeEngine] = {engine.name: engine for engine in (DuckDBEngine(),)}

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ComputeEngine", "DuckDBEngine", "engine_for"]


def engine_for(domain: Domain) -> ComputeEngine:
    """The engine the domain's dbt project runs on: its domain.yaml's `engine:`, else DuckDB."""
    name = domain.descriptor.engine or DEFAULT_ENGINE
    engine = ENGINES.get(name)
    if engine is None:
        raise DescriptorError(domain.folder / DOMAIN_FILE, "engine",
                              f"unknown compute engine {name!r}; expected one of: {', '.join(sorted(ENGINES))}")
    return engine
