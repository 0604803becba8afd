"""Cursor paging shared by search and list endpoints: opaque cursors and `pages` objects.

Cursors are opaque base64 strings holding an offset and a marker of the query they belong to, so
a cursor replayed with another query is rejected instead of silently paging something else. Like
Intercom's search, results are not a snapshot: each page re-reads the current data, so records
edited while a client pages can move between pages (clients must de-duplicate and look back).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError

MAX_PER_PAGE = 150


def query_marker(*parts: Any) -> str:
    """Short stable hash of what a cursor belongs to (endpoint, query, sort)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def encode_cursor(offset: int, marker: str) -> str:
    raw = json.dumps({"o": offset, "q": marker}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Any, marker: str) -> int:
    """Offset stored in a cursor; 400 when the cursor is malformed or from another query."""
    if not isinstance(cursor, str) or not cursor:
        raise ApiError("starting_after must be a cursor string", code="parameter_invalid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        same = data["q"] == marker
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ApiError("starting_after is not a valid cursor", code="parameter_invalid") from None
    if not same or offset < 0:
        raise ApiError("starting_after does not belong to this query", code="parameter_invalid")
    return offset


def parse_per_page(raw: Any, default: int, maximum: int = MAX_PER_PAGE) -> int:
    """per_page from a body or query string: an integer 1..maximum (150 unless told), else 400."""
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise ApiError("per_page must be an integer", code="parameter_invalid")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError("per_page must be an integer", code="parameter_invalid") from None
    if value < 1 or value > maximum:
        raise ApiError(f"per_page must be between 1 and {maximum}", code="parameter_invalid")
    return value


def page_of(items: list[Any], offset: int, per_page: int, marker: str) -> tuple[list[Any], dict[str, Any]]:
    """One page of items plus the `pages` object (with `next` only when more remain)."""
    return items[offset:offset + per_page], cursor_pages(len(items), offset, per_page, marker)


def cursor_pages(total: int, offset: int, per_page: int, marker: str) -> dict[str, Any]:
    """The description's `cursor_pages` object for the page at `offset` of `total` items."""
    pages: dict[str, Any] = {
        "type": "pages",
        "page": offset // per_page + 1,
        "per_page": per_page,
        "total_pages": math.ceil(total / per_page),
    }
    if offset + per_page < total:
        pages["next"] = {"per_page": per_page, "starting_after": encode_cursor(offset + per_page, marker)}
    return pages


class ResultCache:
    """LRU of search results (id lists) by query, each valid for one workspace generation.

    An extractor pages ~30 slices of a window per source, three sources at once: the cache holds a few hundred
    queries (`size`) but at most `max_ids` ids in all. Any mutation bumps the generation, so a result computed
    before it is never served after it (and is dropped as soon as a newer result is stored). Concurrent requests
    for one query wait for a single computation instead of each scanning.
    """

    def __init__(self, size: int = 256, max_ids: int = 8_000_000) -> None:
        self.size = size
        self.max_ids = max_ids
        self.computed = 0
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[int, list[Any]]] = OrderedDict()
        self._ids = 0
        self._pending: dict[tuple[Hashable, int], threading.Event] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: Hashable, generation: int, compute: Callable[[], list[Any]]) -> list[Any]:
        while True:
            with self._lock:
                entry = self._items.get(key)
                if entry is not None and entry[0] == generation:
                    self._items.move_to_end(key)
                    return entry[1]
                waiting = self._pending.get((key, generation))
                if waiting is None:
                    done = self._pending[(key, generation)] = threading.Event()
                    break
            waiting.wait()  # then read the result it stored (or compute here if it failed)
        try:
            value = compute()
        except BaseException:
            with self._lock:
                del self._pending[(key, generation)]
            done.set()
            raise
        with self._lock:
            self.computed += 1
            self._store(key, generation, value)
            del self._pending[(key, generation)]
        done.set()
        return value

    def _store(self, key: Hashable, generation: int, value: list[Any]) -> None:
        if any(g > generation for g, _ in self._items.values()):
            return  # computed for a generation a mutation has already ended
        for other in [k for k, (g, _) in self._items.items() if g < generation or k == key]:
            self._ids -= len(self._items.pop(other)[1])
        self._items[key] = (generation, value)
        self._ids += len(value)
        while len(self._items) > 1 and (len(self._items) > self.size or self._ids > self.max_ids):
            self._ids -= len(self._items.popitem(last=False)[1][1])


def page_number_offset(page: int | None, cursor: Any, per_page: int, marker: str) -> int:
    """Offset of a list that pages by `page` (what clients send) or by the `starting_after` its `pages.next`
    names (what the description's cursor_pages promise): both are accepted, a cursor wins."""
    if cursor is not None:
        return decode_cursor(cursor, marker)
    return ((page or 1) - 1) * per_page


def pages_link(base_url: str, path: str, params: dict[str, Any], page: int, per_page: int,
               total: int) -> dict[str, Any]:
    """The description's `pages_link` object: page numbers and an absolute URL (or null) for the next page."""
    total_pages = math.ceil(total / per_page)
    following = None
    if page < total_pages:
        query = urlencode({**params, "per_page": per_page, "page": page + 1})
        following = f"{base_url}{path}?{query}"
    return {"type": "pages", "next": following, "page": page, "per_page": per_page, "total_pages": total_pages}
