"""Search over a time window (POST /contacts/search, /conversations/search, /tickets/search), for IntercomClient.

A window is read as slices paged concurrently, each slice exact and de-duplicated, so a long or busy window is
not one long sequential chain of pages, and a slice whose results shifted while paging is read again alone.

Contact search compares dates by whole day in the workspace's time zone (`> X` means "from the next local day
on", `< X` "before X's local day"). With that zone (GET /me names it), slices are cut at the workspace's own
midnights and each asks for exactly its local days: no widening but at the window's outer edges, where the local
day straddles the window's UTC start or end and the exact seconds are applied here. Without it, the whole
window is read as one slice widened by 25 h on each side (a DST day lasts 25 h). Conversation and ticket search
compare exact seconds: slices there are UTC days, asked one second wider and filtered here.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from intercom_assets.intercom import parsing
from intercom_assets.intercom.errors import Cancelled, IntercomAPIError, IntercomError
from intercom_assets.intercom.session import check_path, endpoint_template
from intercom_assets.intercom.transport import Transport

logger = logging.getLogger("intercom_assets.intercom.client")

SEARCH_MARGIN_SECONDS = 25 * 3600
MAX_SEARCH_PER_PAGE = 150
# Re-reads of a slice whose results shifted while paging; later runs' re-read of the window covers what is left.
SEARCH_MAX_PASSES = 3
# Endpoints that compare dates by whole day in the workspace's time zone.
DAY_GRANULAR_PATHS = frozenset({"/contacts/search"})
MAX_SLICES = 32
DAY = 86_400


@dataclass(frozen=True)
class Slice:
    """One search request range (`after` < updated_at, updated_at `before`, in the API's comparison) and the
    exact seconds kept from it: [keep_low, keep_high)."""

    after: int
    before: int
    keep_low: int
    keep_high: int


def plan_slices(low: int, high: int, zone: ZoneInfo | None, day_granular: bool,
                max_slices: int = MAX_SLICES) -> list[Slice]:
    """The slices that cover [low, high) exactly, at most `max_slices` of them (whole days each)."""
    if day_granular and zone is None:
        return [Slice(low - SEARCH_MARGIN_SECONDS, high + SEARCH_MARGIN_SECONDS, low, high)]
    tz = zone if day_granular else ZoneInfo("UTC")
    first = datetime.fromtimestamp(low, tz).date()
    last = datetime.fromtimestamp(high - 1, tz).date()
    days = (last - first).days + 1
    per_slice = math.ceil(days / max_slices)
    slices = []
    for offset in range(0, days, per_slice):
        start_day = first + timedelta(days=offset)
        end_day = min(first + timedelta(days=offset + per_slice), last + timedelta(days=1))
        start, end = _midnight(start_day, tz), _midnight(end_day, tz)
        # Day-granular: `> start - 1` names the local day before the slice (so: from its first day on) and
        # `< end` the day after its last. Exact seconds: one second wider than [start, end), whether the API's
        # `>` and `<` are strict or not. Either way the kept seconds are applied here.
        slices.append(Slice(start - 1, end, max(start, low), min(end, high)))
    return slices


def _midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp())


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


_DONE = object()


def _offer(pages: queue.Queue, item: Any, cancel: threading.Event, always: bool = False) -> None:
    """Put an item for the consumer; give up on pages once the search is cancelled (the consumer left)."""
    while True:
        try:
            pages.put(item, timeout=0.1)
            return
        except queue.Full:
            if cancel.is_set() and not always:
                raise Cancelled("search") from None


class _Yielded:
    """`{id: updated_at}` of what the search handed out, shared by its slices (memory bounded by ids)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updated: dict[str, int] = {}

    def take_newer(self, records: list[tuple[str, int, dict]]) -> list[dict]:
        """The records strictly newer than what was handed out for their id; marks them handed out."""
        fresh = []
        with self._lock:
            for record_id, updated_at, record in records:
                if updated_at > self._updated.get(record_id, -1):
                    self._updated[record_id] = updated_at
                    fresh.append(record)
        return fresh


class SearchMixin(Transport):
    """`search_updated`: a window of a search endpoint, exact to the second, read as concurrent slices."""

    _zone_lock = threading.Lock()

    def workspace_zone(self) -> ZoneInfo | None:
        """The workspace's time zone, from GET /me (`app.timezone`), once per client; None if it cannot be read."""
        with self._zone_lock:
            if not hasattr(self, "_workspace_zone"):
                self._workspace_zone = self._read_zone()
            return self._workspace_zone

    def _read_zone(self) -> ZoneInfo | None:
        try:
            me = self._request("GET", "/me", endpoint="GET /me")
            name = (me.get("app") or {}).get("timezone")
            return ZoneInfo(str(name))
        except (IntercomError, ValueError, KeyError) as exc:  # zoneinfo raises KeyError subclasses for bad names
            logger.warning("GET /me did not name the workspace's time zone (%s): contact search is read as one "
                           "window widened by 25 hours on each side", type(exc).__name__)
            return None

    def contact_ids_with_email(self, email: str) -> list[str]:
        """Ids of the contacts Intercom holds with this email (an erasure request names people by email)."""
        body = {"query": {"field": "email", "operator": "=", "value": email},
                "pagination": {"per_page": MAX_SEARCH_PER_PAGE}}
        ids: list[str] = []
        while True:
            payload = self._request("POST", "/contacts/search", endpoint="POST /contacts/search", body=body)
            ids.extend(str(c.get("id")) for c in payload.get("data") or [] if isinstance(c, dict))
            cursor = (parsing.next_page(payload, "POST /contacts/search") or {}).get("starting_after")
            if not cursor:
                return ids
            body = {**body, "pagination": {"per_page": MAX_SEARCH_PER_PAGE, "starting_after": cursor}}

    def search_updated(self, path: str, list_key: str, start: datetime, end: datetime,
                       per_page: int = MAX_SEARCH_PER_PAGE, max_slices: int = MAX_SLICES,
                       params: Mapping[str, str] | None = None) -> Iterator[list[dict]]:
        """Records of a search endpoint with start <= updated_at < end, as pages, while slices page concurrently.

        Results are sorted ascending by updated_at within a slice (rows updated while paging move to its end).
        Search is not a snapshot: a row updated while paging leaves its place, which can shift a row not yet
        read onto a page already read. When a slice's pass shows that (an id seen twice, or total_count
        dropping), that slice is read again, up to SEARCH_MAX_PASSES passes.

        `params` go into the query string (e.g. ``include_merge_history=true`` for contact search).

        De-duplication contract: only an ``{id: updated_at}`` map of what was yielded is kept: an id is yielded
        again, on a later page, only with a strictly newer updated_at. A consumer that keeps, per id, the row
        with the newest updated_at therefore ends with exactly one current row per record.
        """
        check_path(path)
        if not 1 <= per_page <= MAX_SEARCH_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_SEARCH_PER_PAGE}")
        low, high = _ceil_seconds(start, "start"), _ceil_seconds(end, "end")
        if low >= high:
            raise ValueError("start must be before end")
        day_granular = path in DAY_GRANULAR_PATHS
        zone = self.workspace_zone() if day_granular else None
        slices = plan_slices(low, high, zone, day_granular, max_slices)
        endpoint = endpoint_template("POST", path)
        yielded = _Yielded()
        pages: queue.Queue[Any] = queue.Queue(maxsize=2 * len(slices))
        cancel = threading.Event()

        def read(one: Slice) -> None:
            try:
                self._read_slice(path, endpoint, list_key, per_page, one, yielded, pages, cancel, params)
            except Cancelled:
                pass
            except BaseException as exc:  # handed to the consumer, which raises it
                _offer(pages, exc, cancel, always=True)
                cancel.set()
            finally:
                _offer(pages, _DONE, cancel, always=True)

        executor = ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="intercom-search")
        try:
            for one in slices:
                executor.submit(read, one)
            finished = 0
            while finished < len(slices):
                item = pages.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            cancel.set()
            executor.shutdown(wait=False, cancel_futures=True)
            while any(thread.is_alive() for thread in getattr(executor, "_threads", ())):
                try:  # let slices blocked on a full queue hand over and see the cancellation
                    pages.get(timeout=0.05)
                except queue.Empty:
                    pass

    def _read_slice(self, path: str, endpoint: str, list_key: str, per_page: int, one: Slice, yielded: _Yielded,
                    pages: queue.Queue, cancel: threading.Event, params: Mapping[str, str] | None) -> None:
        query = {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": one.after},
            {"field": "updated_at", "operator": "<", "value": one.before},
        ]}
        for search_pass in range(1, SEARCH_MAX_PASSES + 1):
            if not self._search_pass(path, endpoint, list_key, query, per_page, one, yielded, pages, cancel, params):
                return
            if search_pass < SEARCH_MAX_PASSES:
                logger.warning("%s: results shifted while paging (records updated meanwhile); reading the slice "
                               "again (pass %d/%d) to pick up skipped records", endpoint, search_pass + 1,
                               SEARCH_MAX_PASSES)
        logger.warning("%s: results still shifting after %d passes; records updated during this run may be "
                       "missed until a later run re-reads this window", endpoint, SEARCH_MAX_PASSES)

    def _search_pass(self, path: str, endpoint: str, list_key: str, query: dict, per_page: int, one: Slice,
                     yielded: _Yielded, pages: queue.Queue, cancel: threading.Event,
                     params: Mapping[str, str] | None = None) -> bool:
        """One read of a slice; returns whether its results shifted underneath it."""
        seen: set[str] = set()
        shifted = False
        last_total: int | None = None
        cursor: str | None = None
        while True:
            if cancel.is_set():
                raise Cancelled(endpoint)
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body = {"query": query, "sort": {"field": "updated_at", "order": "ascending"}, "pagination": pagination}
            payload = self._request("POST", path, endpoint=endpoint, body=body, cancel=cancel, params=params)
            total = payload.get("total_count")
            if isinstance(total, int):
                shifted |= last_total is not None and total < last_total
                last_total = total
            kept: list[tuple[str, int, dict]] = []
            for record in parsing.records(payload, list_key, endpoint):
                updated_at = _as_timestamp(record.get("updated_at")) if isinstance(record, dict) else None
                if updated_at is None or record.get("id") is None:
                    raise IntercomAPIError(endpoint, 200, "unexpected_response",
                                           "a search result has no id or no integer updated_at")
                record_id = str(record["id"])
                shifted |= record_id in seen
                seen.add(record_id)
                if one.keep_low <= updated_at < one.keep_high:
                    kept.append((record_id, updated_at, record))
            fresh = yielded.take_newer(kept)
            if fresh:
                _offer(pages, fresh, cancel)
            following = parsing.next_page(payload, endpoint)
            next_cursor = following.get("starting_after") if following else None
            if not next_cursor:
                return shifted
            if next_cursor == cursor:
                raise IntercomAPIError(endpoint, 200, "cursor_loop", "the search cursor did not advance")
            cursor = next_cursor
