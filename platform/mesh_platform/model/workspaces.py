"""Every domain folder is a code location of both workspaces the mesh keeps: `workspace.yaml` (read
by `dagster dev`, `mesh dev` and `mesh build`) and the dg workspace in `pyproject.toml` (read by
`dg check defs` and `dg dev`), whose projects each hold a `dg.toml` and a `.env`.

`missing_locations` says, one line per gap, which file to fix (`mesh new domain` adds a domain to
both: cli.scaffold.workspace_files).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mesh_platform.model.layout import WORKSPACE_FILE
from mesh_platform.model.mesh import SHARED_DOMAIN, SHARED_FOLDER, domain_folders, workspace_locations

PYPROJECT = "pyproject.toml"
DG_PROJECT_HEADER = "[[tool.dg.workspace.projects]]"
DG_PROJECT_FILE = "dg.toml"
DG_ENV_FILE = ".env"
DG_PYTHON = "platform/bin/dg-python"  # runs each location with the mesh's one environment


def location_module(root: Path, folder: Path) -> str:
    """The module workspace.yaml names for a domain folder: `domains.fleet.definitions`."""
    return ".".join((*folder.relative_to(root).parts, "definitions"))


def dg_python_from(root: Path, folder: Path) -> str:
    """DG_PROJECT_PYTHON_EXECUTABLE as a domain's `.env` writes it: relative to the folder."""
    return "../" * len(folder.relative_to(root).parts) + DG_PYTHON


def dg_projects(root: Path) -> list[str] | None:
    """The dg workspace's project paths, or None when the mesh root is not a dg workspace."""
    path = root / PYPROJECT
    if not path.is_file():
        return None
    try:
        dg = tomllib.loads(path.read_text()).get("tool", {}).get("dg")
    except tomllib.TOMLDecodeError:
        return None  # pip reports a broken pyproject.toml far more clearly than this could
    if not isinstance(dg, dict) or dg.get("directory_type") != "workspace":
        return None
    projects = (dg.get("workspace") or {}).get("projects") or []
    return [str(p.get("path", "")).rstrip("/") for p in projects if isinstance(p, dict)]


def missing_locations(root: Path) -> list[tuple[str, str]]:
    """(domain, one line naming the file to fix) for every domain folder missing from a workspace."""
    locations = set(workspace_locations(root).values())
    projects = dg_projects(root)
    gaps = []
    for folder in domain_folders(root):
        rel = folder.relative_to(root).as_posix()
        domain = SHARED_DOMAIN if rel == SHARED_FOLDER else folder.name
        module = location_module(root, folder)
        if module not in locations:
            gaps.append((domain, f"{rel}/ is not a code location in {WORKSPACE_FILE}: add an entry under load_from: "
                                 f"{{python_module: {{module_name: {module}, working_directory: ., location_name: {domain}}}}}"))
        if projects is None:
            continue  # this mesh does not use dg
        if rel not in projects:
            gaps.append((domain, f"{rel}/ is not a project of the dg workspace in {PYPROJECT}: add "
                                 f'{DG_PROJECT_HEADER} path = "{rel}"'))
        elif not (folder / DG_PROJECT_FILE).is_file():
            gaps.append((domain, f"{rel}/{DG_PROJECT_FILE} is missing: dg cannot load the domain (copy another domain's and change the names)"))
        elif f"DG_PROJECT_PYTHON_EXECUTABLE={dg_python_from(root, folder)}" not in _lines(folder / DG_ENV_FILE):
            gaps.append((domain, f"{rel}/{DG_ENV_FILE} does not set DG_PROJECT_PYTHON_EXECUTABLE={dg_python_from(root, folder)}: "
                                 "dg would look for a virtual environment of the domain's own"))
    return gaps


def _lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines()]
    except OSError:
        return []
