"""The Intercom test server in a child process, steered over a pipe.

A benchmark must not share the extractor's interpreter (and its GIL) with the server it measures, and it
must still change records and read request counts between ticks: hence a process with a command pipe.
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

TOKEN = "bench-token-5f0c2a9e7d"


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from intercom_assets_tests.intercom_server import IntercomTestServer

    server = IntercomTestServer(token=TOKEN, **options)
    conn.send(("ready", server.start(), server.workspace.counts()))
    while True:
        command, args = conn.recv()
        if command == "stop":
            server.stop()
            conn.send(("ok", None))
            return
        if command == "bump":
            fraction, at = args
            result = server.bump_fraction(fraction, at, seed=7)
            conn.send(("ok", {kind: len(ids) for kind, ids in result.items()}))
        elif command == "window_counts":
            start, end = args
            conn.send(("ok", _window_counts(server, start, end)))
        else:
            conn.send(("ok", getattr(server, command)(*args)))


def _window_counts(server: Any, start: int, end: int) -> dict[str, int]:
    counts = {}
    for kind in ("contacts", "companies", "conversations"):
        counts[kind] = sum(1 for r in server.workspace.snapshot(kind) if start <= r["updated_at"] < end)
    return counts


class ServerProcess:
    """Start with `with ServerProcess(scale="large", latency_ms=100) as srv:`; call srv.call("request_counts")."""

    def __init__(self, **options: Any):
        self.options = options
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self.base_url = ""
        self.counts: dict[str, int] = {}

    def __enter__(self) -> ServerProcess:
        self._process.start()
        status, self.base_url, self.counts = self._conn.recv()
        assert status == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("stop")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    def call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        status, value = self._conn.recv()
        assert status == "ok"
        return value

    def bump(self, fraction: float, at: datetime) -> dict[str, int]:
        return self.call("bump", fraction, at)
