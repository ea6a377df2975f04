"""The published registry: a code location whose checkout holds only its own domain loads and
builds from the declarations its producers published beside their ports (issue 14).

The end-to-end tests copy the platform and ONE consumer domain (customer_insights: it reads
loyalty.bookings masked, and flight_operations.flights) into a folder of their own, point it at
a copy of what the real `mesh build` of the whole demo mesh published, and run the real tools.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, mesh_env, private_home, run_mesh
from helpers.mini_mesh import edited, write_mesh
from mesh_platform.model.errors import UnknownProductError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.registry import COPY_FOLDER, MISSING_FILE, contract_file
from mesh_platform.runtime.ports.delta import DeltaPortStore
from mesh_platform.runtime.registry import publish_entries, sync_registry

CONSUMER = "customer_insights"
PRODUCERS = {("loyalty", "bookings"), ("flight_operations", "flights")}


def _location(destination: Path) -> Path:
    """The platform and customer_insights alone, as a location's image holds them."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    destination.mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", destination)
    shutil.copytree(ROOT / "platform", destination / "platform", ignore=ignore)
    shutil.copytree(ROOT / "domains" / CONSUMER, destination / "domains" / CONSUMER, ignore=ignore)
    (destination / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": f"domains.{CONSUMER}.definitions", "working_directory": ".", "location_name": CONSUMER}}]}))
    return destination


@pytest.fixture
def published(built_mesh, tmp_path) -> tuple[Path, Path]:
    """A location checkout and a private copy of the whole mesh's published storage."""
    return _location(tmp_path / "location"), private_home(built_mesh, tmp_path / "home")


def _storage(home: Path) -> Path:
    return home / "storage"


def test_the_build_publishes_each_product_declaration_as_its_files_are(built_mesh):
    storage = _storage(built_mesh[0])
    for domain, product in sorted(PRODUCERS):
        entry = storage / domain / product / "registry"
        index = json.loads((entry / "index.json").read_text())
        assert index["domain"] == domain and index["product"] == product and index["current_major"] == 1
        assert index["files"]["contracts"] == {"1": contract_file(1)}
        folder = ROOT / "domains" / domain
        assert (entry / "product.yaml").read_bytes() == (folder / "products" / f"{product}.yaml").read_bytes()
        assert (entry / contract_file(1)).read_bytes() == (folder / "contracts" / f"{product}.odcs.yaml").read_bytes()
        assert (entry / "domain.yaml").read_bytes() == (folder / "domain.yaml").read_bytes()


def test_a_location_holding_only_its_domain_loads_and_builds_through_the_registry(published):
    location, home = published
    assert sorted(p.name for p in (location / "domains").iterdir()) == [CONSUMER]
    assert not (location / "shared_assets").exists() and not (location / "dbt_projects").exists()

    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=location, env=mesh_env(home, DAGSTER_HOME=str(home / "dagster")), capture_output=True, text=True, timeout=600,
    )
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]
    assert f"Validation successful for code location {CONSUMER}." in validate.stdout + validate.stderr

    entry = _storage(home) / CONSUMER / "member_delay_exposure" / "registry"
    shutil.rmtree(entry)
    validate = run_mesh(["validate", "--json"], home, cwd=location)
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]
    [report] = json.loads(validate.stdout)
    assert (report["domain"], report["ok"], report["notes"]) == (CONSUMER, True, [])
    assert not entry.exists()  # a plain validate (a branch's CI) publishes nothing
    validate = run_mesh(["validate", "--json", "--publish-registry"], home, cwd=location)
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]
    assert json.loads((entry / "index.json").read_text())["product"] == "member_delay_exposure"  # published when asked

    port = _storage(home) / CONSUMER / "member_delay_exposure" / "v1"
    before = len(list((port / "_delta_log").glob("*.json")))
    build = run_mesh(["build", "--json"], home, cwd=location)
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    products = {p["product"]: p for p in json.loads(build.stdout)["products"]}
    assert set(products) == {f"{CONSUMER}.member_delay_exposure"}  # no registry domain is built here
    assert products[f"{CONSUMER}.member_delay_exposure"]["status"] == "published"
    assert len(list((port / "_delta_log").glob("*.json"))) == before + 1
    # It read its inputs' declarations from the registry, copied beside the checkout: never a folder of theirs.
    copied = {(p.parent.parent.name, p.stem) for p in (location / COPY_FOLDER).glob("*/products/*.yaml")}
    assert copied == PRODUCERS
    assert not (location / "domains" / "loyalty").exists()


