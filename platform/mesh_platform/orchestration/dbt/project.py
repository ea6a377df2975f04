"""A domain's dbt project: its profile (written by the platform) and a fresh manifest.

Every dbt project uses the profile `mesh`; the platform writes it per domain from the domain's
compute engine (mesh_platform.runtime.engines), because only the platform knows where the
domain's models are built and where the ports live.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from dagster_dbt import DbtCliResource
from packaging import version

from mesh_platform.model.errors import DescriptorError
from mesh_platform.runtime.dbt_tools import dbt_executable, target_lock
from mesh_platform.runtime.engines import ComputeEngine, DuckDBEngine

PROFILE_NAME = "mesh"
_IGNORED = {"target", "logs", "dbt_packages"}
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PARSE_TIMEOUT_SECONDS = 600  # a project of hundreds of models parses in well under a minute


class MeshDbtCli(DbtCliResource):
    """dagster-dbt's resource, minus two costs paid on every run: a `dbt --version` subprocess
    (about 4 s of each dbt domain's build, measured in benchmarks/mesh_vs_duckdb.py) -- the platform
    always runs the dbt installed beside this interpreter, whose version is the installed
    dbt-core's -- and an in-process dbt adapter nothing of the mesh uses."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        """No in-process dbt adapter: dagster-dbt builds one on every `cli()` call (loading dbt,
        the profile and the project in this process: 1-3 s per domain, benchmarks/mesh_build_probe.py)
        only for the opt-in `fetch_column_metadata`/`fetch_row_counts`, which the mesh never calls;
        its port metadata comes from the write path. dagster-dbt accepts None (it logs nothing)."""
        return None


def write_profile(folder: Path, engine: ComputeEngine, *, project_root: Path, domain: str) -> Path:
    """Write the profile `mesh` of the domain's dbt runs into `folder` (dbt's --profiles-dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    profile = {PROFILE_NAME: {"target": "mesh", "outputs": {"mesh": engine.profile_target(project_root, domain)}}}
    path = folder / "profiles.yml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


@dataclass(frozen=True)
class DomainDbtProject:
    domain: str
    project_dir: Path
    root: Path  # the mesh project: where the domain's runs write (their dbt profile)
    vars: dict = field(default_factory=dict, hash=False)
    # The engine the domain.yaml names (engine_for); DuckDB, the default, for a project built by hand.
    engine: ComputeEngine = field(default_factory=DuckDBEngine, hash=False, compare=False)

    @property
    def manifest_path(self) -> Path:
        return self.project_dir / "target" / "manifest.json"

    def vars_arg(self) -> list[str]:
        return ["--vars", json.dumps(self.vars, sort_keys=True)] if self.vars else []

    def _fingerprint(self) -> str:
        """Changes whenever a project file, the vars or the engine change: then the manifest is
        stale. The engine too: a manifest parsed for DuckDB names its models in schema `main`, and
        a domain moved to Spark by a setting (MESH_ENGINES) would look for them there."""
        digest = hashlib.sha256(json.dumps({"vars": self.vars, "engine": self.engine.name}, sort_keys=True).encode())
        for path in sorted(self.project_dir.rglob("*")):
            if path.is_file() and not _IGNORED.intersection(path.relative_to(self.project_dir).parts):
                # Relative paths: a copied project (copytree keeps mtimes) reuses its manifest.
                digest.update(f"{path.relative_to(self.project_dir)}:{path.stat().st_mtime_ns}".encode())
        return digest.hexdigest()

    def prepare(self) -> Path:
        """Return a manifest that matches the project's files, running `dbt parse` if needed."""
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise DescriptorError(self.project_dir, "dbt_project.yml", "not a dbt project (file missing)")
        stamp = self.project_dir / "target" / "mesh_manifest.fingerprint"
        fingerprint = self._fingerprint()
        if self.manifest_path.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
            return self.manifest_path
        # The webserver and the daemon load the same location at once: one parses, the other
        # waits and then finds the manifest fresh.
        with target_lock(self.project_dir / "target", "parse"):
            if not (self.manifest_path.is_file() and stamp.is_file() and stamp.read_text() == fingerprint):
                self._parse(stamp, fingerprint)
        return self.manifest_path

    def _parse(self, stamp: Path, fingerprint: str) -> None:
        with tempfile.TemporaryDirectory() as profiles:
            # The very profile the domain's runs use: dbt keys its partial-parse state on the
            # profile, so a run starting from this parse's state skips the full parse.
            write_profile(Path(profiles), self.engine, project_root=self.root, domain=self.domain)
            try:
                completed = subprocess.run(
                    [dbt_executable(), "parse", "--project-dir", str(self.project_dir), "--profiles-dir", profiles,
                     "--target-path", str(self.project_dir / "target"), "--log-format", "text", *self.vars_arg()],
                    capture_output=True, text=True, cwd=self.project_dir, timeout=PARSE_TIMEOUT_SECONDS,
                    env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
                )
            except subprocess.TimeoutExpired:
                # Every loader of the location waits on this parse (under its lock): never forever.
                raise DescriptorError(self.project_dir, "dbt parse", f"dbt parse did not finish within {PARSE_TIMEOUT_SECONDS} s") from None
        if completed.returncode != 0:
            lines = [l for l in (completed.stdout + completed.stderr).splitlines() if l.strip()]
            detail = " | ".join(l.split("  ", 1)[-1].strip() for l in lines[-6:])
            raise DescriptorError(self.project_dir, "dbt parse", f"the dbt project does not parse: {detail}{_hint(detail)}")
        stamp.write_text(fingerprint)

    def clean_run_folder(self, folder: Path) -> None:
        """An empty target folder for a run, seeded with dbt's partial-parse state: the previous
        run's (same profile for sure), else the load-time parse's. dbt itself checks that files,
        vars and profile still match the state, and parses fully when they do not."""
        previous = folder / PARTIAL_PARSE_FILE
        kept = previous.read_bytes() if previous.is_file() else None
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if kept is not None:
            previous.write_bytes(kept)
            return
        with contextlib.suppress(FileNotFoundError):  # a parse running elsewhere replaces it
            shutil.copyfile(self.project_dir / "target" / PARTIAL_PARSE_FILE, previous)


def _hint(detail: str) -> str:
    """What to change when dbt's message names a symptom of the mesh's own rules."""
    if "depends on a source named" in detail:
        # The platform generates a source per input port: an undeclared input has none.
        return (" (a model reads another domain's product as source('<domain>', '<product>') once the product's "
                "descriptor lists <domain>.<product> in its inputs: the platform then generates that source)")
    return ""
