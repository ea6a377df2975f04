"""`mesh health`: every domain and product of the mesh, ok / warn / fail / unknown, and why."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.catalog.health_state import slo_summary
from mesh_platform.cli.common import ProjectOption, console, errors, wide
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import project_root as _root

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "unknown": "dim"}
WIDE = 120  # from this width on, the table also shows the port's and checks' details


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the health of every domain and product as JSON.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 1 when a domain or product fails (for CI and monitoring).")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", metavar="FILE", help="Also write the health page, with a picture of the mesh, to FILE.")] = None,
    hours: Annotated[int, typer.Option("--hours", min=1, help="Count the runs that failed in this many hours.")] = 24,
    project: ProjectOption = None,
) -> None:
    """Show the mesh's health per domain and product: freshness against the SLA, the latest
    checks and SLOs, failed runs, and consumers reading stale data."""
    from mesh_platform.cli.catalog.health_collect import collect_health  # reason: the ports and the instance load only for this command
    from mesh_platform.model.mesh import Mesh

    root = _root(project)
    if html is not None and html.is_dir():
        _fail(f"--html {html} is a folder, not a file", "pass a file name such as health.html (`mesh catalog --html DIR` writes it into the catalog site)")
    mesh = Mesh.load(root)
    status = errors.status("reading the mesh's health…")
    with status:
        report = collect_health(root, mesh, window=dt.timedelta(hours=hours), on_product=lambda pid: status.update(f"reading the port of {pid}…"))
    for folder, problem in sorted(mesh.broken.items()):
        errors.print(f"[yellow]warning:[/] {escape(str(folder))} does not load, its products are not listed: {escape(str(problem))}", soft_wrap=True)
    if html is not None:
        write_page(html, report, mesh)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        out = wide(console)
        out.print(health_table(report, out.width))
    if html is not None:
        errors.print(f"wrote {html}", soft_wrap=True)
    if strict and report.state == "fail":
        failing = report.failing()
        _fail(f"the mesh fails its health check: {', '.join(failing) or 'see above'}")


def write_page(path: Path, report, mesh) -> None:
    """The health page on its own (its product names link nowhere: no catalog beside it)."""
    from mesh_platform.cli.catalog.health_page import render_health  # reason: Jinja loads only when a page is written
    from mesh_platform.cli.catalog.svg import domain_colours  # reason: as above

    path.parent.mkdir(parents=True, exist_ok=True)
    generated = report.generated.strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(render_health(report, domain_colours(list(mesh.domains)), generated, link=False), encoding="utf-8")


def _state(state: str) -> str:
    return f"[{STYLE.get(state, 'white')}]{state}[/]"


def health_table(report, width: int) -> Table:
    """One row per domain (its latest run and failures), its products indented beneath it; the
    product column never wraps, the reasons wrap between words. From WIDE columns on, the port's
    freshness, the checks and the SLOs get their own columns."""
    details = width >= WIDE
    table = Table(title=f"mesh health: {report.state}", title_justify="left")
    table.add_column("domain / product", no_wrap=True)
    table.add_column("state", no_wrap=True)
    if details:
        for column in ("last publish (UTC)", "freshness", "checks", "SLOs"):
            table.add_column(column, no_wrap=column == "last publish (UTC)")
    table.add_column("why", overflow="fold")
    blank = [""] * (4 if details else 0)
    for domain in report.domains:
        run = domain.latest_run
        why = [f.text for f in domain.judgement.findings] or ([f"latest run {run.job} {run.status.lower()}"] if run else ["no run recorded"])
        table.add_row(f"[bold]{escape(domain.name)}[/]", _state(domain.state), *blank, escape("\n".join(why)))
        for product in (p for p in report.products if p.entry.product.domain == domain.name):
            e = product.entry
            cells = []
            if details:
                published = e.port.last_publish.strftime("%Y-%m-%d %H:%M") if e.port.last_publish else "never"
                cells = [published, e.freshness, e.checks.summary(), slo_summary(product.slos)]
            why = "\n".join(f.text for f in product.findings)
            table.add_row(f"  {escape(e.product.name)}", _state(product.state), *map(escape, cells), escape(why))
    return table
