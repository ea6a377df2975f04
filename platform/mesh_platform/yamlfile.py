"""Reading the mesh's YAML files: a mapping, or one error naming the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import DescriptorError


def read_mapping(path: Path, error: type[DescriptorError] = DescriptorError, expected: str = "a YAML mapping") -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(path, None, "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise error(path, where, f"malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise error(path, None, f"expected {expected}")
    return data
