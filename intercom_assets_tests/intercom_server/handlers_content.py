"""Endpoints of the smaller resources: /me, conversation attributes, help center, news, subscription types,
away status reasons, and admin activity logs.

Paging: help center collections, articles, news items and newsfeeds answer the description's cursor_pages
(`pages.next.starting_after`) and also take `page`/`per_page`, which is how clients page them in practice;
activity logs page by `starting_after` (their range is `created_at_after` < created_at < `created_at_before`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .paging import cursor_pages, decode_cursor, page_number_offset, page_of, parse_per_page, query_marker
from .routing import ApiRequest, Result, RouteSpec

if TYPE_CHECKING:
    from .handlers import IntercomApi


class ContentEndpoints:
    """The small resources' endpoints over one workspace."""

    def __init__(self, api: IntercomApi) -> None:
        self.workspace = api.workspace

    def routes(self) -> list[RouteSpec]:
        return [
            ("GET", "/me", self.me),
            ("GET", "/conversations/attributes", self.conversation_attributes),
            ("GET", "/help_center/help_centers", self.help_centers),
            ("GET", "/help_center/collections", self.collections),
            ("GET", "/articles", self.articles),
            ("GET", "/news/news_items", self.news_items),
            ("GET", "/news/newsfeeds", self.newsfeeds),
            ("GET", "/subscription_types", self.subscription_types),
            ("GET", "/away_status_reasons", self.away_status_reasons),
            ("GET", "/admins/activity_logs", self.activity_logs),
        ]

    # ---- unpaged lists ------------------------------------------------------------------------
    def me(self, req: ApiRequest) -> Result:
        return 200, self.workspace.me()

    def conversation_attributes(self, req: ApiRequest) -> Result:
        """Conversation attributes; archived ones only with include_archived=true."""
        keep_archived = req.flag("include_archived")
        data = [a for a in self.workspace.conversation_attributes if keep_archived or not a["archived"]]
        return 200, {"type": "list", "data": data}

    def help_centers(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": self.workspace.help_centers}

    def subscription_types(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": self.workspace.subscription_types}

    def away_status_reasons(self, req: ApiRequest) -> Result:
        """Every reason, soft-deleted ones included (`deleted: true`)."""
        return 200, {"type": "list", "data": self.workspace.away_status_reasons}

    # ---- paged lists --------------------------------------------------------------------------
    def _paged(self, req: ApiRequest, items: list[dict[str, Any]], default_per_page: int) -> Result:
        per_page = parse_per_page(req.arg("per_page"), default_per_page)
        marker = query_marker(req.method, req.path)
        offset = page_number_offset(req.int_arg("page", 1, minimum=1), req.arg("starting_after"), per_page, marker)
        chunk, pages = page_of(items, offset, per_page, marker)
        return 200, {"type": "list", "pages": pages, "total_count": len(items), "data": chunk}

    def _newest_first(self, kind: str) -> list[dict[str, Any]]:
        """The description: "returned in descending order on the `updated_at` attribute"."""
        return sorted(self.workspace.snapshot(kind), key=lambda r: (r["updated_at"], r["id"]), reverse=True)

    def collections(self, req: ApiRequest) -> Result:
        return self._paged(req, self._newest_first("collections"), 20)

    def articles(self, req: ApiRequest) -> Result:
        return self._paged(req, self._newest_first("articles"), 25)

    def news_items(self, req: ApiRequest) -> Result:
        return self._paged(req, self._newest_first("news_items"), 10)

    def newsfeeds(self, req: ApiRequest) -> Result:
        return self._paged(req, self.workspace.newsfeeds, 10)

    def activity_logs(self, req: ApiRequest) -> Result:
        """Activity in (created_at_after, created_at_before), newest first, 20 a page by default."""
        after = _timestamp(req, "created_at_after", required=True)
        before = _timestamp(req, "created_at_before", required=False)
        if before is None:
            before = self.workspace.now + 1
        per_page = parse_per_page(req.arg("per_page"), 20)
        marker = query_marker(req.method, req.path, after, before)
        cursor = req.arg("starting_after")
        offset = decode_cursor(cursor, marker) if cursor is not None else 0
        logs, total = self.workspace.activity.page(after, before, offset, per_page)
        pages = cursor_pages(total, offset, per_page, marker)
        return 200, {"type": "activity_log.list", "pages": pages, "activity_logs": logs}


def _timestamp(req: ApiRequest, name: str, required: bool) -> int | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(f"{name} is a required parameter", code="parameter_not_found")
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(f"{name} must be a UNIX timestamp", code="parameter_invalid") from None
