"""`mesh catalog --html DIR`: a static, self-contained site of the mesh's products.

`index.html` lists every product with a search box; each product has its own page
(`<domain>.<product>.html`) with its schema, rules, SLAs, owners, access, port state and an SVG
of its lineage across domains. Everything from descriptors and contracts is HTML-escaped: the
names are checked by the platform, but descriptions are free text.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

from ..errors import MeshError
from ..mesh import Mesh
from .entries import CatalogEntry, format_window
from .svg import domain_colours, lineage_svg, page_name
from .templates import INDEX_BODY, INDEX_ROW, PAGE, PRODUCT_BODY, SCRIPT, STYLE


def _text(value) -> str:
    """Free text, escaped and on one line."""
    return escape(" ".join(str(value).split())) if value not in (None, "") else ""


def _badge(value: str) -> str:
    return f'<span class="badge b-{escape(value.lower().replace(" ", "-"))}">{escape(value)}</span>'


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "never published"


def _rows(entry: CatalogEntry) -> str:
    return f"{entry.port.rows:,}" if entry.port.rows is not None else ""


def _link(product_id: str, known: set[str]) -> str:
    label = f"<code>{escape(product_id)}</code>"
    address = product_id.split("@")[0]
    return f'<a href="{escape(page_name(address))}">{label}</a>' if address in known else label


def _search_text(entry: CatalogEntry) -> str:
    p = entry.product
    words = [p.id, p.domain, p.name, p.kind, p.descriptor.description, p.owner.team, p.owner.contact, p.descriptor.access]
    words += list(p.descriptor.tags)
    if not entry.problem:
        words += p.contract.column_names
    return " ".join(" ".join(words).lower().split())


def _page(title: str, subtitle: str, body: str, script: str = "") -> str:
    return PAGE.substitute(
        title=escape(title), subtitle=escape(subtitle), style=STYLE, body=body,
        script=f"<script>{script}</script>" if script else "",
    )


def render_index(entries: list[CatalogEntry], colours: dict, generated: str) -> str:
    rows = []
    for entry in entries:
        p = entry.product
        rows.append(INDEX_ROW.substitute(
            id=escape(p.id), search=escape(_search_text(entry)), href=escape(page_name(p.id)),
            description=_text(p.descriptor.description), colour=colours[p.domain][1], domain=escape(p.domain),
            kind=escape(p.kind), owner=escape(p.owner.team), access=_badge(p.descriptor.access),
            version=escape(p.contract.version) if not entry.problem else "",
            last_publish=escape(_when(entry.port.last_publish)), rows=_rows(entry),
            freshness=_badge(entry.freshness), checks=_badge(entry.checks.summary()),
        ))
    domains = len({e.product.domain for e in entries})
    body = INDEX_BODY.substitute(total=len(entries), rows="\n".join(rows))
    return _page("Mesh catalog", f"{len(entries)} products in {domains} domains · generated {generated}", body, SCRIPT)


def _cards(entry: CatalogEntry) -> str:
    p, port = entry.product, entry.port
    sla = format_window(entry.freshness_window)
    cards = [
        ("domain", escape(p.domain)), ("kind", escape(p.kind)),
        ("owner", f"{escape(p.owner.team)}<br><a href=\"mailto:{escape(p.owner.contact)}\">{escape(p.owner.contact)}</a>"),
        ("contract version", escape(p.contract.version) if not entry.problem else ""),
        ("last publish", escape(_when(port.last_publish))),
        ("rows", _rows(entry) or "—"),
        ("Delta version", escape(str(port.delta_version)) if port.delta_version is not None else "—"),
        ("freshness", _badge(entry.freshness) + (f" <span class=\"row-desc\">SLA {escape(sla)}</span>" if sla else "")),
        ("checks", _badge(entry.checks.summary())),
        ("tags", ", ".join(escape(t) for t in p.descriptor.tags) or "—"),
    ]
    if p.descriptor.partitioning:
        part = p.descriptor.partitioning
        cards.append(("partitions", f"{escape(part.granularity)}ly on <code>{escape(part.column)}</code>"))
    schedule = getattr(p.descriptor, "schedule", None)  # when publishing is scheduled (source-aligned products)
    if schedule is not None:
        cards.append(("schedule", f"<code>{escape(str(schedule.cron))}</code> {escape(str(schedule.timezone))}"))
    if port.published_contract_version and not entry.problem and port.published_contract_version != p.contract.version:
        cards.append(("published with contract", escape(port.published_contract_version)))
    cards.append(("port", f'<code style="word-break:break-all">{escape(port.uri)}</code>'))
    return "\n".join(f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div></div>' for k, v in cards)


def _table_rows(rows: list[list[str]], columns: int, empty: str) -> str:
    if not rows:
        return f'<tr><td colspan="{columns}" class="row-desc">{escape(empty)}</td></tr>'
    return "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)


def _about(entry: CatalogEntry) -> str:
    """The contract's own words: purpose, usage, limitations."""
    described = None if entry.problem else entry.product.contract.odcs.description
    if described is None or isinstance(described, str):
        return f'<dl class="about"><dt>purpose</dt><dd>{_text(described)}</dd></dl>' if described else ""
    parts = [(k, getattr(described, k, None)) for k in ("purpose", "usage", "limitations")]
    rows = "".join(f"<dt>{k}</dt><dd>{_text(v)}</dd>" for k, v in parts if v)
    return f'<dl class="about">{rows}</dl>' if rows else ""


