"""`mesh catalog` and `mesh lineage` (registered on the mesh CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from mesh_platform.cli.common import ProjectOption, console, errors, print_table, wide
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import find_product as _find_product
from mesh_platform.cli.common import project_root as _root

_FRESHNESS = {"fresh": "green", "stale": "red", "never published": "dim", "no SLA": "yellow"}
_CHECKS = {"passed": "green", "failed": "red", "warned": "yellow"}
_WHOLE = {"product", "domain", "kind", "version", "last publish (UTC)", "rows", "freshness"}


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mesh` CLI."""
    app.command("catalog")(catalog)
    app.command("lineage")(lineage)


def catalog(
    product: Annotated[Optional[str], typer.Argument(help="Show this product (domain.product) in detail, with how to read its port.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every product as JSON, with its inputs, consumers and columns.")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", metavar="DIR", help="Also write a static, searchable catalog site into DIR (open DIR/index.html).")] = None,
    project: ProjectOption = None,
) -> None:
    """List every product of the mesh: owner, access, contract version, last publish, rows,
    freshness against its SLA and the result of its last checks."""
    from mesh_platform.cli.catalog.entries import collect  # the mesh model and the ports load only for this command
    from mesh_platform.model.mesh import Mesh

    root = _root(project)
    if html is not None and html.exists() and not html.is_dir():
        _fail(f"--html {html} is a file, not a folder", "pass a folder for the site's pages (it is created if needed)")
    mesh = Mesh.load(root)
    if product is not None:
        _detail(root, mesh, _find_product(mesh, product), as_json)
        return
    status = errors.status("reading the mesh…")
    with status:
        entries = collect(root, mesh, on_product=lambda pid: status.update(f"reading the port of {pid}…"))
        if html is not None:
            from mesh_platform.cli.catalog.site import write_site

            status.update(f"writing the catalog site to {html}…")
            written = write_site(html, entries, mesh)
    for folder, problem in sorted(mesh.broken.items()):
        errors.print(f"[yellow]warning:[/] {escape(str(folder))} does not load, its products are not listed: {escape(str(problem))}", soft_wrap=True)
    if as_json:
        console.print_json(json.dumps([entry.to_dict() for entry in entries]))
    else:
        out = wide(console)
        print_table(out, _catalog_table(entries, out.width))
    if html is not None:
        errors.print(f"wrote {len(written)} pages: {html / 'index.html'}", soft_wrap=True)


def _catalog_table(entries, width: int) -> Table:
    """One row per product; a narrow terminal drops the domain and kind (the id starts with the
    domain; `--json` has everything)."""
    table = Table(title=f"mesh catalog: {len(entries)} products")
    columns = ["product", "domain", "kind", "owner", "access", "version", "last publish (UTC)", "rows", "freshness", "checks"]
    if width < 150:
        columns = [c for c in columns if c not in ("domain", "kind")]
    for column in columns:
        # Identifiers and values stay whole (`overflow="fold"` broke `member_delay_exposur e`); the
        # owner, access and checks wrap at their spaces.
        table.add_column(column, justify="right" if column == "rows" else "left", no_wrap=column in _WHOLE)
    for entry in entries:
        p, port, checks = entry.product, entry.port, entry.checks
        if port.error:
            published = f"[red]{escape(port.error)}[/]"
        else:
            published = port.last_publish.strftime("%Y-%m-%d %H:%M") if port.last_publish else "[dim]never published[/]"
        cells = {
            "product": p.id, "domain": p.domain, "kind": p.kind, "owner": p.owner.team,
            "access": p.descriptor.access + (f" ({', '.join(p.descriptor.readers)})" if p.descriptor.readers else ""),
            "version": "[red]contract does not load[/]" if entry.problem else p.contract.version,
            "last publish (UTC)": published,
            "rows": f"{port.rows:,}" if port.rows is not None else "",
            "freshness": f"[{_FRESHNESS.get(entry.freshness, 'white')}]{entry.freshness}[/]",
            "checks": f"[{_CHECKS.get(checks.status, 'dim')}]{checks.summary()}[/]",
        }
        table.add_row(*(cells[c] for c in columns))
    return table


def _detail(root, mesh, found, as_json: bool) -> None:
    """One product: its catalog entry, then how to read its port (the product page's guide)."""
    from mesh_platform.cli.catalog.entries import collect  # reason: the ports load only for this command
    from mesh_platform.cli.catalog.reading_guide import reading_guide
    from mesh_platform.runtime.ports.store import port_store

    entry = next(e for e in collect(root, mesh) if e.id == found.id)
    guide = None if entry.problem else reading_guide(found, port_store(root, acting=None))
    sections = guide.sections() if guide else []
    if as_json:
        read = [{"for": who, "address": a.location, "settings": a.settings(), "snippets": {s.tool: s.code for s in snippets}}
                for who, a, snippets in sections]
        console.print_json(json.dumps(entry.to_dict() | {"read": read}))
        return
    out = wide(console)
    print_table(out, _catalog_table([entry], out.width))
    if entry.checks.explained():
        out.print(escape(entry.checks.explained()), soft_wrap=True)
    for who, address, snippets in sections:
        out.print(f"\n[bold]How to read it[/], for {escape(who)}: {escape(address.location)}", soft_wrap=True)
        for line in address.settings():
            out.print(f"  {escape(line)}", soft_wrap=True)
        for snippet in snippets:
            out.print(f"[dim]── {snippet.tool}[/]")
            out.print(snippet.code, markup=False, highlight=False, soft_wrap=True)


def lineage(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Show only what the product reads, and what those read.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Show only who reads the product, and who reads those.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the lineage as nested JSON objects.")] = False,
    project: ProjectOption = None,
) -> None:
    """Show a product's lineage across domains, from the declared input ports: upstream (what it
    reads) and downstream (who reads it); both unless one is chosen."""
    from mesh_platform.cli.catalog.lineage import tree  # the mesh model loads only for this command
    from mesh_platform.model.mesh import Mesh

    root = _root(project)
    mesh = Mesh.load(root)
    found = _find_product(mesh, product)
    directions = [d for d, chosen in (("upstream", upstream), ("downstream", downstream)) if chosen] or ["upstream", "downstream"]
    trees = {direction: tree(mesh, found, direction) for direction in directions}
    if as_json:
        console.print_json(json.dumps({"product": found.id, **trees}))
        return
    for direction, root_node in trees.items():
        children = "inputs" if direction == "upstream" else "consumers"
        arrow = "reads" if direction == "upstream" else "read by"
        rendered = Tree(f"[bold]{direction}[/] [dim]({arrow})[/] {_label(root_node)}")
        _grow(rendered, root_node, children)
        if not root_node[children]:
            rendered.add("[dim]none: it reads no other product[/]" if direction == "upstream" else "[dim]none: no product reads it yet[/]")
        console.print(rendered)


def _label(node: dict) -> str:
    kind, access = node["kind"] or "unknown product", node["access"] or "?"
    colour = {"public": "green", "internal": "yellow", "restricted": "red"}.get(access, "red")
    cycle = " [red](cycle)[/]" if node.get("cycle") else ""
    pin = f"@v{node['pinned_major']}" if node.get("pinned_major") is not None else ""
    name = escape(node["product"].split(".", 1)[1] + pin)
    return f"[bold]{escape(node['domain'])}[/].{name} [dim]({kind},[/] [{colour}]{access}[/][dim])[/]{cycle}"


def _grow(branch: Tree, node: dict, children: str) -> None:
    for child in node[children]:
        _grow(branch.add(_label(child)), child, children)
