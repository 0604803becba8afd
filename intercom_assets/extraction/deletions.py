"""Finding what Intercom deleted or merged away, during a run (no Dagster here; the lake side is lake/deletions.py).

Each source declares its deletion signals (`DeletionSignal` in declarations.py; the entries in tables.py), and
this module reads each kind the same way whatever the source:
- a deleted-records list (newest first): every run reads it down to the newest deletion an earlier run already
  logged;
- a merge history inside each record (the surviving user names the leads merged into it);
- a sweep, for records with no deleted list: when the source's last sweep is older than
  INTERCOM_DELETION_SWEEP_HOURS, the source is read over all time (slices paged concurrently), and a stored record
  it did not list counts as gone only once the declared per-record probe says so (404 deleted, 410 merged), so an
  archived or lagging record is not;
- a complete source (a scroll): a stored record a complete pass did not list is probed the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from intercom_assets.declarations import DELETED, MERGED, Source
from intercom_assets.intercom.client import IntercomClient
from intercom_assets.lake.deletions import Deletion, DeletionLog
from intercom_assets.tables import record_table

log = logging.getLogger(__name__)

SWEEP_FROM = datetime(2011, 1, 1, tzinfo=UTC)  # before Intercom existed: a sweep covers every record


class DeletionDetector:
    """Collects the deletions and merges a run detects; thread-safe (passes report from their threads)."""

    def __init__(self, client: IntercomClient, log_so_far: DeletionLog,
                 stored_ids: Callable[[str], set[str]], now: datetime):
        self.client = client
        self.known = log_so_far
        self.stored_ids = stored_ids
        self.now = now
        self._lock = threading.Lock()
        self._found: dict[tuple[str, str], Deletion] = {}
        self._merged_into: dict[tuple[str, str], tuple[str, int | None]] = {}
        self.swept: list[str] = []

    @property
    def deletions(self) -> list[Deletion]:
        with self._lock:
            return list(self._found.values())

    def _add(self, deletion: Deletion) -> None:
        with self._lock:
            self._found.setdefault((deletion.source_table, deletion.id), deletion)

    def observe(self, source: Source, page: Iterable[dict[str, Any]]) -> None:
        """Merges named by the surviving records' merge history, in a page of the source."""
        merges = source.deletions.merges if source.deletions is not None else None
        if merges is None:
            return
        table = record_table(source).name
        for record in page:
            for entry in record.get(merges.field) or ():
                if not isinstance(entry, dict) or entry.get(merges.source_id) is None:
                    continue
                merged_at = entry.get(merges.merged_at) if isinstance(entry.get(merges.merged_at), int) else None
                source_id, target = str(entry[merges.source_id]), str(record.get("id"))
                with self._lock:
                    self._merged_into[(table, source_id)] = (target, merged_at)
                self._add(Deletion(table, source_id, MERGED, target, merged_at))

    def read_deleted_list(self, source: Source) -> None:
        """The source's deleted-records list, newest first, down to the newest deletion already logged."""
        signal = source.deletions
        if signal is None or signal.deleted_list is None:
            return
        table, listing = record_table(source).name, signal.deleted_list
        seen_until = self.known.latest_deleted_at.get(table)  # re-read that second: ids are deduplicated
        for page in self.client.iter_pages(listing.path, listing.list_key, dict(listing.params)):
            older = 0
            for entry in page:
                deleted_at = entry.get(signal.deleted_at) if isinstance(entry.get(signal.deleted_at), int) else None
                if seen_until is not None and deleted_at is not None and deleted_at < seen_until:
                    older += 1
                    continue
                if entry.get("id") is not None:
                    self._add(Deletion(table, str(entry["id"]), DELETED, None, deleted_at))
            if older:
                return  # the rest is older still: an earlier run read it

    def sweep(self, source: Source) -> None:
        """Every record id the source lists over all time, compared with the ids stored; the missing ones are
        confirmed one by one."""
        table = record_table(source).name
        stored = self.stored_ids(table) - self.known.ids.get(table, set())
        with self._lock:
            self.swept.append(table)
        if not stored:
            return  # nothing stored can be missing (a first run): the run's own pass is the newest state
        listed: set[str] = set()
        end = self.now + timedelta(days=1)
        params = dict(source.params) or None
        for page in self.client.search_updated(source.path, source.list_key, SWEEP_FROM, end, params=params):
            listed.update(str(record.get("id")) for record in page)
            self.observe(source, page)
        missing = stored - listed
        log.info("%s sweep: %d listed, %d stored ones missing, confirming each", table, len(listed), len(missing))
        self._confirm(source, missing)

    def missing_from_complete(self, source: Source, listed: set[str]) -> None:
        """Stored records a complete pass of the source did not list, confirmed gone by its probe."""
        table = record_table(source).name
        self._confirm(source, self.stored_ids(table) - listed - self.known.ids.get(table, set()))

    def _confirm(self, source: Source, missing: set[str]) -> None:
        probe = source.deletions.probe if source.deletions is not None else None
        if probe is None or not missing:
            return
        table = record_table(source).name
        for record_id, status in self.client.probe_many(probe.path, sorted(missing)):
            reason = probe.gone.get(status)
            if reason is None:
                continue
            target, merged_at = (None, None)
            if reason == MERGED:
                with self._lock:
                    target, merged_at = self._merged_into.get((table, record_id), (None, None))
            self._add(Deletion(table, record_id, reason, target, merged_at))

