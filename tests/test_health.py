"""`mesh health` on a copy of the built demo mesh, then after three things go wrong there: a
product made stale (its freshness SLA cut to a second), a blocking check failing a real
`mesh build --domain fleet` run, and a breached SLO check recorded in the instance; and the health
page of the HTML catalog, driven in a real headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from mesh_platform.model.mesh import Mesh
from tests.conftest import BIN, ROOT, copy_project, mesh_env, private_home
from tests.test_catalog import ARTIFACTS, chromium

STATES = {"ok", "warn", "fail", "unknown"}
FILLS = {"ok": "#dcfce7", "warn": "#fef3c7", "fail": "#fee2e2", "unknown": "#f3f4f6"}


def mesh(args: list[str], home, project, **env: str) -> subprocess.CompletedProcess:
    """The real `mesh` CLI in `project` against `home` (conftest's run_mesh, with a project and variables)."""
    return subprocess.run([str(BIN / "mesh"), *args], cwd=project, env=mesh_env(home, **env), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def scene(built_mesh, tmp_path_factory):
    """The built mesh's home and project, copied; its health read before and after the damage."""
    base = tmp_path_factory.mktemp("health")
    home, project = private_home(built_mesh, base / "home"), copy_project(base / "project")
    before = mesh(["health", "--json", "--strict"], home, project)
    assert before.returncode == 0, before.stderr  # --strict passes a mesh where nothing fails

    weather = project / "domains" / "weather" / "contracts" / "hourly_observations.odcs.yaml"
    odcs = yaml.safe_load(weather.read_text())
    odcs["slaProperties"] = [{**s, "value": 1, "unit": "s"} if s["property"] == "freshness" else s for s in odcs["slaProperties"]]
    weather.write_text(yaml.safe_dump(odcs, sort_keys=False))  # published minutes ago: stale against one second
    fleet = project / "domains" / "fleet" / "contracts" / "aircraft.odcs.yaml"
    raised = fleet.read_text().replace("mustBeGreaterThan: 3000,", "mustBeGreaterThan: 3000000,")
    fleet.write_text(raised.replace("\nversion: 1.0.0\n", "\nversion: 1.0.1\n"))  # a changed rule needs a patch bump
    build = mesh(["build", "--domain", "fleet"], home, project)
    assert build.returncode != 0 and "fleet.aircraft was not published" in build.stdout + build.stderr, build.stdout + build.stderr
    _record_breached_slo(home, project, "loyalty.members", "slo_frequency")
    after = mesh(["health", "--json"], home, project)
    assert after.returncode == 0, after.stderr  # without --strict, a failing mesh is reported, not an error
    return {"home": home, "project": project, "before": json.loads(before.stdout), "after": json.loads(after.stdout)}


def _record_breached_slo(home, project, product_id: str, check: str) -> None:
    """An SLO check's failed evaluation, recorded in the mesh's instance as Dagster records any
    check evaluation (the SLO checks themselves are emitted by the runs that measure them)."""
    import dagster as dg

    from mesh_platform.orchestration.runs import instance_for

    domain, name = product_id.split(".")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESH_HOME", str(home))
        with instance_for(project) as instance:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey([domain, name]), check_name=check, passed=False,
                severity=dg.AssetCheckSeverity.WARN, description="publishes 3 d apart, SLA 1 d"))


def _products(report: dict) -> dict[str, dict]:
    return {p["product"]: p for p in report["products"]}


def test_every_product_has_a_state_and_the_freshly_built_mesh_does_not_fail(scene):
    before = _products(scene["before"])
    assert sorted(before) == Mesh.load(ROOT).product_ids()
    assert {p["state"] for p in before.values()} <= {"ok", "warn"}, {k: (p["state"], p["reasons"]) for k, p in before.items()}
    assert scene["before"]["state"] in ("ok", "warn")
    for product in before.values():
        assert product["freshness"] in ("fresh", "no SLA") and product["checks"]["status"] in ("passed", "warned")
    domains = {d["domain"]: d for d in scene["before"]["domains"]}
    assert domains["fleet"]["latest_run"]["job"] == "build_fleet" and domains["fleet"]["latest_run"]["status"] == "SUCCESS"


def test_a_stale_product_a_failing_check_a_failed_run_and_a_breached_slo_show_as_such(scene):
    after = _products(scene["after"])
    stale = after["weather.hourly_observations"]
    assert (stale["state"], stale["freshness"], stale["freshness_sla"]) == ("fail", "stale", "1 second")
    assert stale["reasons"][0].startswith("stale: published ") and stale["reasons"][0].endswith(" ago, SLA 1 second")
    assert "reads stale input weather.hourly_observations" in after["punctuality.weather_impact"]["reasons"]
    aircraft = after["fleet.aircraft"]
    assert aircraft["state"] == "fail" and aircraft["checks"]["failing"] == ["registry_complete"]
    assert "check failed: registry_complete" in aircraft["reasons"]
    assert aircraft["latest_run"]["status"] == "FAILURE" and any(r.startswith("latest run failed: build_fleet ") for r in aircraft["reasons"])
    fleet = next(d for d in scene["after"]["domains"] if d["domain"] == "fleet")
    assert fleet["state"] == "fail" and [r["status"] for r in fleet["failed_runs"]] == ["FAILURE"]
    members = after["loyalty.members"]
    # non-blocking: it warns; its latency is breached too (members joined in 2013), said once, not again as a check
    assert members["state"] == "warn" and members["reasons"] == ["SLO breached: frequency, latency"], members["reasons"]
    assert {"check": "slo_frequency", "property": "frequency", "passed": False, "description": "publishes 3 d apart, SLA 1 d"} in members["slos"]
    untouched = after["punctuality.route_performance"]
    assert untouched["state"] == _products(scene["before"])["punctuality.route_performance"]["state"]
    assert scene["after"]["state"] == "fail"


