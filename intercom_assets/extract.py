"""Runs the selected table declarations over one time window: one API pass per source, shared by its tables.

No Dagster here: this takes a client, the declarations, the window and a staging directory, and returns what
each partition of each table becomes. The sources run concurrently in threads; the client bounds the HTTP
concurrency and the rate budget for all of them together.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from intercom_assets.intercom.client import IntercomClient
from intercom_assets.lake.staging import (
    EmptyPlaceholder,
    KeepExisting,
    PartitionOutput,
    StagedTable,
    TableStager,
)
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.tables import (
    SOURCE_COMPANIES,
    SOURCE_CONTACTS,
    SOURCE_CONVERSATION_DETAILS,
    SOURCE_CONVERSATIONS,
    SOURCE_LIST,
    TableSpec,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The run's time window [start, end) and the day partitions it covers."""

    start: datetime
    end: datetime
    partition_keys: tuple[str, ...]

    def contains(self, ts: int | float | None) -> bool:
        return ts is not None and self.start.timestamp() <= ts < self.end.timestamp()


@dataclass
class ExtractionResult:
    """What a run extracted: per table, what each partition becomes; plus the API cost and warnings."""

    tables: dict[str, StagedTable] = field(default_factory=dict)
    truncated_conversations: dict[str, tuple[int, int]] = field(default_factory=dict)
    reused_conversations: int = 0
    fetched_conversations: int = 0
    source_seconds: dict[str, float] = field(default_factory=dict)


