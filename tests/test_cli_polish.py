"""The rough edges a new user met, fixed (issue 15, part F): `mesh --version`; tables that never
break a product name when piped; one SLA said one way in the catalog and in Dagster; the catalog's
check count equal to Dagster's; an HTML catalog that fits a 1400 px window; and each product page
saying how to read the port, with a DuckDB snippet that really reads it.

Everything runs against the session's built demo mesh (read only) through the real `mesh` CLI,
Dagster's own definitions and a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from mesh_platform.cli.app import _policy_table
from mesh_platform.cli.common import print_table
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.duckdb_extensions import load_statement
from tests.conftest import ROOT, mesh_env, run_mesh
from tests.test_catalog import chromium

LONGEST = "customer_insights.member_delay_exposure"  # the name users saw as `member_delay_exposur e`


def test_mesh_version_names_the_platform_dagster_and_dbt(tmp_path):
    result = run_mesh(["--version"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"mesh-platform {importlib.metadata.version('mesh-platform')}, "
                             f"dagster {importlib.metadata.version('dagster')}, dbt-core {importlib.metadata.version('dbt-core')}\n")


@pytest.mark.parametrize("columns", ["80", None])
def test_piped_catalog_never_breaks_a_product_name(built_mesh, columns):
    env = mesh_env(built_mesh[0], **({"COLUMNS": columns} if columns else {}))
    result = subprocess.run([str(Path(sys.executable).with_name("mesh")), "catalog"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    names = {re.match(r"│ (\S+)", line).group(1) for line in rows if re.match(r"│ \S", line)}
    assert names == set(Mesh.load(ROOT).product_ids())  # each whole, on one line
    assert all("…" not in line for line in rows), result.stdout


def test_the_build_table_keeps_product_names_whole(built_mesh):
    build = built_mesh[1]  # `mesh build` piped, no COLUMNS: 120 wide, not rich's 80
    rows = re.findall(r"^│ (\S+)\s+│", build.stdout, flags=re.M)
    assert sorted(rows) == sorted(Mesh.load(ROOT).product_ids()), build.stdout


def test_the_policy_table_at_80_columns_breaks_no_identifier():
    """`mesh validate`'s policy table, rendered piped at COLUMNS=80 (what a CI log gets)."""
    findings = [{"product": LONGEST, "policy": "no-unclassified-personal-data", "severity": "error", "status": "fail",
                 "scope": "global", "messages": ["column 'contact_token' holds e-mail addresses in 3 rows of the batch"]},
                {"product": "punctuality.aircraft_age_performance", "policy": "meaningful-description", "severity": "warning",
                 "status": "pass", "scope": "global", "messages": []}]
    out = io.StringIO()
    print_table(Console(file=out, width=80), _policy_table(findings, show_all=True))
    text = out.getvalue()
    for word in (LONGEST, "punctuality.aircraft_age_performance", "no-unclassified-personal-data", "meaningful-description", "contact_token"):
        assert word in text, text
    assert "…" not in text


@pytest.fixture(scope="module")
def catalog(built_mesh) -> dict[str, dict]:
    result = run_mesh(["catalog", "--json"], built_mesh[0])
    assert result.returncode == 0, result.stderr
    return {e["product"]: e for e in json.loads(result.stdout)}


# What Dagster itself shows for a product asset: its check count and its SLA metadata.
PROBE = r"""
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
shown = {}
for module in sys.argv[2:]:
    graph = importlib.import_module(module).defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if "mesh/product" in (node.metadata or {}):
            shown[node.metadata["mesh/product"]] = {
                "checks": sum(1 for c in graph.asset_check_keys if c.asset_key == key),
                "sla": {k: str(getattr(v, "value", v)) for k, v in node.metadata.items() if k.startswith("mesh/sla/")},
            }
print(json.dumps(shown))
"""


