"""Intercom-style rate limiting: a request budget per fixed 10-second window.

Intercom states its limits per minute but enforces them per 10-second window (limit/6, rounded
up) and reports the current window in X-RateLimit-* headers; clients must read those headers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 10
UNLIMITED_PER_MINUTE = 100_000
"""Reported (never enforced) when no limit is configured, so headers are always present."""


@dataclass(frozen=True)
class RateDecision:
    """Outcome for one request plus the values of the X-RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def window_limit(per_minute: int) -> int:
    """Requests allowed per 10-second window for a per-minute limit (Intercom: 60/min -> 10)."""
    return max(1, math.ceil(per_minute / (60 / WINDOW_SECONDS)))


class RateLimiter:
    """Counts requests per wall-clock-aligned 10 s window; thread-safe."""

    def __init__(self, per_minute: int | None, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._window_start = 0
        self._count = 0
        self.set_limit(per_minute)

    def set_limit(self, per_minute: int | None) -> None:
        """Change the limit at run time; None disables enforcement (headers still sent)."""
        if per_minute is not None and per_minute <= 0:
            raise ValueError("rate limit must be a positive number of requests per minute")
        with self._lock:
            self._enforced = per_minute is not None
            self._limit = window_limit(per_minute if per_minute is not None else UNLIMITED_PER_MINUTE)

    def check(self) -> RateDecision:
        """Count one request in the current window and say whether it may proceed."""
        with self._lock:
            now = self._clock()
            start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
            if start != self._window_start:
                self._window_start = start
                self._count = 0
            self._count += 1
            allowed = not self._enforced or self._count <= self._limit
            remaining = max(0, self._limit - self._count)
            return RateDecision(allowed, self._limit, remaining, start + WINDOW_SECONDS)
