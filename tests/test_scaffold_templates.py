"""Scaffolded files are rendered from templates: what a person types reaches them as text, exactly,
and is never read as template code, YAML structure or the end of a Python string."""

from __future__ import annotations

import ast

import yaml

from tests.conftest import copy_project, run_mesh

# Template syntax, YAML indicators, quotes and a backslash that would each break a naive rendering.
TYPED = """Stock "levels" {{ 7*7 }} {% if x %}y{% endif %} {# hidden #} ${table} key: value #no-comment 'q' \\ and \"\"\" end"""


def test_typed_text_reaches_the_scaffolded_files_verbatim(tmp_path):
    root = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    domain = run_mesh(["new", "domain", "inventory", "--contact", "stock-team@mesh.example", "--description", TYPED], home, cwd=root)
    assert domain.returncode == 0, domain.stderr
    product = run_mesh(["new", "product", "inventory", "stock_levels", "--description", TYPED], home, cwd=root)
    assert product.returncode == 0, product.stderr

    folder = root / "domains" / "inventory"
    descriptor = yaml.safe_load((folder / "domain.yaml").read_text())
    assert descriptor["description"].strip() == TYPED and descriptor["owner"]["contact"] == "stock-team@mesh.example"
    docstring = ast.get_docstring(ast.parse((folder / "definitions.py").read_text()))
    assert " ".join(docstring.split()) == f"Inventory: {TYPED}"
    assert yaml.safe_load((folder / "products" / "stock_levels.yaml").read_text())["description"].strip() == TYPED
    # The contract is the ODCS model's own dump: the standard's fields, the owner as its team.
    contract = yaml.safe_load((folder / "contracts" / "stock_levels.odcs.yaml").read_text())
    assert (contract["apiVersion"], contract["kind"], contract["id"]) == ("v3.2.0", "DataContract", "urn:mesh:inventory:stock_levels")
    assert contract["team"] == {"name": "inventory", "members": [{"username": "stock-team@mesh.example", "role": "owner"}]}
