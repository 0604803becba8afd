"""Seeded synthetic Intercom workspace in the shapes of the 2.16 OpenAPI description.

The data is deterministic for a (seed, scale, now, timezone) so tests can assert exact counts,
and it carries the awkward cases that break extractors: old records updated recently, nulls where
the description does not allow them, mixed-type custom attributes, unicode and HTML bodies, a
conversation and a ticket with more than 500 parts, conversations without parts, truncated embedded
lists, timestamps exactly on UTC and workspace midnights, deleted records and merged leads.
Conversation and ticket parts and activity logs are generated on demand from per-record seeds, and records are
kept as compact rows rendered into API dicts on each read (store.py), to keep large scales cheap: a million
contacts fit in well under a GiB. The builders live in build_*.py; the steering methods in steering.py.
"""

from __future__ import annotations

import gc
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from . import build_content, build_extras, build_people, build_tickets
from .activity import ActivityLog
from .build_conversations import PartPlan, apply_boundaries, build_conversations, generate_parts, render_conversation
from .build_extras import UNANSWERED_SHARE
from .build_tickets import TicketPlan, generate_ticket_parts
from .steering import Steering
from .store import RecordStore, render_dict_row
from .vocab import DAY, HISTORY_DAYS, KINDS, RECENT_DAYS, RECENT_SHARE, SCALES, ScaleSpec, object_id, to_unix

__all__ = ["KINDS", "RECORD_KINDS", "SCALES", "ScaleSpec", "Workspace", "object_id", "to_unix"]

RECORD_KINDS = KINDS + ("tickets", "articles", "news_items", "collections")
"""Kinds kept in RecordStores keyed by id, which `touch` and `snapshot` accept."""


