"""The docs' YAML examples work as written: each fenced ```yaml block of docs/*.md is parsed and,
placed where the doc says it goes, loaded by the platform's own descriptor and contract loaders.

Each block is marked, on the line before it, with where it belongs in the demo:
  <!-- mesh-yaml: merge into PATH -->          a mapping merged into that file's top level
  <!-- mesh-yaml: properties of PATH -->       contract columns replacing the same-named ones of PATH
An unmarked block fails, so a new example cannot go untested.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.rules import rules_for
from tests.conftest import ROOT

DOCS = ROOT / "docs"
BLOCK = re.compile(r"(?:<!-- mesh-yaml: (?P<how>merge into|properties of) (?P<path>\S+) -->\n)?```ya?ml\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    how: str | None
    path: str | None
    body: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def examples() -> list[Example]:
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            line = text[: match.start("body")].count("\n")
            found.append(Example(doc.name, line, match["how"], match["path"], match["body"]))
    return found


EXAMPLES = examples()


def test_the_docs_have_yaml_examples():
    assert len(EXAMPLES) >= 4  # schedule, access, retirement date, derived partition


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_a_docs_yaml_example_loads_where_it_belongs(example, tmp_path):
    data = yaml.safe_load(example.body)  # parses, exactly as written
    assert example.how is not None, f"{example}: mark the block with <!-- mesh-yaml: merge into PATH --> (or properties of PATH)"
    target = ROOT / example.path
    domain = next(p for p in [target, *target.parents] if (p / "domain.yaml").is_file())
    copy = tmp_path / domain.name
    shutil.copytree(domain, copy, ignore=shutil.ignore_patterns("__pycache__"))
    placed = copy / target.relative_to(domain)
    document = yaml.safe_load(placed.read_text())
    if example.how == "merge into":
        assert isinstance(data, dict), f"{example}: a mapping to merge"
        document.update(data)
    else:
        assert isinstance(data, list) and all(isinstance(c, dict) and "name" in c for c in data), f"{example}: a list of contract columns"
        properties = document["schema"][0]["properties"]
        names = [c["name"] for c in properties]
        for column in data:
            assert column["name"] in names, f"{example}: {column['name']} is not a column of {example.path}"
            properties[names.index(column["name"])] = column
    placed.write_text(yaml.safe_dump(document, sort_keys=False))  # dates stay unquoted, as in the docs

    loaded = load_domain(copy)  # the descriptor loader, which parses each product's contract
    for product in loaded.products.values():
        rules_for(product.contract)  # the contract's rules: a bad rule fails here, naming the field
    merged = next((p for p in loaded.products.values() if placed.resolve() in (p.path, p.contract_path)), None)
    assert merged is not None, f"{example}: {example.path} is not a product's descriptor or contract"


def test_the_retirement_date_as_the_docs_write_it_is_read_as_a_date(tmp_path):
    """The example that failed with "datetime.date(2027, 6, 30) is not valid under any of the given schemas"."""
    import datetime as dt

    from mesh_platform.model.contracts.model import parse_contract
    from mesh_platform.model.contracts.versions import retirement_of

    [example] = [e for e in EXAMPLES if "previousMajorReadableUntil" in e.body]
    assert "value: 2027-06-30}" in example.body  # unquoted in the doc
    contract = yaml.safe_load((ROOT / example.path).read_text()) | yaml.safe_load(example.body)
    path = tmp_path / "flights.odcs.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    assert retirement_of(parse_contract(path)) == dt.date(2027, 6, 30)
