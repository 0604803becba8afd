"""Endpoint implementations: each turns a parsed request into (status, JSON body).

Transport concerns (auth, Accept, rate limits, faults, counting) live in app.py; this module is
only what each Intercom endpoint answers, in the shapes of the 2.16 description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .paging import ResultCache, decode_cursor, page_of, parse_per_page, query_marker
from .scroll import ScrollManager
from .search import QueryCompiler, parse_sort, sort_records
from .workspace import Workspace

MAX_VISIBLE_PARTS = 500


@dataclass
class ApiRequest:
    """What an endpoint needs from an HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() == "true"

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; 400 when it is not one."""
        try:
            data = json.loads(self.body or b"{}")
        except (UnicodeDecodeError, ValueError):
            raise ApiError("request body is not valid JSON", code="parameter_invalid") from None
        if not isinstance(data, dict):
            raise ApiError("request body must be a JSON object", code="parameter_invalid")
        return data


Result = tuple[int, dict[str, Any]]
Handler = Callable[[ApiRequest], Result]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")


class IntercomApi:
    """The endpoints over one Workspace, with the companies scroll state and a search result cache."""

    def __init__(self, workspace: Workspace, scrolls: ScrollManager) -> None:
        self.workspace = workspace
        self.scrolls = scrolls
        self._cache = ResultCache()
        self.routes: list[Route] = [
            Route(m, t, _compile(t), h) for m, t, h in (
                ("GET", "/admins", self.list_admins),
                ("GET", "/admins/{id}", self.get_admin),
                ("GET", "/teams", self.list_teams),
                ("GET", "/tags", self.list_tags),
                ("GET", "/segments", self.list_segments),
                ("GET", "/data_attributes", self.list_data_attributes),
                ("GET", "/companies/scroll", self.scroll_companies),
                ("GET", "/companies/{id}/segments", self.company_segments),
                ("GET", "/contacts", self.list_contacts),
                ("POST", "/contacts/search", self.search_contacts),
                ("GET", "/conversations", self.list_conversations),
                ("POST", "/conversations/search", self.search_conversations),
                ("GET", "/conversations/{id}", self.get_conversation),
            )
        ]

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path known for some other method)."""
        known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict(), True
                known = True
        return None, {}, known

    # ---- simple lists -------------------------------------------------------------------------
    def list_admins(self, req: ApiRequest) -> Result:
        admins = [dict(a) for a in self.workspace.admins]
        if req.flag("display_avatar"):
            for a in admins:
                a["avatar"] = f"https://static.example.com/admins/{a['id']}.png"
        return 200, {"type": "admin.list", "admins": admins}

    def get_admin(self, req: ApiRequest) -> Result:
        """One admin (peers such as Singer's tap-intercom fetch each listed admin again)."""
        admin = next((a for a in self.workspace.admins if a["id"] == req.path_params["id"]), None)
        if admin is None:
            raise ApiError("Admin not found", code="admin_not_found", status=404)
        return 200, dict(admin)

    def list_teams(self, req: ApiRequest) -> Result:
        return 200, {"type": "team.list", "teams": self.workspace.teams}

    def list_tags(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": self.workspace.tags}

    def list_segments(self, req: ApiRequest) -> Result:
        segments = [dict(s) for s in self.workspace.segments]
        if req.flag("include_count"):
            for s in segments:
                s["count"] = self.workspace.segment_counts[s["id"]]
        return 200, {"type": "segment.list", "segments": segments}

    def list_data_attributes(self, req: ApiRequest) -> Result:
        model = req.arg("model")
        if model == "conversation":
            raise ApiError("model=conversation is no longer supported. Use GET /conversations/attributes "
                              "instead", code="parameter_invalid", status=422)
        if model not in (None, "contact", "company"):
            raise ApiError(f"model {model!r} is not valid", code="parameter_invalid", status=400)
        models = [model] if model else ["contact", "company"]
        data = [attr for m in models for attr in self.workspace.data_attributes(m)]
        return 200, {"type": "list", "data": data}

    def company_segments(self, req: ApiRequest) -> Result:
        company = self.workspace.companies.get(req.path_params["id"])
        if company is None:
            raise ApiError("Company Not Found", code="company_not_found", status=404)
        return 200, {"type": "list", "data": company["segments"]["segments"]}

    # ---- companies scroll ---------------------------------------------------------------------
    def scroll_companies(self, req: ApiRequest) -> Result:
        param = req.arg("scroll_param")
        if param is None:
            page = self.scrolls.start(list(self.workspace.ids("companies")))
        else:
            page = self.scrolls.next(param)
        companies = self.workspace.companies
        data = [companies[i] for i in page.ids if i in companies]
        return 200, {"type": "list", "data": data, "pages": None, "total_count": None,
                     "scroll_param": page.scroll_param}

    # ---- cursor lists and search --------------------------------------------------------------
    def list_contacts(self, req: ApiRequest) -> Result:
        return self._cursor_list(req, "contacts", "list", "data", default_per_page=50)

    def list_conversations(self, req: ApiRequest) -> Result:
        return self._cursor_list(req, "conversations", "conversation.list", "conversations", default_per_page=20)

    def _cursor_list(self, req: ApiRequest, kind: str, type_name: str, key: str, default_per_page: int) -> Result:
        per_page = parse_per_page(req.arg("per_page"), default_per_page)
        marker = query_marker(req.method, req.path)
        cursor = req.arg("starting_after")
        offset = decode_cursor(cursor, marker) if cursor is not None else 0
        records = self.workspace.snapshot(kind)
        chunk, pages = page_of(records, offset, per_page, marker)
        return 200, {"type": type_name, key: chunk, "total_count": len(records), "pages": pages}

    def search_contacts(self, req: ApiRequest) -> Result:
        return self._search(req, "contacts", "list", "data", default_per_page=50)

    def search_conversations(self, req: ApiRequest) -> Result:
        return self._search(req, "conversations", "conversation.list", "conversations", default_per_page=20)

    def _search(self, req: ApiRequest, kind: str, type_name: str, key: str, default_per_page: int) -> Result:
        body = req.json_body()
        if "query" not in body:
            raise ApiError("query is required", code="parameter_not_found")
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise ApiError("pagination must be an object", code="parameter_invalid")
        per_page = parse_per_page(pagination.get("per_page"), default_per_page)
        sort = parse_sort(body.get("sort"))
        predicate = QueryCompiler(kind, self.workspace).compile(body["query"])
        marker = query_marker(kind, body["query"], body.get("sort"))
        cursor = pagination.get("starting_after")
        offset = decode_cursor(cursor, marker) if cursor is not None else 0

        def compute() -> list[dict[str, Any]]:
            return sort_records([r for r in self.workspace.snapshot(kind) if predicate(r)], sort)

        results = self._cache.get((marker, self.workspace.generation), compute)
        chunk, pages = page_of(results, offset, per_page, marker)
        return 200, {"type": type_name, key: chunk, "total_count": len(results), "pages": pages}

    # ---- one conversation ---------------------------------------------------------------------
    def get_conversation(self, req: ApiRequest) -> Result:
        conv_id = req.path_params["id"]
        conversation = self.workspace.conversations.get(conv_id)
        if conversation is None:
            raise ApiError("Resource Not Found", code="not_found", status=404)
        parts = self.workspace.conversation_parts(conv_id)
        body = dict(conversation)
        body["conversation_parts"] = {"type": "conversation_part.list",
                                      "conversation_parts": parts[-MAX_VISIBLE_PARTS:],
                                      "total_count": len(parts)}
        return 200, body
