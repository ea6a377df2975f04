"""A dbt-duckdb plugin that makes another domain's output port readable as a dbt source.

Each input port of a consumer is a dbt source the platform generates (orchestration.dbt.generated,
`source_entry`): the producer domain as the source, its product as the table, with
`meta: {plugin: mesh_port, save_mode: ignore}`. Every port is planned through the platform's
governed read path — access checked, the pinned contract major resolved, personal columns masked —
and the consumer never opens the producer's DuckDB file.

How the source becomes a relation (dbt-duckdb 1.11, environments/local.py `load_source`): at each
`source()` it asks the plugin's `load` for a Python object, registers it on the cursor, makes the
source a view over that registration, and re-registers the object on every cursor it opens later.
A DuckDB relation cannot be registered on another cursor, so a native scan cannot travel that way.
Instead, on every connection dbt opens (`configure_connection`), the plugin loads the delta
extension from its file and makes each unmasked input a view over `delta_scan('<port>')` in the
domain's database; `save_mode: ignore` makes dbt-duckdb keep an existing view and skip `load`.
A masked input (or one refused or never published) has its view dropped there, so dbt calls
`load`, which plans the read again (refusals are raised at the model that reads it) and hands over
the masked Arrow table: the masking key never reaches SQL.

How the DuckDB engine binds input ports (duckdb.py): its profile names this module, by path, as
the plugin with alias `mesh_port`, configured as the reading domain. It imports no Dagster: it
runs in every dbt process. A Delta version pin is not offered to dbt sources (the pinned major
is): every connection reads the ports' latest versions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from mesh_platform.model.errors import MeshError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.names import product_id
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.engines.inputs import pinned_major  # shared with the Spark engine
from mesh_platform.runtime.quality.compile import quote
from mesh_platform.runtime.reading import arrow_relation, locate, native_location, plan_read
from mesh_platform.runtime.usage import VIA_DBT, declared_consumers, record_read


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.project_root = Path(plugin_config["project_root"])
        self.reader_domain = plugin_config["domain"]
        self._registered: dict[tuple[str, str], Any] = {}  # read once per dbt process (masking: a keyed hash per value)
        self._recorded: set[tuple[str, str]] = set()  # usage is recorded once per source per dbt process

    @property
    def consumer(self) -> str:
        return f"dbt project of domain {self.reader_domain!r}"

    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        # A standalone `dbt build` (the project's checked-in profile) may be the first to open
        # the domain's DuckDB file: its folder must exist, as the platform's runs make sure too.
        Path(creds.path).parent.mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn) -> None:
        duckdb_ports.load_delta(conn)
        mesh = current_mesh(self.project_root)
        domain = mesh.domains.get(self.reader_domain)
        inputs = {port.key for p in (domain.products.values() if domain else ()) for port in p.inputs}
        located = {}
        for key in sorted(inputs):
            try:
                plan = self._plan(mesh, key)
                located[key] = native_location(plan)
                self._record(mesh, key, plan, located[key])
            except MeshError:  # refused, unknown or never published: `load` raises it where a model reads it
                located[key] = None
        # Ports on an object store: one secret each, scoped to that port, with the domain's own keys.
        duckdb_ports.add_port_secrets(conn, [location for location in located.values() if location is not None])
        for key, location in located.items():
            if location is not None:
                duckdb_ports.create_port_view(conn, key[0], key[1], location)
            else:
                conn.execute(f"DROP VIEW IF EXISTS {quote(key[0])}.{quote(key[1])}")

    def _plan(self, mesh, key: tuple[str, str]):
        producer = mesh.require(product_id(*key), consumer=self.consumer)
        # The domain comes from the profile the platform writes for the domain's own dbt run.
        reader = domain_reader(self.reader_domain, how="dbt")
        return plan_read(mesh, reader, producer, pinned_major(mesh, self.reader_domain, producer.key), consumer=self.consumer)

    def _record(self, mesh, key: tuple[str, str], plan, location) -> None:
        """Record the dbt project's read of a source once per dbt process (runtime/usage.py)."""
        if key in self._recorded:
            return
        self._recorded.add(key)
        try:
            version = (location or locate(plan)).version
        except MeshError:
            version = None
        if plan.warning:  # a deprecated or soon-retired input: said in dbt's output too
            logging.getLogger("mesh.lifecycle").warning(plan.warning)
        record_read(plan, VIA_DBT, declared_consumers(mesh, self.reader_domain, plan.product), version)

    def load(self, source_config: SourceConfig):
        """A source `configure_connection` did not make a native view: masked (or refused, which raises here)."""
        key = (source_config.schema, source_config.identifier)
        if key not in self._registered:
            mesh = current_mesh(self.project_root)
            plan = self._plan(mesh, key)
            self._registered[key] = arrow_relation(plan)
            self._record(mesh, key, plan, None)
        return self._registered[key]

    def default_materialization(self) -> str:
        # A view over the registered table: dbt-duckdb registers it again on every cursor.
        return "view"
