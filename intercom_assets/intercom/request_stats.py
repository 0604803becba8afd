"""Thread-safe per-endpoint request counters.

The run reports these so an operator can see where the rate budget went (requests, retries, 429s, bytes) per
endpoint template, without ever recording URLs, ids or tokens.
"""

from __future__ import annotations

import threading
from collections import defaultdict

FIELDS = ("requests", "retries", "rate_limited", "bytes")


class RequestStats:
    """Counters keyed by endpoint template such as ``GET /conversations/{id}``; shared across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))

    def add(self, endpoint: str, *, requests: int = 0, retries: int = 0, rate_limited: int = 0,
            nbytes: int = 0) -> None:
        """Add to one endpoint's counters atomically."""
        with self._lock:
            row = self._counts[endpoint]
            row["requests"] += requests
            row["retries"] += retries
            row["rate_limited"] += rate_limited
            row["bytes"] += nbytes

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A plain, independent copy: ``{endpoint: {"requests", "retries", "rate_limited", "bytes"}}``."""
        with self._lock:
            return {endpoint: dict(row) for endpoint, row in self._counts.items()}

    def total(self) -> dict[str, int]:
        """The same four counters summed over all endpoints."""
        totals = dict.fromkeys(FIELDS, 0)
        for row in self.snapshot().values():
            for field in FIELDS:
                totals[field] += row[field]
        return totals

    def __repr__(self) -> str:
        return f"RequestStats({self.total()})"
