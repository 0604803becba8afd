"""The transport under IntercomClient: one authenticated session, retries, rate pacing, bounded concurrency.

It owns what every Intercom extractor got wrong at some point: retries with jittered backoff, pacing inside a
share of the workspace's rate limit, a bounded number of requests in flight. The access token never leaves the
request headers: it is not in any message, log line or repr. No Dagster in here.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import requests
import requests.auth
import urllib3
from requests.adapters import HTTPAdapter

from intercom_assets.intercom.errors import IntercomAPIError, IntercomAuthError, IntercomConfigError, IntercomError
from intercom_assets.intercom.ratelimit import InFlightTarget, RatePacer, RequestSlots, backoff_delay
from intercom_assets.intercom.request_stats import RequestStats

logger = logging.getLogger("intercom_assets.intercom.client")

# Intercom's data regions (US, EU, Australia); anything else is a typo or a wrong region.
REGION_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")
MAX_ERROR_TEXT = 300
# Failures after which the same request may well succeed: no complete HTTP answer arrived.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
)


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header per request; as session auth it also keeps ~/.netrc from replacing it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(token=[hidden])"


class _Cancelled(IntercomError):
    """Raised inside worker threads once the caller gave up; never reaches the caller."""


class _TransientError(IntercomAPIError):
    """A retryable failure raised as-is because the caller asked for no retry (the scroll restarts instead)."""


class _Failure(NamedTuple):
    """One failed attempt: what to report if it was the last, and how long to back off before the next."""

    status: int | None
    code: str | None
    message: str
    delay: float


# The permission (Developer Hub > Authentication) each family of endpoints needs, by its first path word.
PERMISSIONS = {
    "admins": "'Read admins' (and for activity logs: 'Read admin activity logs')",
    "teams": "'Read admins'",
    "contacts": "'Read and list users and companies'",
    "companies": "'Read and list users and companies'",
    "segments": "'Read one user and one company'",
    "tags": "'Read tags'",
    "data_attributes": "'Read data attributes'",
    "conversations": "'Read conversations'",
    "tickets": "'Read tickets'",
    "ticket_types": "'Read tickets'",
    "ticket_states": "'Read tickets'",
    "articles": "'Read articles'",
    "help_center": "'Read help center'",
    "news": "'Read news'",
    "subscription_types": "'Read subscription types'",
    "away_status_reasons": "'Read admins'",
}


def permission_for(endpoint: str) -> str:
    """The Developer Hub permission an endpoint needs, e.g. "'Read tickets'" for ``POST /tickets/search``."""
    path = endpoint.split(" ", 1)[-1].strip("/")
    return PERMISSIONS.get(path.split("/", 1)[0], "read access to this resource")


def _validate_base_url(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise IntercomConfigError("base_url is empty")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntercomConfigError("base_url must be an http(s) URL with a host, e.g. https://api.intercom.io")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise IntercomConfigError("base_url must not contain credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise IntercomConfigError(
            f"refusing plain http:// to {parts.hostname}: the access token would travel in clear text; use https://"
        )
    if not _is_loopback(parts.hostname) and parts.hostname.lower() not in REGION_HOSTS:
        raise IntercomConfigError(
            f"{parts.hostname} is not an Intercom region's API host: use one of "
            + ", ".join(f"https://{host}" for host in REGION_HOSTS)
            + " (the region your workspace is hosted in)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint_template(method: str, path: str) -> str:
    """``GET /companies/6762f0…/segments`` -> ``GET /companies/{id}/segments``: no ids in stats or logs.

    Intercom's own path words contain no digits, while its ids (numeric or hex) always do.
    """
    segments = ["{id}" if any(ch.isdigit() for ch in seg) else seg for seg in path.split("/")]
    return f"{method} {'/'.join(segments)}"


def _check_path(path: str) -> None:
    if (not isinstance(path, str) or not path.startswith("/") or path.startswith("//")
            or any(ch in path for ch in "?#\\ \t\r\n") or "/../" in f"{path}/"):
        raise ValueError(f"path must be an absolute API path without query, e.g. '/admins'; got {path!r}")


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
        self._base_url = _validate_base_url(base_url)
        if not isinstance(token, str) or not token.strip():
            raise IntercomConfigError("the Intercom access token is empty: set INTERCOM_ACCESS_TOKEN")
        token = token.strip()
        if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in token):
            # requests would echo the bad header value, token included, in its own exception.
            raise IntercomConfigError("the Intercom access token contains whitespace or non-ASCII characters")
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
        self._auth = _BearerAuth(token)
        self._api_version = api_version
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._rate_limit_max_wait = rate_limit_max_wait_seconds
        self._scroll_wait = scroll_exists_max_wait_seconds
        self._max_scroll_restarts = max_scroll_restarts
        self._pacer = RatePacer(rate_limit_share, max_wait_seconds=rate_limit_max_wait_seconds)
        self._concurrency = InFlightTarget(max_concurrency)
        self._in_flight = RequestSlots(self._concurrency.target(None))
        self._scroll_lock = threading.Lock()
        self.stats = RequestStats()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max_concurrency + 2, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.auth = self._auth
        # The environment's proxy and CA bundle, resolved once for the one host this client talks to: requests
        # would look them up again on every request (scanning os.environ), a tenth of a request's CPU.
        self._session.proxies.update(requests.utils.get_environ_proxies(self._base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self._session.verify = bundle
        self._session.trust_env = False
        self._session.headers.update({
            "Intercom-Version": api_version,
            "Accept": "application/json",
            "User-Agent": "intercom-assets (python-requests)",
        })

    def __repr__(self) -> str:
        return (f"IntercomClient(base_url={self._base_url!r}, api_version={self._api_version!r}, "
                f"max_concurrency={self._max_concurrency})")

    @property
    def in_flight_limit(self) -> int:
        """How many requests the client currently lets be in flight (rate × latency, within the ceiling)."""
        return self._in_flight.limit

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # ------------------------------------------------------------------ one request, with retries

    def _request(self, method: str, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None,
                 body: Mapping[str, Any] | None = None, retry_transient: bool = True,
                 cancel: threading.Event | None = None, bulk: bool = False) -> dict:
        """One API call -> its JSON object, retrying what can succeed on a second try.

        Retried: 429 (after the window resets, all threads paused), 5xx and 408, timeouts, broken connections,
        a 2xx whose body is not a JSON object. With `retry_transient` False only 429 is retried (the
        companies scroll must restart instead). Not retried: 401/403 (IntercomAuthError), other 3xx/4xx
        (IntercomAPIError).
        """
        url = self._base_url + path
        headers = {"Content-Type": "application/json"} if body is not None else None
        attempts = self._max_retries + 1
        for attempt in range(attempts):
            if cancel is not None and cancel.is_set():
                raise _Cancelled(endpoint)
            outcome = self._attempt(method, url, endpoint, params, body, headers, attempt, cancel, bulk)
            if not isinstance(outcome, _Failure):
                return outcome
            if outcome.status != 429 and not retry_transient:
                raise _TransientError(endpoint, outcome.status, outcome.code, outcome.message)
            if attempt + 1 == attempts:
                raise IntercomAPIError(endpoint, outcome.status, outcome.code,
                                       f"gave up after {attempts} attempts: {outcome.message}")
            self.stats.add(endpoint, retries=1)
            logger.warning("%s: %s (%s); retry %d/%d in %.2fs", endpoint,
                           f"HTTP {outcome.status}" if outcome.status else "no HTTP response", outcome.code,
                           attempt + 1, self._max_retries, outcome.delay)
            if outcome.delay > 0:
                if cancel is not None:
                    cancel.wait(outcome.delay)
                else:
                    time.sleep(outcome.delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(self, method: str, url: str, endpoint: str, params: Mapping[str, Any] | None,
                 body: Mapping[str, Any] | None, headers: dict[str, str] | None, attempt: int,
                 cancel: threading.Event | None, bulk: bool = False) -> dict | _Failure:
        """Make one HTTP attempt -> the JSON object, or a retryable _Failure.

        Raises for answers that must not be retried (401/403, other 3xx/4xx).
        """
        backoff = backoff_delay(attempt, self._backoff_base, self._backoff_max)
        with self._in_flight.hold(bulk):
            self._pacer.acquire(cancel, bulk)
            if cancel is not None and cancel.is_set():
                raise _Cancelled(endpoint)
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
                return _Failure(None, name, f"no complete HTTP response ({name})", backoff)
        status = response.status_code
        self.stats.add(endpoint, nbytes=len(content))
        self._pacer.observe(response.headers)
        self._concurrency.observe(time.monotonic() - started)
        self._in_flight.set_limit(self._concurrency.target(self._pacer.requests_per_second))
        logger.debug("%s -> HTTP %d, %d bytes in %.3fs (attempt %d)", endpoint, status, len(content),
                     time.monotonic() - started, attempt + 1)
        if 200 <= status < 300:
            try:
                payload = json.loads(content)
            except ValueError:
                return _Failure(status, "invalid_json", f"HTTP {status} with a non-JSON body", backoff)
            if isinstance(payload, dict):
                return payload
            return _Failure(status, "invalid_json", f"HTTP {status} with a non-object JSON body", backoff)
        code, message = self._error_details(content)
        if status in (401, 403):
            raise self._auth_error(endpoint, status, code, message)
        if status == 429:
            self.stats.add(endpoint, rate_limited=1)
            self._pacer.pause(self._rate_limit_wait(response.headers, backoff))
            return _Failure(status, code or "rate_limit_exceeded", message, 0.0)
        if status >= 500 or status == 408:
            return _Failure(status, code, message, backoff)
        raise IntercomAPIError(endpoint, status, code, message)

    def _rate_limit_wait(self, headers: Mapping[str, str], fallback: float) -> float:
        """Seconds until the window of a 429 resets: X-RateLimit-Reset, else Retry-After, else backoff."""
        for name, relative in (("X-RateLimit-Reset", False), ("Retry-After", True)):
            raw = headers.get(name)
            try:
                value = float(raw) if raw is not None else None
            except ValueError:
                value = None
            if value is None or not math.isfinite(value):
                continue
            wait_for = value if relative else value - time.time()
            if wait_for > 0:
                return min(wait_for, self._rate_limit_max_wait)
        return fallback

    def _scrub(self, text: str) -> str:
        text = text.replace(self._auth.token, "[token]")
        return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"

    def _error_details(self, content: bytes) -> tuple[str | None, str]:
        """Intercom's error code and message from an error body, scrubbed and shortened."""
        try:
            payload = json.loads(content)
        except ValueError:
            text = content[:MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
            return None, self._scrub(text or "empty body")
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code, message = errors[0].get("code"), errors[0].get("message")
            return (self._scrub(str(code)) if code else None,
                    self._scrub(str(message)) if message else "no message")
        return None, self._scrub(content[:MAX_ERROR_TEXT].decode("utf-8", "replace"))

    def _auth_error(self, endpoint: str, status: int, code: str | None, message: str) -> IntercomAuthError:
        if status == 401:
            hint = ("the access token is invalid or revoked: check INTERCOM_ACCESS_TOKEN, and that the base "
                    f"URL's region ({urlsplit(self._base_url).hostname}; api / api.eu / api.au.intercom.io) "
                    "matches the workspace's region")
        elif code == "api_plan_restricted":
            hint = (f"the workspace's Intercom plan does not include {endpoint}: upgrade the plan, or leave the "
                    "tables it feeds out of INTERCOM_TABLES")
        else:
            hint = (f"the app may not call {endpoint}: grant it {permission_for(endpoint)} in the Developer Hub "
                    "(your app > Configure > Authentication), or leave the tables it feeds out of INTERCOM_TABLES")
        return IntercomAuthError(endpoint, status, code, f"{message}. {hint}")

    @staticmethod
    def _records(payload: dict, list_key: str, endpoint: str) -> list[dict]:
        """The record list of a page; `list_key` may name alternatives (``"data|companies"``)."""
        for key in list_key.split("|"):
            records = payload.get(key)
            if isinstance(records, list):
                return records
        raise IntercomAPIError(endpoint, 200, "unexpected_response",
                               f"the response has no {list_key!r} list (keys: {sorted(payload)[:10]})")

    @staticmethod
    def _next_page(payload: dict, endpoint: str) -> dict[str, Any] | None:
        """What to add to the next request: ``{"starting_after": cursor}`` or ``{"page": n}``; None at the end."""
        pages = payload.get("pages")
        nxt = pages.get("next") if isinstance(pages, dict) else None
        if isinstance(nxt, dict):
            cursor = nxt.get("starting_after")
            if isinstance(cursor, str) and cursor:
                return {"starting_after": cursor}
            page = nxt.get("page")
            return {"page": page} if isinstance(page, int) and not isinstance(page, bool) else None
        if isinstance(nxt, str) and nxt:
            query = parse_qs(urlsplit(nxt).query)
            cursor_values, page_values = query.get("starting_after"), query.get("page")
            if cursor_values and cursor_values[0]:
                return {"starting_after": cursor_values[0]}
            if page_values and page_values[0].isdigit():
                return {"page": int(page_values[0]), **({"per_page": query["per_page"][0]} if "per_page" in query
                                                         else {})}
            raise IntercomAPIError(endpoint, 200, "unsupported_paging", "pages.next is a URL with no cursor or page")
        return None
