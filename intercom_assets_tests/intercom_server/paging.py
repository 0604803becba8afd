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


def parse_per_page(raw: Any, default: int) -> int:
    """per_page from a body or query string: an integer 1..150, else 400."""
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise ApiError("per_page must be an integer", code="parameter_invalid")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError("per_page must be an integer", code="parameter_invalid") from None
    if value < 1 or value > MAX_PER_PAGE:
        raise ApiError(f"per_page must be between 1 and {MAX_PER_PAGE}", code="parameter_invalid")
    return value


def page_of(items: list[Any], offset: int, per_page: int, marker: str) -> tuple[list[Any], dict[str, Any]]:
    """One page of items plus the `pages` object (with `next` only when more remain)."""
    total = len(items)
    chunk = items[offset:offset + per_page]
    pages: dict[str, Any] = {
        "type": "pages",
        "page": offset // per_page + 1,
        "per_page": per_page,
        "total_pages": math.ceil(total / per_page),
    }
    if offset + per_page < total:
        pages["next"] = {"per_page": per_page, "starting_after": encode_cursor(offset + per_page, marker)}
    return chunk, pages


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
