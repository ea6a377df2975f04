"""Names in the mesh are snake_case identifiers: safe in paths, DuckDB and Dagster keys alike."""

from __future__ import annotations

import re
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


def product_id(domain: str, product: str) -> str:
    """The address users type: `domain.product`."""
    return f"{domain}.{product}"


def parse_product_id(text: str) -> tuple[str, str]:
    """`"weather.hourly_observations"` -> `("weather", "hourly_observations")`."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(is_valid_name(p) for p in parts):
        raise ValueError(f"{shown(text)} is not a product address: expected 'domain.product' in snake_case")
    return parts[0], parts[1]
