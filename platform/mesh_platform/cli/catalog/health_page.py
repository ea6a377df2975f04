"""The health page (`health.html`): the picture of the mesh and its domains' and products' state,
rendered from a MeshHealth by templates/health.html (autoescape on, as every catalog page)."""

from __future__ import annotations

from mesh_platform.cli.catalog.health_state import hours_text, slo_summary
from mesh_platform.cli.catalog.health_svg import health_svg
from mesh_platform.cli.catalog.render import render

HEALTH_PAGE = "health.html"


def _product_row(product) -> dict:
    e = product.entry
    return {
        "product": e.id, "state": product.state, "reasons": [f.text for f in product.findings],
        "last_publish": e.port.last_publish.strftime("%Y-%m-%d %H:%M UTC") if e.port.last_publish else "never published",
        "freshness": e.freshness, "checks": e.checks.summary(), "slos": slo_summary(product.slos),
    }


def render_health(health, colours: dict[str, tuple[str, str]], generated: str, link: bool) -> str:
    """The page; product names link to their catalog pages when `link` (inside the catalog site)."""
    return render(
        "health.html", state=health.state, window=hours_text(health.window), generated=generated, link=link,
        svg=health_svg(health, colours, link), products=[_product_row(p) for p in health.products],
        domains=[{**d.to_dict(), "latest_run": d.latest_run} for d in health.domains],
    )
