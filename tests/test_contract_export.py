"""`mesh contract export` gives consumers the contract and where the port is; the official
datacontract CLI accepts every exported demo contract."""

from __future__ import annotations

import subprocess

import yaml

from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.export import export_contract
from mesh_platform.runtime.ports.delta import DeltaPortStore, server_entry
from tests.conftest import BIN, ROOT, run_mesh


def test_every_exported_demo_contract_passes_datacontract_lint(tmp_path):
    mesh = Mesh.load(ROOT)
    assert not mesh.broken and len(mesh.products()) >= 9
    for product in mesh.products():
        target = tmp_path / f"{product.id}.odcs.yaml"
        target.write_text(export_contract(product, DeltaPortStore("/data/mesh/storage")))
        document = yaml.safe_load(target.read_text())
        assert document["servers"][0] | {"description": None} == {
            "server": "mesh_port", "type": "local", "format": "delta",
            "path": f"/data/mesh/storage/{product.domain}/{product.name}/v{product.contract.major}", "description": None,
        }
        lint = subprocess.run([str(BIN / "datacontract"), "lint", str(target)], capture_output=True, text=True, timeout=120)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert "Data contract is valid" in lint.stdout


def test_an_object_store_port_is_exported_as_an_s3_server():
    assert server_entry("s3://lake/mesh/fleet/aircraft") == {
        "server": "mesh_port", "type": "s3", "location": "s3://lake/mesh/fleet/aircraft", "format": "delta"}


def test_the_cli_exports_to_a_file_or_standard_output_and_refuses_an_unknown_product(tmp_path):
    home = tmp_path / "home"
    target = tmp_path / "aircraft.yaml"
    assert run_mesh(["contract", "export", "fleet.aircraft", "-o", str(target)], home).returncode == 0
    assert yaml.safe_load(target.read_text())["servers"][0]["path"] == str(home.resolve() / "storage" / "fleet" / "aircraft" / "v1")
    exported = run_mesh(["contract", "export", "weather.hourly_observations"], tmp_path)
    assert exported.returncode == 0
    assert yaml.safe_load(exported.stdout)["id"] == "urn:mesh:weather:hourly_observations"
    unknown = run_mesh(["contract", "export", "weather.hourly"], tmp_path)
    assert unknown.returncode == 1
    assert "no product 'weather.hourly'" in unknown.stderr and "weather.hourly_observations" in unknown.stderr
