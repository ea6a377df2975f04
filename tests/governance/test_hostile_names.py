"""Hostile names: no domain, product or column name escapes the storage root or reaches SQL.

Every name the mesh turns into a path, a Dagster key or a DuckDB identifier is validated where
it is read (`names.check_name`, descriptors, contracts, `port_uri`), and each refusal names the
file and field and says what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import os
import re
import shutil
import unicodedata
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_platform.model.contracts.model import COLUMN_NAME, contract_from_mapping
from mesh_platform.model.descriptor import load_domain, parse_input_port
from mesh_platform.model.errors import ContractError, DescriptorError, MeshError, UnknownProductError
from mesh_platform.model.identity import domain_reader
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import check_name, is_valid_name, parse_product_id
from mesh_platform.model.rules import CHECK_NAME, rules_for
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.delta import publish, read_arrow
from mesh_platform.runtime.ports.port import port_uri
from mesh_platform.runtime.quality.compile import compile_rule, quote
from mesh_platform.runtime.quality.engine import audit
from mesh_platform.runtime.reading import plan_read
from mesh_platform.runtime.validation import validate_product
from tests.conftest import ROOT
from tests.helpers.mini_mesh import column, contract, edited, write_mesh

SNAKE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EXPECTED_NAME = "expected snake_case (a lowercase letter, then lowercase letters, digits or '_', at most 63 characters)"
EXPECTED_ADDRESS = "expected 'domain.product' in snake_case"
EXPECTED_PIN = "a pinned input port ends in @v<major>"
EXPECTED_COLUMN = "is not an identifier: expected ASCII letters, digits and '_', starting with a letter or '_', at most 63 characters"
EXPECTED_TARGET = "expected 'domain.product.column' of a mesh product"
EXPECTED_MAJOR = "is not a contract major version (a non-negative integer)"

# Names that must never become a domain, product or column: path escapes, quotes and SQL,
# control characters, look-alikes of valid names, and sizes off either end.
HOSTILE = {
    "dotdot_slash": "../",
    "dotdot": "..",
    "dot": ".",
    "nested_escape": "../../etc/passwd",
    "slash": "a/b",
    "absolute": "/etc",
    "backslash": "a\\b",
    "windows_escape": "..\\..\\x",
    "single_quote": "'",
    "double_quote": '"',
    "quoted_word": "x'y",
    "dquoted_word": 'x"y',
    "sql_injection": "x; drop table y",
    "sql_comment": "x--",
    "nul": "a\x00b",
    "trailing_newline": "flights\n",
    "leading_newline": "\nflights",
    "cyrillic_i": "fl\u0456ghts",  # 'і' (U+0456), not 'i'
    "cyrillic_a": "\u0430irports",  # 'а' (U+0430), not 'a'
    "fullwidth": "\uff46\uff4c\uff49\uff47\uff48\uff54\uff53",  # ｆｌｉｇｈｔｓ
    "ligature": "\ufb02ights",  # 'ﬂ' (U+FB02)
    "zero_width": "flights\u200b",
    "right_to_left": "flights\u202e",
    "leading_digit": "1flights",
    "empty": "",
    "space": " ",
    "tab": "\t",
    "padded": " flights ",
    "inner_space": "hourly observations",
    "hyphen": "hourly-observations",
    "dollar": "$x",
    "percent_escape": "%2e%2e",
    "tilde": "~",
    "length_10000": "x" * 10_000,
}
# Valid as ASCII SQL identifiers (columns may use them) but not as mesh names.
NOT_SNAKE = {"uppercase": "FLIGHTS", "capitalised": "Flights", "leading_underscore": "_flights", "length_64": "x" * 64}
NOT_A_NAME = {**HOSTILE, **NOT_SNAKE}
NOT_A_COLUMN = {**HOSTILE, "length_64": "x" * 64}
# Unusual column names the contract accepts: each must be quoted safely wherever it is used.
ODD_COLUMNS = ["FLIGHTS", "_flights", "select", "from", "order", "group", "null", "true", "rowid", "A", "_", "x" * 63]
NON_TEXT = {"int": 7, "float": 1.5, "bool": True, "none": None, "list": ["a"], "mapping": {"a": 1}, "bytes": b"abc"}


def cases(table: dict) -> list:
    return [pytest.param(value, id=key) for key, value in table.items()]


def echoes_safely(message: str) -> bool:
    """Nothing in the message hides or reorders text: control and format characters, combining
    marks and right-to-left letters are escaped. (A look-alike letter is shown as typed; the
    refusal names its code point: test_the_refusal_points_at_what_is_wrong.)"""
    hidden = [c for c in message if not c.isprintable() or unicodedata.category(c).startswith("M")
              or unicodedata.bidirectional(c) in ("R", "AL", "AN")]
    return not hidden


def assert_names_it(message: str, bad: str) -> None:
    """The error quotes the name as typed (as Python's repr shows it), cut short when long."""
    assert echoes_safely(message), message
    assert repr(bad)[:40] in message
    assert len(message) < 600


# -- 1. names.check_name / parse_product_id ----------------------------------------------------


@pytest.mark.parametrize("bad", cases(NOT_A_NAME))
def test_check_name_refuses_a_hostile_name_saying_what_was_expected(bad):
    with pytest.raises(ValueError) as error:
        check_name(bad, "product")
    message = str(error.value)
    assert message.startswith(f"product {repr(bad)[:40]}")
    assert "is not a valid name" in message and EXPECTED_NAME in message
    assert_names_it(message, bad)
    assert not is_valid_name(bad)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("fl\u0456ghts", "character '\u0456' (U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I) at position 2 is not allowed"),
        ("\uff46lights", "character '\uff46' (U+FF46 FULLWIDTH LATIN SMALL LETTER F) at position 0 is not allowed"),
        ("\ufb02ights", "character '\ufb02' (U+FB02 LATIN SMALL LIGATURE FL) at position 0 is not allowed"),
        ("FLIGHTS", "character 'F' at position 0 is not allowed"),
        ("flights\n", r"character '\n' at position 7 is not allowed"),
        ("a\x00b", r"character '\x00' at position 1 is not allowed"),
        ("1flights", "it starts with '1'"),
        ("_flights", "it starts with '_'"),
        ("", "it is empty"),
        ("x" * 64, "it has 64 characters"),
        ("x" * 10_000, "it has 10000 characters"),
    ],
    ids=["cyrillic", "fullwidth", "ligature", "uppercase", "newline", "nul", "digit", "underscore", "empty", "64", "10000"],
)
def test_the_refusal_points_at_what_is_wrong(bad, why):
    with pytest.raises(ValueError, match=re.escape(f"({why})")):
        check_name(bad, "domain")


