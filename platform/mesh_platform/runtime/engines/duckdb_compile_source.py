"""A dbt-duckdb plugin that serves every input port as an empty table: for `dbt compile` only.

dbt-duckdb asks a source's plugin for the source while it renders `source()`, even when it only
compiles. The SQL analysis of consumer impact and column lineage (runtime/dbt_sql.py) needs the
compiled SQL of a domain's models, not its data: this plugin, under the alias the generated
sources name, answers with an empty table, so the compile reads no port, needs none published,
checks no access and opens no domain's DuckDB file (its profile is an in-memory database).
"""

from __future__ import annotations

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig


class Plugin(BasePlugin):
    def load(self, source_config: SourceConfig):
        return pa.table({"_": pa.array([], pa.int8())})
