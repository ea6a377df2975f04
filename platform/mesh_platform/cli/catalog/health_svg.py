"""The whole mesh as one inline SVG picture, laid out here (no library, no network, no script)
and drawn by templates/health.svg.

Domains are boxes, placed in columns by how far downstream they read (a domain reading no other
domain is leftmost); each product is a node in its domain's box, filled by its health and labelled
with it in words, so colour is never the only signal; input edges run from producer to consumer.
A picture wider than MAX_WIDTH is drawn scaled down to it (the viewBox keeps its own size).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from mesh_platform.cli.catalog.render import render

NODE_W, NODE_H, GAP, PAD, LABEL_H, GROUP_GAP, COLUMN_GAP, MARGIN, LEGEND_H = 210, 44, 10, 10, 20, 22, 80, 16, 34
MAX_WIDTH = 1300  # the page's content is at most 1400 px wide, its padding included
DETAIL_CHARS = 32  # what fits on a node's second line at 11 px
# Fill and stroke per state; unknown is also dashed.
STATE_PAINT = {
    "ok": ("#dcfce7", "#16a34a"), "warn": ("#fef3c7", "#d97706"),
    "fail": ("#fee2e2", "#dc2626"), "unknown": ("#f3f4f6", "#6b7280"),
}
LEGEND = (("ok", "ok"), ("warn", "warn"), ("fail", "fail"), ("unknown", "unknown: never published"))
LEGEND_W = 2 * MARGIN + sum(22 + 7 * len(label) + 18 for _, label in LEGEND)  # a mesh of one domain still shows the whole legend


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def depths(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the longest path of edges reaching it (0: reads nothing here). A cycle
    stops growing after as many rounds as there are nodes, so every node gets a column."""
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):
        changed = False
        for source, target in edges:
            if source in depth and target in depth and source != target and depth[target] < depth[source] + 1:
                depth[target] = depth[source] + 1
                changed = True
        if not changed:
            break
    return depth


def layout(products: dict[str, str], edges: list[tuple[str, str]]) -> tuple[dict[str, Box], dict[str, Box], float, float]:
    """Positions of domain boxes and product nodes. `products`: product id -> domain; `edges`:
    (producer, consumer) pairs. Returns (domain boxes, node boxes, width, height)."""
    domains = sorted(set(products.values()))
    domain_edges = sorted({(products[s], products[t]) for s, t in edges if s in products and t in products and products[s] != products[t]})
    domain_column = depths(domains, domain_edges)
    within = depths(sorted(products), [(s, t) for s, t in edges if s in products and t in products and products[s] == products[t]])
    columns: dict[int, list[str]] = {}
    for domain in domains:
        columns.setdefault(domain_column[domain], []).append(domain)
    group_w = NODE_W + 2 * PAD
    groups: dict[str, Box] = {}
    nodes: dict[str, Box] = {}
    bottom = 0.0
    for column, names in sorted(columns.items()):
        x, y = MARGIN + column * (group_w + COLUMN_GAP), MARGIN + LEGEND_H
        for domain in names:
            members = sorted((p for p, d in products.items() if d == domain), key=lambda p: (within[p], p))
            h = LABEL_H + len(members) * (NODE_H + GAP) - GAP + 2 * PAD
            groups[domain] = Box(x, y, group_w, h)
            for i, product_id in enumerate(members):
                nodes[product_id] = Box(x + PAD, y + LABEL_H + PAD + i * (NODE_H + GAP), NODE_W, NODE_H)
            y += h + GROUP_GAP
        bottom = max(bottom, y - GROUP_GAP)
    width = MARGIN * 2 + (max(columns, default=0) + 1) * group_w + max(columns, default=0) * COLUMN_GAP
    return groups, nodes, max(width, LEGEND_W), bottom + MARGIN


def edge_path(source: Box, target: Box) -> str:
    """A curve from the producer's right side to the consumer's left side; between nodes of one
    column, a loop out to the right and back, so the edge never crosses its own column's nodes."""
    y1, y2 = source.y + source.h / 2, target.y + target.h / 2
    if target.x > source.x:
        x1, x2 = source.x + source.w, target.x
        bend = max((x2 - x1) / 2, 30)
        return f"M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}"
    x = source.x + source.w
    out = x + PAD + 14 if target.x == source.x else x + 40
    return f"M {x:.0f} {y1:.0f} C {out:.0f} {y1:.0f}, {out:.0f} {y2:.0f}, {target.x + target.w:.0f} {y2:.0f}"


def short(text: str, limit: int = DETAIL_CHARS) -> str:
    """A reason cut to fit a node's second line (the node's tooltip has it whole)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def health_svg(health, colours: dict[str, tuple[str, str]], link: bool) -> Markup:
    """The picture of `health` (a MeshHealth); nodes link to product pages when `link`."""
    products = {p.id: p.entry.product.domain for p in health.products}
    edges = sorted({(i.id, p.id) for p in health.products for i in p.entry.product.inputs if i.id in products})
    groups, boxes, width, height = layout(products, edges)
    states = {d.name: d.state for d in health.domains}
    group_rows = [{"domain": d, "state": states.get(d, "unknown"), "box": b, "stroke": colours.get(d, ("#f3f4f6", "#4b5563"))[1]}
                  for d, b in sorted(groups.items())]
    node_rows = []
    for product in health.products:
        fill, stroke = STATE_PAINT[product.state]
        reasons = [f.text for f in product.findings]
        detail = product.state.upper() + (f" · {reasons[0]}" if reasons else "")
        node_rows.append({"id": product.id, "name": product.entry.product.name, "state": product.state, "box": boxes[product.id],
                          "fill": fill, "stroke": stroke, "detail": short(detail), "title": "; ".join([product.id, product.state, *reasons])})
    edge_rows = [{"source": s, "target": t, "d": edge_path(boxes[s], boxes[t])} for s, t in edges]
    legend, x = [], float(MARGIN)
    for state, label in LEGEND:
        legend.append({"state": state, "label": label, "x": x, "fill": STATE_PAINT[state][0], "stroke": STATE_PAINT[state][1]})
        x += 22 + 7 * len(label) + 18  # swatch, its words at about 7 px a character, a gap
    shown = min(width, MAX_WIDTH)
    return Markup(render("health.svg", width=width, height=height, shown_w=shown, shown_h=height * shown / width, legend=legend,
                         groups=group_rows, edges=edge_rows, nodes=node_rows, link=link, node_w=NODE_W, node_h=NODE_H, label_y=LEGEND_H / 2))