@pytest.mark.parametrize("bad", cases(NON_TEXT))
def test_check_name_refuses_values_that_are_not_text(bad):
    with pytest.raises(ValueError, match=rf"is not a valid name \({type(bad).__name__} is not text\)"):
        check_name(bad, "domain")


def test_a_long_name_is_not_echoed_in_full():
    with pytest.raises(ValueError) as error:
        check_name("x" * 10_000, "domain")
    assert "... (10000 characters)" in str(error.value)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize("good", ["a", "flights", "hourly_observations", "x1_", "a" * 63])
def test_check_name_accepts_snake_case_up_to_63_characters(good):
    assert check_name(good, "domain") == good


ADDRESSES = {
    "no_dot": "carriers", "three_parts": "shared.carriers.x", "empty_parts": ".", "trailing_dot": "shared.",
    "doubled_dot": "shared..carriers", "traversal": "../shared.carriers", "absolute": "/shared.carriers",
    "trailing_newline": "shared.carriers\n", "leading_space": " shared.carriers",
}


def addresses(bad: str) -> list[str]:
    """`bad` in each place of a product address."""
    return [f"{bad}.carriers", f"shared.{bad}"]


@pytest.mark.parametrize("bad", [*cases(NOT_A_NAME), *cases(ADDRESSES), *cases(NON_TEXT)])
def test_parse_product_id_refuses_a_hostile_address(bad):
    for address in addresses(bad) if bad in NOT_A_NAME.values() else [bad]:
        with pytest.raises(ValueError) as error:
            parse_product_id(address)
        message = str(error.value)
        assert message.startswith(repr(address)[:40])
        assert f"is not a product address: {EXPECTED_ADDRESS}" in message
        assert echoes_safely(message) and len(message) < 300


def test_parse_product_id_splits_a_valid_address():
    assert parse_product_id("weather.hourly_observations") == ("weather", "hourly_observations")


