"""The last complete companies scroll, kept so that several catch-up chunks can share one scroll.

Intercom's companies scroll has no time filter: every run that reads companies reads all of them, one page after
the other (10 minutes at 100,000 companies and 300 ms a page). With INTERCOM_COMPANIES_REFRESH_MINUTES set, a run
that completes a scroll stores its records here (`{root}/_state/companies_scroll.parquet`, written atomically like
any partition, records as they were staged), and a catch-up chunk reads them instead of scrolling again while
they are younger than that period. A company updated since then keeps its older version in the chunk's past
days; the window runs hold its new version, and the current-state tables the newest one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.lake.storage import ParquetStore

STATE_NAME = "companies_scroll.parquet"
SCROLLED_AT_KEY = b"intercom.scrolled_at"
PAGE_ROWS = 500
SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("record", pa.string(), nullable=False)])


class ScrollCache:
    """Reads and replaces the stored scroll under one Parquet root."""

    def __init__(self, store: ParquetStore):
        self.store = store

    def load(self, max_age_seconds: float, now: float | None = None) -> Iterator[list[dict[str, Any]]] | None:
        """Pages of the stored scroll's records if it is younger than `max_age_seconds`, else None."""
        try:
            table = self.store.read_state(STATE_NAME)
        except FileNotFoundError:
            return None
        scrolled_at = float((table.schema.metadata or {}).get(SCROLLED_AT_KEY, b"0"))
        if (now if now is not None else time.time()) - scrolled_at >= max_age_seconds:
            return None
        return self._pages(table)

    def discard(self) -> None:
        """Remove the stored scroll (a PII policy now covers companies: raw records must not stay on disk)."""
        self.store.remove_state(STATE_NAME)

    @staticmethod
    def _pages(table: pa.Table) -> Iterator[list[dict[str, Any]]]:
        for batch in table.to_batches(max_chunksize=PAGE_ROWS):
            yield [json.loads(text) for text in batch.column("record").to_pylist()]

    def recording(self, pages: Iterable[list[dict[str, Any]]], scratch: Path) -> Iterator[list[dict[str, Any]]]:
        """Pass the scroll's pages through, and store them once the scroll is complete (a broken one is not)."""
        scratch.mkdir(parents=True, exist_ok=True)
        local = scratch / f"scroll-{uuid.uuid4().hex}.parquet.tmp"
        started = time.time()
        try:
            with pq.ParquetWriter(local, SCHEMA) as writer:
                for page in pages:
                    writer.write_table(pa.table({
                        "id": [str(record.get("id")) for record in page],
                        "record": [json.dumps(record, ensure_ascii=False) for record in page],
                    }, schema=SCHEMA))
                    yield page
            # the records were read between `started` and now: count their age from the start (conservative)
            table = pq.read_table(local).replace_schema_metadata({SCROLLED_AT_KEY: str(started).encode()})
            self.store.write_state(STATE_NAME, table, scratch)
        finally:
            local.unlink(missing_ok=True)
