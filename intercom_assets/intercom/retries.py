"""Which failed requests are tried again, and when: jittered backoff, the wait a 429 asks for, the retry loop.

A request is retried when a second try can succeed: no complete HTTP answer (timeout, reset connection), 5xx or
408, a 2xx whose body is not a JSON object, and 429 once the rate window resets. 401/403 and other 4xx are final.
"""

from __future__ import annotations

import http.client
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

import requests
import urllib3

from intercom_assets.intercom.errors import Cancelled, IntercomAPIError, TransientError
from intercom_assets.intercom.request_stats import RequestStats

logger = logging.getLogger("intercom_assets.intercom.client")

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


class Failure(NamedTuple):
    """One failed attempt: what to report if it was the last, and how long to back off before the next."""

    status: int | None
    code: str | None
    message: str
    delay: float


def retryable_status(status: int) -> bool:
    """Whether an error status can succeed on a second try (429 aside: it waits for the window, not a backoff)."""
    return status >= 500 or status == 408


def backoff_delay(attempt: int, base_seconds: float, max_seconds: float,
                  rng: Callable[[float, float], float] = random.uniform) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * 2**attempt)].

    Full jitter keeps many threads (or many runs) that failed together from retrying in lockstep.
    """
    ceiling = min(max_seconds, base_seconds * (2 ** min(attempt, 62)))
    return rng(0.0, max(0.0, ceiling))


class RetryPolicy:
    """How often and how long to retry: `max_retries` after the first attempt, backoff within [base, max]."""

    def __init__(self, max_retries: int, backoff_base_seconds: float, backoff_max_seconds: float,
                 rate_limit_max_wait_seconds: float) -> None:
        self.max_retries = max_retries
        self.backoff_base = backoff_base_seconds
        self.backoff_max = backoff_max_seconds
        self.rate_limit_max_wait = rate_limit_max_wait_seconds

    def backoff(self, attempt: int) -> float:
        """The jittered delay after failed attempt number `attempt` (0 for the first)."""
        return backoff_delay(attempt, self.backoff_base, self.backoff_max)

    def rate_limit_wait(self, headers: Mapping[str, str], fallback: float) -> float:
        """Seconds until the window of a 429 resets: X-RateLimit-Reset, else Retry-After, else `fallback`."""
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
                return min(wait_for, self.rate_limit_max_wait)
        return fallback

    def run(self, attempt_once: Callable[[int], dict | Failure], endpoint: str, stats: RequestStats, *,
            retry_transient: bool = True, cancel: threading.Event | None = None) -> dict:
        """`attempt_once(attempt)` until it answers, sleeping each Failure's delay in between.

        With `retry_transient` False only 429 is retried; any other Failure is raised as TransientError (the
        companies scroll must restart instead). The last Failure is raised as IntercomAPIError.
        """
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            if cancel is not None and cancel.is_set():
                raise Cancelled(endpoint)
            outcome = attempt_once(attempt)
            if not isinstance(outcome, Failure):
                return outcome
            if outcome.status != 429 and not retry_transient:
                raise TransientError(endpoint, outcome.status, outcome.code, outcome.message)
            if attempt + 1 == attempts:
                raise IntercomAPIError(endpoint, outcome.status, outcome.code,
                                       f"gave up after {attempts} attempts: {outcome.message}")
            stats.add(endpoint, retries=1)
            logger.warning("%s: %s (%s); retry %d/%d in %.2fs", endpoint,
                           f"HTTP {outcome.status}" if outcome.status else "no HTTP response", outcome.code,
                           attempt + 1, self.max_retries, outcome.delay)
            if outcome.delay > 0:
                if cancel is not None:
                    cancel.wait(outcome.delay)
                else:
                    time.sleep(outcome.delay)
        raise AssertionError("unreachable: the last attempt returns or raises")
