"""Run the Singer tap-intercom against a loopback test server; executed by the tap's own venv python.

The tap hard-codes `https://api.intercom.io` in `IntercomClient.__init__`, so the peer benchmark needs its
client's `base_url` set after construction; every other line of the tap (including its client-side cap of
1,000 calls a minute) runs unchanged. A guard on `requests` refuses any non-loopback URL, because the tap
also follows URLs taken from responses and a benchmark must never reach the real Intercom with its token.

Usage: python peer_tap_wrapper.py http://127.0.0.1:PORT [--adapt-queries] -- <tap arguments>
"""

from __future__ import annotations

import datetime
import sys
from typing import Any
from urllib.parse import urlsplit

import requests

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"peer_tap_wrapper: refusing non-loopback URL host {host!r}")


def _guard_requests() -> None:
    """Fail any request that would leave the machine, whatever URL the tap builds or follows."""
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _require_loopback(url)
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = request  # type: ignore[method-assign]


def _point_client_at(base_url: str) -> None:
    """Set the client's base_url right after the tap's own __init__ hard-codes the real API's."""
    from tap_intercom.client import IntercomClient

    original = IntercomClient.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.base_url = base_url
        self._IntercomClient__session.trust_env = False

    IntercomClient.__init__ = __init__  # type: ignore[method-assign]


def _adapt_queries() -> None:
    """Two search clauses the test server answers as its 2.16 description says, not as the tap expects.

    The tap sends its updated_at bounds as floats (1700000000.0); the server takes integer timestamps only,
    so they go as integers of the same value. For conversations it also adds `id > "" OR id = ""` (a resume
    point, empty on a fresh run) meaning "every id"; the server compares strings with `>` as never true, so
    that clause is dropped when its value is empty. Everything else the tap sends is unchanged.
    """
    from tap_intercom.client import IntercomClient
    from tap_intercom.streams import BaseStream

    def dt_to_epoch_seconds(dt_object: datetime.datetime) -> int:
        return int(dt_object.timestamp())

    BaseStream.dt_to_epoch_seconds = staticmethod(dt_to_epoch_seconds)  # type: ignore[method-assign]
    original = IntercomClient.post

    def empty_id_bound(node: Any) -> bool:
        subs = node.get("value") if isinstance(node, dict) and "field" not in node else None
        return bool(subs) and all(s.get("field") == "id" and s.get("value") == "" for s in subs)

    def post(self: Any, path: str, **kwargs: Any) -> Any:
        query = (kwargs.get("json") or {}).get("query") or {}
        if isinstance(query.get("value"), list) and "field" not in query:
            query["value"] = [node for node in query["value"] if not empty_id_bound(node)]
        return original(self, path, **kwargs)

    IntercomClient.post = post  # type: ignore[method-assign]


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--")
    own, tap_args = argv[:split], argv[split + 1:]
    base_url = own[0].rstrip("/")
    _require_loopback(base_url)
    _guard_requests()
    _point_client_at(base_url)
    if "--adapt-queries" in own:
        _adapt_queries()
    import tap_intercom

    sys.argv = ["tap-intercom", *tap_args]
    tap_intercom.main()


if __name__ == "__main__":
    main()
