"""The two edits `mesh new domain` makes to files people also edit by hand: a code location in
`workspace.yaml` and a project in `pyproject.toml`'s dg workspace.

Both go through a round-trip parser (ruamel.yaml, tomlkit) that keeps comments and layout, and
the result is read back with the plain parser: it must mean exactly one entry more, else the edit
returns None and the caller says what to add by hand.
"""

from __future__ import annotations

import copy
import io
import tomllib

import tomlkit
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError

LOAD_FROM = "load_from"


def _round_trip() -> YAML:
    parser = YAML(typ="rt")
    parser.preserve_quotes = True
    parser.width = 4096  # never fold a long line the user wrote on one
    # The layout workspace.yaml files use (`  - python_module:` then `      module_name: ...`).
    parser.indent(mapping=2, sequence=4, offset=2)
    return parser


def location_entry(module: str, location: str) -> dict:
    return {"python_module": {"module_name": module, "working_directory": ".", "location_name": location}}


def add_location(text: str, module: str, location: str) -> str | None:
    """workspace.yaml's text with a code location for `module` appended under `load_from:`;
    None when the file has another shape (no such list) or does not read back as one entry more."""
    try:
        before = yaml.safe_load(text)
        document = _round_trip().load(text)
    except (yaml.YAMLError, RuamelError):
        return None
    if not isinstance(document, CommentedMap) or not isinstance(before, dict):
        return None
    entries = document.get(LOAD_FROM)
    if entries is None and LOAD_FROM in document:  # `load_from:` with nothing under it yet
        entries = document[LOAD_FROM] = CommentedSeq()
    if not isinstance(entries, CommentedSeq):
        return None
    entry = location_entry(module, location)
    entries.append(CommentedMap({"python_module": CommentedMap(entry["python_module"])}))
    out = io.StringIO()
    _round_trip().dump(document, out)
    result = out.getvalue()
    expected = {**before, LOAD_FROM: [*(before.get(LOAD_FROM) or []), entry]}
    try:
        return result if yaml.safe_load(result) == expected else None
    except yaml.YAMLError:
        return None


def add_dg_project(text: str, path: str) -> str | None:
    """pyproject.toml's text with a `[[tool.dg.workspace.projects]]` table for `path` after the
    last one, everything else kept; None when the file has another shape."""
    try:
        before = tomllib.loads(text)
        projects = before["tool"]["dg"]["workspace"]["projects"]
        document = tomlkit.parse(text)
        tables = document["tool"]["dg"]["workspace"]["projects"]  # type: ignore[index]
    except (tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError, KeyError, TypeError):
        return None
    if not isinstance(projects, list) or not isinstance(tables, tomlkit.items.AoT):
        return None
    table = tomlkit.table()
    table.trivia.indent = "\n"  # a blank line before its header, as between the others
    table["path"] = path
    tables.append(table)
    result = tomlkit.dumps(document)
    expected = copy.deepcopy(before)
    expected["tool"]["dg"]["workspace"]["projects"].append({"path": path})
    try:
        return result if tomllib.loads(result) == expected else None
    except tomllib.TOMLDecodeError:
        return None