class Workspace(Steering):
    """The workspace's records in API shape, plus thread-safe mutation helpers used by tests.

    Live records sit in RecordStores (`contacts`, `companies`, `conversations`, `tickets`, ...: mappings of id to
    API dict); deleted and merged ones are kept apart (`deleted_contacts`, `merged_contacts`, ...) so every list,
    search and scroll leaves them out by construction. Change records only through the steering methods: they
    keep the `updated_at` index right and bump `generation`, which invalidates cached search results.
    """

    def __init__(self, seed: int = 1, scale: str = "small", now: datetime | None = None,
                 timezone: str = "America/Los_Angeles", unanswered_share: float = UNANSWERED_SHARE) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        if not 0.0 <= unanswered_share <= 1.0:
            raise ValueError("unanswered_share must be within [0, 1]")
        self.unanswered_share = unanswered_share
        # kind -> fields its search answers 400 on (a workspace or region that refuses a search, e.g. on email)
        self.unsearchable: dict[str, set[str]] = {}
        self.seed = seed
        self.scale = scale
        self.size = SCALES[scale]
        self.now = to_unix(now if now is not None else datetime.now(UTC))
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.app_id = f"app{seed:05d}x"
        self.lock = threading.RLock()
        self.generation = 0
        # records as compact rows, rendered in API shape on each read (store.py)
        self.contacts = RecordStore(partial(build_people.render_contact, self))
        self.companies = RecordStore(partial(build_people.render_company, self))
        self.conversations = RecordStore(partial(render_conversation, self))
        self.tickets = RecordStore(partial(build_tickets.render_ticket, self))
        self.articles = RecordStore(render_dict_row)
        self.collections = RecordStore(render_dict_row)
        self.news_items = RecordStore(render_dict_row)
        self.admins: list[dict[str, Any]] = []
        self.teams: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.segments: list[dict[str, Any]] = []
        self.company_segments: list[dict[str, Any]] = []
        self.segment_counts: dict[str, int] = {}
        self.ticket_types: list[dict[str, Any]] = []
        self.ticket_states: list[dict[str, Any]] = []
        self.help_centers: list[dict[str, Any]] = []
        self.newsfeeds: list[dict[str, Any]] = []
        self.subscription_types: list[dict[str, Any]] = []
        self.away_status_reasons: list[dict[str, Any]] = []
        self.conversation_attributes: list[dict[str, Any]] = []
        self.boundary_ids: dict[str, dict[str, str]] = {}
        self.big_conversation_id = ""
        self.big_ticket_id = ""
        # special cases, for tests to find (see build_extras.py)
        self.unanswered_conversation_ids: list[str] = []
        self.multi_contact_conversation_ids: list[str] = []
        self.multi_tag_conversation_ids: list[str] = []
        self.truncated_tags_contact_ids: list[str] = []
        self.undercounted_tags_contact_ids: list[str] = []
        self.truncated_companies_contact_ids: list[str] = []
        self.undercounted_companies_contact_ids: list[str] = []
        self.contact_tag_ids: dict[str, list[str]] = {}
        self.contact_company_ids: dict[str, list[str]] = {}
        # deletions and merges
        self.deleted_contacts: dict[str, int] = {}
        self.deleted_tickets: dict[str, int] = {}
        self.deleted_companies: dict[str, int] = {}
        self.deleted_conversations: dict[str, dict[str, Any]] = {}
        self.merged_contacts: dict[str, dict[str, Any]] = {}
        self.merge_history: dict[str, list[dict[str, Any]]] = {}
        # lazily generated children
        self.part_plans: dict[str, PartPlan] = {}
        self.ticket_plans: dict[str, TicketPlan] = {}
        self._extra_parts: dict[str, list[dict[str, Any]]] = {}
        # conversation statistics by (id, part plan, parts added): see build_conversations.conversation_statistics
        self.statistics_cache: dict[tuple[str, Any, int], dict[str, Any]] = {}
        self._extra_ticket_parts: dict[str, list[dict[str, Any]]] = {}
        self._next_extra_part = 0
        self._rng = random.Random(seed)
        self._build()
        self.activity = ActivityLog(self)

    # ---- time helpers -------------------------------------------------------------------------
    def day_start(self, day: date) -> int:
        """Unix seconds of the workspace-time-zone midnight that starts `day`."""
        return int(datetime.combine(day, time(0), tzinfo=self.tz).timestamp())

    def local_day(self, ts: int) -> date:
        """The workspace-time-zone calendar day that contains `ts`."""
        return datetime.fromtimestamp(ts, self.tz).date()

    def boundary_times(self) -> dict[str, int]:
        """The exact instants the boundary records are updated at (all inside the last 30 days)."""
        day = self.local_day(self.now - 3 * DAY)
        utc_day = datetime.fromtimestamp(self.now - 3 * DAY, UTC).date()
        return {
            "utc_midnight": int(datetime.combine(utc_day, time(0), tzinfo=UTC).timestamp()),
            "tz_midnight": self.day_start(day),
            "tz_235959": self.day_start(day + timedelta(days=1)) - 1,
            "tz_next_midnight": self.day_start(day + timedelta(days=1)),
        }

    def times(self, rng: random.Random, recent: bool) -> tuple[int, int]:
        """(created_at, updated_at): 15 % are updated in the last 30 days, most of them created long ago."""
        start = self.now - HISTORY_DAYS * DAY
        cutoff = self.now - RECENT_DAYS * DAY
        if recent:
            if rng.random() < 0.3:
                created = rng.randint(cutoff, self.now - 3600)
            else:
                created = rng.randint(start, cutoff - DAY)
            updated = rng.randint(max(created, cutoff + 1), self.now - 1)
        else:
            created = rng.randint(start, cutoff - 2 * DAY)
            updated = rng.randint(created, min(created + 120 * DAY, cutoff - DAY))
        return created, updated

    def recent_flags(self, rng: random.Random, count: int) -> list[bool]:
        """Which of `count` records are updated recently: exactly RECENT_SHARE of them, shuffled."""
        recent = round(count * RECENT_SHARE)
        flags = [True] * recent + [False] * (count - recent)
        rng.shuffle(flags)
        return flags

    # ---- generation ---------------------------------------------------------------------------
    def _build(self) -> None:
        with _gc_paused():
            self._build_records()
        for kind in RECORD_KINDS:
            self.records(kind).build_index()

    def _build_records(self) -> None:
        rng = self._rng
        build_people.build_admins_teams(self, rng)
        build_people.build_tags_segments(self, rng)
        build_people.build_companies(self, rng)
        build_people.build_contacts(self, rng)
        build_conversations(self, rng)
        apply_boundaries(self)
        # everything below draws from generators of its own (vocab.sub_rng), so the records above stay
        # exactly what they were before these resources existed
        build_extras.enrich_conversations(self)
        build_extras.enrich_contact_lists(self)
        build_tickets.build_ticket_types(self)
        build_tickets.build_tickets(self)
        build_content.build_content(self)
        build_extras.seed_deletions_and_merges(self)

    def protected_ids(self) -> set[str]:
        """Records the special cases must not alter: the boundary records and the big conversation/ticket."""
        ids = {self.big_conversation_id, self.big_ticket_id}
        for marks in self.boundary_ids.values():
            ids.update(marks.values())
        return ids

    # ---- reads --------------------------------------------------------------------------------
    def data_attributes(self, model: str) -> list[dict[str, Any]]:
        """Data attributes of a model: built-ins (no id, `name` may repeat) then custom ones (with ids)."""
        return build_people.data_attributes(self, model)

    def conversation_parts(self, conv_id: str) -> list[dict[str, Any]]:
        """ALL parts of a conversation, oldest first (the API shows only the newest 500)."""
        with self.lock:
            plan = self.part_plans[conv_id]
            extra = list(self._extra_parts.get(conv_id, ()))
        return generate_parts(self, plan) + extra

    def extra_part_count(self, conv_id: str) -> int:
        """How many parts steering added to a conversation (add_parts)."""
        with self.lock:
            return len(self._extra_parts.get(conv_id, ()))

    def ticket_parts(self, ticket_id: str) -> list[dict[str, Any]]:
        """ALL parts of a ticket, oldest first (the API shows only the newest 500)."""
        with self.lock:
            plan = self.ticket_plans[ticket_id]
            extra = list(self._extra_ticket_parts.get(ticket_id, ()))
        return generate_ticket_parts(self, plan) + extra

    def contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        """Every tag on a contact (the embedded list may show fewer), with when and by whom it was applied."""
        contact = self.contacts[contact_id]
        tag_ids = self.contact_tag_ids.get(contact_id) or [t["id"] for t in contact["tags"]["data"]]
        return build_extras.applied_tags(self, contact, tag_ids)

    def contact_companies(self, contact_id: str) -> list[dict[str, Any]]:
        """Every live company a contact is attached to (the embedded list may show fewer)."""
        company_ids = self.contact_company_ids.get(contact_id) or self.embedded_company_ids(contact_id)
        return [self.companies[c] for c in company_ids if c in self.companies]

    def embedded_company_ids(self, contact_id: str) -> list[str]:
        """The ids in a contact's embedded `companies` list, without rendering the contact."""
        patched = self.contacts.patched(contact_id, "companies")
        if patched is not None:
            return [c["id"] for c in patched["data"]]
        return list(build_people.contact_links(self.contacts.row(contact_id)))

    def me(self) -> dict[str, Any]:
        """The admin behind the token, with the app (workspace) it belongs to."""
        return build_content.me(self)

    def records(self, kind: str) -> RecordStore:
        """The records of a kind (one of RECORD_KINDS): a read-only mapping of id to API-shaped dict."""
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {RECORD_KINDS}, not {kind!r}")
        return getattr(self, kind)

    def snapshot(self, kind: str) -> list[dict[str, Any]]:
        """The current records of a kind, in id order of creation, taken under the lock (renders every record:
        mind the scale)."""
        with self.lock:
            return list(self.records(kind).values())

    def render_ids(self, kind: str, ids: list[str]) -> list[dict[str, Any]]:
        """The records of these ids in API shape, leaving out any removed since the ids were read."""
        records = self.records(kind)
        return [r for r in map(records.get, ids) if r is not None]

    def count_updated(self, kind: str, start: int, end: int) -> int:
        """How many records of a kind have start <= updated_at < end (from the index, nothing rendered)."""
        with self.lock:
            return len(self.records(kind).updated_between(start, end))

    def counts(self) -> dict[str, int]:
        """Live records of the three main kinds (what the benchmarks and scale tests compare)."""
        return {kind: len(self.records(kind)) for kind in KINDS}

    def ids(self, kind: str) -> list[str]:
        with self.lock:
            return list(self.records(kind))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of rows are built: none of them is garbage, and the collector
    would otherwise walk the growing heap again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
