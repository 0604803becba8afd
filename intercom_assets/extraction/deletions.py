"""Finding what Intercom deleted or merged away, during a run (no Dagster here; the lake side is lake/deletions.py).

Intercom gives four signals, all read here:
- `GET /conversations/deleted` (newest first): every run reads it down to the newest deletion an earlier run
  already logged;
- `merge_history` on the surviving user, which the contact search returns with `include_merge_history=true`;
- deleted contacts have no list: a sweep reads every contact id (the contact search over all time, in slices
  paged concurrently) when the last sweep is older than INTERCOM_DELETION_SWEEP_HOURS, and a stored contact the
  sweep did not see counts as deleted only once `GET /contacts/{id}` answers 404 (410: merged), so an archived or
  lagging contact is not;
- a company stored here but missing from a complete scroll counts as deleted once `GET /companies/{id}`
  answers 404.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from intercom_assets.intercom.client import IntercomClient
from intercom_assets.lake.deletions import DELETED, MERGED, Deletion, DeletionLog

log = logging.getLogger(__name__)

DELETED_PAGE = 60  # the most GET /conversations/deleted gives per page
SWEEP_FROM = datetime(2011, 1, 1, tzinfo=UTC)
MERGE_HISTORY = {"include_merge_history": "true"}  # before Intercom existed: the sweep covers every contact


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
        self._merged_into: dict[str, tuple[str, int | None]] = {}
        self.swept: list[str] = []

    @property
    def deletions(self) -> list[Deletion]:
        with self._lock:
            return list(self._found.values())

    def _add(self, deletion: Deletion) -> None:
        with self._lock:
            self._found.setdefault((deletion.source_table, deletion.id), deletion)

    def observe_contacts(self, page: Iterable[dict[str, Any]]) -> None:
        """Merges named by the surviving users' merge history."""
        for contact in page:
            for entry in contact.get("merge_history") or ():
                if not isinstance(entry, dict) or entry.get("source_contact_id") is None:
                    continue
                merged_at = entry.get("merged_at") if isinstance(entry.get("merged_at"), int) else None
                source_id = str(entry["source_contact_id"])
                with self._lock:
                    self._merged_into[source_id] = (str(contact.get("id")), merged_at)
                self._add(Deletion("contacts", source_id, MERGED, str(contact.get("id")), merged_at))

    def deleted_conversations(self) -> None:
        """`GET /conversations/deleted`, newest first, down to the newest deletion already logged."""
        seen_until = self.known.latest_deleted_at.get("conversations")  # re-read that second: ids are deduplicated
        params = {"order": "desc", "per_page": str(DELETED_PAGE)}
        for page in self.client.iter_pages("/conversations/deleted", "conversations", params):
            older = 0
            for entry in page:
                deleted_at = entry.get("deleted_at") if isinstance(entry.get("deleted_at"), int) else None
                if seen_until is not None and deleted_at is not None and deleted_at < seen_until:
                    older += 1
                    continue
                if entry.get("id") is not None:
                    self._add(Deletion("conversations", str(entry["id"]), DELETED, None, deleted_at))
            if older:
                return  # the rest is older still: an earlier run read it

    def sweep_contacts(self) -> None:
        """Every contact id Intercom lists, compared with the ids stored; the missing ones are confirmed one by one."""
        stored = self.stored_ids("contacts") - self.known.ids.get("contacts", set())
        self.swept.append("contacts")
        if not stored:
            return  # nothing stored can be missing (a first run): the run's own search is the newest state
        listed: set[str] = set()
        end = self.now + timedelta(days=1)
        for page in self.client.search_updated("/contacts/search", "data", SWEEP_FROM, end, params=MERGE_HISTORY):
            listed.update(str(contact.get("id")) for contact in page)
            self.observe_contacts(page)
        missing = stored - listed
        log.info("contact sweep: %d listed, %d stored ones missing, confirming each", len(listed), len(missing))
        for contact_id, status in self.client.probe_many("/contacts/{id}", sorted(missing)):
            if status == 404:
                self._add(Deletion("contacts", contact_id, DELETED))
            elif status == 410:
                target, merged_at = self._merged_into.get(contact_id, (None, None))
                self._add(Deletion("contacts", contact_id, MERGED, target, merged_at))

    def companies_missing_from(self, scrolled: set[str]) -> None:
        """Stored companies a complete scroll did not return, confirmed deleted by GET /companies/{id}."""
        missing = self.stored_ids("companies") - scrolled - self.known.ids.get("companies", set())
        if not missing:
            return
        for company_id, status in self.client.probe_many("/companies/{id}", sorted(missing)):
            if status == 404:
                self._add(Deletion("companies", company_id, DELETED))
