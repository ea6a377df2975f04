"""Product and domain descriptors: typed, with errors that name the file and the field."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.errors import DescriptorError, MeshError
from mesh_platform.model.mesh import Mesh
from tests.conftest import ROOT

DOMAIN = """\
name: lab
kind: source-aligned
description: A test domain.
owner: {team: lab_team, contact: lab@mesh.example}
"""


def make_domain(tmp_path: Path, product: str, domain: str = DOMAIN) -> Path:
    folder = tmp_path / "lab"
    (folder / "products").mkdir(parents=True)
    (folder / "contracts").mkdir()
    (folder / "domain.yaml").write_text(domain)
    (folder / "products" / "samples.yaml").write_text(textwrap.dedent(product))
    shutil.copy(ROOT / "shared_assets" / "contracts" / "carriers.odcs.yaml", folder / "contracts" / "samples.odcs.yaml")
    return folder


def test_a_product_inherits_its_domains_kind_and_owner(tmp_path):
    domain = load_domain(make_domain(tmp_path, "name: samples\ndescription: Samples.\ninputs: [shared.carriers]\n"))
    product = domain.product("samples")
    assert (product.id, product.kind, product.owner.team) == ("lab.samples", "source-aligned", "lab_team")
    assert [port.id for port in product.inputs] == ["shared.carriers"]
    assert product.contract.column_names == ["carrier", "name"]


@pytest.mark.parametrize(
    ("product", "field", "expected"),
    [
        ("description: no name\n", "name", "required field is missing"),
        ("name: samples\ndescription: x\nkind: central\n", "kind", "Input should be 'source-aligned', 'aggregate' or 'consumer-aligned'"),
        ("name: samples\ndescription: x\ninputs: [carriers]\n", "inputs", "expected 'domain.product'"),
        ("name: samples\ndescription: x\naccess: secret\n", "access", "Input should be 'public', 'internal' or 'restricted'"),
        ("name: samples\ndescription: x\nowner: {team: Lab Team, contact: lab@mesh.example}\n", "owner.team", "not a valid name"),
        ("name: samples\ndescription: x\nowner: {team: lab, contact: nobody}\n", "owner.contact", "expected an e-mail address"),
        ("name: samples\ndescription: x\ncolour: blue\n", "colour", "unknown field"),
        ("name: other\ndescription: x\n", "name", "expected 'samples', the file's name"),
        ("name: samples\ndescription: x\ncontract: contracts/missing.yaml\n", "contract", "no contract file"),
        ("name: samples\ndescription: x\npartitioning: {column: m, start: 2013-01-15, end: 2014-01-01}\n",
         "partitioning", "first day of a month"),
        ("name: samples\n  description: [x\n", "line 2, column 14", "malformed YAML"),
    ],
)
def test_a_bad_descriptor_names_the_file_and_the_field(tmp_path, product, field, expected):
    folder = make_domain(tmp_path, product)
    with pytest.raises(DescriptorError) as error:
        load_domain(folder)
    assert error.value.path == str(folder / "products" / "samples.yaml")
    assert error.value.field == field
    assert expected in error.value.expected


def test_the_demo_mesh_orders_producers_before_consumers():
    mesh = Mesh.load(ROOT)
    assert not mesh.broken
    order = mesh.domain_order()
    assert order.index("punctuality") > max(order.index(d) for d in ("shared", "flight_operations", "fleet", "weather"))
    assert mesh.closest("flight_operations.flight") == ["flight_operations.flights"]


def test_domains_depending_on_each_other_in_a_cycle_are_refused(tmp_path):
    for name, reads in [("alpha", "beta.things"), ("beta", "alpha.things")]:
        folder = tmp_path / "domains" / name
        (folder / "products").mkdir(parents=True)
        (folder / "contracts").mkdir()
        (folder / "domain.yaml").write_text(DOMAIN.replace("name: lab", f"name: {name}"))
        (folder / "products" / "things.yaml").write_text(f"name: things\ndescription: x\ninputs: [{reads}]\n")
        shutil.copy(ROOT / "shared_assets" / "contracts" / "carriers.odcs.yaml", folder / "contracts" / "things.odcs.yaml")
    with pytest.raises(MeshError, match="cycle"):
        Mesh.load(tmp_path).domain_order()
