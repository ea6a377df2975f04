"""A tiny mesh on disk, built from Python dicts, that a test changes one field at a time.

`shared.airports` is the reference product (its key `faa` is the global identifier
`airport_code`); `lab.readings` is the product under test. Every part is valid until a test
edits it, so each failure a test sees is the one it caused.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

OWNER = {"team": "lab_team", "contact": "lab@mesh.example"}


def contract(domain: str, product: str, columns: list[dict], **extra) -> dict:
    return {
        "apiVersion": "v3.2.0", "kind": "DataContract", "id": f"urn:mesh:{domain}:{product}", "name": product,
        "version": "1.0.0", "status": "active", "domain": domain, "dataProduct": product,
        "team": {"name": f"{domain}_team", "members": [{"username": f"{domain}@mesh.example", "role": "owner"}]},
        "schema": [{"name": product, "physicalName": product, "logicalType": "object", "description": f"The {product} table.", "properties": columns}],
        "slaProperties": [{"property": "freshness", "value": 1, "unit": "d"}],
        **extra,
    }


def column(name: str, logical: str = "string", physical: str = "VARCHAR", **extra) -> dict:
    return {"name": name, "logicalType": logical, "physicalType": physical, "description": f"The {name.replace('_', ' ')} of the row.", **extra}


def base_mesh() -> dict:
    """Folder -> {file -> document} of a valid two-domain mesh."""
    airports = contract("shared", "airports", [
        column("faa", primaryKey=True, businessName="airport_code"), column("name", required=True),
    ])
    readings = contract("lab", "readings", [
        column("station", required=True, businessName="airport_code", relationships=[{"to": "shared.airports.faa"}]),
        column("reading_value", "number", "DOUBLE"),
    ])
    return {
        "shared_assets": {
            "domain.yaml": {"name": "shared", "kind": "source-aligned", "description": "Reference data every domain joins to.", "owner": {"team": "governance", "contact": "gov@mesh.example"}},
            "products/airports.yaml": {"name": "airports", "description": "Every airport of the mesh with its FAA code and name."},
            "contracts/airports.odcs.yaml": airports,
        },
        "domains/lab": {
            "domain.yaml": {"name": "lab", "kind": "source-aligned", "description": "A laboratory domain for tests.", "owner": OWNER},
            "products/readings.yaml": {"name": "readings", "description": "Hourly instrument readings taken at each airport station.", "inputs": ["shared.airports"]},
            "contracts/readings.odcs.yaml": readings,
        },
    }


def write_mesh(root: Path, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "workspace.yaml").write_text("load_from: []\n")
    for folder, documents in files.items():
        for name, document in documents.items():
            path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(document, sort_keys=False))
    return root


def edited(change=None) -> dict:
    """The base mesh with `change(files)` applied."""
    files = copy.deepcopy(base_mesh())
    if change is not None:
        change(files)
    return files
