"""`mesh catalog` and `mesh lineage` on the built demo mesh, and the HTML catalog driven in a real
headless Chromium over the Chrome DevTools Protocol."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable
from websockets.sync.client import connect

from mesh_platform.model.mesh import Mesh
from mesh_platform.model.rules import rules_for
from tests.conftest import ROOT, free_port, run_mesh
from tests.helpers import mini_mesh

ARTIFACTS = ROOT / "tests" / "artifacts"  # gitignored: screenshots of the last run


@pytest.fixture(scope="module")
def catalog(built_mesh) -> list[dict]:
    home, _ = built_mesh
    result = run_mesh(["catalog", "--json"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_catalog_lists_every_product_with_its_declaration(catalog):
    mesh = Mesh.load(ROOT)
    assert [e["product"] for e in catalog] == mesh.product_ids()
    by_id = {e["product"]: e for e in catalog}
    assert by_id["loyalty.members"]["access"] == "restricted"
    assert (by_id["loyalty.bookings"]["access"], by_id["loyalty.bookings"]["readers"]) == ("internal", ["customer_insights"])
    for product in mesh.products():
        entry = by_id[product.id]
        assert (entry["domain"], entry["kind"], entry["access"]) == (product.domain, product.kind, product.descriptor.access)
        assert entry["owner"] == {"team": product.owner.team, "contact": product.owner.contact}
        assert entry["version"] == product.contract.version
        assert [c["name"] for c in entry["columns"]] == product.contract.column_names
        assert entry["inputs"] == list(product.descriptor.inputs)
        assert entry["consumers"] == sorted(c.id for c in mesh.consumers_of(product))
    assert by_id["flight_operations.flights"]["consumers"] == [
        "customer_insights.member_delay_exposure", "punctuality.aircraft_age_performance",
        "punctuality.route_performance", "punctuality.weather_impact"]
    email = next(c for c in by_id["loyalty.bookings"]["columns"] if c["name"] == "passenger_email")
    assert (email["classification"], email["masking"]) == ("pii", "hash")


def test_rows_versions_and_publish_times_come_from_the_delta_ports(built_mesh, catalog):
    home, build = built_mesh
    built_rows = {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"│ (\w+\.\w+)\s+│\s+([\d,]+) │", build.stdout)}
    assert built_rows, build.stdout
    for entry in catalog:
        table = DeltaTable(entry["port"])
        assert entry["port"] == str(home.resolve() / "storage" / entry["domain"] / entry["name"] / f"v{entry['version'].split('.')[0]}")
        assert entry["rows"] == table.to_pyarrow_table().num_rows == built_rows[entry["product"]], entry["product"]
        assert entry["delta_version"] == table.version()
        commit = table.history(1)[0]
        assert dt.datetime.fromisoformat(entry["last_publish"]).timestamp() == pytest.approx(commit["timestamp"] / 1000)
        assert entry["published_contract_version"] == commit["mesh.contract_version"]
    # Monthly partitions: one commit per month, yet the catalog counts the whole table.
    assert {e["product"]: e["rows"] for e in catalog}["flight_operations.flights"] == 336_776


def test_freshness_and_checks_are_computed(built_mesh, catalog, monkeypatch):
    home, _ = built_mesh
    mesh = Mesh.load(ROOT)
    for entry in catalog:
        product = mesh.find(entry["domain"], entry["name"])
        sla = product.contract.service_level("freshness")
        assert entry["freshness"] == ("fresh" if sla else "no SLA"), entry["product"]
        assert (entry["freshness_sla"] is None) == (sla is None)
        checks = entry["checks"]
        rules = {r.name for r in rules_for(product.contract)}
        assert checks["status"] in ("passed", "warned") and checks["failed"] == 0, entry["product"]
        # Every check of the product's asset, as Dagster shows them: its contract rules and the
        # policies' run-time rules (and a dbt model's tests) too.
        assert rules <= set(checks["results"]) and checks["passed"] + checks["warned"] == len(checks["results"])
    # The same ports seen two years later are stale against every SLA.
    from mesh_platform.cli.catalog.entries import collect

    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_ROOT", raising=False)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=730)
    assert {e.freshness for e in collect(ROOT, now=later)} == {"stale"}


def test_an_unbuilt_mesh_is_catalogued_as_never_published(tmp_path):
    result = run_mesh(["catalog", "--json"], tmp_path / "empty_home")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert len(entries) == len(Mesh.load(ROOT).product_ids())
    assert {(e["freshness"], e["last_publish"], e["rows"], e["checks"]["status"]) for e in entries} == {
        ("never published", None, None, "unknown")}
    table = run_mesh(["catalog"], tmp_path / "empty_home")
    assert table.returncode == 0 and "never published" in table.stdout and "loyalty.members" in table.stdout


def test_the_catalog_table(built_mesh):
    result = run_mesh(["catalog"], built_mesh[0])
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "flight_operations.flights" in line)
    version = Mesh.load(ROOT).find("flight_operations", "flights").contract.version  # the contract's own
    for cell in ("source-aligned", "flight_ops", "public", version, "336,776", "fresh", "passed"):
        assert cell in line, line
    assert re.search(r"loyalty\.bookings .*internal \(customer_insights\)", result.stdout)


def test_lineage_upstream_downstream_and_json(built_mesh):
    home, _ = built_mesh
    up = run_mesh(["lineage", "punctuality.route_performance", "--upstream"], home)
    assert up.returncode == 0, up.stderr
    assert "flight_operations.flights (source-aligned, public)" in up.stdout
    assert "shared.carriers (source-aligned, public)" in up.stdout
    assert "downstream" not in up.stdout
    down = run_mesh(["lineage", "flight_operations.flights", "--downstream"], home)
    assert down.returncode == 0, down.stderr
    for consumer in ("punctuality.route_performance", "punctuality.weather_impact", "punctuality.aircraft_age_performance",
                     "customer_insights.member_delay_exposure (consumer-aligned, public)"):
        assert consumer in down.stdout
    both = run_mesh(["lineage", "customer_insights.member_delay_exposure", "--json"], home)
    tree = json.loads(both.stdout)
    bookings = next(n for n in tree["upstream"]["inputs"] if n["product"] == "loyalty.bookings")
    assert (bookings["access"], [n["product"] for n in bookings["inputs"]]) == ("internal", ["loyalty.members"])
    assert bookings["inputs"][0]["access"] == "restricted" and tree["downstream"]["consumers"] == []


def test_lineage_of_an_unknown_product_names_the_closest(built_mesh):
    result = run_mesh(["lineage", "punctuality.route_perfomance"], built_mesh[0])
    assert result.returncode == 1
    error, hint = result.stderr.split("\nhint: ")  # rich wraps the hint at the terminal's width
    assert error == "error: no product 'punctuality.route_perfomance' in this mesh"
    assert " ".join(hint.split()).startswith("did you mean punctuality.route_performance,")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_site_escapes_free_text_and_a_broken_domain_is_skipped_with_a_warning(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for part in ("workspace.yaml", "shared_assets", "domains"):  # the catalog reads descriptors only
        (shutil.copy if part.endswith(".yaml") else shutil.copytree)(ROOT / part, project / part)
    descriptor = project / "domains" / "fleet" / "products" / "aircraft.yaml"
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
    descriptor.write_text(re.sub(r"(?m)^description:.*(\n  .*)*", f"description: '{hostile}'", descriptor.read_text(), count=1))
    (project / "domains" / "weather" / "domain.yaml").write_text("name: weather\nkind: nonsense\n")
    site = tmp_path / "site"
    result = run_mesh(["catalog", "--html", str(site), "--json"], tmp_path / "home", cwd=project)
    assert result.returncode == 0, result.stderr
    listed = [e["product"] for e in json.loads(result.stdout)]
    assert listed == [p for p in Mesh.load(ROOT).product_ids() if not p.startswith("weather.")]
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert f"{project / 'domains' / 'weather'} does not load, its products are not listed" in warning
    for page in (site / "index.html", site / "fleet.aircraft.html"):
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    for page in site.iterdir():  # self-contained: nothing is loaded from anywhere
        html = page.read_text().replace("&lt;img src=x", "")
        assert not re.search(r"<(link|img|iframe)\b|\bsrc=|url\((?!#)|@import", html), page
    refused = run_mesh(["catalog", "--html", str(site / "index.html")], tmp_path / "home", cwd=project)
    assert refused.returncode == 1 and refused.stderr.startswith("error: --html ") and "hint:" in refused.stderr


def test_pinned_inputs_and_product_cycles_in_lineage(tmp_path):
    """Lineage is read from descriptors: a pinned input shows its major, and a cycle (which the
    policies refuse, but a descriptor can declare) ends instead of recursing forever."""
    from mesh_platform.cli.catalog.lineage import levels, tree
    from mesh_platform.cli.catalog.svg import domain_colours, lineage_svg

    def change(files):
        lab = files["domains/lab"]
        lab["products/readings.yaml"]["inputs"] = ["shared.airports@v1", "lab.calibrations"]
        lab["products/calibrations.yaml"] = {"name": "calibrations", "description": "Calibration offsets of every lab instrument.",
                                             "inputs": ["lab.readings"]}
        lab["contracts/calibrations.odcs.yaml"] = mini_mesh.contract("lab", "calibrations", [mini_mesh.column("station")])

    mesh = Mesh.load(mini_mesh.write_mesh(tmp_path / "mini", mini_mesh.edited(change)))
    readings = mesh.find("lab", "readings")
    up = tree(mesh, readings, "upstream")
    assert [(n["product"], n.get("pinned_major")) for n in up["inputs"]] == [("lab.calibrations", None), ("shared.airports", 1)]
    assert up["inputs"][0]["inputs"][0] | {"inputs": []} == {
        "product": "lab.readings", "domain": "lab", "kind": "source-aligned", "access": "public", "cycle": True, "inputs": []}
    assert levels(mesh, readings) == {"lab.readings": 0, "shared.airports": -1, "lab.calibrations": -1}
    svg = lineage_svg(mesh, readings, domain_colours(list(mesh.domains)))
    assert svg.count('class="node ') == 3 and 'href="shared.airports.html"' in svg


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator["Browser"]:
    """A headless Chromium on a loopback DevTools port; killed with its whole process group."""
    binary = shutil.which("chromium")
    # A missing browser fails the test: the README's test command installs it (.ci/system-packages).
    assert binary is not None, "Debian's chromium is not installed: run 'bash .ci/system-packages' (the README's test command does)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
         "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", "--window-size=1400,1000",
         "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        with connect(_page_socket(process, port), max_size=None, open_timeout=10) as socket:
            browser = Browser(socket)
            browser.call("Page.enable")
            yield browser
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _page_socket(process: subprocess.Popen, port: int) -> str:
    """The DevTools websocket of the browser's first tab, once it listens."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                pages = [t for t in json.load(answer) if t["type"] == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.2)


