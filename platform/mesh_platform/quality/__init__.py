"""Quality: the rules a contract implies, evaluated as set-based SQL before a batch is published."""

from .engine import RuleResult, audit
from .rules import Rule, rules_for

__all__ = ["Rule", "RuleResult", "audit", "rules_for"]
