"""`mesh catalog --html DIR`: a static, self-contained site of the mesh's products.

`index.html` lists every product with a search box; each product has its own page
(`<domain>.<product>.html`) with its schema, rules, SLAs, owners, access, port state and an SVG
of its lineage across domains. The pages are Jinja2 templates (templates/) with autoescape on:
the names are checked by the platform, but descriptions are free text, so no value from a
descriptor or a contract is ever printed unescaped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mesh_platform.cli.catalog.entries import CatalogEntry, format_window
from mesh_platform.cli.catalog.reading_guide import reading_guide
from mesh_platform.cli.catalog.render import page_name, render
from mesh_platform.cli.catalog.svg import domain_colours, lineage_svg
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import rules_for
from mesh_platform.runtime.ports.store import port_store


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "never published"


def _rows(entry: CatalogEntry) -> str:
    return f"{entry.port.rows:,}" if entry.port.rows is not None else ""


def _search_text(entry: CatalogEntry) -> str:
    p = entry.product
    words = [p.id, p.domain, p.name, p.kind, p.descriptor.description, p.owner.team, p.owner.contact, p.descriptor.access]
    words += list(p.descriptor.tags)
    if not entry.problem:
        words += p.contract.column_names
    return " ".join(" ".join(words).lower().split())


def _index_row(entry: CatalogEntry, colours: dict) -> dict:
    p = entry.product
    return {
        "id": p.id, "search": _search_text(entry), "description": p.descriptor.description, "colour": colours[p.domain][1],
        "domain": p.domain, "kind": p.kind, "owner": p.owner.team, "access": p.descriptor.access,
        "version": p.contract.version if not entry.problem else "", "last_publish": _when(entry.port.last_publish),
        "rows": _rows(entry), "freshness": entry.freshness, "checks": entry.checks.summary(), "status": entry.status,
    }


def render_index(entries: list[CatalogEntry], colours: dict, generated: str) -> str:
    return render("index.html", products=[_index_row(e, colours) for e in entries],
                  domains=len({e.product.domain for e in entries}), generated=generated)


def _about(entry: CatalogEntry) -> list[tuple[str, str]]:
    """The contract's own words: purpose, usage, limitations."""
    described = None if entry.problem else entry.product.contract.odcs.description
    if described is None or isinstance(described, str):
        return [("purpose", described)] if described else []
    return [(k, v) for k in ("purpose", "usage", "limitations") if (v := getattr(described, k, None))]


def render_product(entry: CatalogEntry, mesh: Mesh, colours: dict, known: set[str], generated: str, store=None) -> str:

    p, port = entry.product, entry.port
    contract = None if entry.problem else p.contract
    problems = [entry.problem] if entry.problem else []
    rules = []
    if contract is not None:
        try:
            rules = list(rules_for(contract))
        except MeshError as exc:
            problems.append(str(exc))
    published_with = port.published_contract_version
    return render(
        "product.html", p=p, d=p.descriptor, entry=entry, port=port, known=known, generated=generated,
        about=_about(entry), problems=problems, version=contract.version if contract else "",
        last_publish=_when(port.last_publish), row_count=_rows(entry), sla=format_window(entry.freshness_window),
        schedule=getattr(p.descriptor, "schedule", None),  # when publishing is scheduled (source-aligned products)
        published_with=published_with if contract and published_with and published_with != contract.version else None,
        svg=lineage_svg(mesh, p, colours),
        inputs=[i.id + (f"@v{i.major}" if i.major is not None else "") for i in p.inputs],
        columns=contract.columns if contract else [], rules=rules,
        service_levels=contract.service_levels if contract else [],
        personal_columns=bool(contract and contract.personal_columns),
        guide=reading_guide(p, store) if contract is not None and store is not None else None,
    )


def write_site(directory: Path, entries: list[CatalogEntry], mesh: Mesh, store=None) -> list[Path]:
    """Write the site into `directory` (created if needed); returns the files written. `store`:
    the port store whose addresses the pages' reading guides give (default: the mesh's own)."""
    store = store or port_store(mesh.root, acting=None)
    directory.mkdir(parents=True, exist_ok=True)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    colours = domain_colours(list(mesh.domains))
    known = {e.id for e in entries}
    written = [directory / "index.html"]
    written[0].write_text(render_index(entries, colours, generated), encoding="utf-8")
    for entry in entries:
        path = directory / page_name(entry.id)
        path.write_text(render_product(entry, mesh, colours, known, generated, store), encoding="utf-8")
        written.append(path)
    written.append(write_health(directory, entries, mesh, colours, generated))
    return written


def write_health(directory: Path, entries: list[CatalogEntry], mesh: Mesh, colours: dict, generated: str) -> Path:
    """health.html: the same entries judged with the instance's runs and SLO checks, pictured."""
    from mesh_platform.cli.catalog.health_collect import instance_history, judge  # reason: Dagster loads only when the site is written
    from mesh_platform.cli.catalog.health_page import HEALTH_PAGE, render_health  # reason: as above, beside its one use

    now, window = dt.datetime.now(dt.timezone.utc), dt.timedelta(hours=24)
    runs, slos = instance_history(mesh.root, mesh, since=now - window)
    report = judge(entries, runs, slos, now, window)
    path = directory / HEALTH_PAGE
    path.write_text(render_health(report, colours, generated, link=True), encoding="utf-8")
    return path