# -- 2. descriptors --------------------------------------------------------------------------

DOMAIN = {"name": "lab", "kind": "source-aligned", "description": "A test domain.", "owner": {"team": "lab_team", "contact": "lab@mesh.example"}}
PRODUCT = {"name": "samples", "description": "Samples."}


def domain_folder(tmp_path: Path, domain: dict | None = None, product: dict | None = None) -> Path:
    """A one-product domain folder, its YAML written by the YAML library (so every hostile
    string arrives exactly as given: NUL, newline, quotes and all)."""
    folder = tmp_path / "lab"
    (folder / "products").mkdir(parents=True)
    (folder / "contracts").mkdir()
    (folder / "domain.yaml").write_text(yaml.safe_dump(domain or DOMAIN))
    (folder / "products" / "samples.yaml").write_text(yaml.safe_dump(product or PRODUCT))
    shutil.copy(ROOT / "shared_assets" / "contracts" / "carriers.odcs.yaml", folder / "contracts" / "samples.odcs.yaml")
    return folder


def refusal(folder: Path, file: str) -> DescriptorError:
    with pytest.raises(DescriptorError) as error:
        load_domain(folder)
    assert error.value.path == str(folder / file)
    return error.value


def test_the_helper_domain_loads(tmp_path):
    domain = load_domain(domain_folder(tmp_path, product={**PRODUCT, "inputs": ["shared.carriers@v1"]}))
    assert domain.product("samples").inputs[0].major == 1


@pytest.mark.parametrize("bad", cases(NOT_A_NAME))
def test_a_hostile_domain_name_is_refused_naming_domain_yaml_and_the_field(tmp_path, bad):
    error = refusal(domain_folder(tmp_path, domain={**DOMAIN, "name": bad}), "domain.yaml")
    assert error.field == "name"
    assert "is not a valid name" in error.expected and EXPECTED_NAME in error.expected
    assert_names_it(error.expected, bad)


@pytest.mark.parametrize("bad", cases(NOT_A_NAME))
def test_a_hostile_product_name_is_refused_naming_the_product_file_and_the_field(tmp_path, bad):
    error = refusal(domain_folder(tmp_path, product={**PRODUCT, "name": bad}), "products/samples.yaml")
    assert error.field == "name"
    assert error.expected.startswith("product name ") and EXPECTED_NAME in error.expected
    assert_names_it(error.expected, bad)


@pytest.mark.parametrize("bad", [pytest.param(v, id=k) for k, v in NON_TEXT.items() if not isinstance(v, bytes)])
def test_a_name_that_is_not_text_is_refused(tmp_path, bad):
    error = refusal(domain_folder(tmp_path, product={**PRODUCT, "name": bad}), "products/samples.yaml")
    assert (error.field, error.expected) == ("name", "Input should be a valid string")


def test_a_binary_yaml_name_is_checked_as_text(tmp_path):
    folder = domain_folder(tmp_path)
    (folder / "domain.yaml").write_text(yaml.safe_dump(DOMAIN).replace("name: lab", "name: !!binary Li4v"))  # b"../"
    error = refusal(folder, "domain.yaml")
    assert error.field == "name" and "'../' is not a valid name" in error.expected


@pytest.mark.parametrize(
    ("file", "change", "field", "what"),
    [
        ("domain.yaml", lambda d, p, bad: d.update(dbt_project=bad), "dbt_project", "name"),
        ("domain.yaml", lambda d, p, bad: d["owner"].update(team=bad), "owner.team", "owner team"),
        ("products/samples.yaml", lambda d, p, bad: p.update(owner={"team": bad, "contact": "a@b.example"}), "owner.team", "owner team"),
        ("products/samples.yaml", lambda d, p, bad: p.update(access="internal", readers=[bad]), "readers", "reader domain"),
        ("products/samples.yaml", lambda d, p, bad: p.update(personal_data_readers=["lab", bad]), "personal_data_readers", "reader domain"),
    ],
    ids=["dbt_project", "domain_owner_team", "product_owner_team", "readers", "personal_data_readers"],
)
@pytest.mark.parametrize("bad", ["../", "x; drop table y", "fl\u0456ghts", "flights\n", "a\x00b", "FLIGHTS", ""])
def test_every_other_name_field_refuses_hostile_names(tmp_path, file, change, field, what, bad):
    domain, product = copy.deepcopy(DOMAIN), copy.deepcopy(PRODUCT)
    change(domain, product, bad)
    error = refusal(domain_folder(tmp_path, domain, product), file)
    assert error.field == field
    assert error.expected.startswith(f"{what} {repr(bad)} is not a valid name") and EXPECTED_NAME in error.expected


