"""An operator's impersonation of a domain (`mesh sql --as DOMAIN`), recorded.

`--as` lets whoever runs the command read what a domain reads — its own restricted products and
personal data included. The platform cannot verify who typed it, so it says so plainly and keeps
a trace: one JSON line per query in `<MESH_HOME>/logs/access.log` with the UTC time, the OS user,
the domain impersonated, the products the query named and a fingerprint of the query. Never the
query's text: a literal in it (an e-mail address looked up) may be personal data. The fingerprint
is keyed with the mesh's masking key, so the same query is recognisable across lines while a
guessed query (a known address in a known template) cannot be confirmed from the log alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from pathlib import Path

from mesh_platform.model.identity import os_user
from mesh_platform.runtime.settings import masking_key, mesh_home

FINGERPRINT_CHARS = 16


def access_log(root: Path) -> Path:
    return mesh_home(root) / "logs" / "access.log"


def fingerprint(root: Path, query: str) -> str:
    return hmac.new(masking_key(root), query.strip().encode(), hashlib.sha256).hexdigest()[:FINGERPRINT_CHARS]


def record(root: Path, acting: str, query: str, products: list[str]) -> None:
    """Append one line for one query run as `acting`, before it runs: a query that hangs or is
    killed is recorded too."""
    line = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "os_user": os_user(),
        "impersonated_domain": acting,
        "query_fingerprint": fingerprint(root, query),
        "products": products,
    }
    path = access_log(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Owner-only: the log says who read what. O_APPEND keeps concurrent sessions' lines whole.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(json.dumps(line) + "\n")
