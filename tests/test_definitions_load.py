"""Loading a code location is cheap (issue 12): no data-stack import, and only the descriptors
its graph needs are read, so an unrelated broken domain cannot touch it.

Each load runs in a fresh interpreter, as a code server does, on a private copy of the demo mesh.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mesh_platform.model.mesh import Mesh
from tests.conftest import copy_project, mesh_env
from tests.helpers.mini_mesh import base_mesh, write_mesh

# What a location load may not import: the engines and frames a step uses when it runs.
# deltalake is not here: the contract-version policy reads the published contract from the port's
# Delta log at load. duckdb is asserted on a location whose contracts have no sql rule: binding a
# sql rule at load (a typo fails the deploy, not a publish) needs the engine.
DATA_STACK = {"duckdb", "pandas", "pandera", "pyarrow.dataset", "polars", "datacontract", "dbt.adapters.duckdb"}

PROBE = r"""
import importlib, json, os, sys
opened = set()

def record(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.add(os.path.abspath(os.fsdecode(args[0])))

sys.addaudithook(record)
sys.path.insert(0, sys.argv[1])
defs = importlib.import_module(sys.argv[2]).defs
repo = defs.get_repository_def()
graph = repo.asset_graph
print(json.dumps({
    "modules": sorted(sys.modules),
    "opened": sorted(opened),
    "findings": defs.metadata["mesh/policy_report"].data,
    "descriptions": {k.to_user_string(): graph.get(k).description or "" for k in graph.get_all_asset_keys()},
}))
"""


def load_location(root: Path, module: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(root), module], cwd=root, env=mesh_env(root / ".mesh"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def domains_read(root: Path, opened: list[str]) -> set[str]:
    """The domain folders a load opened a file of."""
    found = set()
    for path in map(Path, opened):
        if path.is_relative_to(root / "domains"):
            found.add(path.relative_to(root / "domains").parts[0])
        elif path.is_relative_to(root / "shared_assets"):
            found.add("shared")
    return found


def test_a_location_loads_without_the_data_stack(tmp_path):
    root = copy_project(tmp_path / "mesh")
    loaded = load_location(root, "domains.fleet.definitions")
    assert "fleet/aircraft" in loaded["descriptions"]
    assert DATA_STACK.isdisjoint(loaded["modules"]), sorted(DATA_STACK.intersection(loaded["modules"]))


def test_binding_sql_rules_at_load_needs_duckdb_and_nothing_else_of_the_data_stack(tmp_path):
    root = copy_project(tmp_path / "mesh")
    loaded = load_location(root, "domains.weather.definitions")  # hourly_observations has a sql rule
    assert "duckdb" in loaded["modules"]
    assert (DATA_STACK - {"duckdb"}).isdisjoint(loaded["modules"]), sorted(DATA_STACK.intersection(loaded["modules"]))


def test_a_location_reads_only_its_own_domain_and_what_its_graph_needs(tmp_path):
    root = copy_project(tmp_path / "mesh")
    # An unrelated domain whose files do not even parse: fleet neither reads it nor reports it.
    (root / "domains" / "loyalty" / "domain.yaml").write_text("name: [loyalty\n")
    loaded = load_location(root, "domains.fleet.definitions")
    # fleet's aircraft references the shared airports (a global identifier): shared is read too.
    assert domains_read(root, loaded["opened"]) == {"fleet", "shared"}
    assert not [f for f in loaded["findings"] if f["status"] != "pass"], loaded["findings"]


def test_a_broken_producer_of_an_input_is_named_when_its_consumer_loads(tmp_path):
    root = copy_project(tmp_path / "mesh")
    contract = root / "domains" / "loyalty" / "contracts" / "bookings.odcs.yaml"
    contract.write_text(contract.read_text().replace("apiVersion:", "apiVersion: [", 1))
    loaded = load_location(root, "domains.customer_insights.definitions")
    assert {"customer_insights", "loyalty", "flight_operations"} <= domains_read(root, loaded["opened"])
    warned = [m for f in loaded["findings"] if f["policy"] == "available-dependencies" and f["status"] != "pass" for m in f["messages"]]
    assert any("loyalty.bookings" in m and "bookings.odcs.yaml" in m for m in warned), loaded["findings"]
    assert loaded["descriptions"]["loyalty/bookings"].startswith("Cannot be read now:")
    assert "bookings.odcs.yaml" in loaded["descriptions"]["loyalty/bookings"]


def test_a_mesh_read_on_demand_ends_as_the_mesh_read_at_once(tmp_path):
    files = base_mesh()
    files["domains/attic"] = {"domain.yaml": {"name": "loft", "kind": "aggregate"}}  # its folder names another domain
    root = write_mesh(tmp_path / "mesh", files)
    (root / "domains" / "cellar").mkdir()
    (root / "domains" / "cellar" / "domain.yaml").write_text("name: [cellar\n")
    on_demand = Mesh.on_demand(root)
    assert on_demand.require("shared.airports", consumer="lab.readings").name == "airports"
    assert "cellar" not in dict.keys(on_demand.domains) and not dict.keys(on_demand.broken)  # nothing else read yet
    assert on_demand.unavailable("cellar", "anything").startswith("domain 'cellar' does not load:")
    at_once = Mesh.load(root)
    assert list(on_demand.domains) == list(at_once.domains) == ["shared", "lab"]
    assert {f: str(e) for f, e in on_demand.broken.items()} == {f: str(e) for f, e in at_once.broken.items()}
    assert len(at_once.broken) == 2
