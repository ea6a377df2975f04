"""A dbt-duckdb plugin that makes another domain's output port readable as a dbt source.

A consumer's `sources.yml` names the producer domain as the source and its products as tables,
with `meta: {plugin: mesh_port}`. The plugin resolves the port from the platform's storage root
(given in the profile the platform writes) and hands DuckDB the Delta table as an Arrow dataset:
the consumer never opens the producer's DuckDB file, and nothing needs DuckDB's delta extension.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from ..ports.delta import port_uri, read_dataset

PLUGIN_ALIAS = "mesh_port"


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.storage_root = plugin_config["storage_root"]
        self.reader_domain = plugin_config["domain"]

    def load(self, source_config: SourceConfig):
        domain, product = source_config.schema, source_config.identifier
        return read_dataset(port_uri(self.storage_root, domain, product), f"input port {domain}.{product}")

    def default_materialization(self) -> str:
        # A view over the Arrow dataset: the consumer reads the port in place, without a copy.
        return "view"
