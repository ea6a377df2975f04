"""The catalog site's Jinja2 environment: templates shipped in `templates/`, autoescape on.

Every value a template prints is escaped; only what a template itself builds (a macro's output,
the lineage SVG) is trusted markup. Values are escaped with the standard library's
`html.escape`, as the pages always were (`&quot;`, `&#x27;`; markupsafe would write `&#34;`,
`&#39;`: the same to a browser, but the pages stay as they were, byte for byte).
"""

from __future__ import annotations

import html
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from mesh_platform.cli.catalog.entries import format_window


def _escaped(value) -> Markup:
    """Every printed value, escaped once (markup a template built passes through as it is)."""
    return value if hasattr(value, "__html__") else Markup(html.escape(str(value)))


def page_name(product_id: str) -> str:
    """The file of a product's page in the site (product ids are checked snake_case names)."""
    return f"{product_id}.html"


def one_line(value) -> str:
    """Free text on one line (descriptions may be wrapped YAML); nothing for no value."""
    return " ".join(str(value).split()) if value not in (None, "") else ""


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mesh_platform.cli.catalog", "templates"),
        autoescape=True,
        finalize=_escaped,
        undefined=StrictUndefined,  # a misspelt field fails the page, never renders as nothing
        trim_blocks=True,  # a line holding only a {% tag %} leaves no empty line behind
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        one_line=one_line,
        page=page_name,
        px=lambda number: f"{number:.0f}",
        window=lambda window: format_window(window) or "",
    )
    return env


def render(template: str, **values) -> str:
    return environment().get_template(template).render(**values)
