"""Names in the mesh are snake_case identifiers: safe in paths, DuckDB and Dagster keys alike."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def check_name(name: object, what: str) -> str:
    """Return `name` if it is a valid mesh name, else raise ValueError saying what was expected."""
    if not is_valid_name(name):
        raise ValueError(
            f"{what} {name!r} is not a valid name: expected snake_case "
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
        raise ValueError(f"{text!r} is not a product address: expected 'domain.product' in snake_case")
    return parts[0], parts[1]
