"""The companies scroll: one open scroll per workspace, idle expiry, end on an empty page.

Rules from the 2.16 description and the facts file: a second scroll start while one is open gets
400 scroll_exists; a scroll_param idle for about a minute expires (404); the page after the last
one has empty `data` and closes the scroll; a 500 mid-scroll means the client must start over
(this server closes the scroll on that 500 so the restart is allowed). With no companies the
first page still carries a scroll_param, and using it answers 404.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ApiError
from .faults import FaultInjector

DEFAULT_TTL_SECONDS = 60.0
DEFAULT_PAGE_SIZE = 50


@dataclass
class _Scroll:
    param: str
    ids: list[str]
    offset: int = 0
    pages_served: int = 0
    last_used: float = field(default=0.0)


@dataclass(frozen=True)
class ScrollPage:
    """Company ids of one page and the scroll_param to send back."""

    ids: list[str]
    scroll_param: str


class ScrollManager:
    """Thread-safe state of the workspace's companies scroll."""

    def __init__(self, faults: FaultInjector, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 page_size: int = DEFAULT_PAGE_SIZE, clock: Callable[[], float] = time.monotonic,
                 seed: int = 0) -> None:
        self._lock = threading.Lock()
        # Seeded scroll_params: a page request is the same request (and meets the same faults) in every run.
        self._params = random.Random(f"{seed}/scroll")
        self._faults = faults
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.page_size = page_size
        self._open: _Scroll | None = None
        self.started = 0

    def _expire_if_idle(self, now: float) -> None:
        if self._open is not None and now - self._open.last_used > self.ttl_seconds:
            self._open = None

    def is_open(self) -> bool:
        with self._lock:
            self._expire_if_idle(self._clock())
            return self._open is not None

    def start(self, company_ids: list[str]) -> ScrollPage:
        """First page of a new scroll over the given ids (taken in this order)."""
        with self._lock:
            now = self._clock()
            self._expire_if_idle(now)
            if self._open is not None or self._faults.take_scroll_exists():
                raise ApiError("scroll already exists for this workspace", code="scroll_exists")
            param = str(uuid.UUID(int=self._params.getrandbits(128), version=4))
            self._open = _Scroll(param=param, ids=company_ids, last_used=now)
            self.started += 1
            return self._next_page(self._open, now)

    def next(self, scroll_param: str) -> ScrollPage:
        """Following page of the open scroll; 404 when the param is unknown or expired."""
        with self._lock:
            now = self._clock()
            self._expire_if_idle(now)
            scroll = self._open
            if scroll is None or scroll.param != scroll_param:
                raise ApiError("scroll parameter not found", code="not_found", status=404)
            if self._faults.take_scroll_expire(scroll.pages_served):
                self._open = None
                raise ApiError("scroll parameter not found", code="not_found", status=404)
            if self._faults.take_scroll_500(scroll.pages_served):
                self._open = None
                raise ApiError("Request failed due to an internal network error. Please restart the scroll "
                                  "operation.", code="server_error", status=500)
            return self._next_page(scroll, now)

    def _next_page(self, scroll: _Scroll, now: float) -> ScrollPage:
        ids = scroll.ids[scroll.offset:scroll.offset + self.page_size]
        scroll.offset += len(ids)
        scroll.pages_served += 1
        scroll.last_used = now
        if not ids:
            self._open = None
        return ScrollPage(ids, scroll.param)

    def reset(self) -> None:
        """Forget any open scroll (test helper)."""
        with self._lock:
            self._open = None