@pytest.fixture(scope="module")
def dagster_view(built_mesh) -> dict[str, dict]:
    """A Python domain (flight_operations) and two dbt domains (fleet, punctuality) as Dagster loads them."""
    modules = ["domains.flight_operations.definitions", "domains.fleet.definitions", "domains.punctuality.definitions"]
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), *modules], cwd=ROOT, env=mesh_env(built_mesh[0]),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_catalog_counts_the_checks_dagster_shows(catalog, dagster_view):
    assert len(dagster_view) == 5
    for product, shown in dagster_view.items():
        checks = catalog[product]["checks"]
        assert len(checks["results"]) == shown["checks"], product
        assert checks["passed"] + checks["warned"] + checks["failed"] == shown["checks"], product
        kinds = re.findall(r"(\d+) (contract rules?|policy rules?|SLO checks?|dbt tests?)", checks["explained"])
        assert checks["explained"].startswith(f"{shown['checks']} checks: ") and sum(int(n) for n, _ in kinds) == shown["checks"]
    # Dagster's extra checks, explained: the policies' run-time rules, the measured SLAs, and a dbt model's tests.
    assert catalog["flight_operations.flights"]["checks"]["explained"] == "31 checks: 26 contract rules, 3 policy rules, 2 SLO checks"
    assert "2 dbt tests" in catalog["fleet.aircraft"]["checks"]["explained"]


def test_one_sla_is_said_one_way_everywhere(catalog, dagster_view, built_mesh, tmp_path):
    site = tmp_path / "site"
    assert run_mesh(["catalog", "--html", str(site)], built_mesh[0]).returncode == 0
    expected = {"flight_operations.flights": "1 day", "fleet.aircraft": "30 days", "punctuality.route_performance": "2 days"}
    for product, said in expected.items():
        assert catalog[product]["freshness_sla"] == said
        assert dagster_view[product]["sla"]["mesh/sla/freshness"] == said
        page = (site / f"{product}.html").read_text()
        assert f"SLA {said}<" in page and f"<td>freshness</td><td>{said}</td>" in page
    assert dagster_view["flight_operations.flights"]["sla"]["mesh/sla/latency"] == "1 day"


def _snippet_rows(code: str) -> int:
    """Run a DuckDB snippet for real: its statements as written, the extension loaded from the
    wheel the platform ships (this machine has no network for `INSTALL delta`)."""
    setup, *statements = code.splitlines()
    assert setup == "INSTALL delta; LOAD delta;"
    con = duckdb.connect()
    con.execute(load_statement("delta"))
    query = "\n".join(statements).rstrip(";")
    return len(con.sql(query).fetchall())


def test_the_html_catalog_fits_1400px_and_says_how_to_read_each_port(built_mesh, catalog, tmp_path):
    home = built_mesh[0]
    site = tmp_path / "site"
    assert run_mesh(["catalog", "--html", str(site)], home).returncode == 0
    with chromium(tmp_path / "chromium-profile") as browser:  # a 1400 px window
        for page in ("index.html", f"{LONGEST}.html", "loyalty.bookings.html"):
            browser.open((site / page).as_uri())
            assert browser.js("window.innerWidth") == 1400
            assert browser.js("document.documentElement.scrollWidth") <= 1400, page

        browser.open((site / "flight_operations.flights.html").as_uri())
        sections = browser.js("[...document.querySelectorAll('.reading')].map(s => [s.querySelector('code.address').textContent,"
                              " Object.fromEntries([...s.querySelectorAll('pre')].map(p => [p.dataset.tool, p.textContent]))])")
        assert len(sections) == 1
        address, code = sections[0]
        port = catalog["flight_operations.flights"]["port"]
        assert address == port and Path(port).is_dir()
        assert set(code) == {"DuckDB", "Polars", "pandas", "Spark"} and all(port in text for text in code.values())
        assert "pl.read_delta(" in code["Polars"] and ").to_pandas()" in code["pandas"] and 'format("delta").load(' in code["Spark"]
        assert _snippet_rows(code["DuckDB"]) == catalog["flight_operations.flights"]["rows"] == 336_776

        # Personal data: its readers get the raw port, every other reader the masked projection.
        browser.open((site / "loyalty.bookings.html").as_uri())
        raw, masked = browser.js("[...document.querySelectorAll('.reading')].map(s => [s.querySelector('p').textContent,"
                                 " s.querySelector('pre[data-tool=DuckDB]').textContent])")
    assert raw[0].startswith("For readers of its personal data (loyalty): the raw port")
    assert masked[0].startswith("For every other reader: the masked projection (passenger_email masked)")
    projection = str(Path(catalog["loyalty.bookings"]["port"]).parent / "masked" / "v1")
    assert projection in masked[1] and Path(projection).is_dir()
    assert _snippet_rows(masked[1]) == _snippet_rows(raw[1]) == catalog["loyalty.bookings"]["rows"]
    con = duckdb.connect()
    con.execute(load_statement("delta"))
    emails = con.sql(f"SELECT passenger_email FROM delta_scan('{projection}') LIMIT 5").fetchall()
    assert emails and not any("@" in e for (e,) in emails)  # what the masked snippet reads is masked


