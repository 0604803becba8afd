"""Pacing and concurrency: when the next request may start (the rate budget) and how many may be in flight.

Intercom's limit (per 10-second window) is shared by every app of the workspace, so this app aims to use only a
share of it: it stops sending when the window's remaining budget drops to the part reserved for others, and
spaces requests evenly across the window so a long concurrent run does not burn the budget in the first second
and then meet 429s. Requests in flight follow the allowed rate times the observed latency, within a ceiling.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

WINDOW_SECONDS = 10.0
# Without a Reset header we cannot know when the window ends; pausing this long is a cheap, safe guess.
UNKNOWN_RESET_PAUSE_SECONDS = 1.0


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class RequestSlots:
    """At most `limit` requests in flight (the limit can move); sequential chains take a free slot before any
    waiting bulk fetch.

    Chains and bulk fetches wait on separate conditions of one lock, and a freed slot wakes one waiter (a chain
    if any waits): waking every waiter on every response would have dozens of threads fight for the GIL only to
    go back to sleep.
    """

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._chains = threading.Condition(self._lock)
        self._bulk = threading.Condition(self._lock)
        self._limit = limit
        self._busy = 0
        self._chains_waiting = 0

    @property
    def limit(self) -> int:
        with self._lock:
            return self._limit

    def set_limit(self, limit: int) -> None:
        """Change how many requests may be in flight (those already in flight finish either way)."""
        with self._lock:
            if limit != self._limit:
                self._limit = max(1, limit)
                self._wake()

    def _wake(self) -> None:
        """Wake as many waiters as there are free slots, chains first (call with the lock held)."""
        free = self._limit - self._busy
        if free > 0:
            (self._chains if self._chains_waiting else self._bulk).notify(free)

    @contextmanager
    def hold(self, bulk: bool) -> Iterator[None]:
        with self._lock:
            if bulk:
                while self._busy >= self._limit or self._chains_waiting > 0:
                    self._bulk.wait()
            else:
                self._chains_waiting += 1
                try:
                    while self._busy >= self._limit:
                        self._chains.wait()
                finally:
                    self._chains_waiting -= 1
            self._busy += 1
            self._wake()  # a slot may still be free for the next waiter (of either kind)
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._wake()


class InFlightTarget:
    """How many requests to keep in flight: the allowed rate times the observed latency (Little's law).

    At 300 ms per request and 133 requests/s allowed, 40 in flight reach the rate; a fixed 16 would cap the run at
    53/s. The latency is an exponentially weighted average of completed requests; `ceiling` (the configured
    INTERCOM_MAX_CONCURRENCY) bounds it, and before the rate is known the ceiling applies.
    """

    HEADROOM = 1.25  # latency varies: a little more in flight than the average needs
    FLOOR = 2
    WEIGHT = 0.1

    def __init__(self, ceiling: int, initial: int = 8) -> None:
        self.ceiling = ceiling
        self._lock = threading.Lock()
        self._latency: float | None = None
        self._initial = min(ceiling, initial)

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds if self._latency is None else (
                self._latency + self.WEIGHT * (seconds - self._latency))

    def target(self, requests_per_second: float | None) -> int:
        """Requests to keep in flight at this allowed rate (None: no limit known yet)."""
        with self._lock:
            latency = self._latency
        if latency is None:
            return self._initial
        if not requests_per_second:
            return self.ceiling
        wanted = math.ceil(requests_per_second * latency * self.HEADROOM)
        return max(self.FLOOR, min(self.ceiling, wanted))


class RatePacer:
    """Decides when the next request of this client may start; one instance is shared by all its threads.

    Fed by `observe()` with every response's ``X-RateLimit-Limit/Remaining/Reset`` (any may be missing):
    - budget: requests this app may still send in the current window, ``remaining - limit * (1 - share)``,
      decremented locally for every request started (the headers lag behind requests in flight); at zero new
      requests wait for the window's Reset;
    - spacing: at most one request start per ``10 s / (limit * share)``;
    - `pause()` (after a 429) holds every thread until the given time.
    """

    def __init__(self, share: float, *, max_wait_seconds: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("rate_limit_share must be in (0, 1]")
        self._share = share
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._limit: float | None = None
        self._interval = 0.0
        self._next_slot = 0.0
        self._window_reset: float | None = None
        self._budget: int | None = None
        self._paused_until = 0.0

    @property
    def requests_per_second(self) -> float | None:
        """The rate this app may use (the share of the limit), once a response has told the limit."""
        with self._cond:
            return self._limit * self._share / WINDOW_SECONDS if self._limit else None

    @property
    def interval(self) -> float:
        """Current minimum spacing between request starts, in seconds (0 until a limit is known)."""
        with self._cond:
            return self._interval

    def acquire(self, cancel: threading.Event | None = None, bulk: bool = False) -> None:
        """Block until this thread may start one request, and account for it.

        A sequential chain (scroll or search pages, `bulk=False`) starts as soon as the budget allows and
        pushes the bulk fetches' spacing back; bulk requests queue behind each other. Otherwise eight parallel
        conversation fetches would add their spacing to every page of the scroll, the one chain that cannot be
        parallelised, and stretch the whole run.
        """
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                now = self._clock()
                wait = self._blocked_for(now)
                if wait <= 0:
                    break
                # Short waits so a cancelled run stops promptly and a clock change is noticed.
                self._cond.wait(min(wait, 0.5))
            if self._budget is not None:
                self._budget -= 1
            slot = max(now, self._next_slot) if bulk else now
            self._next_slot = max(now, self._next_slot) + self._interval
        delay = slot - now
        if delay > 0:
            if cancel is not None:
                cancel.wait(delay)
            else:
                time.sleep(delay)

    def _blocked_for(self, now: float) -> float:
        if self._paused_until > now:
            return self._paused_until - now
        if self._window_reset is not None and self._window_reset <= now:
            # The window we had a budget for is over; the next response tells us about the new one.
            self._window_reset = None
            self._budget = None
        if self._budget is not None and self._budget <= 0 and self._window_reset is not None:
            return self._window_reset - now
        return 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the limit, remaining budget and window end from one response's headers."""
        limit = _header_number(headers, "X-RateLimit-Limit")
        remaining = _header_number(headers, "X-RateLimit-Remaining")
        reset = _header_number(headers, "X-RateLimit-Reset")
        with self._cond:
            if limit is not None and limit > 0:
                self._limit = limit
                self._interval = WINDOW_SECONDS / max(1.0, limit * self._share)
            if remaining is None or self._limit is None:
                return
            allowed = max(0, math.ceil(remaining - self._limit * (1.0 - self._share) - 1e-9))
            now = self._clock()
            if reset is None:
                if allowed <= 0:
                    self._paused_until = max(self._paused_until, now + UNKNOWN_RESET_PAUSE_SECONDS)
                return
            if reset <= now:
                return
            # A reset far away can only be clock skew (windows last 10 s): never wait longer than the cap.
            reset = min(reset, now + self._max_wait)
            if self._window_reset is None or reset > self._window_reset:
                self._window_reset = reset
                self._budget = allowed
            elif reset == self._window_reset and self._budget is not None:
                self._budget = min(self._budget, allowed)

    def pause(self, seconds: float) -> None:
        """Hold every thread of the client for `seconds` (capped), e.g. until a 429's window resets."""
        seconds = min(max(0.0, seconds), self._max_wait)
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


class Throttle:
    """The rate pacer and the in-flight bound of one client, shared by all its threads, fed by every answer.

    A request holds a slot and its pacing turn for as long as it is on the wire (`turn`); each answer's rate
    headers and latency then set the budget, the spacing and how many requests may be in flight (`observe`).
    """

    def __init__(self, rate_limit_share: float, max_concurrency: int, max_wait_seconds: float) -> None:
        self.pacer = RatePacer(rate_limit_share, max_wait_seconds=max_wait_seconds)
        self._target = InFlightTarget(max_concurrency)
        self._slots = RequestSlots(self._target.target(None))

    @property
    def in_flight_limit(self) -> int:
        """How many requests may currently be in flight (rate × latency, within the ceiling)."""
        return self._slots.limit

    @contextmanager
    def turn(self, cancel: threading.Event | None, bulk: bool) -> Iterator[None]:
        """Hold a request slot and wait for the pacer; a set `cancel` ends the wait early (check it after)."""
        with self._slots.hold(bulk):
            self.pacer.acquire(cancel, bulk)
            yield

    def observe(self, headers: Mapping[str, str], seconds: float) -> None:
        """Learn from one answer: its rate headers and how long it took."""
        self.pacer.observe(headers)
        self._target.observe(seconds)
        self._slots.set_limit(self._target.target(self.pacer.requests_per_second))

    def pause(self, seconds: float) -> None:
        """Hold every thread of the client for `seconds` (capped), e.g. until a 429's window resets."""
        self.pacer.pause(seconds)