@pytest.mark.parametrize("bad", [*cases(NOT_A_NAME), *cases({**ADDRESSES, "empty_address": "@v1"})])
def test_a_hostile_input_port_is_refused_naming_the_field(tmp_path, bad):
    folder = domain_folder(tmp_path)
    inputs = [bad, *addresses(bad), f"{bad}.carriers@v1", f"shared.{bad}@v1"] if bad in NOT_A_NAME.values() else [bad]
    for port in inputs:
        (folder / "products" / "samples.yaml").write_text(yaml.safe_dump({**PRODUCT, "inputs": ["shared.carriers", port]}))
        error = refusal(folder, "products/samples.yaml")
        assert error.field == "inputs"
        assert f"is not a product address: {EXPECTED_ADDRESS}" in error.expected
        assert echoes_safely(error.expected) and len(error.expected) < 300


HOSTILE_PINS = {
    "sql": "shared.carriers@v1;drop", "traversal": "shared.carriers@../1", "negative": "shared.carriers@v-1",
    "plus": "shared.carriers@v+1", "bare_v": "shared.carriers@v", "no_v": "shared.carriers@1", "upper_v": "shared.carriers@V1",
    "space": "shared.carriers@v1 ", "newline": "shared.carriers@v1\n", "nul": "shared.carriers@v1\x00",
    "arabic_digit": "shared.carriers@v\u0661", "fullwidth_digit": "shared.carriers@v\uff11", "superscript": "shared.carriers@v\u00b9",
    "two_pins": "shared.carriers@v1@v2", "decimal": "shared.carriers@v1.0", "hex": "shared.carriers@v0x1",
    "too_long": "shared.carriers@v100000", "huge": "shared.carriers@v" + "9" * 10_000, "empty": "shared.carriers@",
}


@pytest.mark.parametrize("bad", cases(HOSTILE_PINS))
def test_a_hostile_pin_is_refused_naming_the_field(tmp_path, bad):
    error = refusal(domain_folder(tmp_path, product={**PRODUCT, "inputs": [bad]}), "products/samples.yaml")
    assert error.field == "inputs"
    assert EXPECTED_PIN in error.expected and "e.g. 'fleet.aircraft@v1'" in error.expected


@pytest.mark.parametrize(("text", "major"), [("shared.carriers@v1", 1), ("shared.carriers@v0", 0), ("shared.carriers@v99999", 99_999)])
def test_a_valid_pin_parses_to_an_int_major(text, major):
    port = parse_input_port(text)
    assert (port.domain, port.product, port.major) == ("shared", "carriers", major)
    assert type(port.major) is int


# -- 3. contracts ------------------------------------------------------------------------------


def contract_with(*columns: dict, **extra) -> dict:
    return contract("lab", "readings", [column("station", required=True), *columns], **extra)


def contract_refusal(data: dict) -> ContractError:
    path = Path("/project/domains/lab/contracts/readings.odcs.yaml")
    with pytest.raises(ContractError) as error:
        contract_from_mapping(data, path)
    assert error.value.path == str(path)
    return error.value


@pytest.mark.parametrize("bad", cases(NOT_A_COLUMN))
def test_a_hostile_column_name_is_refused_naming_the_column_field(bad):
    error = contract_refusal(contract_with(column(bad, required=True, unique=True)))
    assert error.field == "schema[0].properties[1].name"
    if bad:
        assert error.expected == f"column name {bad!r} {EXPECTED_COLUMN}"
    else:
        assert error.expected == "every column needs a name"


@pytest.mark.parametrize("bad", cases(NON_TEXT))
def test_a_column_name_that_is_not_text_is_refused(bad):
    error = contract_refusal(contract_with(column("x") | {"name": bad}))
    assert error.field is not None and error.field.startswith("schema[0].properties[1]")


