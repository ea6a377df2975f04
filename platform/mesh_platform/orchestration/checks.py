"""Contract rules as Dagster asset checks: one check per rule, blocking when its severity is error."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from mesh_platform.model.errors import PublishError
from mesh_platform.model.rules import Rule
from mesh_platform.runtime.quality.engine import RuleResult, blocking_failures, describe_failures, result_metadata


class ContractViolation(PublishError):
    """A batch broke a blocking rule: it was not published; the port keeps its previous version."""

    def __init__(self, label: str, failures: list[RuleResult]):
        self.failures = failures
        super().__init__(
            f"{label} was not published: {len(failures)} blocking rule(s) failed: {describe_failures(failures)}. "
            "The port keeps its previous version."
        )


def check_specs(key: dg.AssetKey, rules: Iterable[Rule]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            rule.name, asset=key, description=f"{rule.description} ({'blocks publish' if rule.blocking else 'warns'})",
            blocking=rule.blocking,
        )
        for rule in rules
    ]


def check_results(key: dg.AssetKey, results: Iterable[RuleResult]) -> list[dg.AssetCheckResult]:
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


def violation(label: str, results: list[RuleResult]) -> ContractViolation | None:
    failures = blocking_failures(results)
    return ContractViolation(label, failures) if failures else None
