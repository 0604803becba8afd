"""IntercomTestServer: the in-process handle tests use to run, steer and inspect the fake API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from .app import IntercomHTTPServer, ServerState
from .build_extras import UNANSWERED_SHARE
from .build_newer import NewerResources
from .faults import FaultInjector, Faults
from .handlers import IntercomApi
from .ratelimit import RateLimiter
from .scroll import DEFAULT_PAGE_SIZE, DEFAULT_TTL_SECONDS, ScrollManager
from .workspace import KINDS, Workspace


class IntercomTestServer:
    """A real HTTP server on 127.0.0.1 serving a seeded synthetic Intercom workspace.

    The workspace is built in the constructor, so `srv.workspace` can be inspected before start().
    All control methods are thread-safe and may be called while clients are running.
    """

    def __init__(self, token: str, seed: int = 1, scale: str = "small", now: datetime | None = None,
                 workspace_timezone: str = "America/Los_Angeles", latency_ms: int = 0,
                 rate_limit_per_minute: int | None = None, faults: Faults | None = None,
                 host: str = "127.0.0.1", port: int = 0, scroll_ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 scroll_page_size: int = DEFAULT_PAGE_SIZE, refusals: Mapping[str, str] | None = None,
                 unanswered_share: float = UNANSWERED_SHARE, clock: Callable[[], float] | None = None) -> None:
        if not token:
            raise ValueError("token must not be empty")
        if host != "127.0.0.1":
            raise ValueError("the test server listens on 127.0.0.1 only")
        self.workspace = Workspace(seed=seed, scale=scale, now=now, timezone=workspace_timezone,
                                   unanswered_share=unanswered_share)
        self._faults = FaultInjector(faults or Faults(), seed)
        # `clock` (unix seconds) drives the rate-limit windows and scroll expiry, so tests can step time exactly.
        self._scrolls = ScrollManager(self._faults, ttl_seconds=scroll_ttl_seconds, page_size=scroll_page_size,
                                      clock=clock or time.monotonic, seed=seed)
        self._api = IntercomApi(self.workspace, self._scrolls)
        limiter = RateLimiter(rate_limit_per_minute, clock=clock or time.time)
        self._state = ServerState(self._api, token, limiter, self._faults, latency_ms)
        if refusals:
            self.set_refusals(refusals)
        self._host = host
        self._port = port
        self._httpd: IntercomHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        """Bind, serve in a background thread, and return the base URL (http://127.0.0.1:PORT)."""
        if self._httpd is not None:
            return self.base_url
        self._httpd = IntercomHTTPServer((self._host, self._port), self._state)
        port = self._httpd.server_address[1]
        self.base_url = f"http://{self._host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"intercom-test-server-{port}", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop accepting, drop idle keep-alive connections, and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> IntercomTestServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def token(self) -> str:
        """The Bearer token clients must send (tests pass it to the code under test)."""
        return self._state.token

    # ---- observation --------------------------------------------------------------------------
    def request_counts(self) -> dict[str, int]:
        """Requests received per "METHOD /path-template" (e.g. "GET /conversations/{id}")."""
        return self._state.counts()

    def reset_counts(self) -> None:
        """Zero the request counts and the max-in-flight high-water mark."""
        self._state.reset_counts()

    def max_in_flight(self) -> int:
        """Most requests handled at the same time since start or the last reset_counts()."""
        return self._state.max_in_flight()

    def in_flight(self) -> int:
        """Requests being handled right now."""
        return self._state.in_flight()

    def hold_requests(self) -> threading.Event:
        """Hold every request from now on in flight until the returned event is set (60 s at most).

        Concurrency tests then know how many requests are in flight, instead of hoping a latency is long enough.
        """
        gate = threading.Event()
        self._state.gate = gate
        return gate

    # ---- steering -----------------------------------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        self._faults.set(faults)

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def set_latency_ms(self, latency_ms: int) -> None:
        if latency_ms < 0:
            raise ValueError("latency must not be negative")
        self._state.latency_ms = latency_ms

    def set_rate_limit(self, per_minute: int | None) -> None:
        self._state.limiter.set_limit(per_minute)

    @property
    def scroll_ttl_seconds(self) -> float:
        """Idle time after which an open companies scroll expires (Intercom: about a minute)."""
        return self._scrolls.ttl_seconds

    @scroll_ttl_seconds.setter
    def scroll_ttl_seconds(self, value: float) -> None:
        self._scrolls.ttl_seconds = value

    @property
    def scroll_page_size(self) -> int:
        return self._scrolls.page_size

    @scroll_page_size.setter
    def scroll_page_size(self, value: int) -> None:
        self._scrolls.page_size = value

    def scroll_open(self) -> bool:
        """Whether a companies scroll is currently open (and not idle-expired)."""
        return self._scrolls.is_open()

    def reset_scroll(self) -> None:
        self._scrolls.reset()

    def endpoints(self) -> list[str]:
        """Every served endpoint as "METHOD /path-template" (the keys of request_counts and set_refusals)."""
        return [route.key for route in self._api.routes]

    def set_refusals(self, refusals: Mapping[str, str]) -> None:
        """Answer these endpoints with 403 and the given error code, e.g.
        {"GET /admins/activity_logs": "forbidden", "POST /tickets/search": "api_plan_restricted"}; {} clears."""
        self._state.refusals.set(refusals, self.endpoints())

    @property
    def refusals(self) -> dict[str, str]:
        return self._state.refusals.snapshot()

    def set_unsearchable(self, kind: str, fields: set[str]) -> None:
        """Answer 400 to a search of `kind` ("contacts", "conversations", "tickets") that filters on one of these
        fields; an empty set clears."""
        self.workspace.unsearchable[kind] = set(fields)

    @property
    def merged_contact_status(self) -> int:
        """What GET /contacts/{id} answers for a merged-away contact: 410 (the description) or 404."""
        return self._api.merged_contact_status

    @merged_contact_status.setter
    def merged_contact_status(self, status: int) -> None:
        if status not in (404, 410):
            raise ValueError("merged_contact_status must be 404 or 410")
        self._api.merged_contact_status = status

    @property
    def newer(self) -> NewerResources:
        """The newer 2.16 resources (calls, macros, office hours, per-record notes ...; see build_newer.py)."""
        return self._api.newer.data

    def add_contact_note(self, contact_id: str, at: datetime | int, body: str = "<p>Late note ✍️</p>") -> str:
        """A note written on a contact at `at`; the contact's updated_at does not move. Returns the note id."""
        created = int(at.timestamp()) if isinstance(at, datetime) else int(at)
        contact = self.workspace.contacts[contact_id]
        note_id = str(8_000_000_000 + sum(len(n) for n in self.newer.added_contact_notes.values()))
        admin = self.workspace.admins[0]
        note = {"type": "note", "id": note_id, "created_at": created, "contact": {"type": "contact",
                                                                                 "id": contact["id"]},
                "author": {k: admin.get(k) for k in ("type", "id", "name", "email")}, "body": body}
        with self.newer.lock:
            self.newer.added_contact_notes.setdefault(contact_id, []).insert(0, note)
        return note_id

    # ---- data mutations (all thread-safe; see steering.py) ------------------------------------
    def touch(self, kind: str, record_id: str, updated_at: datetime | int) -> None:
        """Set updated_at of a contact, company, conversation, ticket, article, news item or collection."""
        self.workspace.touch(kind, record_id, updated_at)

    def add_parts(self, conv_id: str, n: int, at: datetime | int) -> list[dict[str, Any]]:
        """Append n parts to a conversation at `at` (bumps its updated_at)."""
        return self.workspace.add_parts(conv_id, n, at)

    def add_ticket_parts(self, ticket_id: str, n: int, at: datetime | int) -> list[dict[str, Any]]:
        """Append n parts to a ticket at `at` (bumps its updated_at)."""
        return self.workspace.add_ticket_parts(ticket_id, n, at)

    def bump_fraction(self, fraction: float, at: datetime | int, seed: int,
                      kinds: tuple[str, ...] = KINDS) -> dict[str, list[str]]:
        """Touch a seeded share of each kind (contacts, companies, conversations unless `kinds` says more)."""
        return self.workspace.bump_fraction(fraction, at, seed, kinds)

    def delete_contact(self, contact_id: str, at: datetime | int) -> None:
        """Delete a contact: gone from list and search, GET answers 404."""
        self.workspace.delete_contact(contact_id, at)

    def delete_ticket(self, ticket_id: str, at: datetime | int) -> None:
        """Delete a ticket: gone from search, GET answers 404 (Intercom lists no deleted tickets)."""
        self.workspace.delete_ticket(ticket_id, at)

    def merge_contact(self, lead_id: str, user_id: str, at: datetime | int) -> list[str]:
        """Merge a lead into a user; returns the ids of the lead's conversations, now the user's (updated at `at`)."""
        return self.workspace.merge_contact(lead_id, user_id, at)

    def delete_conversation(self, conv_id: str, at: datetime | int, metrics_retained: bool = False) -> None:
        """Delete a conversation: gone from list and search, listed by GET /conversations/deleted."""
        self.workspace.delete_conversation(conv_id, at, metrics_retained)

    def delete_company(self, company_id: str, at: datetime | int) -> list[str]:
        """Delete a company: gone from the scroll, GET answers 404; returns the contacts detached from it."""
        return self.workspace.delete_company(company_id, at)
