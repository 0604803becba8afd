"""Child tables: the items of a list belonging to each parent record, fetched only when they must be.

For each parent record a pass reads, a child table takes its rows from the parent's embedded list when that list
is complete (a conversation's tags: no request at all). Otherwise (the list is truncated, or only a per-parent
request has it, like a conversation's parts) the parent is a candidate for `GET …/{id}`, and then:
- a parent whose version (its replication timestamp) is the one its stored children were fetched at is reused
  from the stored partition, with no request: the partition file records, in its Parquet metadata, every parent
  whose children it holds and at which version, so a parent with no children at all (an unanswered
  conversation) is reused too;
- every other candidate is fetched, concurrently, within the client's rate budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from intercom_assets.extraction.result import ExtractionResult, Window
from intercom_assets.intercom.client import IntercomClient
from intercom_assets.lake.staging import TableStager, fetched_parents, pii_fingerprint_of
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.schemas import unix_seconds
from intercom_assets.tables import BATCH, TABLES_BY_NAME, TableSpec, child_rows, embedded_items, fetched_items


class ChildCollector:
    """Collects one child table's rows over a pass: embedded rows at once, the rest after the pass."""

    def __init__(self, stager: TableStager, window: Window, store: ParquetStore | None, result: ExtractionResult,
                 snapshot_key: str | None = None):
        self.stager = stager
        self.spec: TableSpec = stager.spec
        assert self.spec.children is not None
        self.children = self.spec.children
        self.version_field = TABLES_BY_NAME[self.children.parent].partition_column or "updated_at"
        self.window = window
        self.store = store
        self.result = result
        self.candidates: dict[str, int] = {}  # parent id -> version (Unix seconds), to reuse or fetch
        # a snapshot child (a snapshot parent's per-record list) lands in the day of extraction, fetched every time
        self.snapshot_key = snapshot_key if self.spec.is_snapshot else None
        self.batch_values: dict[str, str] = {}  # BATCH fetch: parent id -> the value its request takes

    def add_parents(self, records: Iterable[dict[str, Any]]) -> None:
        """Stage the children embedded in these parent records; remember the parents that need a request."""
        rows: list[dict[str, Any]] = []
        for record in records:
            parent_id, stamp = str(record.get("id")), unix_seconds(record.get(self.version_field))
            if record.get("id") is None or stamp is None:
                continue
            version = int(stamp)
            items = embedded_items(record, self.children)
            if items is None and self.children.batch_by is not None:
                value = record.get(self.children.batch_by)
                if value is None:
                    continue  # the request is by this field: a parent without it has nothing to ask for
                self.batch_values[parent_id] = str(value)
                self.candidates[parent_id] = version
            elif items is None:
                self.candidates[parent_id] = version
            else:
                rows.extend(child_rows(self.children, parent_id, version, items, None))
        if rows:
            self.stager.add_records(rows, snapshot_key=self.snapshot_key)

    def complete(self, client: IntercomClient) -> None:
        """Reuse unchanged parents' stored children, fetch the others' (after the whole pass was read)."""
        complete_together([self], client)

    def pending(self) -> list[str]:
        """Stage what can be reused; the parents whose children must be fetched."""
        to_fetch = self._reuse()
        self.result.fetched_parents[self.spec.name] = len(to_fetch)
        return to_fetch if self.children.fetch is not None else []

    def take(self, parent_id: str, answer: dict[str, Any] | None) -> None:
        """Stage one fetched parent's children (None: deleted since the pass listed it, so none)."""
        if answer is None:
            return
        version = self.candidates[parent_id]
        items, total = fetched_items(answer, self.children)
        if total is not None and total > len(items):
            self.result.over_cap.setdefault(self.spec.name, {})[parent_id] = (len(items), total)
        self.stager.add_records(child_rows(self.children, parent_id, version, items, total),
                                snapshot_key=self.snapshot_key)
        if self.snapshot_key is None and not self.children.records:
            self.stager.note_parents(day_key(version), {parent_id: version})

    def _reuse(self) -> list[str]:
        """Stage the stored children of parents unchanged since they were fetched; the rest are to fetch."""
        if self.snapshot_key is not None or self.children.records:
            return list(self.candidates)  # a snapshot's lists, or records partitioned by their own time
        by_day: dict[str, list[str]] = defaultdict(list)
        for parent_id, version in self.candidates.items():
            by_day[day_key(version)].append(parent_id)
        to_fetch: list[str] = []
        reused = 0
        for key, ids in sorted(by_day.items()):
            stored = self._stored(key)
            known = (
                fetched_parents(stored, self.children.id_column, self.children.version_column)
                if stored is not None
                else {}
            )
            reusable = [pid for pid in ids if known.get(pid) == self.candidates[pid]]
            reusable_set = set(reusable)
            to_fetch.extend(pid for pid in ids if pid not in reusable_set)
            if reusable and stored is not None:
                mask = pc.is_in(stored.column(self.children.id_column), value_set=pa.array(reusable))
                self.stager.add_arrow(key, stored.filter(mask))
                self.stager.note_parents(key, {pid: self.candidates[pid] for pid in reusable})
                reused += len(reusable)
        self.result.reused_parents[self.spec.name] = reused
        return to_fetch

    def _stored(self, key: str) -> pa.Table | None:
        """A stored partition of the run's range, if written under today's declaration (else: fetch again)."""
        if key not in self.window.partition_keys or self.store is None:
            return None
        try:
            stored = self.store.read(self.spec.name, key)
        except FileNotFoundError:
            return None
        if pii_fingerprint_of(stored) != self.stager.pii_fingerprint:
            return None  # written under another PII policy: its values are not what this run would store
        return stored if stored.schema.equals(self.stager.converter.schema, check_metadata=False) else None


