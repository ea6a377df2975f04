"""Quality: the rules a contract implies, evaluated as set-based SQL before a batch is published."""

from mesh_platform.model.rules import Rule, rules_for
from mesh_platform.runtime.quality.engine import RuleResult, audit

__all__ = ["Rule", "RuleResult", "audit", "rules_for"]