def render_product(entry: CatalogEntry, mesh: Mesh, colours: dict, known: set[str], generated: str) -> str:
    from ..quality.rules import rules_for

    p, d = entry.product, entry.product.descriptor
    columns, rules, slas = [], [], []
    problem = f'<p class="problem">{_text(entry.problem)}</p>' if entry.problem else ""
    if not entry.problem:
        contract = p.contract
        for c in contract.columns:
            columns.append([
                f"<code>{escape(c.name)}</code>", f"<code>{escape(c.sql_type)}</code>",
                "yes" if c.required else "", "yes" if (c.unique or c.primary_key) else "",
                _text(c.description), _badge(c.classification) if c.classification else "",
                escape(c.masking or ("redact" if c.is_personal else "")),
                ", ".join(_link(".".join(r.split(".")[:2]), known) + escape("." + r.split(".", 2)[-1]) for r in c.references),
            ])
        try:
            for rule in rules_for(contract):
                result = entry.checks.results.get(rule.name)
                rules.append([f"<code>{escape(rule.name)}</code>", _text(rule.description), escape(rule.severity),
                              _badge(result) if result else ""])
        except MeshError as exc:
            problem += f'<p class="problem">{_text(exc)}</p>'
        for level in contract.service_levels:
            slas.append([escape(level.property), escape(format_window(level.window) or ""),
                         f"<code>{escape(level.element)}</code>" if level.element else "", _text(level.description)])
    readers = {
        "public": "every domain",
        "internal": "the owner and: " + ", ".join(escape(r) for r in d.readers),
        "restricted": "the owner only",
    }[d.access]
    personal = ", ".join(escape(r) for r in d.personal_data_readers) or "none besides the owner"
    access = [
        ["owner team", escape(p.owner.team)], ["contact", escape(p.owner.contact)],
        ["access", _badge(d.access)], ["who may read", readers],
        ["personal data unmasked for", personal if (not entry.problem and p.contract.personal_columns) else "no personal columns"],
    ]
    body = PRODUCT_BODY.substitute(
        id=escape(p.id), access_badge=_badge(d.access), description=_text(d.description), about=_about(entry), problem=problem,
        cards=_cards(entry), svg=lineage_svg(mesh, p, colours),
        inputs=", ".join(_link(i.id + (f"@v{i.major}" if i.major is not None else ""), known) for i in p.inputs) or "none",
        consumers=", ".join(_link(c, known) for c in entry.consumers) or "none",
        columns=_table_rows(columns, 8, "no columns (the contract does not load)"),
        rules=_table_rows(rules, 4, "no rules"),
        slas=_table_rows(slas, 4, "no service levels declared"),
        access="\n".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in access),
    )
    return _page(f"{p.id} · Mesh catalog", f"{p.domain} · {p.kind} · generated {generated}", body)


def write_site(directory: Path, entries: list[CatalogEntry], mesh: Mesh) -> list[Path]:
    """Write the site into `directory` (created if needed); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    colours = domain_colours(list(mesh.domains))
    known = {e.id for e in entries}
    written = [directory / "index.html"]
    written[0].write_text(render_index(entries, colours, generated), encoding="utf-8")
    for entry in entries:
        path = directory / page_name(entry.id)
        path.write_text(render_product(entry, mesh, colours, known, generated), encoding="utf-8")
        written.append(path)
    return written
