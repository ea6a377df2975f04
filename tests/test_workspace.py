"""Every domain is a code location that Dagster's own tooling loads, and the real webserver
shows them all with the lineage that crosses them.

`dagster definitions validate` over every location of the checked-out mesh is `dg check defs` in
test_conventions.py (dg runs the same validation over the same modules; that dg's projects are
exactly workspace.yaml's locations is checked there too): workspace.yaml itself is read here by
the webserver, whose every location must load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import BIN, ROOT, free_port, group_ends, mesh_env

LOCATIONS = {"shared", "flight_operations", "fleet", "weather", "punctuality", "loyalty", "customer_insights"}


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS_QUERY = """{ assetNodes { assetKey { path } isExecutable
    repository { location { name } } dependencyKeys { path } } }"""


@pytest.fixture
def webserver(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=mesh_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: code servers are stopped with it
    )
    try:
        yield port, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_for_locations(port: int, process: subprocess.Popen, timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the webserver exited early"
        try:
            entries = graphql(port, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries
        except OSError:
            pass
        time.sleep(2)
    raise AssertionError("the webserver did not load every location in time")


def test_webserver_lists_every_location_and_edges_across_locations(webserver):
    port, process = webserver
    entries = wait_for_locations(port, process)
    assert {e["name"] for e in entries} == LOCATIONS
    assert all(e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)

    nodes = graphql(port, ASSETS_QUERY)["assetNodes"]
    home = {tuple(n["assetKey"]["path"]): n["repository"]["location"]["name"] for n in nodes if n["isExecutable"]}
    crossing = {
        (tuple(dep["path"]), tuple(n["assetKey"]["path"]))
        for n in nodes if n["isExecutable"]
        for dep in n["dependencyKeys"]
        if tuple(dep["path"]) in home and home[tuple(dep["path"])] != home[tuple(n["assetKey"]["path"])]
    }
    assert (("flight_operations", "flights"), ("punctuality", "route_performance")) in crossing  # read in dbt
    assert (("weather", "hourly_observations"), ("punctuality", "weather_impact")) in crossing  # read in Python
    assert (("fleet", "aircraft"), ("punctuality", "aircraft_age_performance")) in crossing
    assert (("loyalty", "bookings"), ("customer_insights", "member_delay_exposure")) in crossing  # read masked

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    assert group_ends(process.pid, timeout=60), "code servers of the webserver's group still run"
