"""A registry entry is written by one domain and parsed by every consumer's location: an entry file
that could stall or exhaust them (a YAML alias bomb, a huge file) is refused before it is parsed."""

from __future__ import annotations

import pytest

from mesh_platform.model.registry import MAX_ENTRY_FILE_BYTES, RegistryError, check_entry_file

BOMB = b"""\
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


def test_an_entry_file_with_yaml_aliases_is_refused_naming_the_file_and_where():
    with pytest.raises(RegistryError, match=r"^registry entry at s3://m/p/fleet/aircraft/registry: product\.yaml uses YAML aliases"):
        check_entry_file("product.yaml", BOMB, "s3://m/p/fleet/aircraft/registry")


def test_an_oversized_entry_file_is_refused_and_a_plain_one_passes():
    with pytest.raises(RegistryError, match=f"contract.v1.odcs.yaml is {MAX_ENTRY_FILE_BYTES + 1} bytes"):
        check_entry_file("contract.v1.odcs.yaml", b"#" * (MAX_ENTRY_FILE_BYTES + 1), "here")
    check_entry_file("product.yaml", b"name: aircraft\ninputs: [shared.carriers]\n", "here")  # no alias: accepted
    check_entry_file("index.json", b'{"a": "&a *a"}', "here")  # JSON is never scanned as YAML
