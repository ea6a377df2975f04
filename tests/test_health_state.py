"""The pure parts of `mesh health`: how findings become states, which run belongs to which domain,
when a consumer reads stale data, the table at 80 columns and the layout of the mesh picture.
Facts are fed in directly (the demo mesh's own descriptors; port and check states as the catalog
would describe them), so each rule is seen without a build."""

from __future__ import annotations

import datetime as dt
import io
import re

from rich.console import Console

from mesh_platform.cli.catalog.entries import CatalogEntry, CheckState, freshness_of
from mesh_platform.cli.catalog.health_collect import judge
from mesh_platform.model.durations import format_elapsed
from mesh_platform.cli.catalog.health_state import (
    FAIL, OK, UNKNOWN, WARN, Finding, InputFact, RunFact, SloFact, domain_of_run, judge_domain, run_findings,
    stale_read_findings, state_of,
)
from mesh_platform.cli.catalog.health_svg import MAX_WIDTH, NODE_W, depths, edge_path, layout, short
from mesh_platform.cli.catalog.svg import domain_colours
from mesh_platform.cli.health import health_table
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.ports.port import PortDescription
from tests.conftest import ROOT

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


def run(run_id: str, status: str, hours_ago: float, products=None, job: str = "build_fleet") -> RunFact:
    return RunFact(run_id, job, status, NOW - hours_ago * HOUR, frozenset(products) if products is not None else None)


def test_the_worst_finding_decides_and_unknown_sits_between_ok_and_warn():
    assert state_of([]) == OK
    assert state_of([Finding(UNKNOWN, "never published")]) == UNKNOWN
    assert state_of([Finding(UNKNOWN, "never published"), Finding(WARN, "x")]) == WARN
    assert state_of([Finding(WARN, "x"), Finding(FAIL, "y"), Finding(OK, "z")]) == FAIL
    assert [format_elapsed(dt.timedelta(seconds=s), 1) for s in (5, 600, 7200, 3 * 86400)] == ["5 seconds", "10 minutes", "2 hours", "3 days"]


def test_a_run_belongs_to_the_domain_of_its_assets_else_of_its_job_name():
    domains = ["flight", "flight_operations", "fleet"]
    assert domain_of_run("build_flight_operations", set(), domains) == "flight_operations"  # the longest name that fits
    assert domain_of_run("publish_flight_operations_flights", set(), domains) == "flight_operations"
    assert domain_of_run("build_flight", set(), domains) == "flight"
    assert domain_of_run("__ASSET_JOB", {"fleet"}, domains) == "fleet"
    assert domain_of_run("__ASSET_JOB", {"fleet", "flight"}, domains) is None
    assert domain_of_run("build_unknown", set(), domains) is None


def test_the_latest_run_of_a_product_decides_and_earlier_failures_in_the_window_warn():
    since = NOW - 24 * HOUR
    failed_last = [run("b" * 12, "FAILURE", 1), run("a" * 12, "SUCCESS", 2)]
    assert run_findings("fleet.aircraft", failed_last, since, "24 h") == [Finding(FAIL, "latest run failed: build_fleet bbbbbbbb")]
    recovered = [run("c" * 12, "SUCCESS", 1), run("b" * 12, "FAILURE", 2), run("z" * 12, "FAILURE", 30)]
    assert run_findings("fleet.aircraft", recovered, since, "24 h") == [Finding(WARN, "1 failed run in the last 24 h")]
    other = [run("d" * 12, "FAILURE", 1, products={"fleet.engines"}), run("e" * 12, "SUCCESS", 2)]
    assert run_findings("fleet.aircraft", other, since, "24 h") == []  # another product's run: the domain's concern
    assert run_findings("fleet.aircraft", [], since, "24 h") == []
    assert judge_domain([OK], other, since, "24 h").state == FAIL  # the domain's own latest run failed
    assert judge_domain([OK, WARN], recovered, since, "24 h").state == WARN
    assert judge_domain([OK, UNKNOWN], [], since, "24 h").state == UNKNOWN


def test_a_consumer_reads_stale_data_when_an_input_is_stale_or_newer_than_itself():
    built = NOW - 2 * HOUR
    assert stale_read_findings(built, [InputFact("a.x", NOW - 3 * HOUR, False)]) == []
    assert stale_read_findings(built, [InputFact("a.x", NOW - 1 * HOUR, False)]) == [
        Finding(WARN, "behind input a.x (published 1 hour later)")]
    assert stale_read_findings(built, [InputFact("a.x", NOW - 9 * HOUR, True)]) == [Finding(WARN, "reads stale input a.x")]
    assert stale_read_findings(None, [InputFact("a.x", NOW, False)]) == []  # never published: nothing read yet


def _entries(mesh: Mesh, published: dict[str, dt.datetime], checks: dict[str, CheckState]) -> list[CatalogEntry]:
    entries = []
    for product in sorted(mesh.products(), key=lambda p: p.id):
        when = published.get(product.id)
        port = PortDescription(uri=f"/ports/{product.id}", published=when is not None, last_publish=when, rows=10 if when else None)
        freshness, window = freshness_of(product, port, NOW)
        consumers = sorted(c.id for c in mesh.consumers_of(product))
        entries.append(CatalogEntry(product, port, checks.get(product.id, CheckState()), freshness, window, consumers))
    return entries


