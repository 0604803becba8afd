"""Per-endpoint refusals: chosen endpoints answer 403 in Intercom's error envelope.

A workspace's plan or an app's scopes can shut one endpoint while the others work (activity logs and
tickets need plans and scopes many apps lack); this knob lets a test show that one refused table does not
sink the others. Codes and messages are the description's: `api_plan_restricted` "Active subscription
needed." for a plan refusal, `forbidden` "You do not have the required scope (...)" for a missing scope.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

PLAN_MESSAGE = "Active subscription needed."
SCOPES: list[tuple[str, str]] = [
    ("/conversations", "read_conversations"), ("/tickets", "read_tickets"), ("/ticket_", "read_tickets"),
    ("/admins", "read_admins"), ("/me", "read_admins"), ("/teams", "read_admins"),
    ("/away_status_reasons", "read_admins"), ("/articles", "read_articles"), ("/help_center", "read_articles"),
    ("/news", "read_news"), ("/contacts", "read_users_companies"), ("/companies", "read_users_companies"),
]
"""Scope named in a `forbidden` message, by path prefix (first match; `read_data` otherwise)."""


def refusal_message(key: str, code: str) -> str:
    """The message Intercom sends with a refusal `code` on the endpoint `key` ("METHOD /template")."""
    if code == "api_plan_restricted":
        return PLAN_MESSAGE
    if code == "forbidden":
        path = key.partition(" ")[2]
        scope = next((s for prefix, s in SCOPES if path.startswith(prefix)), "read_data")
        return f"You do not have the required scope ({scope}) to access this resource"
    return "Forbidden request"


class Refusals:
    """Thread-safe map of "METHOD /path-template" -> error code answered with 403."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}

    def set(self, refusals: Mapping[str, str], known: Iterable[str]) -> None:
        """Replace the refusals; every key must be a served endpoint (a typo would refuse nothing)."""
        known_keys = set(known)
        unknown = sorted(set(refusals) - known_keys)
        if unknown:
            raise ValueError(f"unknown endpoint(s) {unknown}; expected keys like {sorted(known_keys)[:3]}")
        for key, code in refusals.items():
            if not isinstance(code, str) or not code:
                raise ValueError(f"refusal code for {key!r} must be a non-empty string")
        with self._lock:
            self._codes = dict(refusals)

    def get(self, key: str) -> tuple[str, str] | None:
        """(code, message) when the endpoint is refused, else None."""
        with self._lock:
            code = self._codes.get(key)
        return None if code is None else (code, refusal_message(key, code))

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._codes)


def parse_refusal(text: str) -> tuple[str, str]:
    """CLI form "GET /admins/activity_logs=forbidden" -> (key, code)."""
    key, sep, code = text.rpartition("=")
    method, _, path = key.strip().partition(" ")
    if not sep or not code.strip() or method.upper() not in ("GET", "POST") or not path.startswith("/"):
        raise ValueError(f'expected "METHOD /path-template=code", got {text!r}')
    return f"{method.upper()} {path.strip()}", code.strip()