def test_an_input_without_a_registry_entry_is_refused_in_one_line_naming_it_and_where(published):
    location, home = published
    entry = _storage(home) / "flight_operations" / "flights" / "registry"
    shutil.rmtree(entry)
    build = run_mesh(["build"], home, cwd=location)
    assert build.returncode == 1
    failed = [line for line in (build.stdout + build.stderr).splitlines() if line.startswith("failed:")]
    assert len(failed) == 1, build.stdout + build.stderr
    assert "flight_operations.flights" in failed[0] and str(entry) in failed[0]
    assert "not in this checkout" in failed[0]


def test_the_checkout_stays_the_source_of_truth_over_a_registry_copy(tmp_path):
    root = write_mesh(tmp_path / "mesh", edited())
    # A stale copy of the shared domain claiming another description: the checkout's folder wins.
    copy = root / COPY_FOLDER / "shared"
    shutil.copytree(root / "shared_assets", copy)
    descriptor = copy / "products" / "airports.yaml"
    descriptor.write_text(descriptor.read_text().replace("Every airport", "A stale airport list"))
    mesh = Mesh.load(root)
    assert mesh.find("shared", "airports").descriptor.description.startswith("Every airport")
    assert not mesh.from_registry("shared")

    shutil.rmtree(root / "shared_assets")  # the checkout now lacks it: the copy is what the mesh reads
    mesh = Mesh.load(root)
    assert mesh.from_registry("shared") and mesh.find("shared", "airports").descriptor.description.startswith("A stale")
    assert mesh.require("shared.airports", consumer="lab.readings").contract.column_names == ["faa", "name"]


def test_a_missing_entry_is_named_with_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_STORAGE_ROOT", str(tmp_path / "storage"))
    root = write_mesh(tmp_path / "mesh", edited())
    publish_entries(root, Mesh.load(root).domains["shared"])
    shutil.rmtree(root / "shared_assets")
    sync_registry(root)
    assert Mesh.load(root).from_registry("shared")

    shutil.rmtree(tmp_path / "storage" / "shared" / "airports" / "registry")
    sync_registry(root)
    assert json.loads((root / COPY_FOLDER / "shared" / MISSING_FILE).read_text()) == {
        "airports": str(tmp_path / "storage" / "shared" / "airports" / "registry")}
    with pytest.raises(UnknownProductError) as refused:
        Mesh.load(root).require("shared.airports", consumer="lab.readings")
    assert str(refused.value) == (
        "lab.readings declares input port 'shared.airports', but no domain publishes that product: domain 'shared' is not in "
        f"this checkout and the registry has no entry for shared.airports at {tmp_path / 'storage' / 'shared' / 'airports' / 'registry'}"
    )


def test_an_entry_never_writes_outside_its_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_STORAGE_ROOT", str(tmp_path / "storage"))
    root = write_mesh(tmp_path / "mesh", edited())
    publish_entries(root, Mesh.load(root).domains["shared"])
    shutil.rmtree(root / "shared_assets")
    store = DeltaPortStore(str(tmp_path / "storage"))
    hostile = yaml.safe_dump({"name": "airports", "description": "Every airport.", "contract": "../../../../escaped.yaml"})
    store.write_entry_file("shared", "airports", "product.yaml", hostile.encode())
    with pytest.raises(Exception, match=r"registry entry of shared\.airports at .*contract '../../../../escaped.yaml' is not a .yaml file of the domain's contracts/ folder"):
        sync_registry(root)
    assert not list(tmp_path.rglob("escaped.yaml"))
