"""`mesh sql`: a DuckDB session over the mesh's ports, as one domain sees them.

Every product the acting domain may read becomes a view `domain.product` over its Delta port:
DuckDB's own `delta_scan` of the port's folder when nothing in it is masked for the domain; a
masked table registered from Arrow (personal columns masked exactly as the governed read path
masks them) when something is. Products it may not read are not there, and a query naming one is
refused with the access policy's message.

The connection is sealed (see `sealed.py`) with the folders of exactly the unmasked ports it
reads as its allowed directories: a query reaches those views and those files — no other file
(a masked port's files included), no other database, no extension, no setting — and a
statement that would write (COPY, EXPORT, ATTACH, ...) is refused by its type before it runs.
The session opens with what loads: a product or domain whose files are broken is named in
`unavailable`, and the others answer.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mesh_platform.model.access import AccessDenied, may_read, refusal
from mesh_platform.model.errors import MeshError, PublishError
from mesh_platform.model.identity import operator_reader
from mesh_platform.model.mesh import SHARED_DOMAIN, SHARED_FOLDER, Mesh
from mesh_platform.runtime import sealed
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.impersonation import record
from mesh_platform.runtime.ports import faults
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.quality.compile import quote
from mesh_platform.runtime.reading import LifecycleRefusal, PortRead, arrow_relation, native_location, plan_read
from mesh_platform.runtime.settings import storage_is_remote
from mesh_platform.runtime.usage import VIA_SQL, record_read

WHERE = "mesh sql"
REACH = "a session reads only the ports it was given as views (`.tables` lists them)"


class SealedRefusal(MeshError):
    """A query tried to leave the views it was given (a file, a database, a setting)."""


@dataclass
class SqlSession:
    mesh: Mesh
    acting: str | None
    con: duckdb.DuckDBPyConnection | None = None  # sealed once the ports it reads are known
    views: dict[str, list[str]] = field(default_factory=dict)  # product id -> masked columns
    refused: dict[str, str] = field(default_factory=dict)  # product id -> why
    unpublished: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # product id or "domain X" -> why it did not load
    as_of: int | dt.datetime | None = None  # every view reads its port as of this version or moment
    reads: dict[str, tuple[PortRead, int | None]] = field(default_factory=dict)  # product id -> its plan and Delta version
    warnings: list[str] = field(default_factory=list)  # deprecated or soon-retired products it reads

    @property
    def reader(self):
        """The operator impersonating `acting` (or a session without a domain: public products only)."""
        return operator_reader(self.acting)

    @classmethod
    def open(cls, root: Path, acting: str | None, as_of: int | dt.datetime | None = None) -> "SqlSession":
        mesh = Mesh.load(root)
        broken = {_domain_of(folder): str(exc) for folder, exc in mesh.broken.items()}
        if acting is not None and acting not in mesh.domains:
            if acting in broken:
                raise MeshError(f"--as {acting!r}: the domain does not load: {broken[acting]}")
            hint = ", ".join(sorted(mesh.domains))
            raise MeshError(f"--as {acting!r}: no such domain in this mesh; domains: {hint}")
        if acting is None and storage_is_remote(root):
            # A session acts with a domain's storage identity, whose keys the store holds to that
            # domain's grants: the platform's own keys read everything, whatever the session's views.
            raise MeshError("with ports on an object store, `mesh sql` reads as a domain: add --as DOMAIN "
                            "(the session then holds only that domain's storage identity)")
        session = cls(mesh, acting, as_of=as_of)
        session.unavailable.update({f"domain {name}": why for name, why in sorted(broken.items())})
        planned = []
        for product in mesh.products():
            try:
                found = session._plan(product)
            except MeshError as exc:  # one broken contract (or a withdrawn major) leaves the other products readable
                session.unavailable[product.id] = " ".join(str(exc).split())
                found = None
            if found is not None:
                planned.append(found)
            if product.id not in session.refused:
                planned += session._older_majors(product)
        # Sealed with exactly the unmasked ports' folders readable: a masked port's never is.
        session.con = duckdb_ports.sealed_session(location for _, location in planned if location is not None)
        for plan, location in planned:
            try:
                session._attach(plan, location)
            except (MeshError, duckdb.Error) as exc:  # a port whose files are broken leaves the others readable
                session.unavailable[plan.label] = " ".join(str(exc).split())
        return session

    def _plan(self, product):
        """What the session reads of `product`: its plan and, when DuckDB scans it natively,
        where; None when the domain may not read it or it was never published."""
        reader = self.reader.name
        if self.acting is None and product.descriptor.access != "public":
            self.refused[product.id] = (f"{product.id} is {product.descriptor.access}: a session without --as sees public "
                                        "products only; pass --as and a domain allowed to read it")
            return None
        if not may_read(product, reader):
            self.refused[product.id] = refusal(product, reader)
            return None
        try:
            plan = plan_read(self.mesh, self.reader, product, as_of=self.as_of)
            return plan, native_location(plan)
        except PublishError:  # never published: nothing to show yet
            self.unpublished.append(product.id)
            return None
        except LifecycleRefusal as exc:  # its contract's status refuses the domain, every major (model/lifecycle.py)
            self.refused[product.id] = str(exc)
            return None

    def _older_majors(self, product) -> list:
        """Every older major of the product a consumer may still pin (published, neither retired
        nor withdrawn), planned as the current one was: views `domain."product@vN"`."""
        found = []
        try:
            current = product.contract.major
        except MeshError:
            return []  # its contract does not load: already named in `unavailable`
        # Listed as the session's domain: any reader of a product may list its folder (model/storage_grants.py).
        try:
            majors = port_store(self.mesh.root, acting=self.reader.domain).published_majors(product.domain, product.name)
        except MeshError as exc:  # the store did not answer: the current major's view may still stand
            self.unavailable[f"{product.id} (older majors)"] = " ".join(str(exc).split())
            return []
        for major in majors:
            if major >= current:
                continue
            try:
                plan = plan_read(self.mesh, self.reader, product, major=major, as_of=self.as_of)
                found.append((plan, native_location(plan)))
            except PublishError:  # never published at that major
                continue
            except MeshError as exc:  # retired or withdrawn: say why it is not there
                self.unavailable[f"{product.id}@v{major}"] = " ".join(str(exc).split())
        return found

    def _attach(self, plan: PortRead, location) -> None:
        product = plan.product
        name = view_name(plan)
        if location is not None:
            duckdb_ports.create_port_view(self.con, product.domain, name, location)
        else:  # masked: registered from Arrow, never its files
            hidden = f"port__{product.domain}__{product.name}__v{plan.major}"
            self.con.register(hidden, arrow_relation(plan))
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(product.domain)}")
            self.con.execute(f"CREATE OR REPLACE VIEW {quote(product.domain)}.{quote(name)} AS SELECT * FROM {quote(hidden)}")
        self.views[plan.label] = sorted(plan.masks)
        self.reads[plan.label] = (plan, location.version if location is not None else plan.version)
        if plan.warning:
            self.warnings.append(plan.warning)

    def products_named(self, query: str) -> list[str]:
        """The mesh products a query names (`domain.product`, whether readable or not)."""
        try:
            names = _parser().get_table_names(query, qualified=True)
        except duckdb.Error:
            return []  # running the query reports the syntax error or the refusal itself
        domains = {*self.mesh.domains, *(key.removeprefix("domain ") for key in self.unavailable)}
        tables = {name.split(" AS ")[0].replace('"', "").lower() for name in names}
        return sorted(t for t in tables if t.count(".") == 1 and t.split(".")[0] in domains)

    def check_access(self, query: str) -> None:
        """Refuse, with the access policy's message, a query naming a product the domain may not
        read; and say why a product that did not load is not there."""
        self._refuse_unreadable(self.products_named(query))

    def _refuse_unreadable(self, named: list[str]) -> None:
        for table in named:
            if table in self.refused:
                raise AccessDenied(self.refused[table])
            why = self.unavailable.get(table) or self.unavailable.get(f"domain {table.split('.')[0]}")
            if why is not None:
                raise MeshError(f"{table} is not in this session: it did not load: {why}")

    def sql(self, query: str) -> duckdb.DuckDBPyRelation | None:
        self.check_access(query)
        self._refuse_writes(query)
        return self.con.sql(query)

    def _refuse_writes(self, query: str) -> None:
        line = sealed.refused_statement(query, WHERE, REACH)
        if line is not None:
            raise SealedRefusal(line)

    def run(self, query: str) -> tuple[list[str], list[tuple]] | None:
        """Run one query to the end: its columns and rows, or None for a statement without a
        result. An operator's impersonation (`--as`) is recorded before the query runs."""
        named = self.products_named(query)  # parsed once: for the access log and the access check
        if self.acting is not None:
            record(self.mesh.root, self.acting, query, named)
        try:
            self._refuse_unreadable(named)
            self._refuse_writes(query)
            relation = self.con.sql(query)
            result = None if relation is None else (relation.columns, relation.fetchall())
        except duckdb.Error as exc:
            line = sealed.refusal(exc, WHERE, REACH) or _store_refusal(exc)
            if line is None:
                raise
            raise SealedRefusal(line) from None
        self._record_usage(named)
        return result

    def _record_usage(self, named: list[str]) -> None:
        """One usage record per product a query that ran named: product names, never the query."""
        for product_id in named:
            if product_id in self.reads:
                plan, version = self.reads[product_id]
                record_read(plan, VIA_SQL, WHERE, version)



