"""The companies scroll (GET /companies/scroll), for IntercomClient: one open scroll, restarts, de-duplication."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from intercom_assets.intercom import parsing
from intercom_assets.intercom.errors import IntercomAPIError, IntercomError, TransientError
from intercom_assets.intercom.transport import Transport

logger = logging.getLogger("intercom_assets.intercom.client")

SCROLL_PATH = "/companies/scroll"
SCROLL_ENDPOINT = f"GET {SCROLL_PATH}"


class _ScrollBroken(IntercomError):
    """The open scroll cannot be continued (expired or failed mid-way): restart from the beginning."""

    def __init__(self, status: int | None, code: str | None) -> None:
        self.status = status
        self.code = code
        super().__init__(f"HTTP {status} ({code})" if status is not None else f"no HTTP response ({code})")


class ScrollMixin(Transport):
    """`scroll_companies`: every company, each once, through Intercom's one-at-a-time scroll."""

    def scroll_companies(self) -> Iterator[list[dict]]:
        """Every company, through ``GET /companies/scroll``, one page at a time, each id yielded once.

        Intercom allows one open scroll per app and cannot resume a broken one, hence: one scroll at a time
        per client (exhaust or close the iterator to release it); a ``scroll_exists`` answer to the first
        request is waited out (bounded); an expired scroll (404) or a failure mid-way (5xx, timeout, reset
        connection; not retried in place because the server-side cursor may already have moved on) restarts
        the scroll from the beginning, yielding only ids not yielded before, at most `max_scroll_restarts`
        times.
        """
        if not self._scroll_lock.acquire(timeout=self._scroll_wait):
            raise IntercomError("another companies scroll of this client is still open: finish or close it")
        try:
            seen: set[str] = set()
            restarts = 0
            while True:
                try:
                    for page in self._scroll_once():
                        fresh: list[dict] = []
                        for record in page:
                            if not isinstance(record, dict) or record.get("id") is None:
                                raise IntercomAPIError(SCROLL_ENDPOINT, 200, "unexpected_response",
                                                       "a company has no id")
                            record_id = str(record["id"])
                            if record_id not in seen:
                                seen.add(record_id)
                                fresh.append(record)
                        if fresh:
                            yield fresh
                    return
                except _ScrollBroken as exc:
                    restarts += 1
                    if restarts > self._max_scroll_restarts:
                        raise IntercomAPIError(SCROLL_ENDPOINT, exc.status, exc.code,
                                               f"scroll broke {restarts} times; last: {exc}") from None
                    logger.warning("%s: %s; restarting the scroll from the beginning (restart %d/%d, %d "
                                   "companies already read)", SCROLL_ENDPOINT, exc, restarts,
                                   self._max_scroll_restarts, len(seen))
        finally:
            self._scroll_lock.release()

    def _scroll_once(self) -> Iterator[list[dict]]:
        payload = self._start_scroll()
        while True:
            # The end is an empty page; its scroll_param (present even with no companies at all) would 404.
            records = parsing.records(payload, "data", SCROLL_ENDPOINT)
            if not records:
                return
            yield records
            scroll_param = payload.get("scroll_param")
            if not isinstance(scroll_param, str) or not scroll_param:
                logger.warning("%s: a non-empty page came without scroll_param; treating it as the end",
                               SCROLL_ENDPOINT)
                return
            try:
                payload = self._request("GET", SCROLL_PATH, endpoint=SCROLL_ENDPOINT,
                                        params={"scroll_param": scroll_param}, retry_transient=False)
            except TransientError as exc:
                raise _ScrollBroken(exc.status, exc.code) from None
            except IntercomAPIError as exc:
                if exc.status == 404:
                    raise _ScrollBroken(exc.status, exc.code) from None
                raise

    def _start_scroll(self) -> dict:
        deadline = time.monotonic() + self._scroll_wait
        attempt = 0
        while True:
            try:
                return self._request("GET", SCROLL_PATH, endpoint=SCROLL_ENDPOINT)
            except IntercomAPIError as exc:
                left = deadline - time.monotonic()
                if exc.status != 400 or exc.code != "scroll_exists" or left <= 0:
                    raise
                delay = min(left, max(self._retries.backoff_base, self._retries.backoff(attempt)))
                attempt += 1
                logger.warning("%s: another scroll is open (scroll_exists); waiting %.2fs for it to expire",
                               SCROLL_ENDPOINT, delay)
                time.sleep(delay)

