"""mesh_platform: the self-serve platform of the data mesh.

Domains use three names from here: `product`, to mark a Python function as a data product,
`domain_definitions`, to turn their folder into a Dagster code location, and `policy`, to add a
governance policy of their own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesh_platform.model.policies import policy
    from mesh_platform.model.product import product
    from mesh_platform.orchestration.definitions import domain_definitions

__all__ = ["domain_definitions", "policy", "product"]

# Imported on first use: the `mesh` CLI imports this package, and most of its commands never
# need Dagster (about 2.5 s of imports per command otherwise).
_HOMES = {"domain_definitions": ".orchestration.definitions", "policy": ".model.policies", "product": ".model.product"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value