def _demo_health():
    """The demo mesh: all published an hour ago and checked, except weather (published 40 days
    ago: stale), fleet.aircraft (a blocking rule failed in its failed latest run), loyalty.members
    (an SLO breached: a warning) and shared.calendar (never published)."""
    mesh = Mesh.load(ROOT)
    published = {p.id: NOW - HOUR for p in mesh.products() if p.id != "shared.calendar"}
    published["weather.hourly_observations"] = NOW - 40 * 24 * HOUR
    passed = CheckState(status="passed", passed=1, run_id="r1", results={"rule": "passed"})
    checks = {pid: passed for pid in published}
    checks["fleet.aircraft"] = CheckState(status="failed", passed=1, failed=1, run_id="r2", results={"registry_complete": "failed", "pk": "passed"})
    runs = {"fleet": [run("f" * 12, "FAILURE", 0.5), run("g" * 12, "SUCCESS", 1)]}
    slos = {"loyalty.members": [SloFact("slo_frequency", False, "2 d between publishes"), SloFact("slo_latency", True)]}
    return mesh, judge(_entries(mesh, published, checks), runs, slos, NOW, 24 * HOUR)


def test_judging_the_demo_mesh_names_each_failure_and_who_reads_stale_data():
    mesh, health = _demo_health()
    by_id = {p.id: p for p in health.products}
    assert set(by_id) == set(mesh.product_ids())
    reasons = {pid: [f.text for f in p.findings] for pid, p in by_id.items()}
    assert by_id["weather.hourly_observations"].state == FAIL
    assert reasons["weather.hourly_observations"] == ["stale: published 40 days ago, SLA 1 day"]
    assert by_id["fleet.aircraft"].state == FAIL
    assert reasons["fleet.aircraft"] == ["check failed: registry_complete", "latest run failed: build_fleet ffffffff"]
    assert (by_id["loyalty.members"].state, reasons["loyalty.members"]) == (WARN, ["SLO breached: frequency"])
    assert (by_id["shared.calendar"].state, reasons["shared.calendar"]) == (UNKNOWN, ["never published"])
    assert (by_id["punctuality.weather_impact"].state, reasons["punctuality.weather_impact"]) == (WARN, ["reads stale input weather.hourly_observations"])
    assert by_id["punctuality.route_performance"].state == OK
    domains = {d.name: d.state for d in health.domains}
    assert domains == {"customer_insights": OK, "fleet": FAIL, "flight_operations": OK, "loyalty": WARN,
                       "punctuality": WARN, "shared": UNKNOWN, "weather": FAIL}
    assert health.state == FAIL and "fleet.aircraft" in health.failing()
    as_json = health.to_dict()
    fleet = next(p for p in as_json["products"] if p["product"] == "fleet.aircraft")
    assert fleet["checks"]["failing"] == ["registry_complete"] and fleet["latest_run"]["status"] == "FAILURE"


def test_the_table_fits_80_columns_without_breaking_a_word():
    _, health = _demo_health()
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(health_table(health, 80))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = out.getvalue()
    for product in health.products:  # each product on its row, whole, with its state
        assert re.search(rf"│   {product.entry.product.name} +│ {product.state} ", text), product.id
    words = set(re.findall(r"[\w.]+", text))
    for needed in ("registry_complete", "weather.hourly_observations", "ffffffff", "frequency"):
        assert needed in words, needed


def test_the_mesh_picture_places_domains_in_reading_order_without_overlap():
    assert depths(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")]) == {"a": 0, "b": 1, "c": 2}
    assert set(depths(["a", "b"], [("a", "b"), ("b", "a")])) == {"a", "b"}  # a cycle ends
    mesh = Mesh.load(ROOT)
    products = {p.id: p.domain for p in mesh.products()}
    edges = sorted({(i.id, p.id) for p in mesh.products() for i in p.inputs})
    groups, nodes, width, height = layout(products, edges)
    assert set(nodes) == set(products) and set(groups) == set(products.values())
    for product_id, box in nodes.items():  # each node inside its domain's box
        g = groups[products[product_id]]
        assert g.x <= box.x and box.x + box.w <= g.x + g.w and g.y <= box.y and box.y + box.h <= g.y + g.h
    placed = list(groups.values())
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a, b)
    for source, target in edges:
        if products[source] != products[target]:
            assert groups[products[source]].x < groups[products[target]].x, (source, target)  # producers left of consumers
    assert 0 < width and 0 < height
    assert edge_path(nodes["shared.airports"], nodes["weather.hourly_observations"]).startswith(f"M {nodes['shared.airports'].x + NODE_W:.0f} ")
    assert short("x" * 50).endswith("…") and len(short("x" * 50)) == 32 and short("ok") == "ok"


def test_a_wide_mesh_is_drawn_scaled_to_the_page():
    from mesh_platform.cli.catalog.health_svg import health_svg

    _, health = _demo_health()
    svg = health_svg(health, domain_colours([d.name for d in health.domains]), link=True)
    shown = float(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))
    natural = float(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    assert shown == min(natural, MAX_WIDTH) <= 1400
    assert svg.count('class="node state-') == len(health.products)
    assert 'data-product="fleet.aircraft" data-state="fail"' in svg and ">FAIL · check failed: registry_c…<" in svg


def test_every_value_on_the_health_page_is_escaped():
    """A reason may quote text from a file (a contract that does not load): it stays text."""
    import dataclasses

    from mesh_platform.cli.catalog.health_page import render_health

    mesh = Mesh.load(ROOT)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
    entries = _entries(mesh, {}, {})
    entries[0] = dataclasses.replace(entries[0], problem=hostile)
    health = judge(entries, {}, {"fleet.aircraft": [SloFact("slo_<b>latency</b>", False, hostile)]}, NOW, 24 * HOUR)
    html = render_health(health, domain_colours(list(mesh.domains)), "now", link=True)
    assert "<script>alert" not in html and "<img" not in html and "<b>" not in html
    assert "contract does not load: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;" in html
    assert "SLO breached: &lt;b&gt;latency&lt;/b&gt;" in html