TARGETS = {
    "two_parts": "shared.airports", "four_parts": "shared.airports.faa.x", "empty_part": "shared..faa",
    "traversal": "../../shared.airports.faa", "sql": "shared.airports.faa; drop table y",
}


@pytest.mark.parametrize("bad", [*cases(NOT_A_COLUMN), *cases(TARGETS)])
def test_a_hostile_relationship_target_is_refused_naming_the_field(bad):
    targets = [f"{bad}.airports.faa", f"shared.{bad}.faa", f"shared.airports.{bad}"] if bad in NOT_A_COLUMN.values() else [bad]
    for target in targets:
        error = contract_refusal(contract_with(column("code", relationships=[{"to": target}])))
        assert error.field == "schema[0].properties[1].relationships[0].to"
        # Most are caught first by the ODCS JSON schema's reference pattern, whose message is vague.
        assert error.expected in (EXPECTED_TARGET, f"{target!r} is not valid under any of the given schemas")


@pytest.mark.parametrize(
    ("target", "field", "expected"),
    [
        ("_shared.airports.faa", "relationships", "references _shared.airports, which no domain publishes; closest: shared.airports"),
        ("shared.AIRPORTS.faa", "relationships[0]", "rule name 'station_references_shared_AIRPORTS' must be snake_case"),
        ("shared.airports.FAA", "relationships", "references column 'FAA', which shared.airports does not declare"),
    ],
)
def test_a_relationship_to_a_look_alike_product_is_refused_when_the_mesh_validates(tmp_path, target, field, expected):
    """ASCII identifiers that are not mesh names pass the contract, but never a whole-mesh check."""
    def change(files):
        files["domains/lab"]["contracts/readings.odcs.yaml"]["schema"][0]["properties"][0]["relationships"] = [{"to": target}]

    mesh = Mesh.load(write_mesh(tmp_path / "project", edited(change)))
    with pytest.raises(ContractError) as error:
        validate_product(mesh.find("lab", "readings"), mesh)
    assert error.value.field == f"schema[0].properties[0].{field}"
    assert error.value.expected == expected


@pytest.mark.parametrize("bad", ["x; drop table y", "station\"", "../station", "st\u0430tion", "STATION\n"])
def test_rules_naming_undeclared_columns_never_reach_sql(bad):
    rule = {"metric": "duplicateValues", "arguments": {"properties": ["station", bad]}, "mustBe": 0}
    data = contract_with()
    data["schema"][0]["quality"] = [rule]
    readings = contract_from_mapping(data, Path("readings.odcs.yaml"))
    with pytest.raises(ContractError) as error:
        rules_for(readings)
    assert error.value.field == "schema[0].quality[0].arguments.properties"
    assert error.value.expected == f"names columns [{bad!r}] that the contract does not declare"

    error = contract_refusal(contract_with(slaProperties=[{"property": "freshness", "value": 1, "unit": "d", "element": f"readings.{bad}"}]))
    assert error.field == "slaProperties[0].element"
    assert "which the contract does not declare" in error.expected


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        yield connection


def run_rules(con, name: str, rules: bool = True) -> None:
    """Every rule of a contract whose only column is `name` runs against a table with that
    column, and selects exactly what it should."""
    readings = contract_from_mapping(
        contract("lab", "readings", [column(name, required=True, unique=True, logicalTypeOptions={"maxLength": 3})]),
        Path("readings.odcs.yaml"),
    )
    assert readings.column_names == [name]
    con.register("batch", pa.table({name: ["v", "v", None, "long"]}))
    try:
        assert con.sql(f"SELECT {quote(name)} FROM batch").fetchall() == [("v",), ("v",), (None,), ("long",)]
        if not rules:
            return
        if not CHECK_NAME.fullmatch(f"{name}_not_null"):
            # Rules are named after their column, and rule names are snake_case: an uppercase or
            # '_'-led column may carry no derived rule (refused at load, never run).
            with pytest.raises(ContractError, match=r"rule name .* must be snake_case"):
                rules_for(readings)
            return
        counts = {}
        for rule in rules_for(readings):
            compiled = compile_rule(rule, "batch")
            if compiled.failing:
                counts[rule.name] = con.sql(f"SELECT count(*) FROM batch WHERE {compiled.failing}").fetchall()[0][0]
            if compiled.query:
                counts[rule.name] = con.sql(compiled.query).fetchall()[0][0]
        assert counts == {f"{name}_not_null": 1, f"{name}_unique": 1, f"{name}_length": 1}
    finally:
        con.unregister("batch")


