"""Read a sequential page chain ahead of its consumer, so the next request is in flight while a page is staged.

The companies scroll and the cursor-paged lists can only ask for page k+1 with page k's cursor. Read lazily, a
chain costs (latency + the time to stage a page) per page; read ahead by a thread of its own, it costs the
latency alone while staging keeps up. At most `depth` pages wait in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_PAGE, _DONE, _ERROR = "page", "done", "error"
_POLL_SECONDS = 0.1


def read_ahead(pages: Iterable[T], depth: int = 4, name: str = "intercom-read-ahead") -> Iterator[T]:
    """The same pages in the same order, fetched by a thread that stays at most `depth` pages ahead.

    An error of the chain is raised to the consumer where the chain broke. A consumer that stops early stops the
    thread (after the request it may have in flight) and closes the chain, so a scroll lock it holds is released.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(kind: str, item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put((kind, item), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(pages)
        try:
            for page in iterator:
                if not offer(_PAGE, page):
                    return
            offer(_DONE, None)
        except BaseException as error:  # handed to the consumer, raised there
            offer(_ERROR, error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == _DONE:
                return
            if kind == _ERROR:
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
