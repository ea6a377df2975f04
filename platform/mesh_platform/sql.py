"""`mesh sql`: a DuckDB session over the mesh's ports, as one domain sees them.

Every product the acting domain may read becomes a view `domain.product` over its Delta port
(registered from an Arrow dataset, read in place; DuckDB's delta extension is not needed), with
personal columns masked exactly as the governed read path masks them. Products it may not read
are not there, and a query naming one is refused with the access policy's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .errors import MeshError, PublishError
from .governance.access import AccessDenied, may_read, refusal
from .governance.identity import PUBLIC, operator_reader
from .governance.reading import plan_read, read_lazily
from .mesh import Mesh
from .quality.rules import quote



@dataclass
class SqlSession:
    mesh: Mesh
    acting: str | None
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    views: dict[str, list[str]] = field(default_factory=dict)  # product id -> masked columns
    refused: dict[str, str] = field(default_factory=dict)  # product id -> why
    unpublished: list[str] = field(default_factory=list)

    @property
    def reader(self):
        """The operator impersonating `acting` (or a session without a domain: public products only)."""
        return operator_reader(self.acting)

    @classmethod
    def open(cls, root: Path, acting: str | None) -> "SqlSession":
        mesh = Mesh.load(root)
        if acting is not None and acting not in mesh.domains:
            hint = ", ".join(sorted(mesh.domains))
            raise MeshError(f"--as {acting!r}: no such domain in this mesh; domains: {hint}")
        session = cls(mesh, acting)
        for product in mesh.products():
            session._attach(product)
        return session

    def _attach(self, product) -> None:
        reader = self.acting or PUBLIC
        if self.acting is None and product.descriptor.access != "public":
            self.refused[product.id] = (f"{product.id} is {product.descriptor.access}: a session without --as sees public "
                                        "products only; pass --as and a domain allowed to read it")
            return
        if not may_read(product, reader):
            self.refused[product.id] = refusal(product, reader)
            return
        try:
            plan = plan_read(self.mesh, self.reader, product)
            data = read_lazily(plan)
        except PublishError:  # never published: nothing to show yet
            self.unpublished.append(product.id)
            return
        hidden = f"port__{product.domain}__{product.name}"
        self.con.register(hidden, data)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(product.domain)}")
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(product.domain)}.{quote(product.name)} AS SELECT * FROM {quote(hidden)}")
        self.views[product.id] = sorted(plan.masks)

    def check_access(self, query: str) -> None:
        """Refuse, with the access policy's message, a query naming a product the domain may not read."""
        try:
            names = duckdb.get_table_names(query, qualified=True)
        except duckdb.Error:
            return  # DuckDB reports the syntax error itself
        for name in names:
            table = name.split(" AS ")[0].replace('"', "").lower()
            if table in self.refused:
                raise AccessDenied(self.refused[table])

    def sql(self, query: str) -> duckdb.DuckDBPyRelation | None:
        self.check_access(query)
        return self.con.sql(query)
