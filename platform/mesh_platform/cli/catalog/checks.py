"""A product's checks as its last run evaluated them: the same checks, and so the same count, as
Dagster shows on the product's asset.

A product's asset carries one check per contract rule, one per run-time rule of a policy (e.g.
`policy_no_unclassified_email_<column>`) and, for a dbt model, one per dbt test. The catalog once
counted the contract's rules only (`24 passed, 1 warned` where Dagster showed 28 checks); it now
reads every check evaluation of the run that last checked the product and says what they are
(`29 checks: 26 contract rules, 3 policy rules`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import rules_for
from mesh_platform.model.slo import CHECK_PREFIX
from mesh_platform.runtime.settings import dagster_home, instance_storage

UNKNOWN = "unknown"
CONTRACT, POLICY, SLO, DBT, OTHER = "contract rules", "policy rules", "SLO checks", "dbt tests", "other checks"


@dataclass
class CheckState:
    """The last evaluations of a product's asset checks (every check of its asset)."""

    status: str = UNKNOWN  # "passed", "failed", "warned", "not evaluated" or "unknown"
    passed: int = 0
    failed: int = 0  # blocking checks that failed
    warned: int = 0  # warning/info checks that failed
    run_id: str | None = None
    results: dict[str, str] = field(default_factory=dict)  # check -> passed | failed | warned | planned
    kinds: dict[str, int] = field(default_factory=dict)  # contract rules / policy rules / dbt tests -> how many

    def summary(self) -> str:
        if self.status in (UNKNOWN, "not evaluated"):
            return self.status
        parts = [f"{self.passed} passed"]
        parts += [f"{self.failed} failed"] if self.failed else []
        parts += [f"{self.warned} warned"] if self.warned else []
        return ", ".join(parts)

    def explained(self) -> str:
        """What the checks are: `29 checks: 26 contract rules, 3 policy rules` (empty when unknown)."""
        if not self.results:
            return ""
        kinds = ", ".join(_counted(count, kind) for kind, count in self.kinds.items() if count)
        return f"{_counted(len(self.results), 'checks')}: {kinds}"


def _counted(count: int, things: str) -> str:
    """`1 policy rule`, `3 policy rules` (every kind's name ends in its plural s)."""
    return f"{count} {things if count != 1 else things[:-1]}"


def check_kinds(product: Product, names: Iterable[str], policy_rules: Iterable[str], dbt: bool) -> dict[str, int]:
    """How many of a product's checks `names` are contract rules, policy rules, and the rest (dbt
    tests when the domain builds with dbt): the explanation of the count."""
    contract = {rule.name for rule in rules_for(product.contract)}
    policies = set(policy_rules)
    rest = DBT if dbt else OTHER

    def kind(name: str) -> str:
        if name in contract:
            return CONTRACT
        if name in policies:
            return POLICY
        return SLO if name.startswith(CHECK_PREFIX) else rest

    counted = Counter(kind(n) for n in names)
    return {k: counted[k] for k in (CONTRACT, POLICY, SLO, rest) if counted[k]}


def check_states(root: Path, products: Iterable[Product], mesh: Mesh | None = None) -> dict[str, CheckState]:
    """Each product's checks as its last run evaluated them, from the mesh's Dagster instance;
    empty when there is no instance yet (nothing was ever built with `mesh build`)."""
    home = dagster_home(root)
    if instance_storage() == "sqlite" and not (home / "dagster.yaml").is_file():
        return {}  # a Postgres instance may hold history this machine never wrote a config for
    import dagster as dg  # Dagster (~2 s) loads only when there is run history to read

    from mesh_platform.orchestration.runs import instance_for  # reason: Dagster loads only when there is run history to read
    from mesh_platform.runtime.global_policies import global_governance  # reason: the policies load only when there is run history

    keys: dict[str, list] = {}
    by_id: dict[str, Product] = {}
    for product in products:
        try:
            names = [rule.name for rule in rules_for(product.contract)]
        except MeshError:
            continue
        by_id[product.id] = product
        keys[product.id] = [dg.AssetCheckKey(dg.AssetKey(list(product.key)), name) for name in names]
    states: dict[str, CheckState] = {}
    with instance_for(root) as instance:
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([k for ks in keys.values() for k in ks])
        runs: dict[str, dict[tuple[str, ...], dict[str, object]]] = {}
        for product_id, product_keys in keys.items():
            records = [latest[k] for k in product_keys if k in latest]
            if not records:
                continue  # never evaluated: unknown
            run_id = max(records, key=lambda r: r.create_timestamp).run_id
            if run_id not in runs:
                runs[run_id] = _run_checks(instance, run_id, dg)
            product = by_id[product_id]
            evaluations = runs[run_id].get(tuple(product.key), {})
            policy_rules = [r.name for r in global_governance(product.domain).audit_rules(product)]
            dbt = mesh is not None and product.domain in mesh.domains and mesh.domains[product.domain].descriptor.dbt_project is not None
            states[product_id] = _state(run_id, evaluations, check_kinds(product, evaluations, policy_rules, dbt), dg)
    return states


def _run_checks(instance, run_id: str, dg) -> dict[tuple[str, ...], dict[str, object]]:
    """Every check a run planned or evaluated, per asset: check name -> its evaluation (None: planned only)."""
    types = {dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    checks: dict[tuple[str, ...], dict[str, object]] = {}
    for entry in instance.all_logs(run_id, of_type=types):
        event = entry.dagster_event
        data = event.event_specific_data
        found = checks.setdefault(tuple(data.asset_key.path), {})
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            found[data.check_name] = data  # a range of partitions: the last evaluation stands
        else:
            found.setdefault(data.check_name, None)
    return checks


def _state(run_id: str, evaluations: dict[str, object], kinds: dict[str, int], dg) -> CheckState:
    state = CheckState(run_id=run_id, kinds=kinds)
    for name, evaluation in sorted(evaluations.items()):
        if evaluation is None:
            state.results[name] = "planned"  # the run stopped before the check ran
        elif evaluation.passed:
            state.passed += 1
            state.results[name] = "passed"
        else:
            warns = evaluation.severity == dg.AssetCheckSeverity.WARN
            state.warned += warns
            state.failed += not warns
            state.results[name] = "warned" if warns else "failed"
    counted = state.passed + state.failed + state.warned
    state.status = ("failed" if state.failed else "warned" if state.warned else "passed") if counted else "not evaluated"
    return state
