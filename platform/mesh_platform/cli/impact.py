"""`mesh impact DOMAIN.PRODUCT`: whom a change to a product affects.

Two sources, shown side by side: the consumers the mesh declares (every product whose inputs name
it, with the major it pins) and the readers its usage records name (runtime/usage.py: who read
which major and version, and when they last did). A reader that is not a declared consumer (an
operator's `mesh sql`, a domain whose checkout this one lacks) shows in the second list only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.common import ProjectOption, console, fail, find_product, print_table, project_root, wide
from mesh_platform.model.errors import MeshError
from mesh_platform.model.lifecycle import status_of

RECENT_READS = 200  # records looked at: the readers of the last reads, not a full history


@dataclass
class Impact:
    product: str
    status: str
    version: str
    consumers: list[dict]  # {consumer, domain, pinned_major}
    readers: list[dict]  # the newest usage record per reader, consumer and way of reading
    # What the working tree's contract breaks against the port's last publish, per consumer: the
    # same verdict as validate's consumer-impact policy (runtime/consumer_impact.py).
    broken: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"product": self.product, "status": self.status, "contract_version": self.version,
                "declared_consumers": self.consumers, "recent_readers": self.readers, "broken_consumers": self.broken}


def impact_of(mesh, product, limit: int = RECENT_READS) -> Impact:
    """Declared consumers and recent readers of `product` (a loaded mesh's Product)."""
    from mesh_platform.runtime.consumer_impact import broken_consumers  # reason: consumers' SQL is compiled only when the command runs
    from mesh_platform.runtime.usage import last_reads, recent_reads  # reason: the port store loads when the command runs, not at `mesh --help`

    consumers = []
    for consumer in sorted(mesh.consumers_of(product), key=lambda p: p.id):
        port = next(i for i in consumer.inputs if i.key == product.key)
        consumers.append({"consumer": consumer.id, "domain": consumer.domain,
                          "pinned_major": port.major if port.major is not None else product.contract.major})
    readers = [{"reader": r.reader, "consumer": r.consumer, "via": r.via, "major": r.major, "version": r.version,
                "last_read": r.at.isoformat(timespec="seconds")}
               for r in last_reads(recent_reads(mesh, product.id, limit=limit))]
    broken = [{"consumer": b.consumer, "input": b.input, "columns": [c for c, _ in b.changes],
               "changes": [text for _, text in b.changes], "remedy": b.remedy}
              for b in broken_consumers(mesh, product, product.contract)]
    return Impact(product.id, status_of(product), product.contract.version, consumers, readers, broken)


def _columns(table: Table, headers: tuple[str, ...], names: tuple[str, ...]) -> None:
    # Identifiers never wrap mid-word (a script greps them whole); free text may.
    for header in headers:
        table.add_column(header, no_wrap=header in names)


def impact(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the impact as JSON.")] = False,
    project: ProjectOption = None,
) -> None:
    """Who a change to a product affects: its declared consumers and its recent readers."""
    from mesh_platform.model.mesh import Mesh  # reason: the mesh loads when the command runs, not at `mesh --help`

    root: Path = project_root(project)
    try:
        mesh = Mesh.load(root)
        found = find_product(mesh, product)
        result = impact_of(mesh, found)
    except MeshError as exc:
        fail(" ".join(str(exc).split()))
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    out = wide(console)
    out.print(f"[bold]{escape(result.product)}[/] contract {escape(result.version)} ({escape(result.status)})")
    if result.consumers:
        table = Table(title="Declared consumers", title_justify="left")
        _columns(table, ("declared consumer", "domain", "pinned major"), names=("declared consumer", "domain"))
        for c in result.consumers:
            table.add_row(escape(c["consumer"]), escape(c["domain"]), f"v{c['pinned_major']}")
        print_table(out, table)
    else:
        out.print("no declared consumers")
    if result.readers:
        table = Table(title="Recent readers", title_justify="left")
        _columns(table, ("reader", "consumer", "via", "major", "version", "last read (UTC)"), names=("reader", "consumer", "last read (UTC)"))
        for r in result.readers:
            table.add_row(escape(r["reader"]), escape(r["consumer"]), r["via"], f"v{r['major']}",
                          "" if r["version"] is None else str(r["version"]), r["last_read"])
        print_table(out, table)
    else:
        out.print("no recorded reads")
    if result.broken:
        table = Table(title="Broken by the contract in the working tree", title_justify="left")
        _columns(table, ("broken consumer", "input", "columns it reads", "what changed"), names=("broken consumer", "input"))
        for b in result.broken:
            table.add_row(escape(b["consumer"]), escape(b["input"]), escape(", ".join(b["columns"])), escape("; ".join(b["changes"])))
        print_table(out, table)
