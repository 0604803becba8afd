"""Behaviour tests of the test server's deletions, merges, refusals and steering API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import IntercomTestServer

REPO = Path(__file__).resolve().parents[1]
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"}
AT = TEST_NOW - timedelta(hours=2)
AT_TS = int(AT.timestamp())
EVERYONE = {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "user"},
                                        {"field": "role", "operator": "=", "value": "lead"}]}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def collect(http: requests.Session, srv: IntercomTestServer, path: str, key: str, body: dict[str, Any] | None = None,
            params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every record of a cursor list (GET) or search (POST with `body`)."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        if body is None:
            response = http.get(srv.base_url + path, params={**(params or {}), "per_page": 150,
                                                             **({"starting_after": cursor} if cursor else {})})
        else:
            pagination = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
            response = http.post(srv.base_url + path, params=params, json={**body, "pagination": pagination})
        assert response.status_code == 200, response.text
        page = response.json()
        out += page[key]
        nxt = page["pages"].get("next")
        if not nxt:
            return out
        cursor = nxt["starting_after"]


def contact_ids(http: requests.Session, srv: IntercomTestServer) -> tuple[set[str], set[str]]:
    """(ids in the contact list, ids in contact search)."""
    listed = {c["id"] for c in collect(http, srv, "/contacts", "data")}
    searched = {c["id"] for c in collect(http, srv, "/contacts/search", "data", {"query": EVERYONE})}
    return listed, searched


# ---- deletions ----------------------------------------------------------------------------------
def test_deleted_conversations_list_and_steering(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    seeded = http.get(url + "/conversations/deleted", params={"per_page": 60}).json()
    assert seeded["type"] == "conversations.list" and seeded["total_count"] == len(ws.deleted_conversations) > 0
    stamps = [c["deleted_at"] for c in seeded["conversations"]]
    assert stamps == sorted(stamps, reverse=True)
    ascending = http.get(url + "/conversations/deleted", params={"per_page": 60, "order": "asc"}).json()
    assert [c["id"] for c in ascending["conversations"]] == [c["id"] for c in reversed(seeded["conversations"])]
    assert http.get(url + "/conversations/deleted").json()["pages"]["per_page"] == 20
    victim = next(iter(ws.conversations))
    intercom_server.delete_conversation(victim, TEST_NOW)  # later than every seeded deletion
    first = http.get(url + "/conversations/deleted", params={"per_page": 1}).json()
    assert first["conversations"] == [{"type": "conversation", "id": victim, "metrics_retained": False,
                                       "deleted_at": int(TEST_NOW.timestamp())}]
    assert first["pages"]["next"].startswith(url + "/conversations/deleted?")
    assert http.get(f"{url}/conversations/{victim}").status_code == 404
    assert victim not in {c["id"] for c in collect(http, intercom_server, "/conversations", "conversations")}
    searched = collect(http, intercom_server, "/conversations/search", "conversations",
                       {"query": {"field": "updated_at", "operator": ">", "value": 0}})
    assert victim not in {c["id"] for c in searched} and len(searched) == len(ws.conversations)
    with pytest.raises(KeyError):
        intercom_server.delete_conversation(victim, AT)


def test_deleted_contacts_answer_404_and_leave_list_and_search(intercom_server: IntercomTestServer,
                                                               http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    seeded = next(iter(ws.deleted_contacts))
    gone = http.get(f"{url}/contacts/{seeded}")
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "not_found"
    victim = ws.truncated_tags_contact_ids[0]
    intercom_server.delete_contact(victim, AT)
    assert ws.deleted_contacts[victim] == AT_TS
    assert http.get(f"{url}/contacts/{victim}").status_code == 404
    assert http.get(f"{url}/contacts/{victim}/tags").status_code == 404
    listed, searched = contact_ids(http, intercom_server)
    assert victim not in listed | searched and listed == searched == set(ws.contacts)


def test_deleted_company_leaves_scroll_and_detaches_contacts(intercom_server: IntercomTestServer,
                                                             http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    seeded = next(iter(ws.deleted_companies))
    assert http.get(f"{url}/companies/{seeded}").json()["errors"][0]["code"] == "company_not_found"
    contact_id = ws.truncated_companies_contact_ids[0]
    contact = ws.contacts[contact_id]
    shown = contact["companies"]["data"][0]["id"]
    total, updated = contact["companies"]["total_count"], contact["updated_at"]
    assert http.get(f"{url}/companies/{shown}").status_code == 200
    detached = intercom_server.delete_company(shown, AT)
    assert contact_id in detached
    for path in (f"/companies/{shown}", f"/companies/{shown}/segments"):
        response = http.get(url + path)
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "company_not_found"
    embedded = http.get(f"{url}/contacts/{contact_id}").json()["companies"]
    assert shown not in {c["id"] for c in embedded["data"]} and embedded["total_count"] == total - 1
    full = http.get(f"{url}/contacts/{contact_id}/companies", params={"per_page": 150}).json()
    assert shown not in {c["id"] for c in full["data"]} and full["total_count"] == total - 1
    assert ws.contacts[contact_id]["updated_at"] == updated
    body = http.get(url + "/companies/scroll").json()
    scrolled = list(body["data"])
    while body["data"]:
        body = http.get(url + "/companies/scroll", params={"scroll_param": body["scroll_param"]}).json()
        scrolled += body["data"]
    assert shown not in {c["id"] for c in scrolled} and len(scrolled) == len(ws.companies)


# ---- merges --------------------------------------------------------------------------------------
def test_seeded_merges_answer_410_and_show_in_merge_history(intercom_server: IntercomTestServer,
                                                            http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    lead_id, merge = next(iter(ws.merged_contacts.items()))
    gone = http.get(f"{url}/contacts/{lead_id}")
    assert gone.status_code == 410 and gone.json()["errors"][0]["code"] == "contact_merged"
    assert gone.headers["Link"] == f'</contacts/{merge["into"]}>; rel="canonical"'
    intercom_server.merged_contact_status = 404
    assert http.get(f"{url}/contacts/{lead_id}").json()["errors"][0]["code"] == "not_found"
    user_id = merge["into"]
    plain = http.get(f"{url}/contacts/{user_id}").json()
    assert "merge_history" not in plain
    with_history = http.get(f"{url}/contacts/{user_id}", params={"include_merge_history": "true"}).json()
    assert {"type": "merge_history", "source_contact_id": lead_id, "source_contact_role": "lead",
            "merged_at": merge["merged_at"]} in with_history["merge_history"]
    for path, key, body in (("/contacts", "data", None), ("/contacts/search", "data", {"query": EVERYONE})):
        rows = collect(http, intercom_server, path, key, body, params={"include_merge_history": "true"})
        by_id = {r["id"]: r for r in rows}
        assert lead_id not in by_id and by_id[user_id]["merge_history"] == with_history["merge_history"]
        assert all(("merge_history" in r) == (r["role"] == "user") for r in rows)
    assert ws.contacts[user_id]["updated_at"] >= merge["merged_at"]
    recent = [m for m in ws.merged_contacts.values() if m["merged_at"] > ws.now - 7 * 86_400]
    assert recent, "at least one merge falls inside the last week"


def test_merge_contact_moves_conversations_at_merge_time(intercom_server: IntercomTestServer,
                                                         http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    lead_id = next(i for i, c in ws.contacts.items() if c["role"] == "lead" and any(
        r["id"] == i for conv in ws.conversations.values() for r in conv["contacts"]["contacts"]))
    user_id = next(i for i, c in ws.contacts.items() if c["role"] == "user" and i not in ws.merge_history)
    with pytest.raises(ValueError):
        intercom_server.merge_contact(user_id, lead_id, AT)
    moved = intercom_server.merge_contact(lead_id, user_id, AT)
    assert moved
    for conv_id in moved:
        body = http.get(f"{url}/conversations/{conv_id}").json()
        assert body["updated_at"] == AT_TS
        assert body["contacts"]["contacts"][0]["id"] == user_id
        assert lead_id not in {c["id"] for c in body["contacts"]["contacts"]}
    by_user = collect(http, intercom_server, "/conversations/search", "conversations",
                      {"query": {"field": "contact_ids", "operator": "=", "value": user_id}})
    assert set(moved) <= {c["id"] for c in by_user}
    assert not collect(http, intercom_server, "/conversations/search", "conversations",
                       {"query": {"field": "contact_ids", "operator": "=", "value": lead_id}})
    assert http.get(f"{url}/contacts/{lead_id}").status_code == 410
    user = http.get(f"{url}/contacts/{user_id}", params={"include_merge_history": "true"}).json()
    assert user["updated_at"] == AT_TS and user["merge_history"][-1]["source_contact_id"] == lead_id
    listed, searched = contact_ids(http, intercom_server)
    assert lead_id not in listed | searched


# ---- refusals ------------------------------------------------------------------------------------
def test_refusals_answer_403_per_endpoint(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url = intercom_server.base_url
    intercom_server.set_refusals({"GET /admins/activity_logs": "forbidden",
                                  "POST /tickets/search": "api_plan_restricted"})
    logs = http.get(url + "/admins/activity_logs", params={"created_at_after": 0})
    assert logs.status_code == 403 and "X-RateLimit-Limit" in logs.headers
    assert logs.json()["errors"] == [{"code": "forbidden", "message": "You do not have the required scope "
                                                                      "(read_admins) to access this resource"}]
    tickets = http.post(url + "/tickets/search", json={"query": {}})
    assert tickets.status_code == 403
    assert tickets.json()["errors"] == [{"code": "api_plan_restricted", "message": "Active subscription needed."}]
    assert http.get(url + "/admins").status_code == 200
    assert http.get(f"{url}/tickets/{intercom_server.workspace.big_ticket_id}").status_code == 200
    assert requests.get(url + "/admins/activity_logs", headers={"Accept": "application/json"}).status_code == 401
    assert intercom_server.request_counts()["POST /tickets/search"] == 1
    with pytest.raises(ValueError):
        intercom_server.set_refusals({"GET /admins/activity_log": "forbidden"})
    assert intercom_server.refusals == {"GET /admins/activity_logs": "forbidden",
                                        "POST /tickets/search": "api_plan_restricted"}
    intercom_server.set_refusals({})
    assert http.get(url + "/admins/activity_logs", params={"created_at_after": 0}).status_code == 200


def test_cli_refuse_flag() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_assets_tests.intercom_server", "--port", "0", "--token", "cli-token",
         "--now", "2026-11-20T12:00:00Z", "--refuse", "GET /articles=api_plan_restricted",
         "--merged-contact-status", "404"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    try:
        base = proc.stdout.readline().strip()
        headers = {**HEADERS, "Authorization": "Bearer cli-token"}
        assert requests.get(base + "/articles", headers=headers).json()["errors"][0]["code"] == "api_plan_restricted"
        assert requests.get(base + "/news/news_items", headers=headers).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run([sys.executable, "-m", "intercom_assets_tests.intercom_server", "--port", "0", "--token", "t",
                          "--refuse", "nonsense"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    assert bad.returncode == 2 and "--refuse" in bad.stderr


# ---- steering of the newer kinds ----------------------------------------------------------------------
def test_touch_add_ticket_parts_and_bump_tickets(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws, url = intercom_server.workspace, intercom_server.base_url
    ticket_id = next(iter(ws.tickets))
    before = len(ws.ticket_parts(ticket_id))
    new = intercom_server.add_ticket_parts(ticket_id, 2, AT)
    body = http.get(f"{url}/tickets/{ticket_id}").json()
    assert body["updated_at"] == AT_TS and body["ticket_parts"]["total_count"] == before + 2
    assert [p["id"] for p in body["ticket_parts"]["ticket_parts"][-2:]] == [p["id"] for p in new]
    found = http.post(url + "/tickets/search", json={"query": {"field": "updated_at", "operator": "=",
                                                               "value": AT_TS}}).json()["tickets"]
    assert ticket_id in {t["id"] for t in found}
    for kind in ("tickets", "articles", "news_items", "collections"):
        record_id = next(iter(ws.records(kind)))
        intercom_server.touch(kind, record_id, AT)
        assert ws.records(kind)[record_id]["updated_at"] == AT_TS
    bumped = intercom_server.bump_fraction(0.1, AT, seed=3, kinds=("conversations", "tickets"))
    assert {k: len(v) for k, v in bumped.items()} == {"conversations": 30, "tickets": 12}
    assert all(ws.tickets[i]["updated_at"] == AT_TS for i in bumped["tickets"])
    assert set(intercom_server.bump_fraction(0.1, AT, seed=3)) == {"contacts", "companies", "conversations"}
