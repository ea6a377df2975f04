"""Names in the mesh are snake_case identifiers: safe in paths, DuckDB and Dagster keys alike."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_SHOWN = 80  # a hostile 10,000-character name is echoed this far in errors, not in full


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def _escaped(char: str) -> bool:
    """Whether an error message shows `char` as its escape rather than as typed.

    Printable text is shown as typed (`'Ünïcode'`), so a user recognises what they wrote. Escaped:
    control and format characters (a newline, a zero-width space, a right-to-left override: they
    hide or reorder text), combining marks (they stack onto the quotes around the name) and
    right-to-left letters (they reorder the rest of the line). A look-alike letter (Cyrillic 'і',
    fullwidth 'ｆ') is shown as typed, but a refusal never ends there: `_why_not` names its code
    point and Unicode name, and an accepted name is ASCII snake_case, so nothing that looks like a
    valid name can pass as one."""
    if char.isascii():
        return not char.isprintable()
    if not char.isprintable() or unicodedata.category(char).startswith("M"):
        return True
    return unicodedata.bidirectional(char) in ("R", "AL", "AN")


def shown(value: object) -> str:
    """`value` as an error message quotes it: printable text as typed, characters that would hide
    or reorder text escaped (see `_escaped`), long text cut."""
    if not isinstance(value, str):
        return ascii(value)
    text = "".join(ascii(c)[1:-1] if not c.isascii() and _escaped(c) else c for c in repr(value[:_SHOWN]))
    if len(value) > _SHOWN or len(text) > _SHOWN + 2:  # +2: the quotes
        return f"{text[:_SHOWN]}... ({len(value)} characters)"
    return text


def _character(char: str) -> str:
    """A refused character with its code point when it is not ASCII: 'і' (U+0456 CYRILLIC ...)."""
    if char.isascii():
        return ascii(char)
    return f"{shown(char)} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')})"


def _why_not(name: object) -> str:
    if not isinstance(name, str):
        return f"{type(name).__name__} is not text"
    if not name:
        return "it is empty"
    if len(name) > 63:
        return f"it has {len(name)} characters"
    for position, char in enumerate(name):
        if char not in _NAME_CHARS:
            return f"character {_character(char)} at position {position} is not allowed"
    return f"it starts with {name[0]!r}"


def check_name(name: object, what: str) -> str:
    """Return `name` if it is a valid mesh name, else raise ValueError saying what was expected."""
    if not is_valid_name(name):
        raise ValueError(
            f"{what} {shown(name)} is not a valid name ({_why_not(name)}): expected snake_case "
            "(a lowercase letter, then lowercase letters, digits or '_', at most 63 characters)"
        )
    return name  # type: ignore[return-value]


# The project's own top-level folders and packages: a domain of that name would shadow them.
PROJECT_MODULES = frozenset({"platform", "mesh_platform", "domains", "shared_assets", "dbt_projects", "tests"})


@functools.cache
def _installed_modules() -> frozenset[str]:
    import pkgutil

    return frozenset(module.name for module in pkgutil.iter_modules())


@functools.cache
def sql_reserved_words() -> frozenset[str]:
    """DuckDB's own reserved words: a view of that name must be quoted in every query."""
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()
    return frozenset(row[0] for row in rows)


def module_shadowed(name: str) -> str | None:
    """What importable module `name` would shadow, said in words, or None."""
    if name in PROJECT_MODULES:
        return f"the project's own {name!r}"
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return f"the Python standard library module {name!r}"
    if name in _installed_modules():
        return f"the installed module {name!r}"
    return None


def reserved_problem(name: str, modules: bool = True) -> str | None:
    """Why a valid mesh name is still a poor domain or product name, or None.

    Reserved SQL words would have to be quoted in every `mesh sql` query. `modules`: a domain is
    a code location and a package; a name that is already importable shadows that module."""
    if name in sql_reserved_words():
        return f"it is a reserved word of DuckDB's SQL (`mesh sql` would need it quoted everywhere)"
    shadowed = module_shadowed(name) if modules else None
    if shadowed:
        return f"it would shadow {shadowed}"
    return None


def suggested_names(name: str, kind: str, modules: bool = True) -> list[str]:
    """Names close to a refused one that are free: `select` -> `select_domain`, `selects`."""
    candidates = [f"{name}_{kind}", f"{name}s", f"{name}_data"]
    return [c for c in candidates if is_valid_name(c) and reserved_problem(c, modules) is None][:2]


def product_id(domain: str, product: str) -> str:
    """The address users type: `domain.product`."""
    return f"{domain}.{product}"


def parse_product_id(text: str) -> tuple[str, str]:
    """`"weather.hourly_observations"` -> `("weather", "hourly_observations")`."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(is_valid_name(p) for p in parts):
        raise ValueError(f"{shown(text)} is not a product address: expected 'domain.product' in snake_case")
    return parts[0], parts[1]