class Browser:
    """One tab driven over the Chrome DevTools Protocol: commands, events, keys and clicks."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + 30
        while True:  # events keep arriving meanwhile: the deadline bounds the whole wait
            message = self._receive(deadline, method)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.events):
                if message.get("method") == event:
                    return self.events.pop(i)
            self.events.append(self._receive(deadline, event))

    def _receive(self, deadline: float, awaited: str) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"chromium sent no {awaited} in time")
        return json.loads(self.socket.recv(timeout=left))

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def type(self, text: str) -> None:
        for char in text:  # real key presses, one input event each
            self.call("Input.dispatchKeyEvent", type="keyDown", key=char, text=char)
            self.call("Input.dispatchKeyEvent", type="keyUp", key=char)

    def erase(self, count: int) -> None:
        for _ in range(count):
            for kind in ("keyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key="Backspace", code="Backspace", windowsVirtualKeyCode=8)

    def click(self, selector: str) -> None:
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                      " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, *targets: Path) -> None:
        width, height = self.js("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                          clip={"x": 0, "y": 0, "width": width, "height": min(height, 4000), "scale": 1})["data"])
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"screenshot: {target}")


def _visible(browser: Browser) -> list[str]:
    return browser.js("[...document.querySelectorAll('tr.product')].filter(r => r.offsetParent !== null).map(r => r.dataset.product)")


def _matches(entry: dict, query: str) -> bool:
    """What the search box should show: every word of the query in the product's id, domain,
    description, owner, tags or column names."""
    text = " ".join([entry["product"], entry["kind"], entry["description"], entry["owner"]["team"], entry["owner"]["contact"],
                     entry["access"], *entry["tags"], *(c["name"] for c in entry["columns"])]).lower()
    return all(word in text for word in query.lower().split())


def test_the_html_catalog_in_a_real_browser(built_mesh, catalog, tmp_path):
    home, _ = built_mesh
    site = tmp_path / "site"
    result = run_mesh(["catalog", "--html", str(site)], home)
    assert result.returncode == 0, result.stderr
    ids = [e["product"] for e in catalog]
    assert sorted(p.name for p in site.iterdir()) == sorted(["index.html", "health.html", *(f"{i}.html" for i in ids)])
    with chromium(tmp_path / "chromium-profile") as browser:
        browser.open((site / "index.html").as_uri())
        assert _visible(browser) == ids
        assert browser.js("document.getElementById('count').textContent") == f"{len(ids)} of {len(ids)} products"
        browser.js("document.getElementById('search').focus()")
        searches = (  # (typed, products it must show, whether those are all)
            ("passenger_email", ["loyalty.bookings"], True),  # a column name
            ("crm restricted", ["loyalty.members"], True),  # a tag and an access level
            ("punctuality", ["punctuality.route_performance", "punctuality.weather_impact"], False),  # a domain
        )
        for query, shown, exact in searches:
            browser.type(query)
            expected = [e["product"] for e in catalog if _matches(e, query)]
            assert (expected == shown) if exact else set(shown) <= set(expected), (query, expected)
            assert _visible(browser) == expected, query
            assert browser.js("document.getElementById('count').textContent").startswith(f"{len(expected)} of {len(ids)}")
            if query == "punctuality":
                browser.screenshot(tmp_path / "catalog-search.png", ARTIFACTS / "catalog-search.png")
            browser.erase(len(query))
            assert _visible(browser) == ids
        browser.type("zzz_no_such_thing")
        assert _visible(browser) == []
        browser.erase(len("zzz_no_such_thing"))

        browser.click('a[href="punctuality.route_performance.html"]')
        browser.wait_for("Page.loadEventFired")
        assert browser.js("location.pathname").endswith("/punctuality.route_performance.html")
        entry = next(e for e in catalog if e["product"] == "punctuality.route_performance")
        schema = browser.js("[...document.querySelectorAll('#schema tbody tr')].map(r => [...r.cells].slice(0, 3).map(c => c.textContent))")
        assert schema == [[c["name"], c["type"], "yes" if c["required"] else ""] for c in entry["columns"]]
        nodes = browser.js("[...document.querySelectorAll('svg.lineage g.node')].map(g => [g.dataset.product, g.getAttribute('class'), g.closest('a').getAttribute('href')])")
        assert sorted(nodes) == [
            ["flight_operations.flights", "node input", "flight_operations.flights.html"],
            ["punctuality.route_performance", "node current", "punctuality.route_performance.html"],
            ["shared.carriers", "node input", "shared.carriers.html"],
        ]
        assert browser.js("document.querySelectorAll('svg.lineage path.edge').length") == 2
        assert browser.js("document.querySelectorAll('svg.lineage g.domain-group').length") == 3  # one per domain
        rules = browser.js("[...document.querySelectorAll('#rules tbody tr')].map(r => r.cells[0].textContent)")
        mesh = Mesh.load(ROOT)
        assert rules == [r.name for r in rules_for(mesh.find("punctuality", "route_performance").contract)]
        assert browser.js("document.querySelector('svg.lineage').getBoundingClientRect().width") > 400
        browser.screenshot(tmp_path / "catalog-product.png", ARTIFACTS / "catalog-product.png")

        browser.click('svg.lineage g.node[data-product="flight_operations.flights"]')  # the picture links too
        browser.wait_for("Page.loadEventFired")
        assert browser.js("location.pathname").endswith("/flight_operations.flights.html")
        consumers = browser.js("[...document.querySelectorAll('svg.lineage g.node.consumer')].map(g => g.dataset.product)")
        assert sorted(consumers) == next(e["consumers"] for e in catalog if e["product"] == "flight_operations.flights")
