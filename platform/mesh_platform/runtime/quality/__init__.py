"""Quality: the rules a contract implies, evaluated as set-based SQL before a batch is published."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mesh_platform.model.rules import Rule, rules_for

if TYPE_CHECKING:
    from mesh_platform.runtime.quality.engine import RuleResult, audit

__all__ = ["Rule", "RuleResult", "audit", "rules_for"]

# The engine (duckdb) is imported on first use: a code location loads quality.compile to build
# its dbt relations and must not pay for the engine (issue 12).
_ENGINE_NAMES = {"RuleResult", "audit"}


def __getattr__(name: str) -> Any:
    if name not in _ENGINE_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".engine", __name__), name)
    globals()[name] = value
    return value
