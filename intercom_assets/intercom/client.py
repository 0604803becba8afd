"""HTTP client for Intercom's REST API, shared by every table of one run (no Dagster in here).

IntercomClient puts together the transport (one request with its session, pacing, retries and answer parsing:
transport.py), windowed search (search.py), the companies scroll (scroll.py), and here: paged lists and
concurrent per-record requests.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from intercom_assets.intercom import parsing
from intercom_assets.intercom.errors import IntercomAPIError
from intercom_assets.intercom.request_stats import RequestStats
from intercom_assets.intercom.scroll import ScrollMixin
from intercom_assets.intercom.search import SearchMixin
from intercom_assets.intercom.session import check_path, endpoint_template

__all__ = ["IntercomClient", "RequestStats"]

logger = logging.getLogger("intercom_assets.intercom.client")


class IntercomClient(SearchMixin, ScrollMixin):
    """One authenticated session to one Intercom workspace; thread-safe, meant to be shared by a whole run.

    The concurrency bound (`max_concurrency` requests in flight) and the rate budget (`rate_limit_share` of
    the workspace limit) hold across every method and thread using this client. `max_retries` is the number
    of retries after the first attempt of each request. Use as a context manager or call `close()`.
    """

    # ------------------------------------------------------------------ paged lists

    def list_all(self, path: str, list_key: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """Every record of a list endpoint (admins, teams, tags, segments, data attributes, …), all pages."""
        return [record for page in self.iter_pages(path, list_key, params) for record in page]

    def iter_pages(self, path: str, list_key: str, params: Mapping[str, Any] | None = None,
                   bulk: bool = False, cancel: threading.Event | None = None) -> Iterator[list[dict]]:
        """Pages of a GET list, following ``pages.next`` whichever way it pages, one non-empty page at a time.

        Intercom's lists page by a cursor (``pages.next.starting_after``) or by page number (``pages.next`` a
        URL with ``page=N``); a URL is never requested as such (it could point anywhere): only its cursor or
        page number is taken. `list_key` may name alternatives, ``"data|companies"``.
        """
        check_path(path)
        endpoint = endpoint_template("GET", path)
        turn: dict[str, Any] = {}
        while True:
            payload = self._request("GET", path, endpoint=endpoint, params={**(params or {}), **turn},
                                    bulk=bulk, cancel=cancel)
            records = parsing.records(payload, list_key, endpoint)
            if records:
                yield records
            following = parsing.next_page(payload, endpoint)
            if following is None:
                return
            if following == turn or ("page" in following and following["page"] <= turn.get("page", 1)):
                raise IntercomAPIError(endpoint, 200, "cursor_loop", "the next page did not advance")
            turn = following

    # ------------------------------------------------------------------ one request per record, concurrently

    def get_many(self, path_template: str, ids: Iterable[str], list_key: str | None = None,
                 params: Mapping[str, Any] | None = None) -> Iterator[tuple[str, dict | None]]:
        """``(id, answer)`` for ``GET path_template`` with each id, fetched concurrently, as they complete.

        With `list_key`, the answer is a list that may page: every page is read and the answer carries all its
        records under that key. At most ``2 * max_concurrency`` ids are in the pipeline, so memory stays
        bounded however many come in. The first error cancels the rest and is raised. A record that no longer
        exists (404, deleted since it was listed; 410, merged away) yields ``(id, None)`` with a warning.
        """
        endpoint = endpoint_template("GET", path_template.replace("{id}", "0"))
        for record_id, (status, answer) in self._concurrently(
            ids, lambda record_id, cancel: self._get_one(path_template, endpoint, record_id, list_key, cancel, params)
        ):
            if status != 200:
                logger.warning("%s: %s no longer exists (%s); skipped", endpoint, record_id, status)
            yield record_id, answer

    def post_batches(self, path: str, field_name: str, values: Iterable[str], size: int,
                     list_key: str) -> Iterator[list[dict]]:
        """The records ``POST path`` answers for the values, `size` at a time in the body's `field_name` (POST
        /calls/search takes up to 20 conversation ids), the batches concurrently, as they complete."""
        check_path(path)
        endpoint = endpoint_template("POST", path)
        values = list(dict.fromkeys(values))
        batches = {str(n): values[start:start + size] for n, start in enumerate(range(0, len(values), size))}

        def post(label: str, cancel: threading.Event) -> list[dict]:
            payload = self._request("POST", path, endpoint=endpoint, body={field_name: batches[label]},
                                    cancel=cancel, bulk=True)
            return parsing.records(payload, list_key, endpoint)

        for _, records in self._concurrently(batches, post):
            yield records

    def probe_many(self, path_template: str, ids: Iterable[str]) -> Iterator[tuple[str, int]]:
        """``(id, status)`` of ``GET path_template`` for each id, concurrently: 200 (it exists), 404 (deleted) or 410
        (merged away, for contacts). Any other failure is raised, as by get_many."""
        endpoint = endpoint_template("GET", path_template.replace("{id}", "0"))
        for record_id, (status, _) in self._concurrently(
            ids, lambda record_id, cancel: self._get_one(path_template, endpoint, record_id, None, cancel)
        ):
            yield record_id, status

    def _concurrently(self, ids: Iterable[str], fetch: Callable[[str, threading.Event], Any]
                      ) -> Iterator[tuple[str, Any]]:
        """``(id, fetch(id))`` for each id, at most ``2 * max_concurrency`` in the pipeline, as they complete."""
        cancel = threading.Event()
        window = 2 * self._max_concurrency
        id_iter = iter(ids)
        exhausted = False
        pending: dict[Future[Any], str] = {}
        # each future reports itself here when done: one hand-off per request, where wait() on the whole window
        # would register a waiter with every pending future each time
        completed: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        executor = ThreadPoolExecutor(max_workers=self._max_concurrency, thread_name_prefix="intercom-get")
        try:
            while True:
                while not exhausted and len(pending) < window:
                    try:
                        record_id = str(next(id_iter))
                    except StopIteration:
                        exhausted = True
                        break
                    future = executor.submit(fetch, record_id, cancel)
                    pending[future] = record_id
                    future.add_done_callback(completed.put)
                if not pending:
                    return
                future = completed.get()
                yield pending.pop(future), future.result()
        finally:
            cancel.set()
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def get_conversations(self, ids: Iterable[str]) -> Iterator[dict]:
        """Full conversations (with their parts) for `ids`, concurrently; deleted ones are skipped (see get_many)."""
        for _, conversation in self.get_many("/conversations/{id}", ids):
            if conversation is not None:
                yield conversation

    def _get_one(self, path_template: str, endpoint: str, record_id: str, list_key: str | None,
                 cancel: threading.Event, params: Mapping[str, Any] | None = None) -> tuple[int, dict | None]:
        """(200, answer), or (404 / 410, None) for a record that no longer exists."""
        path = path_template.replace("{id}", quote(record_id, safe=""))
        try:
            if list_key is None:
                return 200, self._request("GET", path, endpoint=endpoint, cancel=cancel, bulk=True,
                                          **({"params": dict(params)} if params else {}))
            records = [r for page in self.iter_pages(path, list_key, params, bulk=True, cancel=cancel) for r in page]
            return 200, {list_key.split("|")[0]: records}
        except IntercomAPIError as exc:
            if exc.status in (404, 410):
                return exc.status, None
            raise
