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
from intercom_assets.intercom.errors import IntercomAPIError, IntercomAuthError
from intercom_assets.lake.staging import (
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


@dataclass(frozen=True)
class TableFailure:
    """Why a table could not be extracted in this run; its stored partitions stay as they were."""

    endpoint: str | None
    reason: str
    refused: bool  # the API refused this token (403: a missing permission, or the workspace's plan)

    @classmethod
    def of(cls, error: BaseException) -> TableFailure:
        if isinstance(error, IntercomAuthError):
            return cls(error.endpoint, str(error), refused=True)
        if isinstance(error, IntercomAPIError):
            return cls(error.endpoint, str(error), refused=False)
        return cls(None, f"{type(error).__name__}: {error}", refused=False)


@dataclass
class ExtractionResult:
    """What a run extracted: per table, what each partition becomes; plus the API cost and warnings.

    A table whose source failed is in `failures` instead of `tables`: the other tables of the run still count.
    """

    tables: dict[str, StagedTable] = field(default_factory=dict)
    failures: dict[str, TableFailure] = field(default_factory=dict)
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
        errors: dict[str, BaseException] = {}
        if jobs:
            with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="intercom-source") as pool:
                futures = {name: pool.submit(self._timed, name, job) for name, job in jobs.items()}
                for name, future in futures.items():
                    try:
                        future.result()
                    except Exception as error:  # one source failing must not sink the others' tables
                        errors[name] = error
        for error in errors.values():
            if is_unauthorized(error):
                raise error  # a bad token fails the whole run: nothing else can have worked
        for name, error in errors.items():
            self._fail(self._tables_of_job(name), error)
        for spec in self.specs:
            if spec.name not in self.result.failures:
                self.result.tables[spec.name] = self._finish(spec)
        return self.result

    def _tables_of_job(self, job: str) -> list[str]:
        if job == SOURCE_CONVERSATIONS:
            names = [SOURCE_CONVERSATIONS, SOURCE_CONVERSATION_DETAILS]
            return [s.spec.name for s in self.stagers.values() if s.spec.source.name in names]
        if job in (SOURCE_CONTACTS, SOURCE_COMPANIES):
            return [s.spec.name for s in self._stagers_for(job)]
        return [job]

    def _fail(self, tables: Iterable[str], error: BaseException) -> None:
        for table in tables:
            self.result.failures.setdefault(table, TableFailure.of(error))
            log.error("%s: not extracted in this run: %s", table, self.result.failures[table].reason)

    def _timed(self, name: str, job: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            job()
        finally:
            self.result.source_seconds[name] = round(time.monotonic() - started, 3)

    def _finish(self, spec: TableSpec) -> StagedTable:
        """A snapshot table stages only today's partition, and nothing when the range does not reach today."""
        stager = self.stagers.get(spec.name)
        if stager is None:
            return StagedTable({})
        return StagedTable(stager.finish([self.today_key] if spec.is_snapshot else None), stager.counts)

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
            try:
                self._conversation_parts(parts[0], updated_at)
            except Exception as error:
                if is_unauthorized(error):
                    raise
                self._fail([parts[0].spec.name], error)  # the conversations themselves are complete

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
        """Stored parts of a day in the run's range, if their file has today's declared schema.

        A file written under an older declaration is not reused: its conversations are fetched again, so the
        rewritten partition has the current schema throughout.
        """
        if key not in self.window.partition_keys or self.store is None:
            return None
        try:
            stored = self.store.read("conversation_parts", key)
        except FileNotFoundError:
            return None
        declared = self.stagers["conversation_parts"].converter.schema
        return stored if stored.schema.equals(declared, check_metadata=False) else None


def _versions(parts: pa.Table) -> dict[str, int]:
    """conversation_id → the conversation_updated_at its stored parts were fetched at."""
    ids = parts.column("conversation_id").to_pylist()
    stamps = pc.cast(parts.column("conversation_updated_at"), pa.int64()).to_pylist()
    return {cid: stamp // 1000 for cid, stamp in zip(ids, stamps, strict=True) if stamp is not None}


def is_unauthorized(error: BaseException) -> bool:
    """A 401: the token itself is wrong, so every table of the run fails at once."""
    return isinstance(error, IntercomAuthError) and error.status == 401


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