def view_name(plan: PortRead) -> str:
    """A product's view in its domain's schema: `product` for the current major, `product@vN`
    for an older one (quoted in SQL: `shared."carriers@v1"`; no product name holds an "@")."""
    return plan.product.name if plan.major == plan.product.contract.major else f"{plan.product.name}@v{plan.major}"


def _store_refusal(exc: duckdb.Error) -> str | None:
    """One line for an object store's refusal of a path the session has no port at (signed with
    no usable key: runtime/engines/duckdb_ports.py), never the store's reply, which quotes keys' ids."""
    kind = faults.classify(faults.one_line(str(exc)))
    if kind == faults.UNREACHABLE:
        return f"the object store did not answer {WHERE}'s read (is it running?); {REACH}"
    if kind is not None:
        return f"the object store refused this read in {WHERE}: {REACH}, no other path on the store"
    return None


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """Where a query's table names are read: sealed and empty. Never `duckdb.get_table_names`,
    which binds the query on DuckDB's unsealed default connection (binding `EXPORT DATABASE`
    creates its folder; binding a table function opens its file); nor the session's connection,
    whose binder expands the views and names only what lies under them."""
    return sealed.connect()


def _domain_of(folder: Path) -> str:
    """A domain's name by the layout, for a folder whose files did not load."""
    return SHARED_DOMAIN if folder.name == SHARED_FOLDER else folder.name
