"""Where the mesh's alerts go besides `<MESH_HOME>/alerts.log`: `MESH_ALERT_WEBHOOK`.

A sibling of runtime/settings.py (which reads the rest of the environment) so that file stays small.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from mesh_platform.model.errors import MeshError

ALERT_WEBHOOK_ENV = "MESH_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_SECONDS = 5.0  # a webhook that hangs costs a run or a sensor tick this long, once


def alert_webhook() -> str | None:
    """The URL every alert (failed run, SLO breach) is posted to, or None when unset.

    Only http(s) is accepted; the refusal names the scheme, never the URL, whose path of a Slack
    incoming webhook (or a user:password in it) is a credential."""
    raw = os.environ.get(ALERT_WEBHOOK_ENV, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise MeshError(f"{ALERT_WEBHOOK_ENV} must be an http(s) URL with a host; found {shown} (the URL is not shown: it may hold a secret)")
    # urllib cannot send a user:password@ and fails naming it in its error, so it is refused here.
    if "@" in parts.netloc:
        raise MeshError(f"{ALERT_WEBHOOK_ENV} must not carry a user or password before the host (user:password@); "
                        "put the secret in the URL's path or query, as Slack's incoming webhooks do (the URL is not shown)")
    try:
        parts.port  # noqa: B018 (a port that is not a number raises here, naming it)
    except ValueError:
        raise MeshError(f"{ALERT_WEBHOOK_ENV} has a port that is not a number (the URL is not shown: it may hold a secret)") from None
    return raw
