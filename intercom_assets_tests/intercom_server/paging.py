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
    """Small LRU of computed result lists, keyed with the workspace generation so edits invalidate it.

    Large-scale searches scan 100k records; caching keeps paging through one query cheap.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, list[Any]] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], list[Any]]) -> list[Any]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


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
