"""Messages name the real cause: what the user must change, not a symptom further down."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mesh_platform import domain_definitions
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.product import PythonProduct
from tests.conftest import copy_project, run_mesh
from tests.helpers.mini_mesh import edited, write_mesh


def reads_itself(files):
    files["domains/lab"]["products/readings.yaml"]["inputs"] = ["shared.airports", "lab.readings"]


def test_a_product_reading_its_own_output_is_told_so_at_load(tmp_path, mesh_home):
    root = write_mesh(tmp_path, edited(reads_itself))
    [error] = Mesh.load(root).broken.values()
    assert isinstance(error, DescriptorError)
    assert error.path.endswith("domains/lab/products/readings.yaml") and error.field == "inputs[1]"
    assert error.expected.startswith("lab.readings is this product itself: a product cannot read its own output port")


def test_a_python_product_reading_its_own_output_is_not_blamed_on_a_missing_parameter(tmp_path, mesh_home):
    """It was: "... has no parameter 'readings' for input port lab.readings"."""
    root = write_mesh(tmp_path, edited(reads_itself))

    def readings(airports, readings):  # even with the parameter the old message asked for
        return pd.DataFrame()

    with pytest.raises(DescriptorError) as error:
        domain_definitions(root / "domains" / "lab" / "definitions.py", products=[PythonProduct("readings", readings)])
    assert "is this product itself" in str(error.value) and "parameter" not in str(error.value)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    return copy_project(tmp_path_factory.mktemp("messages") / "project"), tmp_path_factory.mktemp("messages_home")


def test_a_pinned_input_the_domain_may_not_read_is_refused_for_access_first(project):
    """It was: "new products read the current major", hiding that no major may be read."""
    root, home = project
    result = run_mesh(["new", "product", "weather", "stock", "--input", "loyalty.bookings@v1"], home, cwd=root)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: new product weather.stock may not read loyalty.bookings: it is internal"), result.stderr
    assert "current major" not in result.stderr


def test_a_pinned_input_the_domain_may_read_still_says_to_pin_by_hand(project):
    root, home = project
    result = run_mesh(["new", "product", "customer_insights", "stock", "--input", "loyalty.bookings@v1"], home, cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: --input 'loyalty.bookings@v1': new products read the current major of their inputs",
        "hint: pass loyalty.bookings, then pin it in products/stock.yaml (inputs: [loyalty.bookings@v1]) if you must",
    ]


def test_an_unknown_reader_domain_is_flagged_at_the_producer_by_mesh_validate(tmp_path, mesh_home):
    """It was only felt by consumers, told they "may not read" the product."""
    import json

    from tests.platform.test_contract_versions import _as_locations

    def misspelt_reader(files):
        files["domains/lab"]["products/readings.yaml"].update(access="internal", readers=["shared", "sharred"], inputs=[])

    root = write_mesh(tmp_path, edited(misspelt_reader))
    _as_locations(root, {"shared": "airports", "lab": "readings"})  # every domain folder a location, as validate expects
    result = run_mesh(["validate", "--json"], mesh_home, cwd=root)
    [finding] = [f for r in json.loads(result.stdout) for f in r["policies"] if f["policy"] == "known-readers" and f["product"] == "lab.readings"]
    assert (finding["severity"], finding["status"]) == ("warning", "fail")
    assert finding["messages"] == [
        "domains/lab/products/readings.yaml: readers[1]: no domain 'sharred' in this mesh, so it grants nothing (did you mean 'shared'?)"
    ]
    failing = [(r["domain"], r["error"], f) for r in json.loads(result.stdout) for f in r["policies"] if f["status"] == "fail" and f["severity"] == "error"]
    assert result.returncode == 0, (failing, [r for r in json.loads(result.stdout) if not r["ok"]])  # a warning: the producer still loads
