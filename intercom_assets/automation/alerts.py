"""Alerts: one structured JSON log line per alert, and the same JSON POSTed to a webhook when one is configured.

Kept free of Dagster so the sensors decide WHAT to report and this module only decides HOW. An alert must never
break the sensor that sends it (a webhook failure is logged, not raised) and must never carry a secret: the
payload is built from explicit fields only, the access token is scrubbed from every string as a last defence,
and the webhook URL (often itself a secret, e.g. Slack's) never appears in a log line beyond its host.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("intercom_assets.automation.alerts")

SOURCE = "intercom_assets"
WEBHOOK_TIMEOUT_SECONDS = 5.0
MAX_TEXT = 2_000
# Values of these variables are scrubbed from any alert text, whatever produced it.
SECRET_VARIABLES = ("INTERCOM_ACCESS_TOKEN",)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Alert:
    """What went wrong, in fields a receiver can route on (kind, severity) plus free-form details."""

    kind: str  # "run_failure" | "check_failure" | "freshness"
    severity: str  # "ERROR" | "WARN"
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, secrets) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _scrub(str(value), secrets)


def alert_payload(alert: Alert, now: datetime | None = None, secret_variables: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON document both the log line and the webhook carry (`secret_variables`: more variables to scrub, such
    as a workspace's own token variable)."""
    variables = (*SECRET_VARIABLES, *secret_variables)
    secrets = [v for v in (os.environ.get(name, "").strip() for name in variables) if len(v) >= 8]
    return _scrub(
        {
            "source": SOURCE,
            "kind": alert.kind,
            "severity": alert.severity,
            "summary": alert.summary,
            "timestamp": (now or datetime.now(UTC)).isoformat(),
            **alert.details,
        },
        secrets,
    )


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def post_webhook(url: str, payload: Mapping[str, Any], timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS) -> bool:
    """POST the payload as JSON; True on a 2xx answer, False (logged) on anything else. Never raises."""
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": SOURCE}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except Exception as error:  # an alert must never fail its caller
        logger.warning(json.dumps({"event": "alert_webhook_failed", "host": _host(url), "error": type(error).__name__}))
        return False
    if not 200 <= status < 300:
        logger.warning(json.dumps({"event": "alert_webhook_failed", "host": _host(url), "status": status}))
        return False
    return True


def send_alert(alert: Alert, webhook_url: str | None, secret_variables: Sequence[str] = ()) -> dict[str, Any]:
    """Log the alert as one JSON line and POST it to the webhook if configured; returns the payload sent."""
    payload = alert_payload(alert, secret_variables=secret_variables)
    level = logging.WARNING if alert.severity == "WARN" else logging.ERROR
    logger.log(level, json.dumps(payload, sort_keys=True))
    if webhook_url:
        post_webhook(webhook_url, payload)
    return payload