class Extractor:
    """One run's extraction over a window for a set of selected tables."""

    def __init__(
        self,
        client: IntercomClient,
        specs: Sequence[TableSpec],
        window: Window,
        today_key: str,
        staging_dir: Path,
        extracted_at: int,
        store: ParquetStore | None = None,
    ):
        self.client = client
        self.specs = list(specs)
        self.window = window
        self.today_key = today_key
        self.staging_dir = staging_dir
        self.extracted_at = extracted_at
        self.store = store
        self.result = ExtractionResult()
        self.stagers: dict[str, TableStager] = {
            spec.name: TableStager(spec, staging_dir / spec.name, window.partition_keys, extracted_at)
            for spec in self.specs
            if not spec.is_snapshot or today_key in window.partition_keys
        }

    def _stagers_for(self, source_name: str) -> list[TableStager]:
        return [s for s in self.stagers.values() if s.spec.source.name == source_name]

    def run(self) -> ExtractionResult:
        """Fetch every needed source concurrently, then finish each table's partitions."""
        jobs: dict[str, Callable[[], None]] = {}
        if self._stagers_for(SOURCE_CONTACTS):
            jobs[SOURCE_CONTACTS] = self._contacts
        if self._stagers_for(SOURCE_COMPANIES):
            jobs[SOURCE_COMPANIES] = self._companies
        if self._stagers_for(SOURCE_CONVERSATIONS) or self._stagers_for(SOURCE_CONVERSATION_DETAILS):
            jobs[SOURCE_CONVERSATIONS] = self._conversations
        for stager in self._stagers_for(SOURCE_LIST):
            jobs[stager.spec.name] = lambda stager=stager: self._single_list(stager)
        if jobs:
            with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="intercom-source") as pool:
                futures = [pool.submit(self._timed, name, job) for name, job in jobs.items()]
                for future in futures:
                    future.result()
        for spec in self.specs:
            self.result.tables[spec.name] = self._finish(spec)
        return self.result

    def _timed(self, name: str, job: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            job()
        finally:
            self.result.source_seconds[name] = round(time.monotonic() - started, 3)

    def _finish(self, spec: TableSpec) -> StagedTable:
        stager = self.stagers.get(spec.name)
        partitions: dict[str, PartitionOutput] = {}
        if spec.is_snapshot:
            for key in self.window.partition_keys:
                if key == self.today_key:
                    continue
                exists = self.store is not None and self.store.exists(spec.name, key)
                partitions[key] = KeepExisting() if exists else EmptyPlaceholder(spec.converter().schema)
            if stager is not None:
                partitions.update(stager.finish([self.today_key]))
            return StagedTable(partitions, stager.counts if stager else StagedTable({}).counts)
        assert stager is not None
        partitions.update(stager.finish())
        return StagedTable(partitions, stager.counts)

    def _stage(self, source_name: str, records: list[dict[str, Any]]) -> None:
        for stager in self._stagers_for(source_name):
            stager.add_records(records)

    def _contacts(self) -> None:
        for page in self.client.search_updated(
            "/contacts/search", "data", self.window.start, self.window.end
        ):
            self._stage(SOURCE_CONTACTS, page)

    def _companies(self) -> None:
        for page in self.client.scroll_companies():
            in_window = [c for c in page if self.window.contains(c.get("updated_at"))]
            if in_window:
                self._stage(SOURCE_COMPANIES, in_window)

    def _single_list(self, stager: TableStager) -> None:
        source = stager.spec.source
        records = self.client.list_all(source.path, source.list_key, dict(source.params) or None)
        stager.add_records(records, snapshot_key=self.today_key)

    def _conversations(self) -> None:
        updated_at: dict[str, int] = {}
        for page in self.client.search_updated(
            "/conversations/search", "conversations", self.window.start, self.window.end
        ):
            self._stage(SOURCE_CONVERSATIONS, page)
            for conversation in page:
                cid, stamp = str(conversation.get("id")), conversation.get("updated_at")
                if isinstance(stamp, int) and stamp >= updated_at.get(cid, stamp):
                    updated_at[cid] = stamp
        parts = self._stagers_for(SOURCE_CONVERSATION_DETAILS)
        if parts:
            self._conversation_parts(parts[0], updated_at)

    def _conversation_parts(self, stager: TableStager, updated_at: dict[str, int]) -> None:
        """Reuse stored parts of unchanged conversations; fetch the others concurrently."""
        to_fetch = self._reuse_stored_parts(stager, updated_at)
        self.result.fetched_conversations = len(to_fetch)
        for conversation in self.client.get_conversations(to_fetch):
            conversation["_search_updated_at"] = updated_at.get(str(conversation.get("id")))
            container = conversation.get("conversation_parts") or {}
            returned = len(container.get("conversation_parts") or [])
            total = container.get("total_count")
            if isinstance(total, int) and total > returned:
                self.result.truncated_conversations[str(conversation.get("id"))] = (returned, total)
            stager.add_records([conversation])

    def _reuse_stored_parts(self, stager: TableStager, updated_at: dict[str, int]) -> list[str]:
        if self.store is None:
            return sorted(updated_at)
        by_day: dict[str, list[str]] = defaultdict(list)
        for conversation_id, stamp in updated_at.items():
            by_day[day_key(stamp)].append(conversation_id)
        to_fetch: list[str] = []
        for key, ids in sorted(by_day.items()):
            stored = self._stored_parts(key)
            if stored is None:
                to_fetch.extend(ids)
                continue
            stored_versions = _versions(stored)
            reusable = [cid for cid in ids if stored_versions.get(cid) == updated_at[cid]]
            reusable_set = set(reusable)
            to_fetch.extend(cid for cid in ids if cid not in reusable_set)
            if reusable:
                mask = pc.is_in(stored.column("conversation_id"), value_set=pa.array(reusable))
                stager.add_arrow(key, stored.filter(mask))
                self.result.reused_conversations += len(reusable)
        return to_fetch

    def _stored_parts(self, key: str) -> pa.Table | None:
        if key not in self.window.partition_keys or self.store is None:
            return None
        try:
            return self.store.read("conversation_parts", key)
        except FileNotFoundError:
            return None


def _versions(parts: pa.Table) -> dict[str, int]:
    """conversation_id → the conversation_updated_at its stored parts were fetched at."""
    ids = parts.column("conversation_id").to_pylist()
    stamps = pc.cast(parts.column("conversation_updated_at"), pa.int64()).to_pylist()
    return {cid: stamp // 1000 for cid, stamp in zip(ids, stamps, strict=True) if stamp is not None}


def extract(
    client: IntercomClient,
    specs: Iterable[TableSpec],
    window: Window,
    today_key: str,
    staging_dir: Path,
    extracted_at: int,
    store: ParquetStore | None = None,
) -> ExtractionResult:
    """Extract the given tables over the window; see Extractor."""
    return Extractor(client, list(specs), window, today_key, staging_dir, extracted_at, store).run()
