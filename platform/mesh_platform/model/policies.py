"""Policies as code: global rules every product obeys, and rules a domain adds for itself.

A policy is a small function with an id, a description and a severity (`error` blocks, `warning`
reports). It looks at a product's declarations (descriptor, contract, the mesh around it) and
yields one message per violation. A policy may also contribute audit rules: checks on the data
itself, evaluated with the contract's rules before each publish.

Policies run when a code location loads (an error keeps the domain from deploying, with the
reason), in `mesh validate` over the whole mesh, and — through their audit rules — at run time.
Global policies live in `global_policies.py`; a domain passes its own to `domain_definitions`,
and they only ever add: a local policy may not reuse, replace or switch off a global one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mesh_platform.model.contracts import Contract
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import is_valid_name
from mesh_platform.model.rules import Rule, rules_for

Severity = Literal["error", "warning"]
SEVERITIES = ("error", "warning")


class PolicyError(MeshError):
    """A policy is malformed, or a domain tried to weaken a global one."""


class PolicyViolation(MeshError):
    """Products violate error policies: their domain is not deployed."""

    def __init__(self, domain: str, report: "PolicyReport"):
        self.report = report
        lines = [f"  {f.product} violates [{f.policy}]: {m}" for f in report.errors() for m in f.messages]
        super().__init__(f"domain {domain!r} is not deployed: {len(report.errors())} error policy violations\n" + "\n".join(lines))


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may look at besides the product: the mesh, and the ports already published."""

    mesh: Mesh
    today: dt.date = field(default_factory=dt.date.today)
    # `mesh validate --base <ref>`: a product's contract at that git ref (None: not there), which
    # the versioning policies compare with instead of the published port's.
    base: Callable[[Product], Contract | None] | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    description: str
    severity: Severity
    check: Callable[[Product, PolicyContext], Iterable[str]]
    applies_to: Callable[[Product], bool] = lambda product: True
    # Run-time part: audit rules over the data, checked before every publish.
    audit_rules: Callable[[Product], list[Rule]] | None = None

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id or not all(is_valid_name(p) for p in self.id.split("-")):
            raise PolicyError(f"policy id {self.id!r}: expected lowercase words joined by '-', e.g. 'owner-contact'")
        if self.severity not in SEVERITIES:
            raise PolicyError(f"policy {self.id}: severity {self.severity!r}; expected one of {', '.join(SEVERITIES)}")
        if not (self.description or "").strip():
            raise PolicyError(f"policy {self.id}: a policy says what it requires in its description")


def policy(id: str, description: str, severity: Severity = "error", applies_to: Callable[[Product], bool] | None = None,
           audit_rules: Callable[[Product], list[Rule]] | None = None):
    """Declare a policy from its check: `@policy("id", "what it requires") def check(product, ctx): yield ...`."""

    def wrap(check: Callable[[Product, PolicyContext], Iterable[str]]) -> Policy:
        return Policy(id, description, severity, check, applies_to or (lambda product: True), audit_rules)

    return wrap


@dataclass(frozen=True)
class Finding:
    """One policy's verdict on one product."""

    policy: str
    product: str
    severity: Severity
    status: Literal["pass", "fail", "not evaluated"]
    messages: tuple[str, ...] = ()
    scope: str = "global"  # or the domain that added the policy

    def as_dict(self) -> dict:
        return {"policy": self.policy, "product": self.product, "severity": self.severity,
                "status": self.status, "messages": list(self.messages), "scope": self.scope}


@dataclass
class PolicyReport:
    findings: list[Finding] = field(default_factory=list)

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail" and f.severity == "error"]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail" and f.severity == "warning"]

    def for_product(self, product_id: str) -> list[Finding]:
        return [f for f in self.findings if f.product == product_id]

    def to_json(self) -> str:
        return json.dumps([f.as_dict() for f in self.findings])

    @classmethod
    def from_json(cls, text: str) -> "PolicyReport":
        return cls([Finding(**{**d, "messages": tuple(d["messages"])}) for d in json.loads(text)])


def combine(global_policies: Sequence[Policy], local: Sequence[Policy], domain: str) -> list[tuple[Policy, str]]:
    """Global policies first, then the domain's — refused if one tries to stand in for a global."""
    global_ids = {p.id for p in global_policies}
    seen: set[str] = set()
    for index, extra in enumerate(local):
        if not isinstance(extra, Policy):
            raise PolicyError(f"domain {domain!r}: policies[{index}] is {extra!r}, not a Policy; a domain can only add policies (declare them with @policy)")
        if extra.id in global_ids:
            raise PolicyError(
                f"domain {domain!r}: policy {extra.id!r} is a global policy; a domain may add policies "
                "but never replace, weaken or switch off a global one (pick another id)"
            )
        if extra.id in seen:
            raise PolicyError(f"domain {domain!r}: policy {extra.id!r} is declared twice")
        seen.add(extra.id)
    return [(p, "global") for p in global_policies] + [(p, domain) for p in local]


def evaluate(products: Iterable[Product], context: PolicyContext, policies: Sequence[tuple[Policy, str]]) -> PolicyReport:
    """Every applicable policy on every product. A check that cannot run because the product's
    own files are broken is `not evaluated` — the valid-contract policy reports why."""
    report = PolicyReport()
    for product in products:
        for item, scope in policies:
            if scope != "global" and scope != product.domain:
                continue
            try:
                if not item.applies_to(product):
                    continue
                messages = tuple(item.check(product, context))
            except MeshError as exc:
                report.findings.append(Finding(item.id, product.id, item.severity, "not evaluated", (" ".join(str(exc).split()),), scope))
                continue
            status = "fail" if messages else "pass"
            report.findings.append(Finding(item.id, product.id, item.severity, status, messages, scope))
    return report


def policy_audit_rules(product: Product, policies: Sequence[tuple[Policy, str]]) -> list[Rule]:
    """The run-time part of the policies that apply to `product`: rules over its data."""
    rules: list[Rule] = []
    for item, scope in policies:
        if item.audit_rules is not None and scope in ("global", product.domain) and item.applies_to(product):
            rules += item.audit_rules(product)
    return rules


def report_markdown(findings: Sequence[Finding]) -> str:
    """A product's policy results as the Dagster UI shows them."""
    icon = {"pass": "✅ pass", "fail": "❌ fail", "not evaluated": "⚠️ not evaluated"}
    rows = ["| policy | severity | scope | result | detail |", "|---|---|---|---|---|"]
    for f in findings:
        status = icon[f.status] if f.status != "fail" or f.severity == "error" else "⚠️ warning"
        detail = "; ".join(f.messages).replace("|", "\\|")
        rows.append(f"| {f.policy} | {f.severity} | {f.scope} | {status} | {detail} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Governance:
    """The policies governing one domain, and their verdict at load: what its assets carry."""

    policies: Sequence[tuple[Policy, str]]
    report: PolicyReport

    def audit_rules(self, product: Product) -> list[Rule]:
        """The contract's rules plus the policies' run-time rules: all checked before a publish."""
        return rules_for(product.contract) + policy_audit_rules(product, self.policies)
