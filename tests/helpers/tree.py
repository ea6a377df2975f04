"""A project's files as a person would commit them, to compare before and after a command."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# What tools write while they run (manifests, caches, logs, run state): never committed.
BUILD_OUTPUT = {"target", "logs", "__pycache__", ".mesh", "dbt_packages", ".pytest_cache"}


def snapshot(root: Path, *, ignore: set[str] = frozenset()) -> dict[str, str]:
    """Every path under `root` but `ignore`d folders, folders included, with its content's hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if ignore.intersection(path.relative_to(root).parts):
            continue
        if path.is_symlink():
            state[name] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            state[name + "/"] = "dir"
        else:
            state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def source_files(root: Path) -> dict[str, str]:
    """The files of the project a person commits (build output left out), with their hashes."""
    return {k: v for k, v in snapshot(root, ignore=BUILD_OUTPUT).items() if not k.endswith("/")}


def changes(before: dict[str, str], after: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files edited or removed, files added), sorted."""
    edited = sorted(p for p in before if after.get(p) != before[p])
    return edited, sorted(p for p in after if p not in before)
