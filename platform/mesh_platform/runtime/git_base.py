"""Contracts as they were at a git ref, for `mesh validate --base <ref>`: read with `git show
<ref>:<path>`, with no checkout and no port, so CI on a fresh clone compares a change with the
commit before it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mesh_platform.model.contracts import Contract
from mesh_platform.model.contracts.model import contract_from_mapping
from mesh_platform.model.descriptor import Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.yamlfile import load_yaml

GIT_TIMEOUT_SECONDS = 60


class GitBase:
    """The contracts of the mesh at `root` as of `ref`: callable as the policies' `base`."""

    def __init__(self, root: Path, ref: str):
        self.root, self.ref = Path(root).resolve(), ref
        top = _git(self.root, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise MeshError(f"--base {ref}: {self.root} is not in a git repository; --base compares with a commit of the mesh's repository")
        self.top = Path(top.stdout.strip()).resolve()
        # `--end-of-options`: a ref starting with '-' is a ref, never an option of git.
        found = _git(self.root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if ref.startswith("-") or found.returncode != 0:
            raise MeshError(f"--base {ref!r}: no such commit in the git repository at {self.top}")
        self.commit = found.stdout.strip()

    def __call__(self, product: Product) -> Contract | None:
        """The product's contract at the ref; None when the file was not there (a new product)."""
        path = product.contract_path.resolve().relative_to(self.top).as_posix()
        shown = _git(self.root, "show", f"{self.commit}:{path}")
        if shown.returncode != 0:
            return None
        label = Path(f"{self.ref}:{path}")
        data = load_yaml(shown.stdout)
        if not isinstance(data, dict):
            raise MeshError(f"{label}: expected a YAML mapping (an ODCS v3 document)")
        return contract_from_mapping(data, label)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise MeshError("--base needs git, which is not installed") from None