def test_strict_exits_non_zero_when_something_fails_in_one_line(scene):
    strict = mesh(["health", "--strict"], scene["home"], scene["project"])
    assert strict.returncode == 1
    assert strict.stderr.startswith("error: the mesh fails its health check: ") and strict.stderr.count("\n") == 1, strict.stderr
    for failing in ("fleet.aircraft", "weather.hourly_observations"):
        assert failing in strict.stderr
    assert "loyalty.members" not in strict.stderr  # an SLO breach warns


def test_the_table_piped_at_80_columns_keeps_every_name_whole(scene):
    table = mesh(["health"], scene["home"], scene["project"], COLUMNS="80")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, table.stdout
    for product_id, product in _products(scene["after"]).items():
        name = product_id.split(".", 1)[1]
        assert re.search(rf"│   {name} +│ {product['state']} ", table.stdout), (product_id, table.stdout)
    assert "registry_complete" in table.stdout and "weather.hourly_observations" in table.stdout
    wide = mesh(["health"], scene["home"], scene["project"])  # piped without COLUMNS: the details too
    assert "last publish (UTC)" in wide.stdout and "SLOs" in wide.stdout and "frequency breached" in wide.stdout


def test_the_health_page_in_a_real_browser(scene, tmp_path):
    site = tmp_path / "site"
    result = mesh(["catalog", "--html", str(site)], scene["home"], scene["project"])
    assert result.returncode == 0, result.stderr
    states = {p["product"]: p["state"] for p in scene["after"]["products"]}
    assert 'href="health.html"' in (site / "index.html").read_text()
    with chromium(tmp_path / "chromium-profile") as browser:
        browser.open((site / "index.html").as_uri())
        browser.click("#health-link a")
        browser.wait_for("Page.loadEventFired")
        assert browser.js("location.pathname").endswith("/health.html")
        nodes = browser.js("[...document.querySelectorAll('svg.mesh-health g.node')].map(g => [g.dataset.product, g.dataset.state,"
                           " g.querySelector('rect').getAttribute('fill'), g.querySelector('.node-detail').textContent])")
        assert sorted(n[0] for n in nodes) == sorted(states)
        for product_id, state, fill, detail in nodes:
            assert state == states[product_id] and fill == FILLS[state] and detail.startswith(state.upper()), (product_id, state, fill, detail)
        assert {n[1] for n in nodes} >= {"fail", "warn", "ok"}
        legend = browser.js("[...document.querySelectorAll('svg.mesh-health .legend-item')].map(g => g.textContent)")
        assert legend == ["ok", "warn", "fail", "unknown: never published"]
        groups = browser.js("[...document.querySelectorAll('svg.mesh-health g.domain-group')].map(g => g.dataset.domain)")
        assert sorted(groups) == sorted({p.split(".")[0] for p in states})
        assert browser.js("document.querySelectorAll('svg.mesh-health path.edge').length") == len(
            {(i.id, p.id) for p in Mesh.load(ROOT).products() for i in p.inputs})
        assert browser.js("document.documentElement.scrollWidth") <= 1400
        drawn = browser.js("(() => { const r = document.querySelector('svg.mesh-health').getBoundingClientRect(); return [r.width, r.height]; })()")
        assert 400 < drawn[0] <= 1400 and drawn[1] > 100, drawn
        rows = browser.js("[...document.querySelectorAll('#health-products tr.product')].map(r => [r.dataset.product, r.dataset.state])")
        assert dict(rows) == states
        browser.screenshot(tmp_path / "health.png", ARTIFACTS / "health.png")
        assert (tmp_path / "health.png").stat().st_size > 10_000
        browser.click('svg.mesh-health g.node[data-product="fleet.aircraft"]')  # the picture links to product pages
        browser.wait_for("Page.loadEventFired")
        assert browser.js("location.pathname").endswith("/fleet.aircraft.html")


def test_health_html_writes_the_page_alone_and_refuses_a_folder(scene, tmp_path):
    page = tmp_path / "out" / "health.html"
    result = mesh(["health", "--html", str(page)], scene["home"], scene["project"])
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert html.count('class="node state-') == len(scene["after"]["products"]) and "<a href=" not in html.split("<main>")[1]
    refused = mesh(["health", "--html", str(tmp_path)], scene["home"], scene["project"])
    assert refused.returncode == 1 and refused.stderr.startswith(f"error: --html {tmp_path} is a folder, not a file")
