"""Reading the mesh's YAML files: a mapping, or one error naming the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import yaml

from mesh_platform.model.errors import DescriptorError

# libyaml's parser when PyYAML was built with it (several times faster: every location reads
# every descriptor and contract of the mesh when it loads); same results, same error marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    return yaml.load(text, Loader=_Loader)


def has_aliases(data: bytes | str) -> bool:
    """Whether a YAML text uses aliases (scanned as events, never expanded); a malformed text has
    none as far as this tells: its reader names the line and column."""
    try:
        return any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(data, Loader=_Loader))
    except yaml.YAMLError:
        return False


def read_mapping(path: Path, error: type[DescriptorError] = DescriptorError, expected: str = "a YAML mapping") -> dict:
    try:
        data = load_yaml(path.read_text())
    except FileNotFoundError:
        raise error(path, None, "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise error(path, where, f"malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise error(path, None, f"expected {expected}")
    return data
