"""Writing the scaffold's files: YAML scalars, wrapped text and the Jinja2 templates in templates/.

The templates write Python, SQL and YAML, not HTML, so nothing is escaped by the engine: every
free-text value reaches a template through a filter that quotes it for its place (`yaml`,
`docstring`, `wrap`), and names are checked snake_case before they get there.
"""

from __future__ import annotations

import json
import textwrap
from functools import cache

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined


def scalar(value: object) -> str:
    """`value` as one YAML flow scalar: plain when that reads back the same, quoted otherwise."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=False, sort_keys=False).strip()
    return text.removesuffix("...").rstrip() if text.endswith("...") else text


flow = scalar  # a mapping or a list, in flow style: `{minimum: 1}`


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def wrap(text: str, prefix: str = "", width: int = 100) -> list[str]:
    """`text` as lines of at most `width` characters, each starting with `prefix`."""
    return textwrap.wrap(one_line(text), width=width, initial_indent=prefix, subsequent_indent=prefix,
                         break_long_words=False, break_on_hyphens=False) or [prefix.rstrip()]


def docstring(text: str) -> str:
    """Free text inside a module's triple-quoted docstring: backslashes and quotes cannot end it."""
    return "\n".join(wrap(text.replace("\\", "\\\\").replace('"', '\\"'), width=96))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mesh_platform.cli.scaffold", "templates"),
        autoescape=False,  # Python, SQL and YAML: values are quoted by the filters below
        undefined=StrictUndefined,  # a missing value fails the command, never writes an empty slot
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        yaml=scalar, docstring=docstring, wrap=lambda text, prefix="": "\n".join(wrap(text, prefix)),
        string_literal=json.dumps,  # a Python string literal as the demo code writes them: "origin"
    )
    return env


def render(template: str, **values) -> str:
    return _environment().get_template(template).render(**values)