@pytest.mark.parametrize("name", ODD_COLUMNS, ids=lambda n: n[:10])
def test_an_odd_but_valid_column_name_is_quoted_wherever_rules_use_it(con, name):
    run_rules(con, name)


# Aliases the rules' SQL gives its own values: a column of the same name is shadowed (gap below).
RULE_ALIASES = {"n"}


def test_a_unique_column_named_like_a_rule_alias_still_catches_duplicates(con):
    readings = contract_from_mapping(contract("lab", "readings", [column("n", "integer", "BIGINT", unique=True)]), Path("x.odcs.yaml"))
    con.register("batch", pa.table({"n": pa.array([1, 1, 2], pa.int64())}))
    try:
        [result] = audit(con, "batch", rules_for(readings))
    finally:
        con.unregister("batch")
    assert (result.rule.name, result.passed, result.value) == ("n_unique", False, 1)


def test_columns_differing_only_in_case_are_refused():
    error = contract_refusal(contract_with(column("STATION", required=True)))
    assert error.field == "schema[0].properties[1].name"
    assert "duplicate" in error.expected


def test_why_columns_differing_only_in_case_are_a_problem(con):
    """The evidence for the gap above: DuckDB quietly resolves "STATION" to station."""
    con.register("batch", pa.table({"station": ["a"], "STATION": [None]}))
    try:
        assert con.sql(f"SELECT count(*) FROM batch WHERE {quote('STATION')} IS NULL").fetchall() == [(0,)]
    finally:
        con.unregister("batch")


# -- 4. ports ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", cases(NOT_A_NAME))
def test_port_uri_refuses_a_hostile_domain_or_product(tmp_path, bad):
    with pytest.raises(ValueError) as error:
        port_uri(str(tmp_path), bad, "readings", 1)
    assert str(error.value).startswith(f"domain {repr(bad)[:40]}") and EXPECTED_NAME in str(error.value)
    with pytest.raises(ValueError) as error:
        port_uri(str(tmp_path), "lab", bad, 1)
    assert str(error.value).startswith(f"product {repr(bad)[:40]}") and EXPECTED_NAME in str(error.value)


@pytest.mark.parametrize("major", ["1", "v1", 1.0, 0.5, -1, True, False, None, 100_000, 10**30, float("nan"), [1]])
def test_port_uri_refuses_a_major_that_is_not_a_non_negative_int(tmp_path, major):
    with pytest.raises(ValueError) as error:
        port_uri(str(tmp_path), "lab", "readings", major)
    assert str(error.value) == f"port major {major!r} {EXPECTED_MAJOR}"


@pytest.mark.parametrize(("domain", "product", "major"), [("lab", "readings", 0), ("a", "b", 99_999), ("a" * 63, "z_9" * 21, 7)])
def test_an_accepted_port_stays_under_the_storage_root(tmp_path, domain, product, major):
    root = tmp_path / "storage"
    uri = port_uri(str(root) + "/", domain, product, major)
    assert uri == f"{root}/{domain}/{product}/v{major}"
    assert Path(os.path.realpath(uri)).relative_to(os.path.realpath(root)).parts == (domain, product, f"v{major}")


# -- 5. reads ----------------------------------------------------------------------------------


@contextmanager
def file_system_accesses():
    """Record every path the code under test stats, lists, resolves or opens (from Python)."""
    seen: list[str] = []
    patched = pytest.MonkeyPatch()

    def spying(function):
        def spy(path, *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)):
                seen.append(os.fsdecode(path))
            return function(path, *args, **kwargs)
        return spy

    for name in ("stat", "lstat", "readlink", "scandir", "listdir", "open", "access"):
        patched.setattr(os, name, spying(getattr(os, name)))
    patched.setattr(io, "open", spying(io.open))
    try:
        yield seen
    finally:
        patched.undo()


def outside(paths: list[str], root: Path) -> list[str]:
    """The paths neither under `root` nor on the way to it."""
    root_text = os.path.abspath(root)
    found = []
    for path in paths:
        path = os.path.abspath(path)
        if not (path == root_text or path.startswith(root_text + os.sep) or root_text.startswith(path.rstrip(os.sep) + os.sep)):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def mini_mesh(tmp_path_factory) -> Mesh:
    return Mesh.load(write_mesh(tmp_path_factory.mktemp("mini") / "project", edited()))


