"""Names a user chooses with `mesh new`: refused when they shadow an importable module or are
reserved SQL words, with a suggestion; echoed as typed, with what hides or reorders text escaped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import check_name, shown
from mesh_platform.runtime.reserved_names import reserved_problem
from tests.conftest import ROOT, copy_project, run_mesh


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    root = copy_project(tmp_path_factory.mktemp("names") / "project")
    return root, tmp_path_factory.mktemp("names_home")


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if "__pycache__" not in p.parts}


def refused(project, args: list[str]) -> list[str]:
    root, home = project
    before = snapshot(root)
    result = run_mesh(args, home, cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and snapshot(root) == before
    return result.stderr.splitlines()


# -- (1) a domain may not shadow an importable module, nor be a reserved SQL word ----------------------

SHADOWING = {
    "json": "the Python standard library module 'json'",
    "platform": "the project's own 'platform'",
    "dagster": "the installed module 'dagster'",
    "mesh_platform": "the project's own 'mesh_platform'",
    "domains": "the project's own 'domains'",
    "shared_assets": "the project's own 'shared_assets'",
}


@pytest.mark.parametrize("name, module", SHADOWING.items(), ids=SHADOWING.keys())
def test_mesh_new_domain_refuses_a_name_that_shadows_a_module_and_suggests_one(project, name, module):
    lines = refused(project, ["new", "domain", name])
    assert lines == [
        f"error: domain name {name!r} cannot be used: it would shadow {module}",
        f"hint: did you mean {name}_domain or {name}s?",
    ]


def test_mesh_new_domain_refuses_a_reserved_sql_word_and_suggests_one(project):
    lines = refused(project, ["new", "domain", "select"])
    assert lines == [
        "error: domain name 'select' cannot be used: it is a reserved word of DuckDB's SQL (`mesh sql` would need it quoted everywhere)",
        "hint: did you mean select_domain or selects?",
    ]


def test_mesh_new_product_refuses_a_reserved_sql_word(project):
    lines = refused(project, ["new", "product", "weather", "order"])
    assert lines[0] == "error: product name 'order' cannot be used: it is a reserved word of DuckDB's SQL (`mesh sql` would need it quoted everywhere)"
    assert lines[1] == "hint: did you mean order_product or orders?"


def test_the_suggested_names_are_free():
    # every reserved word of the DuckDB installed, not a hand-copied list
    reserved = {r for (r,) in duckdb.sql("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()}
    assert {"select", "from", "order", "table"} <= reserved
    for word in reserved:
        assert reserved_problem(word) is not None
    for name in ["select_domain", "selects", "json_domain", "jsons", "orders"]:
        assert reserved_problem(name) is None


def test_a_product_may_share_a_name_with_a_module(project):
    """A product's module is `domains.<domain>.<product>`, never top-level: `json` shadows nothing
    (the demo's `shared.calendar` shares its name with the standard library's `calendar`)."""
    root, home = project
    assert "calendar" in sys.stdlib_module_names and reserved_problem("calendar", modules=False) is None
    result = run_mesh(["new", "product", "weather", "json"], home, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "dbt_projects" / "weather" / "models" / "json.sql").is_file() or (root / "domains" / "weather" / "json.py").is_file()


def test_every_demo_domain_and_product_still_loads_and_passes_the_name_rules():
    mesh = Mesh.load(ROOT)
    assert not mesh.broken
    assert {"flight_operations", "fleet", "weather", "loyalty", "punctuality", "customer_insights"} <= set(mesh.domains)
    for name, domain in mesh.domains.items():
        if name != "shared":
            assert reserved_problem(name) is None, name
        for product in domain.products:
            assert reserved_problem(product, modules=False) is None, product


# -- (2) names are echoed as typed -------------------------------------------------------------------


def test_a_refused_non_ascii_name_is_echoed_as_typed(project):
    lines = refused(project, ["new", "domain", "Ünïcode"])
    assert lines[0] == (
        "error: domain name 'Ünïcode' is not a valid name (character 'Ü' (U+00DC LATIN CAPITAL LETTER U WITH DIAERESIS) "
        "at position 0 is not allowed): expected snake_case (a lowercase letter, then lowercase letters, digits or '_', "
        "at most 63 characters)"
    )
    assert "\\x" not in lines[0]


def test_a_look_alike_is_shown_as_typed_but_named_by_its_code_point():
    with pytest.raises(ValueError) as error:
        check_name("fl\u0456ghts", "domain")
    assert str(error.value).startswith("domain 'flіghts' is not a valid name (character 'і' (U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I) at position 2")


@pytest.mark.parametrize(
    "typed, echoed",
    [
        ("flights\n", r"'flights\n'"),  # control characters
        ("a\x00b", r"'a\x00b'"),
        ("flights\u200b", r"'flights\u200b'"),  # zero-width space: invisible
        ("flights\u202e", r"'flights\u202e'"),  # right-to-left override: reorders the line
        ("\u05d0b", r"'\u05d0b'"),  # a right-to-left letter reorders the rest of the line
        ("e\u0301", r"'e\u0301'"),  # a combining mark stacks onto the quote
        ("Ünïcode", "'Ünïcode'"),
        ("ｆｌｉｇｈｔｓ", "'ｆｌｉｇｈｔｓ'"),
    ],
    ids=["newline", "nul", "zero-width", "rtl-override", "hebrew", "combining", "latin", "fullwidth"],
)
def test_what_hides_or_reorders_text_stays_escaped(typed, echoed):
    assert shown(typed) == echoed


def test_a_long_name_is_still_cut():
    assert shown("ü" * 10_000) == "'" + "ü" * 79 + "... (10000 characters)"
    assert len(shown("\u200b" * 10_000)) < 120
