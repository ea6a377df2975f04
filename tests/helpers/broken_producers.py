"""Break one producer domain of a copy of the demo mesh, the ways a careless edit does, and load
every location of several such copies in one process (`python -m tests.helpers.broken_producers`).

Loading in one process keeps 20 (domain, breakage) pairs to seconds each: Dagster, dbt and the
platform are imported once; each copy's domain modules are imported afresh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The product of each producer domain that other domains read or reference.
PRODUCERS = {"shared": "airports", "flight_operations": "flights", "fleet": "aircraft", "weather": "hourly_observations", "loyalty": "bookings"}


def folder(root: Path, domain: str) -> Path:
    return root / ("shared_assets" if domain == "shared" else f"domains/{domain}")


def empty_descriptor(root: Path, domain: str) -> None:
    (folder(root, domain) / "products" / f"{PRODUCERS[domain]}.yaml").write_text("")


def missing_contract(root: Path, domain: str) -> None:
    (folder(root, domain) / "contracts" / f"{PRODUCERS[domain]}.odcs.yaml").unlink()


def name_mismatch(root: Path, domain: str) -> None:
    path = folder(root, domain) / "products" / f"{PRODUCERS[domain]}.yaml"
    text = path.read_text()
    assert f"name: {PRODUCERS[domain]}\n" in text
    path.write_text(text.replace(f"name: {PRODUCERS[domain]}\n", f"name: {PRODUCERS[domain]}_v2\n", 1))


def required_yes(root: Path, domain: str) -> None:
    path = folder(root, domain) / "contracts" / f"{PRODUCERS[domain]}.odcs.yaml"
    text = path.read_text()
    assert "required: true" in text
    path.write_text(text.replace("required: true", 'required: "yes"', 1))


BREAKAGES = {f.__name__: f for f in (empty_descriptor, missing_contract, name_mismatch, required_yes)}
# Breakages that leave the domain's other files readable: only the one product is unavailable.
CONTRACT_ONLY = {"required_yes"}


def _forget(root: Path) -> None:
    """Drop the previous copy's domain modules, so the next copy's are imported from its files."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("domains", "shared_assets")]:
        del sys.modules[name]
    while str(root) in sys.path:
        sys.path.remove(str(root))


def main(roots: list[str]) -> None:
    from mesh_platform.orchestration.mesh_validation import validate_mesh

    for text in roots:
        root = Path(text).resolve()
        reports = validate_mesh(root)
        print(json.dumps({"root": str(root), "reports": [
            {"domain": r.domain, "ok": r.ok, "error": r.error,
             "warnings": [m for f in r.policies if f["policy"] == "available-dependencies" and f["status"] == "fail" for m in f["messages"]]}
            for r in reports
        ]}), flush=True)
        _forget(root)


if __name__ == "__main__":
    main(sys.argv[1:])
