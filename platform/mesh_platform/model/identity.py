"""Who reads a port: an identity the platform binds from what executes the read.

Product code never names its reader. The platform derives it, in one of four ways:

- a product's step: the domain of the asset the step materializes (`step_reader`), so a code
  location reads as its own domain whatever its resources are configured with;
- a domain's dbt run, or the audit of a domain's batch: the domain the platform runs it for;
- an operator's `mesh sql --as DOMAIN`: an impersonation, said so and recorded;
- a session without `--as`: public products only.

`plan_read` takes a `Reader`, never a string, so the read path has no argument through which a
caller claims to be another domain. On one machine this is a seam, not a wall: Python code with
file access can still open files; docs/security.md says what the storage-level boundary adds.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from mesh_platform.model.errors import MeshError
from mesh_platform.model.names import check_name

PUBLIC = "(public)"  # the reader name of a session opened without a domain: public products only
_HOW = ("step", "dbt", "audit", "operator", "public")


@dataclass(frozen=True)
class Reader:
    domain: str | None  # None: no domain at all (public products only)
    how: str  # one of _HOW: what the platform bound the identity from
    operator: str | None = None  # the OS user behind an impersonation

    def __post_init__(self) -> None:
        if self.how not in _HOW:
            raise ValueError(f"unknown way of binding a reader: {self.how!r}")
        if (self.domain is None) != (self.how == "public"):
            raise ValueError("a public reader has no domain, and every other reader has one")
        if self.domain is not None:
            check_name(self.domain, "reader domain")

    @property
    def name(self) -> str:
        """The domain the access policy is applied to (PUBLIC for a session without one)."""
        return self.domain if self.domain is not None else PUBLIC

    def __str__(self) -> str:
        if self.how == "operator":
            return f"operator {self.operator!r} acting as domain {self.domain!r}"
        return "a session without a domain" if self.domain is None else f"domain {self.domain!r}"


def os_user() -> str:
    """Who is at this terminal, as the operating system says."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def domain_reader(domain: str, how: str = "dbt") -> Reader:
    """The domain a platform-run job reads for: its dbt run, or the audit of its batch."""
    return Reader(domain, how)


def operator_reader(domain: str | None) -> Reader:
    """`mesh sql --as DOMAIN`: the operator at this terminal, impersonating a domain."""
    if domain is None:
        return Reader(None, "public")
    return Reader(domain, "operator", operator=os_user())


def require_reader(reader: object) -> Reader:
    if not isinstance(reader, Reader):
        raise MeshError(
            f"the reader of a port is bound by the platform, not passed as {type(reader).__name__} {reader!r}: "
            "declare the product as an input port and take it as a parameter"
        )
    return reader


def step_reader(context, bound_domain: str) -> Reader:
    """The domain of the product whose step is reading: the step's own asset keys decide, not the
    IO manager's configuration (run config can set a resource's fields)."""
    step = context.step_context
    assets = step.job_def.asset_layer.get_assets_def_for_node(step.node_handle)
    domains = {key.path[0] for key in assets.keys} if assets is not None else set()
    if domains != {bound_domain}:
        found = ", ".join(sorted(domains)) or "no product"
        raise MeshError(
            f"step {step.step.key!r} of the code location of domain {bound_domain!r} materializes {found}: "
            "a step reads ports only as the domain whose products it builds"
        )
    return Reader(bound_domain, "step")