def complete_together(collectors: list[ChildCollector], client: IntercomClient) -> None:
    """Complete child tables that share one per-parent request (a conversation's side conversations and their
    parts): each parent is requested once, for every table that needs it."""
    wanted = [set(collector.pending()) for collector in collectors]
    ids = list(dict.fromkeys(pid for collector, need in zip(collectors, wanted, strict=True)
                             for pid in collector.candidates if pid in need))
    fetch = collectors[0].children.fetch
    if not ids or fetch is None:
        return
    if fetch.paging == BATCH:
        _complete_batched(collectors, wanted, ids, client)
        return
    list_key = fetch.list_key if "." not in collectors[0].children.fetched else None
    params = dict(fetch.params)
    if fetch.window_params is not None:
        window = collectors[0].window
        start, end = fetch.window_params
        params.update({start: str(int(window.start.timestamp())), end: str(int(window.end.timestamp()) - 1)})
    for parent_id, answer in client.get_many(fetch.path, ids, list_key=list_key, params=params or None):
        for collector, need in zip(collectors, wanted, strict=True):
            if parent_id in need:
                collector.take(parent_id, answer)


def _complete_batched(collectors: list[ChildCollector], wanted: list[set[str]], ids: list[str],
                      client: IntercomClient) -> None:
    """Parents asked for in batches of their values (POST /calls/search by conversation ids): each answered item
    goes to the parent it names; a parent asked for and not answered has none."""
    first = collectors[0]
    fetch, children = first.children.fetch, first.children
    assert fetch is not None and fetch.batch_field is not None
    values = [first.batch_values[pid] for pid in ids if pid in first.batch_values]
    answered: set[str] = set()
    for records in client.post_batches(fetch.path, fetch.batch_field, values, fetch.batch_size, fetch.list_key):
        for item in records:
            parent_id = str(item.get(children.match_on))
            for collector, need in zip(collectors, wanted, strict=True):
                if parent_id in need and parent_id not in answered:
                    collector.take(parent_id, {children.fetched: [item]})
            answered.add(parent_id)
    for collector, need in zip(collectors, wanted, strict=True):
        for parent_id in need - answered:
            collector.take(parent_id, {children.fetched: []})
