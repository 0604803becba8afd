"""The transport under IntercomClient: one request to the API, from its slot to its JSON object.

It puts together the authenticated session (session.py), pacing and concurrency (pacing.py), retries
(retries.py) and the reading of answers and error bodies (parsing.py), and counts every request
(request_stats.py). No Dagster in here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from intercom_assets.intercom import parsing
from intercom_assets.intercom.errors import Cancelled, IntercomAPIError, IntercomConfigError
from intercom_assets.intercom.pacing import Throttle
from intercom_assets.intercom.request_stats import RequestStats
from intercom_assets.intercom.retries import TRANSPORT_ERRORS, Failure, RetryPolicy, retryable_status
from intercom_assets.intercom.session import BearerAuth, auth_error, open_session, validate_base_url, validate_token

logger = logging.getLogger("intercom_assets.intercom.client")


class Transport:
    """One authenticated session to one Intercom workspace; thread-safe, meant to be shared by a whole run.

    The concurrency bound (`max_concurrency` requests in flight) and the rate budget (`rate_limit_share` of
    the workspace limit) hold across every method and thread using this client. `max_retries` is the number
    of retries after the first attempt of each request. Use as a context manager or call `close()`.
    """

    def __init__(self, base_url: str, token: str, api_version: str = "2.16", max_concurrency: int = 8,
                 rate_limit_share: float = 0.8, timeout_seconds: float = 30.0, max_retries: int = 8,
                 backoff_max_seconds: float = 60.0, *, backoff_base_seconds: float = 0.5,
                 rate_limit_max_wait_seconds: float = 60.0, scroll_exists_max_wait_seconds: float = 120.0,
                 max_scroll_restarts: int = 5) -> None:
        self._base_url = validate_base_url(base_url)
        token = validate_token(token)
        if not isinstance(api_version, str) or not api_version or any(ch.isspace() for ch in api_version):
            raise IntercomConfigError("api_version must be a version string such as '2.16'")
        if max_concurrency < 1 or max_retries < 0 or timeout_seconds <= 0 or backoff_max_seconds < 0:
            raise IntercomConfigError(
                "need max_concurrency >= 1, max_retries >= 0, timeout_seconds > 0, backoff_max_seconds >= 0")
        if not 0.0 < rate_limit_share <= 1.0:
            raise IntercomConfigError("rate_limit_share must be in (0, 1]")
        if (backoff_base_seconds < 0 or rate_limit_max_wait_seconds <= 0 or scroll_exists_max_wait_seconds < 0
                or max_scroll_restarts < 0):
            raise IntercomConfigError("backoff, wait and restart settings must not be negative")
        self._auth = BearerAuth(token)
        self._api_version = api_version
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._retries = RetryPolicy(max_retries, backoff_base_seconds, backoff_max_seconds,
                                    rate_limit_max_wait_seconds)
        self._scroll_wait = scroll_exists_max_wait_seconds
        self._max_scroll_restarts = max_scroll_restarts
        self._throttle = Throttle(rate_limit_share, max_concurrency, rate_limit_max_wait_seconds)
        self._scroll_lock = threading.Lock()
        self.stats = RequestStats()
        self._session = open_session(self._base_url, self._auth, api_version, max_concurrency)

    def __repr__(self) -> str:
        return (f"IntercomClient(base_url={self._base_url!r}, api_version={self._api_version!r}, "
                f"max_concurrency={self._max_concurrency})")

    @property
    def in_flight_limit(self) -> int:
        """How many requests the client currently lets be in flight (rate × latency, within the ceiling)."""
        return self._throttle.in_flight_limit

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def _request(self, method: str, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None,
                 body: Mapping[str, Any] | None = None, retry_transient: bool = True,
                 cancel: threading.Event | None = None, bulk: bool = False) -> dict:
        """One API call -> its JSON object, retried as retries.py decides (`retry_transient`: see RetryPolicy.run).

        Not retried: 401/403 (IntercomAuthError), other 3xx/4xx (IntercomAPIError).
        """
        url = self._base_url + path
        headers = {"Content-Type": "application/json"} if body is not None else None
        return self._retries.run(
            lambda attempt: self._attempt(method, url, endpoint, params, body, headers, attempt, cancel, bulk),
            endpoint, self.stats, retry_transient=retry_transient, cancel=cancel)

    def _attempt(self, method: str, url: str, endpoint: str, params: Mapping[str, Any] | None,
                 body: Mapping[str, Any] | None, headers: dict[str, str] | None, attempt: int,
                 cancel: threading.Event | None, bulk: bool = False) -> dict | Failure:
        """Make one HTTP attempt -> the JSON object, or a retryable Failure.

        Raises for answers that must not be retried (401/403, other 3xx/4xx).
        """
        backoff = self._retries.backoff(attempt)
        with self._throttle.turn(cancel, bulk):
            if cancel is not None and cancel.is_set():
                raise Cancelled(endpoint)
            self.stats.add(endpoint, requests=1)
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, url, params=params, json=body, headers=headers,
                    timeout=(self._timeout, self._timeout), allow_redirects=False)
                content = response.content
            except TRANSPORT_ERRORS as exc:
                name = type(exc).__name__
                logger.debug("%s -> %s after %.3fs (attempt %d)", endpoint, name,
                             time.monotonic() - started, attempt + 1)
                return Failure(None, name, f"no complete HTTP response ({name})", backoff)
        status = response.status_code
        self.stats.add(endpoint, nbytes=len(content))
        self._throttle.observe(response.headers, time.monotonic() - started)
        logger.debug("%s -> HTTP %d, %d bytes in %.3fs (attempt %d)", endpoint, status, len(content),
                     time.monotonic() - started, attempt + 1)
        if 200 <= status < 300:
            payload, unlike = parsing.json_object(content)
            if payload is not None:
                return payload
            return Failure(status, "invalid_json", f"HTTP {status} with a {unlike} body", backoff)
        code, message = parsing.error_details(content, self._auth.token)
        if status in (401, 403):
            raise auth_error(self._base_url, endpoint, status, code, message)
        if status == 429:
            self.stats.add(endpoint, rate_limited=1)
            self._throttle.pause(self._retries.rate_limit_wait(response.headers, backoff))
            return Failure(status, code or "rate_limit_exceeded", message, 0.0)
        if retryable_status(status):
            return Failure(status, code, message, backoff)
        raise IntercomAPIError(endpoint, status, code, message)
