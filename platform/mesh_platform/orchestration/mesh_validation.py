"""`mesh validate`'s whole-mesh report: every location of the workspace loaded as Dagster would,
with what fails and why, and each location's policy verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh, workspace_locations
from mesh_platform.model.policies import PolicyContext, PolicyViolation, combine, evaluate
from mesh_platform.model.workspaces import missing_locations
from mesh_platform.orchestration.build import load_location
from mesh_platform.orchestration.dbt.generated import stale_files
from mesh_platform.orchestration.definitions import POLICY_REPORT_KEY
from mesh_platform.runtime.git_base import GitBase
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES

# The policies `--base` evaluates again against the contracts at the ref.
BASE_POLICIES = ("contract-version", "consumer-impact")


@dataclass
class DomainReport:
    domain: str
    ok: bool
    products: list[str]
    error: str | None = None
    policies: list[dict] = field(default_factory=list)  # one finding per (product, policy)
    notes: list[str] = field(default_factory=list)  # what needs attention without failing the domain


def _findings(root: Path, mesh: Mesh, domain, defs=None, error: Exception | None = None) -> list[dict]:
    """The location's policy verdict; when it failed to load for another reason, the global
    policies are still evaluated from its descriptors so the report stays complete."""
    if isinstance(error, PolicyViolation):
        report = error.report
    elif defs is not None and POLICY_REPORT_KEY in (defs.metadata or {}):
        return list(defs.metadata[POLICY_REPORT_KEY].data)
    elif domain is not None:
        report = evaluate(domain.products.values(), PolicyContext(mesh), combine(GLOBAL_POLICIES, (), domain.name))
    else:
        return []
    return [f.as_dict() for f in report.findings]


def validate_mesh(root: Path, base: str | None = None) -> list[DomainReport]:
    """Load every location of the workspace as Dagster would, and say what fails and why.
    One broken domain never stops the others from being checked. With `base` (a git ref), the
    versioning policies also compare every contract with its version at that ref."""
    at_base = GitBase(root, base) if base is not None else None  # a bad ref is refused before any work
    mesh = Mesh.load(root)
    reports = []
    for name, module in workspace_locations(root).items():
        domain = mesh.domains.get(name)
        products = sorted(domain.products) if domain else []
        notes = _stale_generated_yml(root, domain)  # before loading: the load rewrites them
        try:
            if domain is None:
                folder = root.joinpath(*module.split(".")[:-1]).resolve()
                raise mesh.broken.get(folder) or MeshError(f"location {name!r} has no domain.yaml the platform can read")
            defs = load_location(root, module)
        except Exception as exc:  # every failure becomes one line of the report
            text = " ".join(str(exc).split()) if isinstance(exc, MeshError) else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            reports.append(DomainReport(name, False, products, text, _findings(root, mesh, domain, error=exc), notes))
        else:
            reports.append(DomainReport(name, True, products, policies=_findings(root, mesh, domain, defs=defs), notes=notes))
    if at_base is not None:
        _add_base_findings(mesh, at_base, reports)
    _report_missing_locations(root, reports)
    try:
        mesh.domain_order()
    except MeshError as exc:
        reports.append(DomainReport("(mesh)", False, [], str(exc)))
    return reports


def _add_base_findings(mesh: Mesh, at_base: GitBase, reports: list[DomainReport]) -> None:
    """The versioning policies against the contracts at the base ref, as findings of scope
    `base <ref>` beside the load-time ones (which compare with the published ports)."""
    context = PolicyContext(mesh, base=at_base)
    checks = [(p, "global") for p in GLOBAL_POLICIES if p.id in BASE_POLICIES]
    for report in reports:
        domain = mesh.domains.get(report.domain)
        if domain is None:
            continue
        found = evaluate(domain.products.values(), context, checks)
        report.policies += [{**f.as_dict(), "scope": f"base {at_base.ref}"} for f in found.findings]


def _stale_generated_yml(root: Path, domain) -> list[str]:
    """The generated dbt yml that did not match the contracts: checked in for standalone dbt runs,
    it is rewritten as the domain loads, and the rewrite is to be committed."""
    if domain is None or not domain.descriptor.dbt_project:
        return []
    project_dir = root / "dbt_projects" / domain.descriptor.dbt_project
    try:
        stale = stale_files(domain, project_dir, root)
    except MeshError:
        return []  # a broken contract: loading the location reports it, as the domain's error
    return [f"generated dbt yml out of date: {line}; the platform rewrites it as the domain loads: commit the result" for line in stale]


def _report_missing_locations(root: Path, reports: list[DomainReport]) -> None:
    """A domain folder workspace.yaml or the dg workspace leaves out fails validation: each tool
    would silently load the mesh without it."""
    by_domain = {r.domain: r for r in reports}
    for domain, line in missing_locations(root):
        report = by_domain.get(domain)
        if report is None:
            report = by_domain[domain] = DomainReport(domain, False, [], line)
            reports.append(report)
        else:
            report.ok, report.error = False, f"{report.error}; {line}" if report.error else line
