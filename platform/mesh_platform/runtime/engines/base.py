"""The compute engine seam: what the platform needs from the SQL engine a dbt domain runs on.

The platform runs a domain's dbt project on an engine, then audits each product model where it
lies and publishes it to its port. Everything engine-specific in that sequence sits behind this
interface: the dbt profile, how another domain's port becomes a dbt source, reading a model's
output, the SQL dialect rules are written for, and who may run at once. The orchestration layer
(mesh_platform.orchestration.dbt) only ever calls these methods.

Adding an engine: a module in this package with a `ComputeEngine` subclass, registered in
`ENGINES` (`__init__.py`); a domain picks it with `engine: <name>` in its domain.yaml.
"""

from __future__ import annotations

import contextlib
import fcntl
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from mesh_platform.runtime.quality.compile import quote


class ComputeEngine(ABC):
    """One SQL engine dbt domains can run on. Stateless: one instance serves every domain."""

    name: ClassVar[str]
    """What a domain.yaml's `engine:` field says to pick this engine."""

    dialect: ClassVar[str]
    """The SQL dialect of the engine, as sqlglot names it ("duckdb", "spark"): the dialect
    contract rules are compiled to when they audit a model where it lies."""

    @abstractmethod
    def profile_target(self, root: Path, domain: str) -> dict[str, Any]:
        """The dbt profile output a run of `domain`'s dbt project uses, as dbt reads it from
        profiles.yml (`type`, connection, `threads`, adapter plugins). It must make the domain's
        input ports readable as sources (see `source_binding`) as the domain itself, with its
        access, and write the models somewhere only this domain writes. Pure: creates nothing."""

    @abstractmethod
    def source_binding(self) -> dict[str, Any]:
        """The config a dbt source (a producer domain, its products as tables) carries so that
        the engine serves it from the producer's output ports through the platform's governed
        read path: access checked, the pinned contract major resolved, personal columns masked.
        Goes under the source's `config:` in sources.yml."""

    def prepare_run(self, root: Path, domain: str) -> None:
        """Called once per run, after the run lock is held and before dbt starts: an engine that
        cannot plan the governed reads inside dbt's process (Spark: no adapter plugin) plans the
        domain's input ports here, refusing in one line what it cannot serve. Nothing by default."""

    def binds_port(self, source: Mapping[str, Any]) -> bool:
        """Whether a manifest source node is bound to an output port by `source_binding` (as
        opposed to the domain's own raw data). dbt keeps `meta` at the top of the node and under
        `config`, depending on where the yml wrote it: both are read."""
        wanted = self.source_binding().get("meta", {})
        meta = {**source.get("meta", {}), **source.get("config", {}).get("meta", {})}
        return bool(wanted) and all(meta.get(key) == value for key, value in wanted.items())

    def relation(self, schema: str, name: str) -> str:
        """A model's relation as the engine's SQL names it, from the manifest's schema and alias
        (no catalog: the manifest may come from a parse against another database)."""
        return f"{quote(schema)}.{quote(name)}"

    @abstractmethod
    def open_outputs(self, root: Path, domain: str) -> contextlib.AbstractContextManager[Any]:
        """Open what the domain's last dbt run wrote, read-only, after dbt has exited. Yields a
        session handed back to `read_output` and to the rule audit, which runs the contract's
        rules in `dialect` over a model in place: the session must be sealed (user-written SQL
        reaches nothing but the models and the relations registered on it). Leaving the
        context closes everything it opened."""

    @abstractmethod
    def read_output(self, session: Any, relation: str, *, batch_rows: int) -> pa.RecordBatchReader:
        """A product model's rows for publishing, as Arrow batches of at most `batch_rows` rows,
        streamed (never the whole model in memory at once). Valid while `session` is open."""

    @abstractmethod
    def open_staging(self, root: Path, domain: str) -> contextlib.AbstractContextManager[Any]:
        """Open what the domain's last dbt run wrote, read-only, after dbt has exited, for the
        platform's own SQL only: the schema-drift check and `stage_output`. No user-written SQL
        runs on this session (contract rules audit the staged files, on a sealed connection), so
        it may write files. Leaving the context closes everything it opened; no `open_outputs`
        session of the same domain may be open meanwhile."""

    @abstractmethod
    def stage_output(self, session: Any, relation: str, folder: Path, schema: pa.Schema) -> None:
        """Write a product model's rows once, cast to `schema` (the contract's exact types), as
        Parquet files into the empty local `folder` (a port's staging folder, which no version
        references yet). Refuses (PublishError) a value the contract's type cannot hold exactly."""

    def output_schema(self, session: Any, relation: str) -> pa.Schema:
        """The Arrow schema of a model's output, for the contract's schema-drift check."""
        return self.read_output(session, relation, batch_rows=1).schema

    @abstractmethod
    def lock_path(self, root: Path, domain: str) -> Path:
        """The file whose lock a run of the domain's dbt project holds from `dbt build` to the
        last publish. Runs of one domain always take turns (each replaces the domain's dbt target
        folder); an engine whose storage admits one writer names the lock beside that storage."""

    @contextlib.contextmanager
    def one_run_at_a_time(self, root: Path, domain: str, log) -> Iterator[None]:
        """Hold the domain's run lock. Automation, schedules and `mesh build` may start two runs
        at once (an input publishing while a rebuild is still running); the second waits.

        Runs recorded in the mesh's instance already take turns before this: the op holding this
        lock declares the domain's Dagster pool (settings.warehouse_pool, limit 1), which holds
        across processes and hosts. The lock stays as the same-host fallback, free whenever the
        pool did its work: a run recorded elsewhere (a `dagster dev` on another DAGSTER_HOME, an
        ephemeral instance in a test or notebook) shares this host's warehouse file but not the
        pool, and two writers on one DuckDB file fail (`Could not set lock on file`)."""
        path = self.lock_path(root, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info(f"another run of domain {domain!r} holds its {self.name} lock ({path.name}); waiting for it to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