HOSTILE_IDS = {
    "lookalike": "l\u0430b.readings", "uppercase": "LAB.readings", "three_parts": "lab.readings.x", "no_dot": "lab",
    "traversal": "../../lab.readings", "trailing_newline": "lab.readings\n", "empty": "", "dots": "...",
}
# The domain part is checked before any path is built from it: an absolute or NUL-laden domain
# never reaches the file system.
ABSOLUTE_OR_NUL = {"domain_absolute": "/etc.readings", "domain_absolute_tmp": "/tmp/x.readings", "domain_nul": "a\x00b.readings"}


@pytest.mark.parametrize("bad", [*cases(NOT_A_NAME), *cases(HOSTILE_IDS)])
def test_require_refuses_a_hostile_product_id_clearly_without_leaving_the_project(mini_mesh, bad):
    if bad in NOT_A_NAME.values():  # as the domain (unless it is a gap below) and as the product
        wanted = [f"lab.{bad}", f"{bad}.readings"]
    else:
        wanted = [bad]
    for address in wanted:
        with file_system_accesses() as seen, pytest.raises(UnknownProductError) as error:
            mini_mesh.require(address, consumer="domain 'lab'")
        assert str(error.value).startswith(f"domain 'lab' declares input port {address!r}, but ")
        assert outside(seen, mini_mesh.root) == []


@pytest.mark.parametrize("wanted", cases(ABSOLUTE_OR_NUL))
def test_require_refuses_absolute_and_nul_domain_parts_without_leaving_the_project(mini_mesh, wanted):
    with file_system_accesses() as seen, pytest.raises(UnknownProductError):
        mini_mesh.require(wanted, consumer="domain 'lab'")
    assert outside(seen, mini_mesh.root) == []


def test_require_finds_a_valid_product(mini_mesh):
    assert mini_mesh.require("shared.airports", consumer="domain 'lab'").id == "shared.airports"


def forged(product, domain: str | None = None, name: str | None = None):
    """A Product whose names never went through a descriptor (as a bug elsewhere could make)."""
    descriptor = product.descriptor.model_copy(update={"name": name}) if name is not None else product.descriptor
    return dataclasses.replace(product, domain=domain if domain is not None else product.domain, descriptor=descriptor)


@pytest.mark.parametrize("bad", cases(NOT_A_NAME))
def test_plan_read_of_a_product_with_a_hostile_name_fails_before_any_port_is_opened(mini_mesh, mesh_home, tmp_path_factory, bad):
    airports = mini_mesh.find("shared", "airports")
    with file_system_accesses() as seen:
        with pytest.raises(ValueError) as error:
            plan_read(mini_mesh, domain_reader("lab"), forged(airports, domain=bad))
        assert str(error.value).startswith(f"domain {repr(bad)[:40]}") and EXPECTED_NAME in str(error.value)
        with pytest.raises(ValueError) as error:
            plan_read(mini_mesh, domain_reader("lab"), forged(airports, name=bad))
        assert str(error.value).startswith(f"product {repr(bad)[:40]}") and EXPECTED_NAME in str(error.value)
    assert outside(seen, tmp_path_factory.getbasetemp()) == []


@pytest.mark.parametrize(
    ("major", "error", "expected"),
    [
        (-1, MeshError, "domain 'lab': -1 is not a contract major (a non-negative integer)"),
        (True, MeshError, "domain 'lab': True is not a contract major (a non-negative integer)"),
        (0.5, MeshError, "domain 'lab': 0.5 is not a contract major (a non-negative integer)"),
        ("1", MeshError, "domain 'lab': '1' is not a contract major (a non-negative integer)"),
        (2, MeshError, "domain 'lab' pins shared.airports@v2, but its contract is at 1.0.0"),
    ],
)
def test_plan_read_refuses_a_hostile_major(mini_mesh, mesh_home, major, error, expected):
    with pytest.raises(error) as raised:
        plan_read(mini_mesh, domain_reader("lab"), mini_mesh.find("shared", "airports"), major, consumer="domain 'lab'")
    assert str(raised.value) == expected


