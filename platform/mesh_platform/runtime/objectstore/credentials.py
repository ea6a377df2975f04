"""Each storage identity's keys, kept as one owner-only file per identity (runtime/settings.py
`identities_dir`): created once, kept across `mesh access apply`, so a running code location's
keys stay valid when policies change (what an identity may do changes, not its keys)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from mesh_platform.runtime.settings import identity_file, read_identity


def ensure_identity(project_root: str | Path, identity: str) -> dict[str, str]:
    """The keys of `identity` (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), created if it has none."""
    path = identity_file(project_root, identity)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)  # an existing folder too: it holds every identity's secret
    keys = {"access_key_id": f"MESH{secrets.token_hex(8).upper()}", "secret_access_key": secrets.token_urlsafe(30)}
    if not path.exists():
        staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(keys, out)
        try:
            # A hard link appears whole or not at all, and never replaces a file: two commands
            # creating the same identity at once agree on the first one's keys.
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return read_identity(path, identity)
