"""Alerts posted to the configured webhook (`MESH_ALERT_WEBHOOK`), besides alerts.log.

The body is what Slack's incoming webhooks accept (`text`, plus one `section` block holding the
same text in mrkdwn), and any receiver can read it as JSON: `mesh_alert` carries the alert's own
fields. The caller hands over text that is already scrubbed of personal data (model/redaction.py);
this module scrubs once more, so a caller that forgets cannot leak a value through the webhook.

A webhook that fails (refused, times out, answers >= 400) never fails the run or the sensor that
raised the alert: one warning line names the status or the error's kind (never the URL, a
credential for Slack), and the alert stays in alerts.log, which is written first.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from mesh_platform.model.redaction import scrub
from mesh_platform.runtime.alert_settings import WEBHOOK_TIMEOUT_SECONDS, alert_webhook

logger = logging.getLogger("mesh.notifications")


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v) for v in value]
    return value


def payload(text: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of one alert: Slack's `text` and `blocks`, and the alert's fields."""
    text = scrub(text)
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "mesh_alert": _scrubbed(dict(fields)),
    }


def post(url: str, body: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> str | None:
    """POST `body` as JSON; None when delivered, else one line saying why not (no URL in it)."""
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "mesh-platform"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only: alert_settings)
            response.read(1024)
        return None
    except urllib.error.HTTPError as exc:
        return f"the webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = "timed out" if isinstance(reason, TimeoutError) or "timed out" in str(reason) else f"failed ({type(reason).__name__})"
        return f"the webhook {kind}"
    except Exception as exc:  # noqa: BLE001 (http.client's InvalidURL and kin quote the URL: only their kind is said)
        return f"the webhook failed ({type(exc).__name__})"


def notify(text: str, fields: Mapping[str, Any]) -> bool:
    """Post one alert to the webhook if one is configured; True when delivered. Never raises for
    a webhook that fails; a badly configured MESH_ALERT_WEBHOOK is logged, not raised, here (the
    alert is already in alerts.log, and a sensor must not die of it)."""
    try:
        url = alert_webhook()
    except Exception as exc:  # a MeshError naming the setting; the alert itself is kept in alerts.log
        logger.warning(f"alert not posted: {exc}")
        return False
    if url is None:
        return False
    problem = post(url, payload(text, fields))
    if problem:
        logger.warning(f"alert not posted: {problem}; it is kept in alerts.log")
    return problem is None
