"""Search over a time window (POST /contacts/search, /conversations/search, /tickets/search), for IntercomClient.

Contact search compares dates by whole day in the workspace's time zone; search results are not a snapshot and
shift while paging. This module turns that into exact, de-duplicated windows (see `search_updated`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from intercom_assets.intercom.errors import IntercomAPIError
from intercom_assets.intercom.transport import Transport, _check_path, _endpoint_template

logger = logging.getLogger("intercom_assets.intercom.client")

# Contact search compares dates by whole day in the workspace's (unknown) time zone, and a day can last 25
# hours at a DST change: widening the server-side filter by 25 h on each side always covers the exact window.
SEARCH_MARGIN_SECONDS = 25 * 3600
MAX_SEARCH_PER_PAGE = 150
# Re-reads of a search whose results shifted while paging; later runs' look-back covers what is left.
SEARCH_MAX_PASSES = 3


def _as_timestamp(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _ceil_seconds(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware: a naive datetime is ambiguous")
    return math.ceil(moment.timestamp())


class SearchMixin(Transport):
    """`search_updated`: a window of a search endpoint, exact to the second."""

    def search_updated(self, path: str, list_key: str, start: datetime, end: datetime,
                       per_page: int = MAX_SEARCH_PER_PAGE) -> Iterator[list[dict]]:
        """Records of ``POST /contacts/search`` or ``/conversations/search`` with start <= updated_at < end.

        Intercom compares dates in search by whole day in the workspace's time zone (``> X`` means "from the
        next local day on"), which this client cannot know. So the server filter is widened by 25 h on each
        side (a DST day lasts 25 h), results are sorted ascending by updated_at (rows updated while paging
        move to the end), and the exact window is applied here, to the second.

        Search is not a snapshot: a row updated while paging leaves its place, which can shift a row not yet
        read onto a page already read. When a pass shows that (an id seen twice, or total_count dropping),
        the search is read again, up to SEARCH_MAX_PASSES passes, to pick up what was skipped.

        De-duplication contract: only an ``{id: updated_at}`` map of what was yielded is kept (memory bounded
        by ids, pages still stream): an id is yielded again, on a later page, only with a strictly newer
        updated_at. A consumer that keeps, per id, the row with the newest updated_at therefore ends with
        exactly one current row per record.
        """
        _check_path(path)
        if not 1 <= per_page <= MAX_SEARCH_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_SEARCH_PER_PAGE}")
        low, high = _ceil_seconds(start, "start"), _ceil_seconds(end, "end")
        if low >= high:
            raise ValueError("start must be before end")
        endpoint = _endpoint_template("POST", path)
        query = {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": low - SEARCH_MARGIN_SECONDS},
            {"field": "updated_at", "operator": "<", "value": high + SEARCH_MARGIN_SECONDS},
        ]}
        yielded: dict[str, int] = {}
        for search_pass in range(1, SEARCH_MAX_PASSES + 1):
            shifted = yield from self._search_pass(path, endpoint, list_key, query, per_page, low, high, yielded)
            if not shifted:
                return
            if search_pass < SEARCH_MAX_PASSES:
                logger.warning("%s: results shifted while paging (records updated meanwhile); reading the "
                               "search again (pass %d/%d) to pick up skipped records", endpoint,
                               search_pass + 1, SEARCH_MAX_PASSES)
        logger.warning("%s: results still shifting after %d passes; records updated during this run may be "
                       "missed until a later run re-reads this window", endpoint, SEARCH_MAX_PASSES)

    def _search_pass(self, path: str, endpoint: str, list_key: str, query: dict, per_page: int, low: int,
                     high: int, yielded: dict[str, int]) -> Generator[list[dict], None, bool]:
        """One read of the whole search; returns whether the results shifted underneath it."""
        seen: set[str] = set()
        shifted = False
        last_total: int | None = None
        cursor: str | None = None
        while True:
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body = {"query": query, "sort": {"field": "updated_at", "order": "ascending"},
                    "pagination": pagination}
            payload = self._request("POST", path, endpoint=endpoint, body=body)
            total = payload.get("total_count")
            if isinstance(total, int):
                shifted |= last_total is not None and total < last_total
                last_total = total
            page: dict[str, dict] = {}
            page_updated: dict[str, int] = {}
            for record in self._records(payload, list_key, endpoint):
                updated_at = _as_timestamp(record.get("updated_at")) if isinstance(record, dict) else None
                if updated_at is None or record.get("id") is None:
                    raise IntercomAPIError(endpoint, 200, "unexpected_response",
                                           "a search result has no id or no integer updated_at")
                record_id = str(record["id"])
                shifted |= record_id in seen
                seen.add(record_id)
                if low <= updated_at < high and updated_at > max(yielded.get(record_id, -1),
                                                                  page_updated.get(record_id, -1)):
                    page[record_id] = record
                    page_updated[record_id] = updated_at
            yielded.update(page_updated)
            if page:
                yield list(page.values())
            following = self._next_page(payload, endpoint)
            next_cursor = following.get("starting_after") if following else None
            if not next_cursor:
                return shifted
            if next_cursor == cursor:
                raise IntercomAPIError(endpoint, 200, "cursor_loop", "the search cursor did not advance")
            cursor = next_cursor

