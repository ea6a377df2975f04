"""The mesh's health, gathered: each product's port and checks (the catalog's own collection),
its SLO checks and its domain's runs from the Dagster instance, judged by health_state.

Only reads. Stale reads are computed from the ports' commit times and the declared inputs: "reads
stale data" means a consumer was built from an input older than the input's latest publish (or a
stale input), which holds for every consumer, Python or dbt, whether or not its reads were recorded
(runtime/usage.py records who read which version; `mesh impact` shows them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.cli.catalog.entries import STALE, CatalogEntry, collect, format_window
from mesh_platform.cli.catalog.health_state import (
    DomainJudgement, Finding, InputFact, RunFact, SloFact, hours_text, check_findings, domain_of_run,
    failed_since, freshness_findings, judge_domain, run_findings, slo_findings, stale_read_findings, state_of, worst,
)
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.settings import dagster_home, instance_storage

# Runs are read newest first, a page at a time, until the window is covered and every domain has a
# latest run: the SLO and vacuum schedules add ~300 runs a day that belong to no publish, so a fixed
# count of newest runs would lose a domain's failed publish within two days. MAX_PAGES bounds a
# domain that never ran in a long history.
RUN_PAGE, MAX_PAGES = 500, 20


@dataclass
class ProductHealth:
    entry: CatalogEntry
    state: str
    findings: list[Finding]
    slos: list[SloFact]
    latest_run: RunFact | None

    @property
    def id(self) -> str:
        return self.entry.id

    def to_dict(self) -> dict:
        e, checks = self.entry, self.entry.checks
        return {
            "product": e.id, "domain": e.product.domain, "state": self.state, "reasons": [f.text for f in self.findings],
            "last_publish": e.port.last_publish.isoformat() if e.port.last_publish else None,
            "freshness": e.freshness, "freshness_sla": format_window(e.freshness_window),
            "checks": {"status": checks.status, "passed": checks.passed, "failed": checks.failed, "warned": checks.warned,
                       "failing": sorted(n for n, o in checks.results.items() if o in ("failed", "warned")), "run_id": checks.run_id},
            "slos": [{"check": s.check, "property": s.property, "passed": s.passed, "description": s.description} for s in self.slos],
            "latest_run": self.latest_run.to_dict() if self.latest_run else None,
            "inputs": sorted({i.id for i in e.product.inputs}), "consumers": e.consumers,
        }


@dataclass
class DomainHealth:
    name: str
    judgement: DomainJudgement
    latest_run: RunFact | None
    failed_runs: list[RunFact]
    products: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.judgement.state

    def to_dict(self) -> dict:
        return {
            "domain": self.name, "state": self.state, "reasons": [f.text for f in self.judgement.findings],
            "products": self.products, "latest_run": self.latest_run.to_dict() if self.latest_run else None,
            "failed_runs": [r.to_dict() for r in self.failed_runs],
        }


@dataclass
class MeshHealth:
    generated: dt.datetime
    window: dt.timedelta
    domains: list[DomainHealth]
    products: list[ProductHealth]

    @property
    def state(self) -> str:
        return worst(d.state for d in self.domains)

    def failing(self) -> list[str]:
        """The failing products, and each failing domain none of whose products fails (its own run)."""
        products = [p.id for p in self.products if p.state == "fail"]
        domains = [d.name for d in self.domains if d.state == "fail" and not set(d.products) & set(products)]
        return products + domains

    def to_dict(self) -> dict:
        return {
            "generated": self.generated.isoformat(), "state": self.state, "window_hours": self.window.total_seconds() / 3600,
            "stale_reads_from": "port commit times and declared inputs",
            "domains": [d.to_dict() for d in self.domains], "products": [p.to_dict() for p in self.products],
        }


def _has_history(root: Path) -> bool:
    """As the catalog decides: no instance config for SQLite means nothing was ever run here."""
    return not (instance_storage() == "sqlite" and not (dagster_home(root) / "dagster.yaml").is_file())


def instance_history(root: Path, mesh: Mesh, since: dt.datetime | None = None) -> tuple[dict[str, list[RunFact]], dict[str, list[SloFact]]]:
    """Each domain's runs (newest first, back to `since` at least) and each product's latest SLO
    evaluations (orchestration/slo_checks.py `slo_state`, read per check key: never lost behind newer
    evaluations of other checks)."""
    if not _has_history(root):
        return {}, {}
    import dagster as dg  # reason: Dagster (~2 s) loads only when there is run history to read

    from mesh_platform.orchestration.runs import instance_for  # reason: Dagster loads only when there is run history to read
    from mesh_platform.orchestration.slo_checks import latest_slo_evaluations  # reason: as above, beside its one use

    domains = sorted(mesh.domains)
    products = {p.key: p.id for p in mesh.products()}
    runs: dict[str, list[RunFact]] = {}
    slos: dict[str, list[SloFact]] = {}
    with instance_for(root) as instance:
        cursor = None
        for _ in range(MAX_PAGES):
            page = instance.get_run_records(limit=RUN_PAGE, cursor=cursor)
            for record in page:
                run = record.dagster_run
                keys = [tuple(k.path) for k in run.asset_selection or ()]
                domain = domain_of_run(run.job_name, {k[0] for k in keys if k in products}, domains)
                if domain is None:
                    continue
                targets = frozenset(products[k] for k in keys if k in products) or None
                ended = dt.datetime.fromtimestamp(record.end_time, dt.timezone.utc) if record.end_time else None
                runs.setdefault(domain, []).append(RunFact(run.run_id, run.job_name, run.status.value, ended, targets))
            if len(page) < RUN_PAGE:
                break
            cursor = page[-1].dagster_run.run_id
            covered = since is None or page[-1].create_timestamp < since
            if covered and all(d in runs for d in domains):
                break
        for product in mesh.products():
            found = [SloFact(s.check, s.passed, s.summary) for s in latest_slo_evaluations(instance, dg.AssetKey(list(product.key)))]
            if found:
                slos[product.id] = sorted(found, key=lambda f: f.check)
    return runs, slos


def _inputs(entry: CatalogEntry, by_id: dict[str, CatalogEntry]) -> list[InputFact]:
    facts = []
    for port in sorted({i.id for i in entry.product.inputs}):
        source = by_id.get(port)
        if source is not None:
            facts.append(InputFact(port, source.port.last_publish, source.freshness == STALE))
    return facts


def judge(entries: Iterable[CatalogEntry], runs: dict[str, list[RunFact]], slos: dict[str, list[SloFact]],
          now: dt.datetime, window: dt.timedelta) -> MeshHealth:
    """Every product and domain judged from gathered facts (pure: the tests feed it directly)."""
    entries = list(entries)
    by_id = {e.id: e for e in entries}
    since, window_text = now - window, hours_text(window)
    products = []
    for entry in entries:
        domain_runs = runs.get(entry.product.domain, [])
        findings: list[Finding] = []
        if entry.problem:
            findings.append(Finding("fail", f"contract does not load: {entry.problem}"))
        if entry.port.error:
            findings.append(Finding("fail", f"port unreadable: {entry.port.error}"))
        findings += freshness_findings(entry.freshness, entry.port.last_publish, format_window(entry.freshness_window), now)
        findings += check_findings(entry.checks.status, entry.checks.results, entry.port.published)
        findings += slo_findings(slos.get(entry.id, []))
        findings += run_findings(entry.id, domain_runs, since, window_text)
        findings += stale_read_findings(entry.port.last_publish, _inputs(entry, by_id))
        latest = next((r for r in domain_runs if r.targets(entry.id)), None)
        products.append(ProductHealth(entry, state_of(findings), findings, slos.get(entry.id, []), latest))
    domains = []
    for name in sorted({e.product.domain for e in entries} | set(runs)):
        mine = [p for p in products if p.entry.product.domain == name]
        domain_runs = runs.get(name, [])
        judgement = judge_domain([p.state for p in mine], domain_runs, since, window_text)
        domains.append(DomainHealth(name, judgement, domain_runs[0] if domain_runs else None, failed_since(domain_runs, since), [p.id for p in mine]))
    return MeshHealth(now, window, domains, products)


def collect_health(root: Path, mesh: Mesh | None = None, now: dt.datetime | None = None,
                   window: dt.timedelta = dt.timedelta(hours=24), on_product=None) -> MeshHealth:
    mesh = mesh or Mesh.load(root)
    now = now or dt.datetime.now(dt.timezone.utc)
    entries = collect(root, mesh, now=now, on_product=on_product)
    runs, slos = instance_history(root, mesh, since=now - window)
    return judge(entries, runs, slos, now, window)
