"""HTTP transport: keep-alive request handling with Intercom's cross-cutting rules.

Order per request: count it, apply latency, check the Bearer token (401 without rate-limit
headers), count it against the rate limit (429), check Accept (406) and Intercom-Version (400),
answer a refused endpoint with 403, draw a random fault, route, answer. Every error uses the
Intercom error envelope.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import ApiError, error_body
from .faults import FaultInjector, request_identity
from .handlers import ApiRequest, IntercomApi
from .ratelimit import RateDecision, RateLimiter
from .refusals import Refusals

INTERCOM_VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4"} | {f"2.{i}" for i in range(17)})
FAULT_STATUS = {
    "rate500": (500, "server_error", "Server Error"),
    "rate502": (502, "bad_gateway", "Bad Gateway"),
    "rate503": (503, "service_unavailable", "Sorry, the API service is temporarily unavailable"),
}


def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header allows application/json (a missing header does not, as on Intercom)."""
    if not accept:
        return False
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media in ("application/json", "application/*", "*/*"):
            return True
    return False


GATE_TIMEOUT_SECONDS = 60.0
"""The longest a held request waits for its gate (a failing test must not hang the server)."""


class ServerState:
    """Everything the handler threads share: API, token, limits, faults and counters."""

    def __init__(self, api: IntercomApi, token: str, limiter: RateLimiter, faults: FaultInjector,
                 latency_ms: int) -> None:
        self.api = api
        self.token = token
        self.limiter = limiter
        self.faults = faults
        self.latency_ms = latency_ms
        self.refusals = Refusals()
        self.gate: threading.Event | None = None  # set by IntercomTestServer.hold_requests()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0

    def enter(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._max_in_flight = self._in_flight


class IntercomHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server that remembers open connections so stop() can close idle keep-alives."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, IntercomRequestHandler)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._conn_lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class IntercomRequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 so clients can keep it alive across requests."""

    protocol_version = "HTTP/1.1"
    server_version = "IntercomTestServer/1.0"
    timeout = 120
    server: IntercomHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the CLI print only what matters."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._send(400, error_body("bad_request", "Content-Length is not a number"))
            return
        body = self.rfile.read(length) if length > 0 else b""
        route, params, _ = state.api.match(self.command, split.path)
        key = route.key if route else f"{self.command} {split.path}"
        state.enter(key)
        try:
            self._dispatch(state, route, params, split.path, split.query, body, key)
        finally:
            state.leave()

    def _dispatch(self, state: ServerState, route: Any, params: dict[str, str], path: str, query: str,
                  body: bytes, key: str) -> None:
        if state.latency_ms:
            time.sleep(state.latency_ms / 1000)
        gate = state.gate
        if gate is not None:
            gate.wait(GATE_TIMEOUT_SECONDS)
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), state.token.encode()):
            self._send(401, error_body("unauthorized", "Access Token Invalid"))
            return
        decision = state.limiter.check()
        if not decision.allowed:
            self._send_rate_limited(decision)
            return
        if not accepts_json(self.headers.get("Accept")):
            self._send(406, error_body("not_acceptable", "The Accept header should send a media type of "
                                       "application/json"), decision)
            return
        version = self.headers.get("Intercom-Version")
        if version is not None and version not in INTERCOM_VERSIONS:
            self._send(400, error_body("intercom_version_invalid", "The requested version could not be found"),
                       decision)
            return
        refusal = state.refusals.get(key) if route else None
        if refusal is not None:
            self._send(403, error_body(*refusal), decision)
            return
        template = route.template if route else path
        request_id = request_identity(self.command, path, query, body)
        fault = state.faults.draw(key, template, request_id)
        if fault == "rate429":
            self._send_rate_limited(RateDecision(False, decision.limit, 0, decision.reset))
            return
        if fault in FAULT_STATUS:
            status, code, message = FAULT_STATUS[fault]
            self._send(status, error_body(code, message), decision)
            return
        if route is None:
            self._send(404, error_body("not_found", "Resource Not Found"), decision)
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = ApiRequest(self.command, path, parse_qs(query, keep_blank_values=True), body, params,
                             base_url=f"http://{host}")
        try:
            status, payload = route.handler(request)
        except ApiError as exc:
            if exc.code == "scroll_exists":
                state.faults.not_an_attempt(key, template, request_id)
            self._late(state, fault)
            self._send(exc.status, exc.body(), decision, headers=exc.headers)
            return
        except Exception as exc:  # noqa: BLE001 - a server bug must still answer in the envelope
            self._send(500, error_body("server_error", f"internal error: {type(exc).__name__}"), decision)
            raise
        self._late(state, fault)
        self._send(status, payload, decision, mangle=fault)

    @staticmethod
    def _late(state: ServerState, fault: str | None) -> None:
        """A slow answer: the request took effect on arrival (as every other one), only the answer is late.

        Acting first and sleeping after keeps what a request changes (a scroll started or advanced) at a
        fixed point of the request sequence, instead of racing the client's retry that follows its timeout.
        """
        if fault == "slow":
            time.sleep(state.faults.faults.slow_seconds)

    def _send_rate_limited(self, decision: RateDecision) -> None:
        message = f"Exceeded rate limit of {decision.limit} in 10_seconds"
        self._send(429, error_body("rate_limit_exceeded", message), decision)

    def _send(self, status: int, payload: dict[str, Any], decision: RateDecision | None = None,
              mangle: str | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        declared = len(data)
        if mangle == "truncate":
            data = data[: max(1, len(data) // 2)]
            declared = len(data)
        elif mangle == "close":
            data = data[: len(data) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(declared))
        self.send_header("X-Request-Id", payload.get("request_id") or f"req-{time.monotonic_ns()}")
        if decision is not None:
            for name, value in decision.headers().items():
                self.send_header(name, value)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if mangle == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
