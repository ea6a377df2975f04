"""Federated computational governance: policies as code, access control and masking.

Domains use `policy` to declare a policy of their own (see docs/governance.md)."""

from .policies import Policy, policy

__all__ = ["Policy", "policy"]
