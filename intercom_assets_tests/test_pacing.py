"""RatePacer and RequestSlots (intercom/pacing.py) on a fake clock: spacing, budgets, pauses and slot order.

The pacer's clock and sleep are a FakeClock, so every wait is asserted exactly in the pacer's own time and no
assertion depends on how fast this machine is. A blocked thread is known to have seen a new time once it has
read the clock twice since (the pacer re-reads it at least every 0.5 s while it waits).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from intercom_assets.intercom import pacing
from intercom_assets.intercom.pacing import UNKNOWN_RESET_PAUSE_SECONDS, RatePacer, RequestSlots

START = 1_800_000_000.0
WAIT = 10.0  # real seconds a correct pacer or slot never gets near: only a broken one times out


class FakeClock:
    """Time that moves only when the test sets it or the pacer sleeps; counts each thread's reads."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []
        self._reads: Counter[int] = Counter()
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            self._reads[threading.get_ident()] += 1
            self._cond.notify_all()
            return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def set(self, now: float, readers: list[threading.Thread] | None = None) -> None:
        """Move the time to `now`; with `readers`, return once each has read it twice (it saw it and acted on it)."""
        with self._cond:
            self.now = now
            seen = {t.ident: self._reads[t.ident] for t in readers or []}
            assert self._cond.wait_for(lambda: all(self._reads[i] >= seen[i] + 2 for i in seen), timeout=WAIT), \
                "a waiting thread stopped reading the clock: it is no longer waiting"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(pacing, "time", SimpleNamespace(sleep=fake.sleep, time=fake, monotonic=fake))
    return fake


def _acquiring(pacer: RatePacer, clock: FakeClock, n: int = 1) -> tuple[list[threading.Thread], list[float]]:
    """n threads each acquiring once; the clock's time when each got through."""
    through: list[float] = []

    def acquire() -> None:
        pacer.acquire()
        through.append(clock.now)

    threads = [threading.Thread(target=acquire, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    return threads, through


def _joined(threads: list[threading.Thread]) -> bool:
    for thread in threads:
        thread.join(WAIT)
    return not any(thread.is_alive() for thread in threads)


def test_pacer_spaces_requests_within_the_share(clock: FakeClock) -> None:
    pacer = RatePacer(0.5, clock=clock)
    pacer.observe({"X-RateLimit-Limit": "100"})  # 50 per 10 s for this app -> one every 0.2 s
    assert pacer.interval == pytest.approx(0.2)
    for _ in range(4):
        pacer.acquire(bulk=True)
    assert clock.slept == pytest.approx([0.2, 0.2, 0.2])
    assert clock.now - START == pytest.approx(0.6)


def test_a_sequential_chain_does_not_queue_behind_bulk_fetches(clock: FakeClock) -> None:
    """Scroll and search pages go first: bulk fetches' spacing must not stretch the one unparallelisable chain."""
    pacer = RatePacer(0.5, clock=clock)
    pacer.observe({"X-RateLimit-Limit": "100"})
    for _ in range(3):
        pacer.acquire(bulk=True)
    assert clock.slept == pytest.approx([0.2, 0.2])
    pacer.acquire(bulk=False)
    assert len(clock.slept) == 2, "the chain waited behind the bulk fetches"
    pacer.acquire(bulk=True)
    assert clock.slept[2:] == pytest.approx([0.4]), "the chain's request pushes the bulk spacing back by one slot"


def test_pacer_blocks_at_the_reserved_share_until_reset(clock: FakeClock) -> None:
    pacer = RatePacer(0.5, clock=clock)
    reset = START + 0.6
    # 100 per window, half reserved for other apps: with 51 left this app may send exactly one more.
    pacer.observe({"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "50001", "X-RateLimit-Reset": str(reset)})
    pacer.acquire()
    threads, through = _acquiring(pacer, clock)
    clock.set(reset - 0.01, threads)
    assert through == [], "a request beyond this app's share started before the window's reset"
    clock.set(reset)
    assert _joined(threads) and through == [reset]


def test_pacer_copes_with_missing_or_garbage_headers(clock: FakeClock) -> None:
    pacer = RatePacer(0.8, clock=clock)
    for headers in ({}, {"X-RateLimit-Limit": "abc"}, {"X-RateLimit-Remaining": "3"},
                    {"X-RateLimit-Limit": "nan", "X-RateLimit-Reset": "inf"},
                    {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "0"}):
        pacer.observe(headers)
    # Remaining 0 without Reset: a short pause, never a hang.
    assert UNKNOWN_RESET_PAUSE_SECONDS <= 2.0
    threads, through = _acquiring(pacer, clock)
    clock.set(START + UNKNOWN_RESET_PAUSE_SECONDS - 0.01, threads)
    assert through == []
    clock.set(START + UNKNOWN_RESET_PAUSE_SECONDS)
    assert _joined(threads) and through == [START + UNKNOWN_RESET_PAUSE_SECONDS]


def test_pacer_pause_holds_all_threads(clock: FakeClock) -> None:
    pacer = RatePacer(1.0, max_wait_seconds=5, clock=clock)
    pacer.pause(0.4)
    threads, through = _acquiring(pacer, clock, n=4)
    clock.set(START + 0.39, threads)
    assert through == []
    clock.set(START + 0.4)
    assert _joined(threads) and through == [START + 0.4] * 4


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a state the threads reach (not a guess at how long they take)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.001)


def test_request_slots_serve_chains_before_waiting_bulk_requests() -> None:
    slots = RequestSlots(1)
    order: list[str] = []

    def take(kind: str) -> None:
        with slots.hold(bulk=kind == "bulk"):
            order.append(kind)

    bulk, chain = (threading.Thread(target=take, args=(kind,)) for kind in ("bulk", "chain"))
    with slots.hold(bulk=True):  # the only slot is busy: a bulk request waits first, then a chain
        bulk.start()
        # Condition._waiters (CPython) is the one view of a thread parked in wait(); the bulk side has no counter.
        _wait_until(lambda: len(slots._bulk._waiters) == 1, "the bulk request waits for the slot")
        chain.start()
        _wait_until(lambda: slots._chains_waiting == 1, "the chain waits for the slot")
    assert _joined([bulk, chain])
    assert order == ["chain", "bulk"]


def test_request_slots_serve_every_waiter_within_the_moving_limit() -> None:
    """A freed slot wakes one waiter, not all: no waiter may be left asleep while a slot is free, and the
    number in flight never exceeds the limit, while the limit moves up and down. (The short sleeps model
    requests in flight and keep the limit moving while they wait; nothing here depends on their length.)"""
    slots = RequestSlots(3)
    in_flight, most, done = [0], [0], []
    lock = threading.Lock()

    def work(n: int) -> None:
        with slots.hold(bulk=n % 3 != 0):
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.001)
            with lock:
                in_flight[0] -= 1
        done.append(n)

    def move_limit() -> None:
        for limit in (1, 5, 2, 4, 1, 3) * 5:
            slots.set_limit(limit)
            time.sleep(0.002)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(120)]
    mover = threading.Thread(target=move_limit)
    mover.start()
    for thread in threads:
        thread.start()
    for thread in [*threads, mover]:
        thread.join(10)
    assert sorted(done) == list(range(120)), f"{120 - len(done)} waiters never got a slot"
    assert most[0] <= 5
