"""Reading Intercom's answers: a page's records and where the next page starts, an error body's code and message.

Pure functions of the answer's bytes or JSON, so every endpoint pages and reports errors the same way. Whatever
response text they copy into a message is scrubbed of the access token and shortened.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from intercom_assets.intercom.errors import IntercomAPIError

MAX_ERROR_TEXT = 300


def json_object(content: bytes) -> tuple[dict | None, str]:
    """A 2xx body as a JSON object, or None and why not ("non-JSON", "non-object JSON")."""
    try:
        payload = json.loads(content)
    except ValueError:
        return None, "non-JSON"
    return (payload, "") if isinstance(payload, dict) else (None, "non-object JSON")


def records(payload: dict, list_key: str, endpoint: str) -> list[dict]:
    """The record list of a page; `list_key` may name alternatives (``"data|companies"``)."""
    for key in list_key.split("|"):
        found = payload.get(key)
        if isinstance(found, list):
            return found
    raise IntercomAPIError(endpoint, 200, "unexpected_response",
                           f"the response has no {list_key!r} list (keys: {sorted(payload)[:10]})")


def next_page(payload: dict, endpoint: str) -> dict[str, Any] | None:
    """What to add to the next request: ``{"starting_after": cursor}`` or ``{"page": n}``; None at the end."""
    pages = payload.get("pages")
    if not isinstance(pages, dict) or "next" not in pages:
        # no `next` at all: lists that page by number say where they are (GET /calls in `pages`; GET
        # /content_snippets and /audiences at the top level) and how many pages there are
        return _following_number(pages if isinstance(pages, dict) else payload)
    nxt = pages.get("next")
    if isinstance(nxt, dict):
        cursor = nxt.get("starting_after")
        if isinstance(cursor, str) and cursor:
            return {"starting_after": cursor}
        page = nxt.get("page")
        return {"page": page} if isinstance(page, int) and not isinstance(page, bool) else None
    if isinstance(nxt, str) and nxt:
        query = parse_qs(urlsplit(nxt).query)
        cursor_values, page_values = query.get("starting_after"), query.get("page")
        if cursor_values and cursor_values[0]:
            return {"starting_after": cursor_values[0]}
        if page_values and page_values[0].isdigit():
            return {"page": int(page_values[0]), **({"per_page": query["per_page"][0]} if "per_page" in query
                                                     else {})}
        raise IntercomAPIError(endpoint, 200, "unsupported_paging", "pages.next is a URL with no cursor or page")
    return None


def _following_number(where: dict) -> dict[str, Any] | None:
    """``{"page": n + 1}`` when `where` says it is page n of more; None otherwise (a single page)."""
    page, total = where.get("page"), where.get("total_pages")
    if isinstance(page, int) and isinstance(total, int) and not isinstance(page, bool) and page < total:
        return {"page": page + 1}
    return None


def scrub(text: str, secret: str) -> str:
    """`text` without `secret`, shortened to MAX_ERROR_TEXT characters: safe to put in an exception."""
    text = text.replace(secret, "[token]")
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


def error_details(content: bytes, secret: str) -> tuple[str | None, str]:
    """Intercom's error code and message from an error body, scrubbed of `secret` and shortened."""
    try:
        payload = json.loads(content)
    except ValueError:
        text = content[:MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
        return None, scrub(text or "empty body", secret)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, message = errors[0].get("code"), errors[0].get("message")
        return (scrub(str(code), secret) if code else None,
                scrub(str(message), secret) if message else "no message")
    return None, scrub(content[:MAX_ERROR_TEXT].decode("utf-8", "replace"), secret)
