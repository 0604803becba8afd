"""read_ahead: a page chain fetched by its own thread, the same pages in the same order, errors where they broke."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from intercom_assets.extraction.read_ahead import read_ahead, read_merged


def test_pages_come_in_order_and_the_next_request_is_made_while_the_consumer_holds_a_page() -> None:
    requested = [threading.Event() for _ in range(7)]

    def chain() -> Iterator[int]:
        for page in range(6):
            requested[page].set()  # the request for this page goes out
            yield page

    seen = []
    for page in read_ahead(chain(), depth=2):
        if page < 5:
            # lazily read, the chain would not ask for the next page before this one is handed back
            assert requested[page + 1].wait(2), f"page {page + 1} was not requested while page {page} was staged"
        seen.append(page)
    assert seen == list(range(6))


def test_an_error_reaches_the_consumer_after_the_pages_before_it() -> None:
    def chain() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("the scroll broke")

    seen = []
    with pytest.raises(RuntimeError, match="the scroll broke"):
        for page in read_ahead(chain()):
            seen.append(page)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_closes_the_chain_and_its_lock() -> None:
    lock = threading.Lock()
    closed = threading.Event()

    def chain() -> Iterator[int]:
        assert lock.acquire(blocking=False)
        try:
            yield from range(1000)
        finally:
            lock.release()
            closed.set()

    pages = read_ahead(chain(), depth=3)
    assert next(pages) == 0
    pages.close()
    assert closed.wait(2), "the chain was not closed"
    assert lock.acquire(blocking=False), "the chain's lock stayed held"
    assert not any(t.name == "intercom-read-ahead" for t in threading.enumerate())


def test_merged_chains_are_read_at_once_each_in_order_and_one_error_stops_them_all() -> None:
    started = [threading.Event() for _ in range(3)]

    def chain(n: int) -> Iterator[tuple[int, int]]:
        started[n].set()
        for k in range(3):
            yield (n, k)

    pages = read_merged([chain(n) for n in range(3)])
    first = next(pages)
    # every chain is under way while the consumer holds the first page
    assert all(event.wait(2) for event in started)
    seen = [first, *pages]
    assert sorted(seen) == [(n, k) for n in range(3) for k in range(3)]
    for n in range(3):
        assert [k for m, k in seen if m == n] == [0, 1, 2]

    endless_closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 0
        finally:
            endless_closed.set()

    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("HTTP 500 on the slice")

    with pytest.raises(RuntimeError, match="HTTP 500 on the slice"):
        for _ in read_merged([endless(), broken()]):
            pass
    assert endless_closed.wait(2), "the other chain was not stopped"