def test_rule_descriptions_read_as_english_on_the_page(built_mesh, tmp_path):
    site = tmp_path / "site"
    assert run_mesh(["catalog", "--html", str(site)], built_mesh[0]).returncode == 0
    page = (site / "punctuality.route_performance.html").read_text()
    rules = re.search(r'<table id="rules">(.*?)</table>', page, flags=re.S).group(1)
    assert "<td>on_time_rate is between 0 and 1</td>" in rules
    assert "within" not in rules and "{" not in rules and "[&#x27;" not in rules


def test_the_terminal_detail_view_says_how_to_read_the_port(built_mesh, catalog):
    result = run_mesh(["catalog", "shared.carriers"], built_mesh[0])
    assert result.returncode == 0, result.stderr
    port = catalog["shared.carriers"]["port"]
    assert f"How to read it, for every reader allowed to read it: {port}" in result.stdout
    assert f"SELECT * FROM delta_scan('{port}');" in result.stdout
    detail = json.loads(run_mesh(["catalog", "shared.carriers", "--json"], built_mesh[0]).stdout)
    assert detail["read"][0]["address"] == port
    assert _snippet_rows(detail["read"][0]["snippets"]["DuckDB"]) == catalog["shared.carriers"]["rows"] == 16
    unknown = run_mesh(["catalog", "shared.carrier"], built_mesh[0])
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: no product 'shared.carrier' in this mesh")


def _piped_at_80(args: list[str], home: Path, cwd: Path) -> list[str]:
    """The table rows `mesh <args>` prints piped at COLUMNS=80 (what a CI log gets)."""
    result = subprocess.run([str(Path(sys.executable).with_name("mesh")), *args], cwd=cwd, env=mesh_env(home, COLUMNS="80"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("│")]


def test_piped_impact_at_80_columns_keeps_consumer_names_whole(tmp_path, mesh_home):
    from tests.helpers.mini_mesh import edited, write_mesh
    from tests.test_usage import _written

    root = write_mesh(tmp_path / "mesh", edited())  # no build: a reader's record, written as it could
    long_reader = "customer_insights_archive"
    _written(mesh_home, long_reader, dt.datetime.now(dt.timezone.utc).replace(microsecond=0), consumer=f"{long_reader}.member_delay_exposure")
    rows = _piped_at_80(["impact", "lab.readings"], mesh_home, root)
    assert any(f"│ {long_reader} " in line and f"{long_reader}.member_delay_exposure" in line for line in rows), rows
    assert all("…" not in line for line in rows), rows


def test_piped_history_at_80_columns_keeps_times_and_versions_whole(tmp_path, mesh_home):
    from mesh_platform.runtime.rollback import rollback
    from tests.test_port_history import GOOD, NEWER, carriers, carriers_contract, mesh_files, publish
    from tests.helpers.mini_mesh import write_mesh

    root = write_mesh(tmp_path / "mesh", mesh_files(carriers_contract(rule=False)))
    publish(root, GOOD)
    publish(root, NEWER)
    rollback(root, carriers(root), 0, acting="shared", by="operator 'a-rather-long-operator-login' as domain 'shared'")
    rows = _piped_at_80(["history", "shared.carriers"], mesh_home, root)
    stamps = [re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in rows]
    assert sum(1 for s in stamps if s) == 3, rows  # each version's time on one line, whole
    assert all("…" not in line for line in rows), rows
