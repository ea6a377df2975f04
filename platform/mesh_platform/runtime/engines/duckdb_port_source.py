"""A dbt-duckdb plugin that makes another domain's output port readable as a dbt source.

Each input port of a consumer is a dbt source the platform generates (orchestration.dbt.generated,
`source_entry`): the producer domain as the source, its product as the table, with
`meta: {plugin: mesh_port}`. The plugin reads the port through the platform's governed read
path — access checked, the pinned contract major resolved, personal columns masked — and hands
DuckDB an Arrow dataset: the consumer never opens the producer's DuckDB file, and nothing needs
DuckDB's delta extension.

How the DuckDB engine binds input ports (duckdb.py): its profile names this module, by path, as
the plugin with alias `mesh_port`, configured as the reading domain. It imports no Dagster: it
runs in every dbt process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.names import product_id
from mesh_platform.runtime.reading import plan_read, read_lazily


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.project_root = Path(plugin_config["project_root"])
        self.reader_domain = plugin_config["domain"]

    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        # A standalone `dbt build` (the project's checked-in profile) may be the first to open
        # the domain's DuckDB file: its folder must exist, as the platform's runs make sure too.
        Path(creds.path).parent.mkdir(parents=True, exist_ok=True)

    def load(self, source_config: SourceConfig):
        mesh = current_mesh(self.project_root)
        wanted = product_id(source_config.schema, source_config.identifier)
        consumer = f"dbt project of domain {self.reader_domain!r}"
        producer = mesh.require(wanted, consumer=consumer)
        # The domain comes from the profile the platform writes for the domain's own dbt run.
        reader = domain_reader(self.reader_domain, how="dbt")
        plan = plan_read(mesh, reader, producer, pinned_major(mesh, self.reader_domain, producer.key), consumer=consumer)
        return read_lazily(plan)

    def default_materialization(self) -> str:
        # A view over the Arrow dataset: the consumer reads the port in place, without a copy.
        return "view"


def pinned_major(mesh, reader: str, key: tuple[str, str]) -> int | None:
    """The major the reading domain's products pin for an input (dbt sources are per domain)."""
    domain = mesh.domains.get(reader)
    pins = {port.major for p in (domain.products.values() if domain else ()) for port in p.inputs if port.key == key}
    if len(pins) > 1:
        raise MeshError(
            f"domain {reader!r} reads {product_id(*key)} at several majors ({', '.join('current' if m is None else f'v{m}' for m in pins)}); "
            "its dbt sources are shared by its products, so they must pin the same major"
        )
    return next(iter(pins), None)
