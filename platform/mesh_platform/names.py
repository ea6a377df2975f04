"""Names in the mesh are snake_case identifiers: safe in paths, DuckDB and Dagster keys alike."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_SHOWN = 80  # a hostile 10,000-character name is echoed this far in errors, not in full


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def shown(value: object) -> str:
    """`value` as an error message quotes it: ASCII only (a Cyrillic 'і' or a fullwidth letter
    shows as its escape, not as its Latin look-alike), control characters escaped, long text cut."""
    text = ascii(value)
    if isinstance(value, str) and len(text) > _SHOWN:
        return f"{text[:_SHOWN]}... ({len(value)} characters)"
    return text


def _why_not(name: object) -> str:
    if not isinstance(name, str):
        return f"{type(name).__name__} is not text"
    if not name:
        return "it is empty"
    if len(name) > 63:
        return f"it has {len(name)} characters"
    for position, char in enumerate(name):
        if char not in _NAME_CHARS:
            return f"character {ascii(char)} at position {position} is not allowed"
    return f"it starts with {name[0]!r}"


def check_name(name: object, what: str) -> str:
    """Return `name` if it is a valid mesh name, else raise ValueError saying what was expected."""
    if not is_valid_name(name):
        raise ValueError(
            f"{what} {shown(name)} is not a valid name ({_why_not(name)}): expected snake_case "
            "(a lowercase letter, then lowercase letters, digits or '_', at most 63 characters)"
        )
    return name  # type: ignore[return-value]


def product_id(domain: str, product: str) -> str:
    """The address users type: `domain.product`."""
    return f"{domain}.{product}"


def parse_product_id(text: str) -> tuple[str, str]:
    """`"weather.hourly_observations"` -> `("weather", "hourly_observations")`."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(is_valid_name(p) for p in parts):
        raise ValueError(f"{shown(text)} is not a product address: expected 'domain.product' in snake_case")
    return parts[0], parts[1]
