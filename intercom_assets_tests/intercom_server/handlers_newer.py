"""Endpoints of the newer 2.16 resources (data in build_newer.py), in the shapes and paging the description gives:
GET /calls pages by number (`pages` without `next`, 25 a page at most); POST /calls/search takes 1-20
conversation ids; side conversations page by number (50 at most); GET /content_snippets and /audiences say
their page at the top level; macros, data connectors and their runs page by `starting_after`; the AI lists
answer `pages_link` (an absolute `next` URL); the others answer one page or `cursor_pages`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .build_newer import NewerResources
from .errors import ApiError
from .paging import page_number_offset, page_of, pages_link, parse_per_page, query_marker
from .routing import ApiRequest, Result, RouteSpec

if TYPE_CHECKING:
    from .handlers import IntercomApi

CALLS_MAX_PER_PAGE = 25
CALLS_SEARCH_MAX_IDS = 20
HOUR = 3600


def _numbered(items: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, Any]]:
    """One page by number and where it is (`page`, `per_page`, `total_pages`; no `next`)."""
    where = {"page": page, "per_page": per_page, "total_pages": math.ceil(len(items) / per_page)}
    return items[(page - 1) * per_page: page * per_page], where


class NewerEndpoints:
    """The newer resources' endpoints over one workspace."""

    def __init__(self, api: IntercomApi) -> None:
        self.api = api
        self.workspace = api.workspace
        self.data = NewerResources(api.workspace)

    def routes(self) -> list[RouteSpec]:
        return [
            ("GET", "/calls", self.calls),
            ("POST", "/calls/search", self.search_calls),
            ("GET", "/conversations/{id}/handling_events", self.handling_events),
            ("GET", "/conversations/{id}/side_conversations", self.side_conversations),
            ("GET", "/contacts/{id}/notes", self.contact_notes),
            ("GET", "/companies/{id}/notes", self.company_notes),
            ("GET", "/contacts/{id}/segments", self.contact_segments),
            ("GET", "/contacts/{id}/subscriptions", self.contact_subscriptions),
            ("GET", "/macros", self.macros),
            ("GET", "/office_hours_schedules", self.office_hours_schedules),
            ("GET", "/office_hours_schedules/{id}/office_hours_exceptions", self.office_hours_exceptions),
            ("GET", "/brands", lambda req: self._list(self.data.brands)),
            ("GET", "/emails", lambda req: self._list(self.data.email_settings)),
            ("GET", "/internal_articles", lambda req: self._cursor_list(req, self.data.internal_articles, 50)),
            ("GET", "/content_snippets", lambda req: self._top_level(req, self.data.content_snippets)),
            ("GET", "/audiences", lambda req: self._top_level(req, self.data.audiences)),
            ("GET", "/ai/external_pages", lambda req: self._linked(req, self.data.external_pages)),
            ("GET", "/ai/content_import_sources", lambda req: self._linked(req, self.data.content_import_sources)),
            ("GET", "/data_connectors", self.data_connectors),
            ("GET", "/data_connectors/{id}/execution_results", self.execution_results),
            ("GET", "/help_center/help_centers/{id}/redirects", self.redirects),
            ("GET", "/admins/activity_log_event_types", self.event_types),
        ]

    # ---- shapes of lists ----------------------------------------------------------------------
    @staticmethod
    def _list(items: list[dict[str, Any]], kind: str = "list") -> Result:
        return 200, {"type": kind, "data": items}

    def _cursor_list(self, req: ApiRequest, items: list[dict[str, Any]], default: int, maximum: int = 150,
                     key: str = "data") -> Result:
        """`cursor_pages` (`pages.next.starting_after`); `page` is taken too."""
        per_page = parse_per_page(req.arg("per_page"), default, maximum)
        marker = query_marker(req.method, req.path)
        offset = page_number_offset(req.int_arg("page", 1, minimum=1), req.arg("starting_after"), per_page, marker)
        chunk, pages = page_of(items, offset, per_page, marker)
        return 200, {"type": "list", key: chunk, "total_count": len(items), "pages": pages}

    def _after_cursor(self, req: ApiRequest, items: list[dict[str, Any]], default: int, maximum: int) -> Result:
        """`pages: {type, per_page, next: {starting_after} | null}` (macros, data connectors, their runs)."""
        per_page = parse_per_page(req.arg("per_page"), default, maximum)
        marker = query_marker(req.method, req.path,
                              sorted((k, v) for k, v in req.query.items() if k not in ("starting_after", "per_page")))
        offset = page_number_offset(None, req.arg("starting_after"), per_page, marker)
        chunk, pages = page_of(items, offset, per_page, marker)
        following = pages.get("next")
        return 200, {"type": "list", "data": chunk, "pages": {
            "type": "pages", "per_page": per_page,
            "next": {"starting_after": following["starting_after"]} if following else None}}

    @staticmethod
    def _top_level(req: ApiRequest, items: list[dict[str, Any]]) -> Result:
        per_page = parse_per_page(req.arg("per_page"), 50)
        chunk, where = _numbered(items, req.int_arg("page", 1, minimum=1) or 1, per_page)
        return 200, {"type": "list", "data": chunk, "total_count": len(items), **where}

    @staticmethod
    def _linked(req: ApiRequest, items: list[dict[str, Any]]) -> Result:
        per_page = parse_per_page(req.arg("per_page"), 10)
        page = req.int_arg("page", 1, minimum=1) or 1
        chunk = items[(page - 1) * per_page: page * per_page]
        return 200, {"type": "list", "data": chunk, "total_count": len(items),
                     "pages": pages_link(req.base_url, req.path, {}, page, per_page, len(items))}

    # ---- calls --------------------------------------------------------------------------------
    def calls(self, req: ApiRequest) -> Result:
        per_page = parse_per_page(req.arg("per_page"), CALLS_MAX_PER_PAGE, CALLS_MAX_PER_PAGE)
        calls = self.data.calls()
        chunk, where = _numbered(calls, req.int_arg("page", 1, minimum=1) or 1, per_page)
        return 200, {"type": "list", "data": chunk, "total_count": len(calls), "pages": {"type": "pages", **where}}

    def search_calls(self, req: ApiRequest) -> Result:
        ids = req.json_body().get("conversation_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= CALLS_SEARCH_MAX_IDS:
            raise ApiError(f"conversation_ids must list 1 to {CALLS_SEARCH_MAX_IDS} conversation ids",
                           code="parameter_invalid")
        wanted = {str(i) for i in ids}
        data = []
        for call in self.data.calls():
            if call["conversation_id"] in wanted:
                transcript = self.data.transcript(call)
                data.append({**call, "transcript": transcript,
                             "transcript_status": "completed" if transcript else "not_available"})
        return 200, {"type": "list", "data": data}

    # ---- per-record lists ---------------------------------------------------------------------
    def _conversation(self, conv_id: str) -> dict[str, Any]:
        conversation = self.workspace.conversations.get(conv_id)
        if conversation is None:
            raise ApiError("Resource Not Found", code="not_found", status=404)
        return conversation

    def handling_events(self, req: ApiRequest) -> Result:
        return 200, {"handling_events": self.data.handling_events(self._conversation(req.path_params["id"]))}

    def side_conversations(self, req: ApiRequest) -> Result:
        sides = self.data.side_conversations(self._conversation(req.path_params["id"]))
        per_page = parse_per_page(req.arg("per_page"), 25, 50)
        chunk, where = _numbered(sides, req.int_arg("page", 1, minimum=1) or 1, per_page)
        return 200, {"type": "side_conversation.list", "side_conversations": chunk, "total_count": len(sides),
                     "pages": {"type": "pages", **where}}

    def contact_notes(self, req: ApiRequest) -> Result:
        notes = self.data.notes("contact", self.api.live_contact(req.path_params["id"]))
        return self._cursor_list(req, notes, 50)

    def company_notes(self, req: ApiRequest) -> Result:
        notes = self.data.notes("company", self.api.live_company(req.path_params["id"]))
        return self._cursor_list(req, notes, 50)

    def contact_segments(self, req: ApiRequest) -> Result:
        return self._list(self.data.contact_segments(self.api.live_contact(req.path_params["id"])))

    def contact_subscriptions(self, req: ApiRequest) -> Result:
        return self._list(self.data.contact_subscriptions(self.api.live_contact(req.path_params["id"])))

    # ---- workspace lists ----------------------------------------------------------------------
    def macros(self, req: ApiRequest) -> Result:
        """Newest `updated_at` first; `updated_since` keeps those updated after it."""
        since = req.int_arg("updated_since")
        macros = self.data.macros
        if since is not None:
            macros = [m for m in macros if _seconds(m["updated_at"]) > since]
        return self._after_cursor(req, macros, 50, 150)

    def office_hours_schedules(self, req: ApiRequest) -> Result:
        return self._list(self.data.office_hours_schedules, "office_hours_schedule.list")

    def office_hours_exceptions(self, req: ApiRequest) -> Result:
        exceptions = self.data.office_hours_exceptions.get(req.path_params["id"])
        if exceptions is None:
            raise ApiError("Office hours schedule not found", code="not_found", status=404)
        return self._list(exceptions, "office_hours_exception.list")

    def data_connectors(self, req: ApiRequest) -> Result:
        return self._after_cursor(req, self.data.data_connectors, 20, 50)

    def execution_results(self, req: ApiRequest) -> Result:
        """Runs in [start_ts, end_ts] (default: the last hour), newest first."""
        runs = self.data.execution_results.get(req.path_params["id"])
        if runs is None:
            raise ApiError("Data connector not found", code="not_found", status=404)
        end = req.int_arg("end_ts", self.workspace.now)
        start = req.int_arg("start_ts", (end or self.workspace.now) - HOUR)
        kept = [r for r in runs if start <= _seconds(r["created_at"]) <= end]
        return self._after_cursor(req, kept, 10, 30)

    def redirects(self, req: ApiRequest) -> Result:
        redirects = self.data.redirects.get(req.path_params["id"])
        if redirects is None:
            raise ApiError("Help center not found", code="not_found", status=404)
        return self._cursor_list(req, sorted(redirects, key=lambda r: r["updated_at"], reverse=True), 50, 250)

    def event_types(self, req: ApiRequest) -> Result:
        return 200, {"type": "activity_log_event_type.list", "event_types": self.data.event_types}


def _seconds(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