def test_plan_read_of_a_valid_product_stays_under_the_storage_root(mini_mesh, mesh_home):
    plan = plan_read(mini_mesh, domain_reader("lab"), mini_mesh.find("shared", "airports"))
    assert Path(os.path.realpath(plan.uri)).relative_to(os.path.realpath(mesh_home / "storage")).parts == ("shared", "airports", "v1")


# -- partitions, rule aliases, contract paths --------------------------------------------------


@pytest.mark.parametrize("bad", ["1=1 OR m", "m; drop table y", "../m", "fl\u0456ght_month"])
def test_a_hostile_partitioning_column_is_refused(tmp_path, bad):
    product = {**PRODUCT, "partitioning": {"column": bad, "start": dt.date(2013, 1, 1), "end": dt.date(2014, 1, 1)}}
    error = refusal(domain_folder(tmp_path, product=product), "products/samples.yaml")
    assert error.field == "partitioning.column"


def test_publishing_a_partition_never_replaces_rows_outside_it(tmp_path):
    schema = pa.schema([pa.field("m", pa.date32()), pa.field("v", pa.int64())])
    uri = str(tmp_path / "port")
    publish(uri, pa.table({"m": [dt.date(2013, 1, 5), dt.date(2013, 2, 5)], "v": [1, 2]}, schema=schema), schema, label="lab.x")
    try:
        publish(uri, schema.empty_table(), schema, label="lab.x", partition=PartitionSlice("1=1 OR m", dt.date(2013, 3, 1), dt.date(2013, 4, 1)))
    except Exception:
        pass  # refusing the slice is fine; replacing January and February is not
    assert read_arrow(uri, "lab.x").num_rows == 2


@pytest.mark.parametrize("where", ["../../../outside.odcs.yaml", "ABSOLUTE"])
def test_a_contract_path_outside_the_domain_folder_is_refused(tmp_path, where):
    outside_file = tmp_path / "outside.odcs.yaml"
    shutil.copy(ROOT / "shared_assets" / "contracts" / "carriers.odcs.yaml", outside_file)
    folder = domain_folder(tmp_path / "project" / "domains", product={**PRODUCT, "contract": str(outside_file) if where == "ABSOLUTE" else where})
    (folder / "contracts" / "samples.odcs.yaml").unlink()
    error = refusal(folder, "products/samples.yaml")
    assert error.field == "contract"


# -- 6. properties over arbitrary text ------------------------------------------------------

TRICKY = "abcxyz019_AZ./\\'\";- \t\n\x00\u0430\u0456\uff46\ufb02\u200b"
names = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=TRICKY, max_size=70),
    st.from_regex(r"[a-z][a-z0-9_]{0,66}", fullmatch=True),
)
columns = st.one_of(
    st.text(max_size=70),
    st.text(alphabet=TRICKY, max_size=66),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,65}", fullmatch=True),
    st.sampled_from(ODD_COLUMNS),
)


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("storage")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, major=st.integers(min_value=0, max_value=99_999))
def test_every_accepted_name_is_snake_case_ascii_and_its_port_stays_under_the_root(storage, name, major):
    try:
        check_name(name, "product")
    except ValueError as error:
        assert EXPECTED_NAME in str(error) and echoes_safely(str(error))
        assert not SNAKE.fullmatch(name)
        with pytest.raises(ValueError):
            port_uri(str(storage), "lab", name, major)
        return
    assert SNAKE.fullmatch(name) and name.isascii() and len(name) <= 63
    uri = port_uri(str(storage), name, name, major)
    assert Path(os.path.realpath(uri)).relative_to(os.path.realpath(storage)).parts == (name, name, f"v{major}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=columns)
def test_every_accepted_column_name_is_selected_safely_in_duckdb(con, name):
    data = contract("lab", "readings", [column(name, required=True, unique=True, logicalTypeOptions={"maxLength": 3})])
    try:
        contract_from_mapping(data, Path("readings.odcs.yaml"))
    except ContractError as error:
        assert not (isinstance(name, str) and COLUMN_NAME.fullmatch(name))
        assert error.field == "schema[0].properties[0].name"
        return
    assert COLUMN_NAME.fullmatch(name) and name.isascii()
    run_rules(con, name, rules=name not in RULE_ALIASES)
