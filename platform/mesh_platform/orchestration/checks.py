"""Contract rules as Dagster asset checks: one check per rule, blocking when its severity is error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import dagster as dg

from mesh_platform.model.rules import Rule

if TYPE_CHECKING:
    from mesh_platform.runtime.quality.engine import RuleResult


def check_specs(key: dg.AssetKey, rules: Iterable[Rule]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            rule.name, asset=key, description=f"{rule.description} ({'blocks publish' if rule.blocking else 'warns'})",
            blocking=rule.blocking,
        )
        for rule in rules
    ]


def check_results(key: dg.AssetKey, results: Iterable[RuleResult]) -> list[dg.AssetCheckResult]:
    from mesh_platform.runtime.quality.engine import result_metadata  # reason: the rule engine (duckdb) loads when a check runs, not at location load

    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=r.rule.name,
            passed=r.passed,
            severity=dg.AssetCheckSeverity.ERROR if r.rule.blocking else dg.AssetCheckSeverity.WARN,
            metadata=result_metadata(r),
            description=None if r.passed else r.summary(),
        )
        for r in results
    ]

