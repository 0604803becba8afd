"""The Intercom test server in a child process, steered over a pipe.

A benchmark must not share the extractor's interpreter (and its GIL) with the server it measures, and it
must still change records and read request counts between ticks: hence a process with a command pipe.
Building the workspace takes a while at the larger scales (about half a minute at `xlarge`), so the parent
waits for the child's "ready" as long as the child lives; `call("rss")` reports the child's memory.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import resource
import time
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

TOKEN = "bench-token-5f0c2a9e7d"
READY_TIMEOUT_SECONDS = 900.0


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from intercom_assets_tests.intercom_server import IntercomTestServer

    started = time.monotonic()
    server = IntercomTestServer(token=TOKEN, **options)
    build_seconds = time.monotonic() - started
    # the workspace lives as long as this process: keep the collector from walking its millions of rows again
    gc.collect()
    gc.freeze()
    conn.send(("ready", server.start(), server.workspace.counts(), build_seconds))
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
        elif command == "rss":
            conn.send(("ok", rss_mib()))
        else:
            conn.send(("ok", getattr(server, command)(*args)))


def _window_counts(server: Any, start: int, end: int) -> dict[str, int]:
    """Records per kind with start <= updated_at < end (from the server's index: nothing is rendered)."""
    return {kind: server.workspace.count_updated(kind, start, end)
            for kind in ("contacts", "companies", "conversations")}


def rss_mib() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MiB."""
    values = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    values[name] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: the peak is all getrusage knows
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        values = {"VmRSS": peak, "VmHWM": peak}
    return {"rss_mib": values["VmRSS"], "peak_rss_mib": values["VmHWM"]}


class ServerProcess:
    """Start with `with ServerProcess(scale="large", latency_ms=100) as srv:`; call srv.call("request_counts").

    `srv.counts` holds the live records per kind, `srv.build_seconds` the workspace build time, and
    `srv.call("rss")` the child's current and peak RSS in MiB.
    """

    def __init__(self, **options: Any):
        self.options = options
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self.base_url = ""
        self.counts: dict[str, int] = {}
        self.build_seconds = 0.0

    def __enter__(self) -> ServerProcess:
        self._process.start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._conn.poll(1.0):
            if not self._process.is_alive():
                raise RuntimeError(f"the server process exited with {self._process.exitcode} before it was ready")
            if time.monotonic() > deadline:
                self._process.kill()
                raise TimeoutError(f"the server was not ready after {READY_TIMEOUT_SECONDS:.0f} s")
        try:
            status, self.base_url, self.counts, self.build_seconds = self._conn.recv()
        except EOFError:
            self._process.join(timeout=10)
            raise RuntimeError(f"the server process exited with {self._process.exitcode} before it was ready") from None
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
