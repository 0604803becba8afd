"""Behaviour tests of the test server's newer resources: tickets, help center, news, activity logs, settings
lists, and the contact tag/company lists (paging, the 500-part cap, truncated embedded lists)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import IntercomTestServer, Workspace
from intercom_assets_tests.intercom_server.vocab import SCALES

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"}
NOW = int(TEST_NOW.timestamp())


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def search_tickets(http: requests.Session, srv: IntercomTestServer, query: dict[str, Any],
                   **extra: Any) -> list[dict[str, Any]]:
    """Every ticket of a search, following the cursor in the body."""
    pagination: dict[str, Any] = {"per_page": 150}
    out: list[dict[str, Any]] = []
    while True:
        response = http.post(srv.base_url + "/tickets/search", json={"query": query, "pagination": pagination, **extra})
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body["tickets"])
        if not body["pages"].get("next"):
            return out
        pagination = {"per_page": 150, "starting_after": body["pages"]["next"]["starting_after"]}


def test_me_names_the_workspace_time_zone(http: requests.Session) -> None:
    for zone in ("America/Los_Angeles", "Asia/Kolkata"):
        with IntercomTestServer(token=TEST_TOKEN, seed=2, now=TEST_NOW, workspace_timezone=zone) as srv:
            me = http.get(srv.base_url + "/me").json()
            assert me["type"] == "admin" and me["id"] == srv.workspace.admins[0]["id"]
            assert me["app"]["timezone"] == zone and me["app"]["id_code"] == srv.workspace.app_id


# ---- tickets ------------------------------------------------------------------------------------
def test_ticket_search_pages_sorts_and_compares_exact_seconds(intercom_server: IntercomTestServer,
                                                              http: requests.Session) -> None:
    ws = intercom_server.workspace
    everything = {"field": "updated_at", "operator": ">", "value": 0}
    rows = search_tickets(http, intercom_server, everything, sort={"field": "updated_at", "order": "ascending"})
    assert [r["id"] for r in rows] == [t["id"] for t in sorted(ws.tickets.values(),
                                                                 key=lambda t: (t["updated_at"], t["id"]))]
    first = http.post(intercom_server.base_url + "/tickets/search", json={"query": everything}).json()
    assert first["type"] == "ticket.list" and first["pages"]["per_page"] == 20
    assert first["total_count"] == len(ws.tickets)
    x = sorted(t["updated_at"] for t in ws.tickets.values())[len(ws.tickets) // 2]

    def ids(query: dict[str, Any]) -> set[str]:
        return {t["id"] for t in search_tickets(http, intercom_server, query)}

    assert ids({"field": "updated_at", "operator": ">", "value": x}) == {
        i for i, t in ws.tickets.items() if t["updated_at"] >= x}
    assert ids({"field": "updated_at", "operator": "<", "value": x}) == {
        i for i, t in ws.tickets.items() if t["updated_at"] < x}
    assert ids({"field": "updated_at", "operator": "=", "value": str(x)}) == {
        i for i, t in ws.tickets.items() if t["updated_at"] == x}
    assert ids({"field": "created_at", "operator": "<=", "value": x}) == {
        i for i, t in ws.tickets.items() if t["created_at"] <= x}
    for bad in ({"per_page": 151}, {"starting_after": "nope"}):
        assert http.post(intercom_server.base_url + "/tickets/search",
                         json={"query": everything, "pagination": bad}).status_code == 400
    assert http.post(intercom_server.base_url + "/tickets/search", json={
        "query": {"field": "updated_at", "operator": ">=", "value": x}}).status_code == 400


def test_ticket_search_fields(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    ticket = next(t for t in ws.tickets.values() if t["category"] == "Tracker")
    contact_id = ticket["contacts"]["contacts"][0]["id"]
    assert ticket["id"] in {t["id"] for t in search_tickets(http, intercom_server,
                                                             {"field": "contact_ids", "operator": "=",
                                                              "value": contact_id})}
    trackers = search_tickets(http, intercom_server, {"field": "category", "operator": "=", "value": "tracker"})
    assert {t["id"] for t in trackers} == {i for i, t in ws.tickets.items() if t["category"] == "Tracker"}
    resolved = search_tickets(http, intercom_server, {"operator": "AND", "value": [
        {"field": "state", "operator": "=", "value": "resolved"},
        {"field": "ticket_type_id", "operator": "=", "value": ticket["ticket_type"]["id"]}]})
    assert resolved and all(t["ticket_state"]["category"] == "resolved" and not t["open"] for t in resolved)
    assert all(t["ticket_parts"]["type"] == "ticket_part.list" for t in resolved)


def test_ticket_parts_show_the_newest_500(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    every = ws.ticket_parts(ws.big_ticket_id)
    assert len(every) > 500
    body = http.get(f"{intercom_server.base_url}/tickets/{ws.big_ticket_id}").json()
    parts = body["ticket_parts"]
    assert parts["total_count"] == len(every)
    assert [p["id"] for p in parts["ticket_parts"]] == [p["id"] for p in every[-500:]]
    in_search = search_tickets(http, intercom_server, {"field": "id", "operator": "=", "value": ws.big_ticket_id})
    assert in_search[0]["ticket_parts"]["total_count"] == len(every)
    assert len(in_search[0]["ticket_parts"]["ticket_parts"]) == 500
    for ticket_id, ticket in list(ws.tickets.items())[:40]:
        changes = [p for p in ws.ticket_parts(ticket_id) if p["part_type"] == "ticket_state_updated_by_admin"]
        final = changes[-1]["ticket_state"] if changes else "submitted"
        assert final == ticket["ticket_state"]["category"]
    assert http.get(f"{intercom_server.base_url}/tickets/404").status_code == 404


def test_ticket_types_and_states(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    types = http.get(intercom_server.base_url + "/ticket_types").json()
    assert types["type"] == "list" and len(types["data"]) == len(ws.ticket_types)
    assert any(t["archived"] for t in types["data"]) and {t["category"] for t in types["data"]} == {
        "Customer", "Back-office", "Tracker"}
    assert all(t["ticket_states"]["data"] for t in types["data"])
    states = http.get(intercom_server.base_url + "/ticket_states").json()["data"]
    assert {s["category"] for s in states} == {"submitted", "in_progress", "waiting_on_customer", "resolved"}
    assert any(s["archived"] for s in states)
    type_ids = {t["id"] for t in ws.ticket_types}
    assert {t["ticket_type"]["id"] for t in ws.tickets.values()} <= type_ids
    assert all(t["admin_assignee_id"] == 0 or str(t["admin_assignee_id"]) in {a["id"] for a in ws.admins}
               for t in ws.tickets.values())


# ---- help center, news, settings lists ------------------------------------------------------------
@pytest.mark.parametrize("path,kind,default", [("/articles", "articles", 25),
                                               ("/help_center/collections", "collections", 20),
                                               ("/news/news_items", "news_items", 10)])
def test_content_lists_page_by_page_or_cursor_newest_first(intercom_server: IntercomTestServer, http: requests.Session,
                                                           path: str, kind: str, default: int) -> None:
    url = intercom_server.base_url + path
    records = intercom_server.workspace.records(kind)
    first = http.get(url).json()
    assert first["pages"]["per_page"] == default and first["total_count"] == len(records)
    by_page, page = [], 1
    while True:
        body = http.get(url, params={"page": page, "per_page": 7}).json()
        if not body["data"]:
            break
        by_page += body["data"]
        page += 1
    assert page - 1 == body["pages"]["total_pages"]
    by_cursor, params = [], {"per_page": 7}
    while True:
        body = http.get(url, params=params).json()
        by_cursor += body["data"]
        if "next" not in body["pages"]:
            break
        params = {"per_page": 7, "starting_after": body["pages"]["next"]["starting_after"]}
    assert [r["id"] for r in by_page] == [r["id"] for r in by_cursor]
    assert sorted(r["id"] for r in by_page) == sorted(records)
    assert [r["updated_at"] for r in by_page] == sorted((r["updated_at"] for r in by_page), reverse=True)
    oldest = by_page[-1]["id"]
    intercom_server.touch(kind, oldest, NOW - 5)
    assert http.get(url).json()["data"][0]["id"] == oldest
    recent = [r for r in records.values() if r["updated_at"] > NOW - 30 * 86_400]
    assert 0.1 <= len(recent) / len(records) <= 0.25
    assert min(r["created_at"] for r in records.values()) < NOW - 300 * 86_400


def test_settings_lists(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url = intercom_server.base_url
    reasons = http.get(url + "/away_status_reasons").json()["data"]
    assert any(r["deleted"] for r in reasons) and any(not r["deleted"] for r in reasons)
    away = [a for a in intercom_server.workspace.admins if a["away_mode_enabled"]]
    assert all(str(a["away_status_reason_id"]) in {r["id"] for r in reasons if not r["deleted"]} for a in away)
    subscriptions = http.get(url + "/subscription_types").json()["data"]
    assert {s["consent_type"] for s in subscriptions} == {"opt_in", "opt_out"}
    centers = http.get(url + "/help_center/help_centers").json()
    assert centers["type"] == "list" and len(centers["data"]) == intercom_server.workspace.size.help_centers
    feeds = http.get(url + "/news/newsfeeds").json()
    assert feeds["total_count"] == len(feeds["data"]) == intercom_server.workspace.size.newsfeeds
    live = http.get(url + "/conversations/attributes").json()["data"]
    every = http.get(url + "/conversations/attributes", params={"include_archived": "true"}).json()["data"]
    assert not any(a["archived"] for a in live) and len(every) == len(live) + 1
    assert {"issue_type", "priority_score"} <= {a["name"] for a in live}
    assert {a["data_type"] for a in every} >= {"string", "list", "integer", "decimal", "boolean", "datetime"}
    assert http.get(url + "/data_attributes", params={"model": "conversation"}).status_code == 422


# ---- activity logs ---------------------------------------------------------------------------------
def test_activity_logs_cover_the_year_newest_first(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url = intercom_server.base_url + "/admins/activity_logs"
    assert http.get(url).status_code == 400
    assert http.get(url, params={"created_at_after": "yesterday"}).status_code == 400
    params: dict[str, Any] = {"created_at_after": NOW - 420 * 86_400, "per_page": 150}
    logs: list[dict[str, Any]] = []
    while True:
        body = http.get(url, params=params).json()
        assert body["type"] == "activity_log.list"
        logs += body["activity_logs"]
        if "next" not in body["pages"]:
            break
        params["starting_after"] = body["pages"]["next"]["starting_after"]
    stamps = [log["created_at"] for log in logs]
    assert stamps == sorted(stamps, reverse=True) and len({log["id"] for log in logs}) == len(logs)
    assert stamps[-1] < NOW - 390 * 86_400 and stamps[0] > NOW - 86_400
    types = {log["activity_type"] for log in logs}
    assert {"conversation_part_deletion", "message_deletion", "bulk_delete"} <= types
    assert http.get(url, params={"created_at_after": 0}).json()["pages"]["per_page"] == 20
    a, b = stamps[200], stamps[100]
    window = http.get(url, params={"created_at_after": a, "created_at_before": b, "per_page": 150}).json()
    assert [log["created_at"] for log in window["activity_logs"]] == [s for s in stamps if a < s < b]


# ---- contacts' tags and companies ---------------------------------------------------------------
def test_embedded_lists_truncated_or_undercounted_and_full_lists(intercom_server: IntercomTestServer,
                                                                 http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    assert ws.truncated_tags_contact_ids and ws.undercounted_tags_contact_ids
    assert ws.truncated_companies_contact_ids and ws.undercounted_companies_contact_ids
    for key, truncated, undercounted in [("tags", ws.truncated_tags_contact_ids, ws.undercounted_tags_contact_ids),
                                         ("companies", ws.truncated_companies_contact_ids,
                                          ws.undercounted_companies_contact_ids)]:
        for contact_id in truncated + undercounted:
            embedded = http.get(f"{url}/contacts/{contact_id}").json()[key]
            assert embedded["total_count"] > len(embedded["data"])
            assert embedded["has_more"] is (contact_id in truncated)
            if contact_id in truncated:
                assert len(embedded["data"]) == 10
            full = http.get(f"{url}/contacts/{contact_id}/{key}", params={"per_page": 150}).json()
            assert len(full["data"]) == embedded["total_count"]
            assert {i["id"] for i in embedded["data"]} <= {i["id"] for i in full["data"]}
    plain = next(c for c in ws.contacts.values() if c["tags"]["data"] and c["id"] not in ws.contact_tag_ids)
    tags = http.get(f"{url}/contacts/{plain['id']}/tags").json()["data"]
    assert [t["id"] for t in tags] == [t["id"] for t in plain["tags"]["data"]]
    assert all(plain["created_at"] <= t["applied_at"] <= plain["updated_at"] and t["applied_by"]["type"] == "admin"
               for t in tags)


def test_contact_companies_page_with_next_links(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    contact_id = ws.truncated_companies_contact_ids[0]
    link: str | None = f"{intercom_server.base_url}/contacts/{contact_id}/companies?per_page=4"
    seen: list[str] = []
    while link:
        body = http.get(link).json()
        assert body["type"] == "list" and body["pages"]["per_page"] == 4
        seen += [c["id"] for c in body["data"]]
        link = body["pages"]["next"]
    assert seen == ws.contact_company_ids[contact_id]
    default = http.get(f"{intercom_server.base_url}/contacts/{contact_id}/companies").json()
    assert default["pages"]["per_page"] == 50 and default["pages"]["next"] is None


def test_conversation_special_cases(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    share = len(ws.unanswered_conversation_ids) / len(ws.conversations)
    assert 0.08 <= share <= 0.12
    for conv_id in ws.unanswered_conversation_ids[:5]:
        body = http.get(f"{url}/conversations/{conv_id}").json()
        assert body["conversation_parts"] == {"type": "conversation_part.list", "conversation_parts": [],
                                              "total_count": 0}
        assert body["statistics"]["count_conversation_parts"] == 0
        assert body["statistics"]["first_admin_reply_at"] is None
    multi = ws.conversations[ws.multi_contact_conversation_ids[0]]
    for ref in multi["contacts"]["contacts"]:
        found = http.post(url + "/conversations/search", json={
            "query": {"field": "contact_ids", "operator": "=", "value": ref["id"]},
            "pagination": {"per_page": 150}}).json()["conversations"]
        assert multi["id"] in {c["id"] for c in found}
    assert len(ws.conversations[ws.multi_tag_conversation_ids[0]]["tags"]["tags"]) >= 3
    assert all(c["teammates"]["type"] == "admin.list" and "admins" in c["teammates"] for c in ws.conversations.values())


def test_new_scale_sizes(intercom_server: IntercomTestServer) -> None:
    ws = intercom_server.workspace
    size = ws.size
    assert len(ws.tickets) == size.tickets and len(ws.articles) == size.articles
    assert len(ws.news_items) == size.news_items and len(ws.collections) == size.collections
    assert len(ws.deleted_conversations) == size.deleted_conversations
    assert len(ws.merged_contacts) == size.merged_leads and len(ws.deleted_contacts) == size.deleted_contacts
    assert len(ws.deleted_companies) == size.deleted_companies
    for deleted in (ws.deleted_contacts, ws.deleted_companies):
        assert max(deleted.values()) > NOW - 7 * 86_400 and min(deleted.values()) < NOW - 30 * 86_400
    assert not set(ws.deleted_conversations) & set(ws.conversations)
    assert not set(ws.merged_contacts) & set(ws.contacts) and not set(ws.deleted_contacts) & set(ws.contacts)
    recent = [t for t in ws.tickets.values() if t["updated_at"] > NOW - 30 * 86_400]
    assert 0.12 <= len(recent) / len(ws.tickets) <= 0.2
    assert all(NOW - 400 * 86_400 <= t["created_at"] <= t["updated_at"] <= NOW for t in ws.tickets.values())
    assert ws.tickets[ws.big_ticket_id]["updated_at"] >= NOW - int(timedelta(days=2).total_seconds())
    again = Workspace(seed=1, now=TEST_NOW)
    for name in ("tickets", "articles", "collections", "news_items", "ticket_types", "ticket_states",
                 "away_status_reasons", "conversation_attributes", "deleted_conversations", "deleted_contacts",
                 "deleted_companies", "merged_contacts", "merge_history", "contact_tag_ids", "contact_company_ids"):
        assert getattr(again, name) == getattr(ws, name), name
    assert again.ticket_parts(ws.big_ticket_id) == ws.ticket_parts(ws.big_ticket_id)
    assert again.activity.day(again.activity.last_day - 3) == ws.activity.day(ws.activity.last_day - 3)
    assert again.contact_tags(ws.truncated_tags_contact_ids[0]) == ws.contact_tags(ws.truncated_tags_contact_ids[0])


def test_special_cases_at_every_scale() -> None:
    for name, size in SCALES.items():
        assert min(size.tickets, size.articles, size.news_items, size.collections, size.deleted_conversations,
                   size.deleted_contacts, size.merged_leads, size.deleted_companies) > 0, name
    ws = Workspace(seed=4, scale="medium", now=TEST_NOW)
    assert ws.counts() == {"contacts": 30_000, "companies": 6_000, "conversations": 9_000}
    assert 0.09 <= len(ws.unanswered_conversation_ids) / len(ws.conversations) <= 0.11
    assert len(ws.ticket_parts(ws.big_ticket_id)) > 500 and len(ws.conversation_parts(ws.big_conversation_id)) > 500
    assert len(ws.truncated_tags_contact_ids) == len(ws.undercounted_tags_contact_ids) > 250
    assert len(ws.merged_contacts) == 40 and len(ws.deleted_conversations) == 60
    moved_to = {m["into"] for m in ws.merged_contacts.values()}
    assert all(ws.contacts[u]["updated_at"] >= max(h["merged_at"] for h in ws.merge_history[u]) for u in moved_to)
    items, total = ws.activity.page(0, ws.now + 1, 0, 10)
    assert total == sum(ws.activity.day_counts) > 10_000 and len(items) == 10
