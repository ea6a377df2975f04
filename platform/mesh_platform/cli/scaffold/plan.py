"""A scaffold command's plan: every file it creates or edits, computed in memory before anything
is written, and checked to parse."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mesh_platform.model.errors import MeshError


class ScaffoldError(MeshError):
    """A scaffold command refused, or could not finish: nothing was written (or all was undone)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass
class Plan:
    root: Path
    title: str  # what was made, for the summary line
    domain: str
    products: list[str]
    creates: dict[Path, str] = field(default_factory=dict)
    edits: dict[Path, tuple[str, str]] = field(default_factory=dict)  # path -> (text before, text after)
    notes: list[str] = field(default_factory=list)  # what each edit did, or what to do by hand
    # A product of `shared` defines global identifiers every other product is checked against: the
    # error policies the mesh failed before, so the check can tell what the new product breaks.
    baseline: set[tuple[str, str, str]] | None = None
    # A dbt product's yml is the platform's to generate: once the files are written, from them.
    dbt_project: Path | None = None

    def create(self, path: Path, text: str) -> None:
        if path.exists() or path in self.creates:
            raise ScaffoldError(f"{self.rel(path)} already exists", "pick another name, or remove that file first")
        self.creates[path] = text

    def edit(self, path: Path, before: str, after: str, note: str) -> None:
        self.edits[path] = (self.edits.get(path, (before,))[0], after)
        self.notes.append(note)

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def read_text(path: Path) -> str:
    """A file's text exactly (line endings kept), so an edit or an undo changes only what it means to."""
    with open(path, newline="") as f:
        return f.read()


def check_parses(plan: Plan) -> None:
    """Generated Python is compiled and generated YAML and TOML parsed before anything is written."""
    for path, text in [*plan.creates.items(), *((p, new) for p, (_, new) in plan.edits.items())]:
        try:
            if path.suffix == ".py":
                compile(text, str(path), "exec")
            elif path.suffix in (".yml", ".yaml"):
                yaml.safe_load(text)
            elif path.suffix == ".toml":
                tomllib.loads(text)
        except (SyntaxError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:  # a bug of this command, never the user's
            raise ScaffoldError(f"internal error: the generated {plan.rel(path)} does not parse: {' '.join(str(exc).split())}",
                                "please report it; nothing was written") from None
        if path.name.endswith(".odcs.yaml"):
            from mesh_platform.model.contracts.model import contract_from_mapping

            contract_from_mapping(yaml.safe_load(text), path)
