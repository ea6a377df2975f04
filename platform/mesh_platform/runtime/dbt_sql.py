"""The compiled SQL of a domain's dbt models, for the analysis of what they read (model/sql_usage.py).

`dbt compile` renders each model's Jinja exactly as its runs do. It runs on a profile of its own:
an in-memory DuckDB database and a plugin that answers every input port with an empty table
(engines/duckdb_compile_source.py), so it needs no published port and never touches the domain's
DuckDB file (a build may hold it). The result is kept in the project's target folder with a
fingerprint of the contents of the project's files (models, macros, dbt_project.yml, installed
packages), dbt-core's version and the platform's: a project compiles again only after one of them
changes. A failed compile is never kept: a timeout or a broken environment must not leave a stale
verdict, so a project that does not compile is compiled again on the next load.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from mesh_platform.model.descriptor import Domain
from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.dbt_tools import dbt_executable, target_lock
from mesh_platform.runtime.engines import engine_for

COMPILED_FILE = "mesh_compiled.json"
COMPILE_TIMEOUT_SECONDS = 600
_IGNORED = {"target", "logs"}  # dbt's output; installed packages (dbt_packages) are compiled in, so they count
_PLUGIN_MODULE = "mesh_platform.runtime.engines.duckdb_compile_source"


@dataclass(frozen=True)
class CompiledModel:
    name: str
    relation: tuple[str, str]  # (schema, alias): how other models' compiled SQL names it
    language: str  # "sql" or "python" (a Python model has no SQL to analyse)
    sql: str
    ports: dict[tuple[str, str], tuple[str, str]]  # relation -> the input port (domain, product) it serves
    parents: tuple[str, ...]  # the project's models it reads


def compiled_models(root: Path, domain: Domain) -> dict[str, CompiledModel]:
    """Every model of the domain's dbt project, compiled; MeshError when dbt cannot compile it."""
    project_dir = root / "dbt_projects" / str(domain.descriptor.dbt_project)
    if not (project_dir / "dbt_project.yml").is_file():
        # e.g. a location's image holding only its own domain: the consumer's project is not here
        raise MeshError(f"the dbt project of domain {domain.name!r} is not in this checkout ({project_dir})")
    target = project_dir / "target"
    cache = target / COMPILED_FILE
    fingerprint = _fingerprint(project_dir)
    with target_lock(target, "compile"):
        try:
            stored = json.loads(cache.read_text())
        except (OSError, ValueError):
            stored = {}
        if stored.get("fingerprint") != fingerprint or "models" not in stored:
            # A MeshError propagates uncached: a timeout or a missing tool is no property of the project.
            stored = {"fingerprint": fingerprint, "models": _compile(project_dir, domain)}
            cache.write_text(json.dumps(stored))
    return {name: CompiledModel(name, tuple(m["relation"]), m["language"], m["sql"],
                                {tuple(k.split(".", 1)): tuple(v) for k, v in m["ports"].items()}, tuple(m["parents"]))
            for name, m in stored["models"].items()}


def _compile(project_dir: Path, domain: Domain) -> dict:
    engine = engine_for(domain)
    with tempfile.TemporaryDirectory() as folder:
        profile = {"mesh": {"target": "mesh", "outputs": {"mesh": {
            "type": "duckdb", "path": ":memory:", "threads": 1,
            "plugins": [{"module": _PLUGIN_MODULE, "alias": "mesh_port"}]}}}}
        Path(folder, "profiles.yml").write_text(yaml.safe_dump(profile))
        try:
            completed = subprocess.run(
                [dbt_executable(), "compile", "--project-dir", str(project_dir), "--profiles-dir", folder, "--target-path", f"{folder}/target",
                 "--log-format", "text", "--no-partial-parse"],
                capture_output=True, text=True, cwd=project_dir, timeout=COMPILE_TIMEOUT_SECONDS,
                env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            )
        except subprocess.TimeoutExpired:
            raise MeshError(f"dbt compile of {project_dir} did not finish within {COMPILE_TIMEOUT_SECONDS} s") from None
        if completed.returncode != 0:
            lines = [line for line in (completed.stdout + completed.stderr).splitlines() if line.strip()]
            raise MeshError(f"dbt compile of {project_dir} failed: {' | '.join(line.split('  ', 1)[-1].strip() for line in lines[-4:])}")
        manifest = json.loads(Path(folder, "target", "manifest.json").read_text())
    ports = {}
    for source in manifest["sources"].values():
        if engine.binds_port(source):
            ports[f"{source['schema']}.{source['identifier']}"] = [source["source_name"], source["name"]]
    nodes = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    models = {}
    for uid, node in nodes.items():
        depends = node.get("depends_on", {}).get("nodes", [])
        models[node["name"]] = {
            "relation": [node["schema"], node.get("alias") or node["name"]],
            "language": node.get("language", "sql"),
            "sql": node.get("compiled_code") or "",
            "ports": {key: value for uid_ in depends if (s := manifest["sources"].get(uid_))
                      for key, value in ports.items() if key == f"{s['schema']}.{s['identifier']}"},
            "parents": [nodes[p]["name"] for p in depends if p in nodes],
        }
    return models


def _fingerprint(project_dir: Path) -> str:
    """The compile's inputs: every project file's relative path and contents (an mtime misses an edit
    that keeps it, e.g. a checkout or a copy), and the versions of dbt-core and of the platform
    (its compile plugin and its reading of the manifest)."""
    digest = hashlib.sha256()
    for package in ("dbt-core", "mesh-platform"):
        digest.update(f"{package}=={_version(package)}\n".encode())
    for path in sorted(project_dir.rglob("*")):
        if path.is_file() and not _IGNORED.intersection(path.relative_to(project_dir).parts):
            # Relative paths: a copied project reuses its compiled SQL.
            digest.update(f"{path.relative_to(project_dir)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"
