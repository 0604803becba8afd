"""HTTP client for Intercom's REST API, shared by every table of one run (no Dagster in here).

It owns what every Intercom extractor got wrong at some point: retries with jittered backoff, pacing inside
a share of the workspace's rate limit, a bounded number of requests in flight, the day-granular date
comparison of contact search, and the single-scroll rule of the companies scroll. The access token never
leaves the request headers: it is not in any message, log line or repr.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import math
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

import requests
import requests.auth
import urllib3
from requests.adapters import HTTPAdapter

from intercom_assets.intercom.errors import IntercomAPIError, IntercomAuthError, IntercomConfigError, IntercomError
from intercom_assets.intercom.ratelimit import RatePacer, RequestSlots, backoff_delay
from intercom_assets.intercom.request_stats import RequestStats

__all__ = ["IntercomClient", "RequestStats"]

logger = logging.getLogger("intercom_assets.intercom.client")

# Contact search compares dates by whole day in the workspace's (unknown) time zone, and a day can last 25
# hours at a DST change: widening the server-side filter by 25 h on each side always covers the exact window.
SEARCH_MARGIN_SECONDS = 25 * 3600
MAX_SEARCH_PER_PAGE = 150
# Intercom's data regions (US, EU, Australia); anything else is a typo or a wrong region.
REGION_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")
# Re-reads of a search whose results shifted while paging; later runs' look-back covers what is left.
SEARCH_MAX_PASSES = 3
MAX_ERROR_TEXT = 300
CONVERSATION_ENDPOINT = "GET /conversations/{id}"
SCROLL_PATH = "/companies/scroll"
SCROLL_ENDPOINT = f"GET {SCROLL_PATH}"
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


class _ScrollBroken(IntercomError):
    """The open scroll cannot be continued (expired or failed mid-way): restart from the beginning."""

    def __init__(self, status: int | None, code: str | None) -> None:
        self.status = status
        self.code = code
        super().__init__(f"HTTP {status} ({code})" if status is not None else f"no HTTP response ({code})")


class _TransientError(IntercomAPIError):
    """A retryable failure raised as-is because the caller asked for no retry (the scroll restarts instead)."""


class _Failure(NamedTuple):
    """One failed attempt: what to report if it was the last, and how long to back off before the next."""

    status: int | None
    code: str | None
    message: str
    delay: float


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


def _as_timestamp(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _ceil_seconds(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware: a naive datetime is ambiguous")
    return math.ceil(moment.timestamp())


class IntercomClient:
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
        self._in_flight = RequestSlots(max_concurrency)
        self._scroll_lock = threading.Lock()
        self.stats = RequestStats()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max_concurrency + 2, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.auth = self._auth
        self._session.headers.update({
            "Intercom-Version": api_version,
            "Accept": "application/json",
            "User-Agent": "intercom-assets (python-requests)",
        })

    def __repr__(self) -> str:
        return (f"IntercomClient(base_url={self._base_url!r}, api_version={self._api_version!r}, "
                f"max_concurrency={self._max_concurrency})")

    def __enter__(self) -> IntercomClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # ------------------------------------------------------------------ paging styles

    def list_all(self, path: str, list_key: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """Every record of a small list endpoint (admins, teams, tags, segments, data attributes).

        These answer in one shot; should one ever start paging, its cursor is followed rather than data lost.
        """
        return [record for page in self.iter_cursor_pages(path, list_key, params) for record in page]

    def iter_cursor_pages(self, path: str, list_key: str,
                          params: Mapping[str, Any] | None = None) -> Iterator[list[dict]]:
        """Pages of a GET list that pages with ``pages.next.starting_after``, one non-empty page at a time."""
        _check_path(path)
        endpoint = _endpoint_template("GET", path)
        cursor: str | None = None
        while True:
            page_params = dict(params or {})
            if cursor:
                page_params["starting_after"] = cursor
            payload = self._request("GET", path, endpoint=endpoint, params=page_params)
            records = self._records(payload, list_key, endpoint)
            if records:
                yield records
            next_cursor = self._next_cursor(payload, endpoint)
            if not next_cursor:
                return
            if next_cursor == cursor:
                raise IntercomAPIError(endpoint, 200, "cursor_loop", "the next-page cursor did not advance")
            cursor = next_cursor

    def search_updated(self, path: str, list_key: str, start: datetime, end: datetime,
                       per_page: int = MAX_SEARCH_PER_PAGE) -> Iterator[list[dict]]:
        """Records of ``POST /contacts/search`` or ``/conversations/search`` with start <= updated_at < end.

        Intercom compares dates in search by whole day in the workspace's time zone (``> X`` means "from the
        next local day on"), which this client cannot know. So the server filter is widened by 25 h on each
        side (a DST day lasts 25 h), results are sorted ascending by updated_at (rows updated while paging
        move to the end), and the exact window is applied here, to the second.

        Search is not a snapshot: a row updated while paging leaves its place, which can shift a row not yet
        read onto a page already read. When a pass shows that (an id seen twice, or total_count dropping),
        the search is read again, up to SEARCH_MAX_PASSES passes, to pick up what was skipped.

        De-duplication contract: only an ``{id: updated_at}`` map of what was yielded is kept (memory bounded
        by ids, pages still stream): an id is yielded again, on a later page, only with a strictly newer
        updated_at. A consumer that keeps, per id, the row with the newest updated_at therefore ends with
        exactly one current row per record.
        """
        _check_path(path)
        if not 1 <= per_page <= MAX_SEARCH_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_SEARCH_PER_PAGE}")
        low, high = _ceil_seconds(start, "start"), _ceil_seconds(end, "end")
        if low >= high:
            raise ValueError("start must be before end")
        endpoint = _endpoint_template("POST", path)
        query = {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": low - SEARCH_MARGIN_SECONDS},
            {"field": "updated_at", "operator": "<", "value": high + SEARCH_MARGIN_SECONDS},
        ]}
        yielded: dict[str, int] = {}
        for search_pass in range(1, SEARCH_MAX_PASSES + 1):
            shifted = yield from self._search_pass(path, endpoint, list_key, query, per_page, low, high, yielded)
            if not shifted:
                return
            if search_pass < SEARCH_MAX_PASSES:
                logger.warning("%s: results shifted while paging (records updated meanwhile); reading the "
                               "search again (pass %d/%d) to pick up skipped records", endpoint,
                               search_pass + 1, SEARCH_MAX_PASSES)
        logger.warning("%s: results still shifting after %d passes; records updated during this run may be "
                       "missed until a later run re-reads this window", endpoint, SEARCH_MAX_PASSES)

    def _search_pass(self, path: str, endpoint: str, list_key: str, query: dict, per_page: int, low: int,
                     high: int, yielded: dict[str, int]) -> Generator[list[dict], None, bool]:
        """One read of the whole search; returns whether the results shifted underneath it."""
        seen: set[str] = set()
        shifted = False
        last_total: int | None = None
        cursor: str | None = None
        while True:
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body = {"query": query, "sort": {"field": "updated_at", "order": "ascending"},
                    "pagination": pagination}
            payload = self._request("POST", path, endpoint=endpoint, body=body)
            total = payload.get("total_count")
            if isinstance(total, int):
                shifted |= last_total is not None and total < last_total
                last_total = total
            page: dict[str, dict] = {}
            page_updated: dict[str, int] = {}
            for record in self._records(payload, list_key, endpoint):
                updated_at = _as_timestamp(record.get("updated_at")) if isinstance(record, dict) else None
                if updated_at is None or record.get("id") is None:
                    raise IntercomAPIError(endpoint, 200, "unexpected_response",
                                           "a search result has no id or no integer updated_at")
                record_id = str(record["id"])
                shifted |= record_id in seen
                seen.add(record_id)
                if low <= updated_at < high and updated_at > max(yielded.get(record_id, -1),
                                                                  page_updated.get(record_id, -1)):
                    page[record_id] = record
                    page_updated[record_id] = updated_at
            yielded.update(page_updated)
            if page:
                yield list(page.values())
            next_cursor = self._next_cursor(payload, endpoint)
            if not next_cursor:
                return shifted
            if next_cursor == cursor:
                raise IntercomAPIError(endpoint, 200, "cursor_loop", "the search cursor did not advance")
            cursor = next_cursor

    def scroll_companies(self) -> Iterator[list[dict]]:
        """Every company, through ``GET /companies/scroll``, one page at a time, each id yielded once.

        Intercom allows one open scroll per app and cannot resume a broken one, hence: one scroll at a time
        per client (exhaust or close the iterator to release it); a ``scroll_exists`` answer to the first
        request is waited out (bounded); an expired scroll (404) or a failure mid-way (5xx, timeout, reset
        connection; not retried in place because the server-side cursor may already have moved on) restarts
        the scroll from the beginning, yielding only ids not yielded before, at most `max_scroll_restarts`
        times.
        """
        if not self._scroll_lock.acquire(timeout=self._scroll_wait):
            raise IntercomError("another companies scroll of this client is still open: finish or close it")
        try:
            seen: set[str] = set()
            restarts = 0
            while True:
                try:
                    for page in self._scroll_once():
                        fresh: list[dict] = []
                        for record in page:
                            if not isinstance(record, dict) or record.get("id") is None:
                                raise IntercomAPIError(SCROLL_ENDPOINT, 200, "unexpected_response",
                                                       "a company has no id")
                            record_id = str(record["id"])
                            if record_id not in seen:
                                seen.add(record_id)
                                fresh.append(record)
                        if fresh:
                            yield fresh
                    return
                except _ScrollBroken as exc:
                    restarts += 1
                    if restarts > self._max_scroll_restarts:
                        raise IntercomAPIError(SCROLL_ENDPOINT, exc.status, exc.code,
                                               f"scroll broke {restarts} times; last: {exc}") from None
                    logger.warning("%s: %s; restarting the scroll from the beginning (restart %d/%d, %d "
                                   "companies already read)", SCROLL_ENDPOINT, exc, restarts,
                                   self._max_scroll_restarts, len(seen))
        finally:
            self._scroll_lock.release()

    def _scroll_once(self) -> Iterator[list[dict]]:
        payload = self._start_scroll()
        while True:
            # The end is an empty page; its scroll_param (present even with no companies at all) would 404.
            records = self._records(payload, "data", SCROLL_ENDPOINT)
            if not records:
                return
            yield records
            scroll_param = payload.get("scroll_param")
            if not isinstance(scroll_param, str) or not scroll_param:
                logger.warning("%s: a non-empty page came without scroll_param; treating it as the end",
                               SCROLL_ENDPOINT)
                return
            try:
                payload = self._request("GET", SCROLL_PATH, endpoint=SCROLL_ENDPOINT,
                                        params={"scroll_param": scroll_param}, retry_transient=False)
            except _TransientError as exc:
                raise _ScrollBroken(exc.status, exc.code) from None
            except IntercomAPIError as exc:
                if exc.status == 404:
                    raise _ScrollBroken(exc.status, exc.code) from None
                raise

    def _start_scroll(self) -> dict:
        deadline = time.monotonic() + self._scroll_wait
        attempt = 0
        while True:
            try:
                return self._request("GET", SCROLL_PATH, endpoint=SCROLL_ENDPOINT)
            except IntercomAPIError as exc:
                left = deadline - time.monotonic()
                if exc.status != 400 or exc.code != "scroll_exists" or left <= 0:
                    raise
                delay = min(left, max(self._backoff_base, backoff_delay(attempt, self._backoff_base,
                                                                        self._backoff_max)))
                attempt += 1
                logger.warning("%s: another scroll is open (scroll_exists); waiting %.2fs for it to expire",
                               SCROLL_ENDPOINT, delay)
                time.sleep(delay)

    def get_conversations(self, ids: Iterable[str]) -> Iterator[dict]:
        """Full conversations (with their parts) for `ids`, fetched concurrently, yielded as they complete.

        At most ``2 * max_concurrency`` ids are submitted at a time, so memory stays bounded however many ids
        come in. The first error cancels the rest and is raised. A conversation that no longer exists (404,
        deleted since it was listed) is skipped with a warning rather than failing the run.
        """
        cancel = threading.Event()
        window = 2 * self._max_concurrency
        id_iter = iter(ids)
        exhausted = False
        pending: set[Future[dict | None]] = set()
        executor = ThreadPoolExecutor(max_workers=self._max_concurrency, thread_name_prefix="intercom-conv")
        try:
            while True:
                while not exhausted and len(pending) < window:
                    try:
                        conversation_id = next(id_iter)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.add(executor.submit(self._get_conversation, str(conversation_id), cancel))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    conversation = future.result()
                    if conversation is not None:
                        yield conversation
        finally:
            cancel.set()
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def _get_conversation(self, conversation_id: str, cancel: threading.Event) -> dict | None:
        path = f"/conversations/{quote(conversation_id, safe='')}"
        try:
            return self._request("GET", path, endpoint=CONVERSATION_ENDPOINT, cancel=cancel, bulk=True)
        except IntercomAPIError as exc:
            if exc.status == 404:
                logger.warning("%s: conversation %s no longer exists (404); skipped",
                               CONVERSATION_ENDPOINT, conversation_id)
                return None
            raise

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
        else:
            hint = (f"the token may not call {endpoint}: the app lacks a permission scope for it, or the "
                    "workspace's plan does not include this API; check the app's scopes in the Developer Hub")
        return IntercomAuthError(endpoint, status, code, f"{message}. {hint}")

    @staticmethod
    def _records(payload: dict, list_key: str, endpoint: str) -> list[dict]:
        records = payload.get(list_key)
        if not isinstance(records, list):
            raise IntercomAPIError(endpoint, 200, "unexpected_response",
                                   f"the response has no {list_key!r} list (keys: {sorted(payload)[:10]})")
        return records

    @staticmethod
    def _next_cursor(payload: dict, endpoint: str) -> str | None:
        pages = payload.get("pages")
        nxt = pages.get("next") if isinstance(pages, dict) else None
        if isinstance(nxt, dict):
            cursor = nxt.get("starting_after")
            return cursor if isinstance(cursor, str) and cursor else None
        if isinstance(nxt, str) and nxt:
            # Older API versions gave a URL; only a starting_after cursor in it can be followed safely.
            found = parse_qs(urlsplit(nxt).query).get("starting_after")
            if found and found[0]:
                return found[0]
            raise IntercomAPIError(endpoint, 200, "unsupported_paging", "pages.next is a URL with no cursor")
        return None
