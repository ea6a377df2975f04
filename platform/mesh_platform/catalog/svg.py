"""A product's lineage as an inline SVG picture, laid out here (no library, no network).

Columns from left to right: what the product reads (its inputs' inputs farther left), the
product, and who reads it (their consumers farther right). Within a column, nodes are grouped
by domain under the domain's name and share its colour; every node links to its product page.
"""

from __future__ import annotations

from html import escape

from ..mesh import Mesh
from ..products.descriptor import Product
from .lineage import edges, levels, node

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


def page_name(product_id: str) -> str:
    """The file of a product's page in the site (product ids are checked snake_case names)."""
    return f"{product_id}.html"


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

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="lineage of {escape(product.id)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>',
    ]
    for x, y, h, domain in boxes:
        fill, stroke = colours.get(domain, PALETTE[-2])
        parts.append(
            f'<g class="domain-group" data-domain="{escape(domain)}"><rect x="{x - 6:.0f}" y="{y - 2:.0f}" width="{NODE_W + 12}" '
            f'height="{h + 8:.0f}" rx="8" fill="{fill}" fill-opacity="0.35" stroke="{stroke}" stroke-opacity="0.4"/>'
            f'<text x="{x:.0f}" y="{y + 11:.0f}" class="domain-label" fill="{stroke}">{escape(domain)}</text></g>'
        )
    for source, target in edges(mesh, set(placed)):
        (x1, y1), (x2, y2) = positions[source], positions[target]
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        bend = max((x2 - x1) / 2, 30)
        parts.append(
            f'<path class="edge" data-from="{escape(source)}" data-to="{escape(target)}" '
            f'd="M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}" '
            'fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for product_id, (x, y) in sorted(positions.items()):
        info = node(mesh, product_id)
        fill, stroke = colours.get(info["domain"], PALETTE[-2])
        current = product_id == product.id
        role = "current" if current else ("input" if placed[product_id] < 0 else "consumer")
        detail = f"{info['kind'] or 'unknown'} · {info['access'] or 'unknown'}"
        parts.append(
            f'<a href="{escape(page_name(product_id))}"><g class="node {role}" data-product="{escape(product_id)}">'
            f'<title>{escape(product_id)} ({escape(detail)})</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{3 if current else 1.2}"/>'
            f'<text x="{x + 10:.0f}" y="{y + 17:.0f}" class="node-name">{escape(product_id.split(".", 1)[1])}</text>'
            f'<text x="{x + 10:.0f}" y="{y + 32:.0f}" class="node-detail">{escape(detail)}</text></g></a>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
