"""read_ahead: a page chain fetched by its own thread, the same pages in the same order, errors where they broke."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from intercom_assets.extraction.read_ahead import read_ahead


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
