"""Products are discovered, not registered: a domain's `@product` functions are found in its
package, and a dbt product's yml (its contract's columns, its input ports) is generated from the
contract and descriptor, checked in like a lock file."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mesh_platform import domain_definitions
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.orchestration.dbt.generated import HEADER, generated_files, stale_files, write_generated
from tests.conftest import ROOT, copy_project
from tests.helpers.mini_mesh import base_mesh, write_mesh

DBT_DOMAINS = ("fleet", "weather", "punctuality")


# -- discovery of @product functions ---------------------------------------------------------------

@pytest.fixture
def lab(tmp_path, monkeypatch, mesh_home) -> Path:
    """The mini mesh, importable as the code location imports it (its root first on sys.path);
    its `domains.lab` modules are forgotten afterwards, so each test imports its own."""
    root = write_mesh(tmp_path / "mesh", base_mesh())
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [n for n in sys.modules if n == "domains.lab" or n.startswith("domains.lab.")]:
        del sys.modules[name]


def module(root: Path, name: str, body: str) -> Path:
    path = root / "domains" / "lab" / f"{name}.py"
    path.write_text("import pandas as pd\n\nfrom mesh_platform import product\n\n" + textwrap.dedent(body))
    return path


READINGS = """
@product
def readings(airports):
    return pd.DataFrame({"station": ["EWR"], "reading_value": [1.0]})
"""


def load(root: Path):
    return domain_definitions(root / "domains" / "lab" / "definitions.py")


def test_a_product_function_in_any_module_of_the_domain_is_found(lab):
    module(lab, "instruments", READINGS)
    # imported into a second module for reuse: still one implementation, not two
    module(lab, "reports", "from domains.lab.instruments import readings  # noqa: F401\n")
    defs = load(lab)
    assert {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()} >= {("lab", "readings")}


def test_a_descriptor_without_a_function_names_the_descriptor_and_where_it_looked(lab):
    module(lab, "instruments", "VALUE = 1\n")
    with pytest.raises(DescriptorError) as error:
        load(lab)
    assert error.value.path.endswith("domains/lab/products/readings.yaml")
    assert "product lab.readings has no implementation: no @product function named 'readings' in" in str(error.value)
    assert "domains/lab/*.py" in str(error.value)


def test_a_function_without_a_descriptor_names_the_missing_descriptor_and_the_function(lab):
    module(lab, "instruments", READINGS)
    path = module(lab, "extras", "@product\ndef calibration():\n    return pd.DataFrame()\n")
    with pytest.raises(DescriptorError) as error:
        load(lab)
    assert error.value.path.endswith("domains/lab/products/calibration.yaml")
    assert f"domains.lab.extras.calibration ({path}:5) is an @product function for product lab.calibration, which has no descriptor" in str(error.value)


def test_two_functions_for_one_product_name_both_files(lab):
    first = module(lab, "instruments", READINGS)
    second = module(lab, "spare", '@product(name="readings")\ndef other_readings(airports):\n    return pd.DataFrame()\n')
    with pytest.raises(DescriptorError) as error:
        load(lab)
    message = str(error.value)
    assert "two @product functions implement product 'readings'" in message
    assert str(first) in message and str(second) in message and message.endswith("keep one")


def test_every_demo_domain_lists_nothing():
    """Its definitions.py is a docstring, one import and `defs = domain_definitions(__file__)`."""
    for definitions in [*ROOT.glob("domains/*/definitions.py"), ROOT / "shared_assets" / "definitions.py"]:
        body = definitions.read_text().split('"""')[-1]
        assert body == "\n\nfrom mesh_platform import domain_definitions\n\ndefs = domain_definitions(__file__)\n", definitions


# -- generated dbt yml ----------------------------------------------------------------------------

def test_generated_model_yml_is_the_contract_enforced():
    mesh = Mesh.load(ROOT)
    for domain_name in DBT_DOMAINS:
        domain = mesh.domains[domain_name]
        project = ROOT / "dbt_projects" / domain_name
        models = {f.path.stem: yaml.safe_load(f.text) for f in generated_files(domain, project, ROOT) if f.path.parent.name == "_mesh"}
        assert models, domain_name
        for name, document in models.items():
            product = domain.products[name]
            [model] = document["models"]
            assert model["name"] == name and model["config"] == {"contract": {"enforced": True}}
            assert [(c["name"], c["data_type"]) for c in model["columns"]] == [
                (c.name, c.sql_type.lower()) for c in product.contract.columns]
            keys = [c["name"] for c in model["columns"] if c.get("data_tests") == ["unique", "not_null"]]
            assert keys == [c.name for c in product.contract.columns if c.primary_key]


def test_generated_sources_are_the_input_ports_one_file_each():
    mesh = Mesh.load(ROOT)
    domain = mesh.domains["punctuality"]
    files = generated_files(domain, ROOT / "dbt_projects" / "punctuality", ROOT)
    sources = {f.path.name: yaml.safe_load(f.text)["sources"] for f in files if f.path.parent.name == "sources"}
    # route_performance and aircraft_age_performance both read flights: one file, shared
    assert sorted(sources) == ["fleet__aircraft.yml", "flight_operations__flights.yml", "shared__carriers.yml"]
    assert sources["fleet__aircraft.yml"] == [{"name": "fleet", "config": {"meta": {"plugin": "mesh_port", "save_mode": "ignore"}}, "tables": [{"name": "aircraft"}]}]
    for file in files:
        assert file.text.startswith(HEADER.split("{origin}")[0]) and "do not edit" in file.text.splitlines()[0]


def test_the_checked_in_generated_yml_is_up_to_date_with_the_contracts():
    """Like a lock file: standalone dbt in a fresh clone reads these, so they must say what the
    contracts say. Out of date? Load the domain (`mesh validate`) and commit what it rewrote."""
    mesh = Mesh.load(ROOT)
    for domain_name in DBT_DOMAINS:
        assert stale_files(mesh.domains[domain_name], ROOT / "dbt_projects" / domain_name, ROOT) == [], domain_name


def test_a_changed_contract_makes_its_yml_stale_until_rewritten(tmp_path):
    root = copy_project(tmp_path / "project")
    contract = root / "domains" / "fleet" / "contracts" / "aircraft.odcs.yaml"
    contract.write_text(contract.read_text().replace("description: Number of seats.", "description: Seats for passengers."))
    leftover = root / "dbt_projects" / "fleet" / "models" / "_mesh" / "sources" / "shared__gone.yml"
    leftover.parent.mkdir()
    leftover.write_text("version: 2\n")
    domain = Mesh.load(root).domains["fleet"]
    project = root / "dbt_projects" / "fleet"

    assert stale_files(domain, project, root) == [
        "dbt_projects/fleet/models/_mesh/aircraft.yml differs from what its contract and descriptor say",
        "dbt_projects/fleet/models/_mesh/sources/shared__gone.yml is left over (no product model or input port generates it)",
    ]
    assert sorted(p.name for p in write_generated(domain, project, root)) == ["aircraft.yml", "shared__gone.yml"]
    assert stale_files(domain, project, root) == [] and not leftover.exists()
    assert "Seats for passengers." in (project / "models" / "_mesh" / "aircraft.yml").read_text()
    assert write_generated(domain, project, root) == []  # nothing rewritten when nothing changed
