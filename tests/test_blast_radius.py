"""One broken producer stays in its domain: every other domain still loads, and builds everything
that does not need the broken product; what needs it is named, with the cause.

Each producer of the demo is broken four ways (empty product descriptor, missing contract file,
a descriptor whose name is not its file's, `required: "yes"` in the contract). Loading all 20
copies runs in one process with the platform's own `validate_mesh`, which imports each location
as Dagster does. The real `dagster definitions validate` runs with fleet broken, and the real
`mesh build` with fleet broken and with shared broken (what the other domains reference most).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mesh_platform.model.mesh import Mesh
from tests.conftest import BIN, ROOT, copy_project, mesh_env, run_mesh
from tests.helpers.broken_producers import BREAKAGES, CONTRACT_ONLY, PRODUCERS

PAIRS = [(domain, way) for domain in PRODUCERS for way in BREAKAGES]


def load_all(roots, home) -> dict[str, list[dict]]:
    """Every location of each project, loaded as Dagster would: root -> one report per domain."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.helpers.broken_producers", *map(str, roots)],
        cwd=ROOT, env=mesh_env(home), capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {line["root"]: line["reports"] for line in lines}


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    """A copy of the demo that loads whole. Loading it parses its dbt manifests once; every broken
    copy (copied with their mtimes) reuses them instead of running `dbt parse` again."""
    base = copy_project(tmp_path_factory.mktemp("blast") / "intact")
    [reports] = load_all([base], base.parent / "home").values()
    assert all(r["ok"] for r in reports), reports  # the breakages below are the only thing wrong
    return base


def broken_copy(intact, destination, domain: str, way: str):
    shutil.copytree(intact, destination)
    BREAKAGES[way](destination, domain)
    return destination.resolve()


@pytest.fixture(scope="module")
def loaded(intact):
    """(domain, breakage) -> the reports of its broken copy, by domain."""
    roots = {(domain, way): broken_copy(intact, intact.parent / f"{domain}-{way}", domain, way) for domain, way in PAIRS}
    reports = load_all(roots.values(), intact.parent / "home")
    return {pair: {r["domain"]: r for r in reports[str(root)]} for pair, root in roots.items()}


def dependents(domain: str, way: str) -> dict[str, set[str]]:
    """Other domains -> the broken products they read or reference, from the intact mesh."""
    broken = {f"{domain}.{PRODUCERS[domain]}"} if way in CONTRACT_ONLY else {p.id for p in Mesh.load(ROOT).domains[domain].products.values()}
    found: dict[str, set[str]] = {}
    for product in Mesh.load(ROOT).products():
        needed = {port.id for port in product.inputs} | {t.rsplit(".", 1)[0] for c in product.contract.columns for t in c.references}
        if product.domain != domain and needed & broken:
            found.setdefault(product.domain, set()).update(needed & broken)
    return found


@pytest.mark.parametrize(("domain", "way"), PAIRS, ids=[f"{d}-{w}" for d, w in PAIRS])
def test_every_other_domain_still_loads(loaded, domain, way):
    reports = loaded[(domain, way)]
    assert not reports[domain]["ok"], f"the {way} breakage of {domain} went unnoticed"
    assert PRODUCERS[domain] in reports[domain]["error"]  # the broken file is named
    down = {name: r["error"] for name, r in reports.items() if name != domain and not r["ok"]}
    assert not down, down


@pytest.mark.parametrize(("domain", "way"), PAIRS, ids=[f"{d}-{w}" for d, w in PAIRS])
def test_what_needs_the_broken_producer_is_warned_with_the_cause(loaded, domain, way):
    reports = loaded[(domain, way)]
    expected = dependents(domain, way)
    assert expected, f"nothing in the demo depends on {domain}: the case proves nothing"
    for consumer, targets in expected.items():
        warnings = " ".join(reports[consumer]["warnings"])
        for target in targets:
            assert target in warnings, (consumer, target, warnings)
        cause = f"the contract of {domain}.{PRODUCERS[domain]} does not load" if way in CONTRACT_ONLY else f"domain {domain!r} does not load"
        assert cause in warnings
    unaffected = set(reports) - set(expected) - {domain}
    assert not [r["warnings"] for name, r in reports.items() if name in unaffected and r["warnings"]]


def build_report(project, home) -> tuple[dict, subprocess.CompletedProcess]:
    result = run_mesh(["build", "--json"], home, cwd=project)
    report = json.loads(result.stdout)
    return {p["product"]: p for p in report["products"]}, result


def test_fleet_broken_the_real_tools_load_and_build_everything_else(intact, tmp_path):
    project = broken_copy(intact, tmp_path / "project", "fleet", "required_yes")
    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=project, env=mesh_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path)), capture_output=True, text=True, timeout=600,
    )
    output = validate.stdout + validate.stderr
    assert validate.returncode != 0
    for location in ["shared", "flight_operations", "weather", "punctuality", "loyalty", "customer_insights"]:
        assert f"Validation successful for code location {location}." in output, output[-3000:]
    assert "aircraft.odcs.yaml" in output

    products, build = build_report(project, tmp_path / "home")
    assert build.returncode == 1
    skipped = products.pop("punctuality.aircraft_age_performance")
    assert skipped["status"] == "skipped"
    assert "input fleet.aircraft: the contract of fleet.aircraft does not load" in skipped["detail"]
    assert "aircraft.odcs.yaml" in skipped["detail"]
    assert products.pop("fleet.aircraft")["status"] == "not built"
    # flight_operations references fleet.aircraft at warning level: it publishes regardless.
    assert {name: p["status"] for name, p in products.items() if p["status"] != "published"} == {}


def test_shared_broken_only_what_needs_shared_fails_and_says_why(intact, tmp_path):
    project = broken_copy(intact, tmp_path / "project", "shared", "empty_descriptor")
    products, build = build_report(project, tmp_path / "home")
    assert build.returncode == 1
    assert products["fleet.aircraft"]["status"] == "published"  # fleet needs nothing of shared
    # An error-level relationship to shared cannot be checked: that product fails, naming shared.
    for product in ("flight_operations.flights", "weather.hourly_observations", "loyalty.members"):
        assert products[product]["status"] == "failed", products[product]
        assert "reference shared.airports" in products[product]["detail"] or "reference shared.carriers" in products[product]["detail"]
        assert "domain 'shared' does not load" in products[product]["detail"]
    # Products reading a failed or unreadable input are skipped with the cause, not run.
    route = products["punctuality.route_performance"]
    assert route["status"] == "skipped" and "input " in route["detail"]
    assert products["customer_insights.member_delay_exposure"]["status"] == "skipped"
    assert "input flight_operations.flights" in products["customer_insights.member_delay_exposure"]["detail"] or \
           "input loyalty.bookings" in products["customer_insights.member_delay_exposure"]["detail"]
