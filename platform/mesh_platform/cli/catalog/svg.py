"""A product's lineage as an inline SVG picture, laid out here (no library, no network)
and drawn by templates/lineage.svg.

Columns from left to right: what the product reads (its inputs' inputs farther left), the
product, and who reads it (their consumers farther right). Within a column, nodes are grouped
by domain under the domain's name and share its colour; every node links to its product page.
"""

from __future__ import annotations

from markupsafe import Markup

from mesh_platform.cli.catalog.lineage import edges, levels, node
from mesh_platform.cli.catalog.render import render
from mesh_platform.model.descriptor import Product
from mesh_platform.model.mesh import Mesh

NODE_W, NODE_H, GAP, GROUP_GAP, LABEL_H = 210, 40, 10, 18, 16
COLUMN_W, MARGIN = NODE_W + 90, 16
# Fill and stroke per domain; the same domain has the same colour on every page.
PALETTE = (
    ("#dbeafe", "#2563eb"), ("#dcfce7", "#16a34a"), ("#fef3c7", "#d97706"), ("#fce7f3", "#db2777"),
    ("#ede9fe", "#7c3aed"), ("#ccfbf1", "#0d9488"), ("#fee2e2", "#dc2626"), ("#e0e7ff", "#4f46e5"),
    ("#f3f4f6", "#4b5563"), ("#ffedd5", "#ea580c"),
)


def domain_colours(domains: list[str]) -> dict[str, tuple[str, str]]:
    return {domain: PALETTE[i % len(PALETTE)] for i, domain in enumerate(sorted(domains))}


def lineage_svg(mesh: Mesh, product: Product, colours: dict[str, tuple[str, str]]) -> str:
    placed = levels(mesh, product)
    low = min(placed.values())
    columns: dict[int, list[str]] = {}
    for product_id, level in placed.items():
        columns.setdefault(level, []).append(product_id)
    column_y: dict[str, float] = {}  # node -> y within its column
    groups: list[tuple[int, float, float, str]] = []  # level, y, height, domain
    heights: dict[int, float] = {}
    for level, ids in columns.items():
        ids.sort(key=lambda i: (i.split(".")[0] != product.domain, i))  # the product's own domain first
        y, current = 0.0, None
        for product_id in ids:
            domain = product_id.split(".")[0]
            if domain != current:
                y += (GROUP_GAP if current is not None else 0) + LABEL_H
                groups.append((level, y - LABEL_H, 0.0, domain))
                current = domain
            column_y[product_id] = y
            groups[-1] = (level, groups[-1][1], y + NODE_H - groups[-1][1], domain)
            y += NODE_H + GAP
        heights[level] = y - GAP
    total_h = max(heights.values())
    top = {level: (total_h - h) / 2 + MARGIN for level, h in heights.items()}  # centre each column

    def x_of(level: int) -> float:
        return MARGIN + (level - low) * COLUMN_W

    positions = {pid: (x_of(placed[pid]), y + top[placed[pid]]) for pid, y in column_y.items()}
    boxes = [(x_of(level), y + top[level], h, d) for level, y, h, d in groups]
    width = MARGIN * 2 + (max(placed.values()) - low) * COLUMN_W + NODE_W
    height = total_h + MARGIN * 2

    groups = [{"x": x, "y": y, "h": h, "domain": domain, **_paint(colours, domain)} for x, y, h, domain in boxes]
    lines = []
    for source, target in edges(mesh, set(placed)):
        (x1, y1), (x2, y2) = positions[source], positions[target]
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        lines.append({"source": source, "target": target, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "bend": max((x2 - x1) / 2, 30)})
    nodes = []
    for product_id, (x, y) in sorted(positions.items()):
        info = node(mesh, product_id)
        current = product_id == product.id
        nodes.append({
            "id": product_id, "x": x, "y": y, "current": current, **_paint(colours, info["domain"]),
            "role": "current" if current else ("input" if placed[product_id] < 0 else "consumer"),
            "detail": f"{info['kind'] or 'unknown'} · {info['access'] or 'unknown'}",
        })
    return Markup(render("lineage.svg", product_id=product.id, width=width, height=height, node_w=NODE_W, node_h=NODE_H,
                         groups=groups, edges=lines, nodes=nodes))


def _paint(colours: dict[str, tuple[str, str]], domain: str) -> dict[str, str]:
    fill, stroke = colours.get(domain, PALETTE[-2])
    return {"fill": fill, "stroke": stroke}
