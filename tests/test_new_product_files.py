"""A new product is new files only — no existing file edited — whether `mesh new product` writes
them or a person does, for a Python product and a dbt product alike; each then validates and
builds.

One copy of the project, four products in the fleet domain (dbt, and a Python module beside its
dbt project), added in two steps whose file changes are compared; then one `mesh validate` and
one `mesh build` of fleet and the shared domain it reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, run_mesh
from tests.helpers.mini_mesh import column, contract
from tests.helpers.tree import changes, source_files

BY_COMMAND = [
    ["new", "product", "fleet", "carrier_census", "--dbt", "--input", "shared.carriers"],
    ["new", "product", "fleet", "fleet_summary", "--python", "--input", "shared.calendar"],
]
GENERATED = "dbt_projects/fleet/models/_mesh"

# Written by hand: a descriptor, a contract and the implementation; nothing else.
HAND_SQL = """\
select engine_type, count(*) as aircraft_count
from {{ ref('aircraft') }}
group by engine_type
"""
HAND_PY = '''\
"""Airports of the mesh, counted: a product written by hand, found by the platform."""

import pandas as pd

from mesh_platform import product


@product
def airport_count(airports: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"airports_listed": [len(airports)]})
'''


def hand_written(root: Path) -> None:
    folder = root / "domains" / "fleet"
    products = {
        "engine_mix": ("Aircraft of the registry per engine type, counted.", ["fleet.aircraft"],
                       [column("engine_type", description="Engine type, as registered."),
                        column("aircraft_count", "integer", "BIGINT", required=True, description="Aircraft with that engine type.")]),
        "airport_count": ("How many airports the shared reference data lists.", ["shared.airports"],
                          [column("airports_listed", "integer", "BIGINT", required=True, description="Airports listed.")]),
    }
    for name, (description, inputs, columns) in products.items():
        (folder / "products" / f"{name}.yaml").write_text(yaml.safe_dump(
            {"name": name, "description": description, "kind": "aggregate", "inputs": inputs}, sort_keys=False))
        (folder / "contracts" / f"{name}.odcs.yaml").write_text(yaml.safe_dump(contract("fleet", name, columns), sort_keys=False))
    (root / "dbt_projects" / "fleet" / "models" / "engine_mix.sql").write_text(HAND_SQL)
    (folder / "airport_count.py").write_text(HAND_PY)


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("new_files") / "project")
    home = root.parent / "home"
    states = [source_files(root)]
    for args in BY_COMMAND:
        result = run_mesh(args, home, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr
    states.append(source_files(root))
    hand_written(root)
    states.append(source_files(root))
    validate = run_mesh(["validate", "--json"], home, cwd=root)
    build = run_mesh(["build", "--domain", "shared", "--domain", "fleet"], home, cwd=root)
    states.append(source_files(root))
    return root, states, validate, build


def test_mesh_new_product_only_adds_files(added):
    _, states, _, _ = added
    edited, added_paths = changes(states[0], states[1])
    assert edited == []
    assert added_paths == sorted([
        "domains/fleet/contracts/carrier_census.odcs.yaml", "domains/fleet/products/carrier_census.yaml",
        "dbt_projects/fleet/models/carrier_census.sql",
        f"{GENERATED}/carrier_census.yml", f"{GENERATED}/sources/shared__carriers.yml",  # by the platform's generator
        "domains/fleet/contracts/fleet_summary.odcs.yaml", "domains/fleet/products/fleet_summary.yaml",
        "domains/fleet/fleet_summary.py",
    ])


def test_products_written_by_hand_validate_and_build_and_only_add_files(added):
    root, states, validate, build = added
    assert changes(states[1], states[2]) == ([], sorted([
        "domains/fleet/products/engine_mix.yaml", "domains/fleet/contracts/engine_mix.odcs.yaml",
        "dbt_projects/fleet/models/engine_mix.sql",
        "domains/fleet/products/airport_count.yaml", "domains/fleet/contracts/airport_count.odcs.yaml",
        "domains/fleet/airport_count.py",
    ]))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    [fleet] = [r for r in json.loads(validate.stdout) if r["domain"] == "fleet"]
    assert fleet["ok"], fleet["error"]
    assert fleet["products"] == ["aircraft", "airport_count", "carrier_census", "engine_mix", "fleet_summary"]
    # validate says the hand-written dbt product had no generated yml yet (it writes it)
    assert any(f"{GENERATED}/engine_mix.yml is missing" in note for note in fleet["notes"]), fleet["notes"]

    assert build.returncode == 0, build.stdout + build.stderr
    for product in ("aircraft", "airport_count", "carrier_census", "engine_mix", "fleet_summary"):
        assert f"fleet.{product}" in build.stdout
    # loading and building added the generated yml of the hand-written model, and edited nothing
    edited, added_paths = changes(states[2], states[3])
    assert edited == [] and f"{GENERATED}/engine_mix.yml" in added_paths
    engine_mix = yaml.safe_load((root / GENERATED / "engine_mix.yml").read_text())["models"][0]
    assert [(c["name"], c["data_type"]) for c in engine_mix["columns"]] == [("engine_type", "varchar"), ("aircraft_count", "bigint")]
