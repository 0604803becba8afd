"""Endpoint implementations: each turns a parsed request into (status, JSON body).

Transport concerns (auth, Accept, rate limits, refusals, faults, counting) live in app.py; this module is
what the directory, contact, company and conversation endpoints answer, in the shapes of the 2.16
description. Tickets are in handlers_tickets.py, the smaller resources in handlers_content.py.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

from .errors import ApiError
from .handlers_content import ContentEndpoints
from .handlers_newer import NewerEndpoints
from .handlers_tickets import TicketEndpoints
from .paging import ResultCache, cursor_pages, decode_cursor, page_of, pages_link, parse_per_page, query_marker
from .routing import ApiRequest, Result, Route, RouteSpec, build_routes
from .scroll import ScrollManager
from .search import QueryCompiler, parse_sort
from .search_plan import find_ids
from .workspace import Workspace

__all__ = ["MAX_VISIBLE_PARTS", "ApiRequest", "IntercomApi", "Route"]

MAX_VISIBLE_PARTS = 500
DELETED_MAX_PER_PAGE = 60
Render = Callable[[dict[str, Any]], dict[str, Any]]


class IntercomApi:
    """The endpoints over one Workspace, with the companies scroll state and a search result cache."""

    def __init__(self, workspace: Workspace, scrolls: ScrollManager) -> None:
        self.workspace = workspace
        self.scrolls = scrolls
        self.cache = ResultCache()
        self.merged_contact_status = 410
        """410 `contact_merged` with a Link header (the 2.16 description) or 404 `not_found` (the facts file)."""
        specs: list[RouteSpec] = [
            ("GET", "/admins", self.list_admins),
            ("GET", "/admins/{id}", self.get_admin),
            ("GET", "/teams", self.list_teams),
            ("GET", "/tags", self.list_tags),
            ("GET", "/segments", self.list_segments),
            ("GET", "/data_attributes", self.list_data_attributes),
            ("GET", "/companies/scroll", self.scroll_companies),
            ("GET", "/companies/{id}", self.get_company),
            ("GET", "/companies/{id}/segments", self.company_segments),
            ("GET", "/contacts", self.list_contacts),
            ("POST", "/contacts/search", self.search_contacts),
            ("GET", "/contacts/{id}", self.get_contact),
            ("GET", "/contacts/{id}/tags", self.contact_tags),
            ("GET", "/contacts/{id}/companies", self.contact_companies),
            ("GET", "/conversations", self.list_conversations),
            ("POST", "/conversations/search", self.search_conversations),
            ("GET", "/conversations/deleted", self.deleted_conversations),
            ("GET", "/conversations/{id}", self.get_conversation),
        ]
        self.newer = NewerEndpoints(self)
        specs += TicketEndpoints(self).routes() + ContentEndpoints(self).routes() + self.newer.routes()
        self.routes: list[Route] = build_routes(specs)

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

    # ---- companies ----------------------------------------------------------------------------
    def scroll_companies(self, req: ApiRequest) -> Result:
        param = req.arg("scroll_param")
        if param is None:
            page = self.scrolls.start(self.workspace.ids("companies"))
        else:
            page = self.scrolls.next(param)
        data = self.workspace.render_ids("companies", page.ids)
        return 200, {"type": "list", "data": data, "pages": None, "total_count": None,
                     "scroll_param": page.scroll_param}

    def _company(self, company_id: str) -> dict[str, Any]:
        company = self.workspace.companies.get(company_id)
        if company is None:
            raise ApiError("Company Not Found", code="company_not_found", status=404)
        return company

    def live_company(self, company_id: str) -> dict[str, Any]:
        """A live company, or 404 company_not_found (the per-company lists answer as GET /companies/{id})."""
        return self._company(company_id)

    def live_contact(self, contact_id: str) -> dict[str, Any]:
        """A live contact, or what GET /contacts/{id} answers for a merged-away, deleted or unknown one."""
        return self._contact(contact_id)

    def get_company(self, req: ApiRequest) -> Result:
        """One company; a deleted (archived) one answers 404 company_not_found."""
        return 200, self._company(req.path_params["id"])

    def company_segments(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": self._company(req.path_params["id"])["segments"]["segments"]}

    # ---- contacts -----------------------------------------------------------------------------
    def _renderer(self, req: ApiRequest) -> Render | None:
        """With include_merge_history=true, users carry `merge_history` (the merged-away contacts)."""
        if not req.flag("include_merge_history"):
            return None
        history = self.workspace.merge_history

        def render(contact: dict[str, Any]) -> dict[str, Any]:
            if contact["role"] != "user":
                return contact
            return dict(contact, merge_history=list(history.get(contact["id"], ())))

        return render

    def _contact(self, contact_id: str) -> dict[str, Any]:
        """A live contact, or the answer Intercom gives for a merged-away, deleted or unknown one."""
        ws = self.workspace
        contact = ws.contacts.get(contact_id)
        if contact is not None:
            return contact
        target = ws.merge_target(contact_id)
        if target is not None and self.merged_contact_status == 410:
            raise ApiError("This contact has been merged. See the 'Link' header for the canonical contact.",
                           code="contact_merged", status=410,
                           headers={"Link": f'</contacts/{target}>; rel="canonical"'})
        raise ApiError("User Not Found", code="not_found", status=404)

    def get_contact(self, req: ApiRequest) -> Result:
        contact = self._contact(req.path_params["id"])
        render = self._renderer(req)
        body = dict(render(contact) if render else contact)
        body.setdefault("enabled_push_messaging", None)
        return 200, body

    def contact_tags(self, req: ApiRequest) -> Result:
        """Every tag on the contact (its embedded list may be truncated)."""
        contact = self._contact(req.path_params["id"])
        return 200, {"type": "list", "data": self.workspace.contact_tags(contact["id"])}

    def contact_companies(self, req: ApiRequest) -> Result:
        """Every company of the contact, by page (its embedded list may be truncated).

        The list key is `data`, as in the description's example (its schema says `companies`).
        """
        contact = self._contact(req.path_params["id"])
        per_page = parse_per_page(req.arg("per_page"), 50)
        page = req.int_arg("page", 1, minimum=1) or 1
        companies = self.workspace.contact_companies(contact["id"])
        chunk = companies[(page - 1) * per_page: page * per_page]
        return 200, {"type": "list", "data": chunk, "total_count": len(companies),
                     "pages": pages_link(req.base_url, req.path, {}, page, per_page, len(companies))}

    def list_contacts(self, req: ApiRequest) -> Result:
        return self.cursor_list(req, "contacts", "list", "data", 50, self._renderer(req))

    def search_contacts(self, req: ApiRequest) -> Result:
        return self.search(req, "contacts", "list", "data", 50, self._renderer(req))

    # ---- conversations ------------------------------------------------------------------------
    def list_conversations(self, req: ApiRequest) -> Result:
        return self.cursor_list(req, "conversations", "conversation.list", "conversations", 20)

    def search_conversations(self, req: ApiRequest) -> Result:
        return self.search(req, "conversations", "conversation.list", "conversations", 20)

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

    def deleted_conversations(self, req: ApiRequest) -> Result:
        """Ids of deleted conversations with `deleted_at`, newest deletion first unless order=asc."""
        per_page = parse_per_page(req.arg("per_page"), 20, maximum=DELETED_MAX_PER_PAGE)
        page = req.int_arg("page", 1, minimum=1) or 1
        order = req.arg("order") or "desc"
        if order not in ("asc", "desc"):
            raise ApiError(f"Invalid order '{order}'. Must be one of: asc, desc", code="parameter_invalid")
        with self.workspace.lock:
            rows = sorted(self.workspace.deleted_conversations.items(),
                          key=lambda kv: (kv[1]["deleted_at"], kv[0]), reverse=order == "desc")
        chunk = rows[(page - 1) * per_page: page * per_page]
        return 200, {
            "type": "conversations.list", "total_count": len(rows),
            "pages": pages_link(req.base_url, req.path, {"order": order}, page, per_page, len(rows)),
            "conversations": [{"type": "conversation", "id": conv_id, "metrics_retained": row["metrics_retained"],
                               "deleted_at": row["deleted_at"]} for conv_id, row in chunk],
        }

    # ---- shared list machinery ----------------------------------------------------------------
    def cursor_list(self, req: ApiRequest, kind: str, type_name: str, key: str, default_per_page: int,
                    render: Render | None = None) -> Result:
        """A GET list paged by `starting_after` cursors (contacts, conversations)."""
        per_page = parse_per_page(req.arg("per_page"), default_per_page)
        marker = query_marker(req.method, req.path)
        cursor = req.arg("starting_after")
        offset = decode_cursor(cursor, marker) if cursor is not None else 0
        ws = self.workspace
        with ws.lock:
            total = len(ws.records(kind))
            ids = list(islice(ws.records(kind), offset, offset + per_page))
        chunk = ws.render_ids(kind, ids)
        if render:
            chunk = [render(r) for r in chunk]
        return 200, {"type": type_name, key: chunk, "total_count": total,
                     "pages": cursor_pages(total, offset, per_page, marker)}

    def search(self, req: ApiRequest, kind: str, type_name: str, key: str, default_per_page: int,
               render: Render | None = None) -> Result:
        """A POST search: query language, sort, and cursor paging in the request body."""
        body = req.json_body()
        if "query" not in body:
            raise ApiError("query is required", code="parameter_not_found")
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise ApiError("pagination must be an object", code="parameter_invalid")
        per_page = parse_per_page(pagination.get("per_page"), default_per_page)
        sort = parse_sort(body.get("sort"))
        compiler = QueryCompiler(kind, self.workspace)
        predicate = compiler.compile(body["query"])
        marker = query_marker(kind, body["query"], body.get("sort"))
        cursor = pagination.get("starting_after")
        offset = decode_cursor(cursor, marker) if cursor is not None else 0

        def compute() -> list[str]:
            return find_ids(self.workspace, kind, compiler, predicate, body["query"], sort)

        # not a snapshot: a page after an edit is cut from the result recomputed over the current records
        ids = self.cache.get(marker, self.workspace.generation, compute)
        page_ids, pages = page_of(ids, offset, per_page, marker)
        chunk = self.workspace.render_ids(kind, page_ids)
        if render:
            chunk = [render(r) for r in chunk]
        return 200, {"type": type_name, key: chunk, "total_count": len(ids), "pages": pages}
