"""How healthy a product and a domain are, judged from facts already gathered (pure: no I/O).

A product's state is the worst of its findings: `fail` when its promise to consumers is broken
(stale against its freshness SLA, a breached SLO, a blocking check failed, its latest run
failed, its port or contract unreadable), `warn` when something needs a look (a warning rule
failed, no check results, it reads stale data, a run failed recently but a later one passed),
`unknown` when it was never published and nothing else is known, else `ok`. A domain is the
worst of its products and of its own runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mesh_platform.model.durations import format_elapsed

OK, UNKNOWN, WARN, FAIL = "ok", "unknown", "warn", "fail"
SEVERITY = {OK: 0, UNKNOWN: 1, WARN: 2, FAIL: 3}
SLO_PREFIX = "slo_"  # SLO checks are asset checks named slo_<property> (latency, frequency, ...)


@dataclass(frozen=True)
class Finding:
    """One reason for a state, in words a person reads in a table cell."""

    state: str
    text: str


@dataclass(frozen=True)
class RunFact:
    """A run of a domain's job as the instance recorded it."""

    run_id: str
    job: str
    status: str  # Dagster's run status name: SUCCESS, FAILURE, CANCELED, STARTED, QUEUED, ...
    ended: dt.datetime | None
    products: frozenset[str] | None = None  # the products it targeted; None: every product of its domain

    @property
    def failed(self) -> bool:
        return self.status == "FAILURE"

    def targets(self, product_id: str) -> bool:
        return self.products is None or product_id in self.products

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "job": self.job, "status": self.status, "ended": self.ended.isoformat() if self.ended else None}


@dataclass(frozen=True)
class SloFact:
    """The latest evaluation of one SLO check of a product."""

    check: str
    passed: bool
    description: str | None = None

    @property
    def property(self) -> str:
        return self.check.removeprefix(SLO_PREFIX)


@dataclass(frozen=True)
class InputFact:
    """What a consumer needs to know of one of its inputs: when it was last published and
    whether it is stale against its own SLA."""

    product: str
    last_publish: dt.datetime | None
    stale: bool


def worst(states) -> str:
    states = list(states)
    return max(states, key=SEVERITY.__getitem__) if states else OK


def state_of(findings: list[Finding]) -> str:
    return worst(f.state for f in findings)


def hours_text(window: dt.timedelta) -> str:
    """The run window as `--hours` took it: `24 h`, `2.5 h`."""
    return f"{window.total_seconds() / 3600:g} h"


def freshness_findings(freshness: str, last_publish: dt.datetime | None, window: str | None, now: dt.datetime) -> list[Finding]:
    if freshness == "never published":
        return [Finding(UNKNOWN, "never published")]
    if freshness == "stale" and last_publish is not None:
        return [Finding(FAIL, f"stale: published {format_elapsed(now - last_publish, 1)} ago, SLA {window}")]
    return []


def check_findings(status: str, results: dict[str, str], published: bool) -> list[Finding]:
    """The contract's rules as the last run evaluated them (`results`: rule -> outcome). SLO checks
    are left to slo_findings, which says them once, by property."""
    failed = sorted(name for name, outcome in results.items() if outcome == "failed" and not name.startswith(SLO_PREFIX))
    warned = sorted(name for name, outcome in results.items() if outcome == "warned" and not name.startswith(SLO_PREFIX))
    findings = []
    if failed:
        findings.append(Finding(FAIL, f"check failed: {', '.join(failed)}"))
    if warned:
        findings.append(Finding(WARN, f"check warned: {', '.join(warned)}"))
    if published and status in ("unknown", "not evaluated"):
        findings.append(Finding(WARN, "no check results in the instance"))
    return findings


def slo_summary(slos: list[SloFact]) -> str:
    """`latency ok, frequency breached`; `none measured` without SLO checks."""
    return ", ".join(f"{s.property} {'ok' if s.passed else 'breached'}" for s in slos) or "none measured"


def slo_findings(slos: list[SloFact]) -> list[Finding]:
    """A breached SLO warns: its checks never block a publish (orchestration/slo_checks.py, severity
    WARN), and the one SLO that means the data is out of date, freshness, already fails the product
    through its own finding. A latency SLA on a replay of old data (the demo's 2013 flights) is
    breached for good: it must show, not turn the whole mesh red."""
    breached = sorted(s.property for s in slos if not s.passed)
    return [Finding(WARN, f"SLO breached: {', '.join(breached)}")] if breached else []


def failed_since(runs: list[RunFact], since: dt.datetime) -> list[RunFact]:
    return [r for r in runs if r.failed and r.ended is not None and r.ended >= since]


def _failures_text(count: int, window: str) -> str:
    return f"{count} failed run{'s' if count > 1 else ''} in the last {window}"


def run_findings(product_id: str, runs: list[RunFact], since: dt.datetime, window: str) -> list[Finding]:
    """`runs`: the domain's runs, newest first. The latest run that targeted the product decides;
    an earlier failure within the window (`since`, said as `window`) is worth a look only."""
    mine = [r for r in runs if r.targets(product_id)]
    if not mine:
        return []
    if mine[0].failed:
        return [Finding(FAIL, f"latest run failed: {mine[0].job} {mine[0].run_id[:8]}")]
    earlier = len(failed_since(mine, since))
    return [Finding(WARN, _failures_text(earlier, window))] if earlier else []


def stale_read_findings(last_publish: dt.datetime | None, inputs: list[InputFact]) -> list[Finding]:
    """A consumer reads stale data when an input is stale against its SLA, or when an input
    was published after the consumer's own last publish (the consumer was built from an older
    version of it and has not caught up)."""
    findings = []
    for port in inputs:
        if port.stale:
            findings.append(Finding(WARN, f"reads stale input {port.product}"))
        elif last_publish is not None and port.last_publish is not None and port.last_publish > last_publish:
            findings.append(Finding(WARN, f"behind input {port.product} (published {format_elapsed(port.last_publish - last_publish, 1)} later)"))
    return findings


@dataclass
class DomainJudgement:
    state: str
    findings: list[Finding] = field(default_factory=list)


def judge_domain(product_states: list[str], runs: list[RunFact], since: dt.datetime, window: str) -> DomainJudgement:
    """The worst of the domain's products, and its own latest run: a failed latest run fails the
    domain even when its products still serve an earlier, good publish."""
    findings = []
    if runs and runs[0].failed:
        findings.append(Finding(FAIL, f"latest run failed: {runs[0].job} {runs[0].run_id[:8]}"))
    elif failures := len(failed_since(runs, since)):
        findings.append(Finding(WARN, _failures_text(failures, window)))
    return DomainJudgement(worst([*product_states, *(f.state for f in findings)]), findings)


def domain_of_run(job: str, asset_domains: set[str], domains: list[str]) -> str | None:
    """The domain a run belongs to: the one domain of the assets it targeted, else the domain its
    job is named after (`build_<domain>`, `publish_<domain>[_<product>]`; the longest domain name
    that fits, as domain names may hold underscores)."""
    if len(asset_domains) == 1:
        return next(iter(asset_domains))
    for prefix in ("build_", "publish_"):
        if job.startswith(prefix):
            rest = job.removeprefix(prefix)
            fits = [d for d in domains if rest == d or rest.startswith(d + "_")]
            if fits:
                return max(fits, key=len)
    return None
