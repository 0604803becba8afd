"""Behaviour tests of the Intercom test server: HTTP rules, paging, search semantics, scroll, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import Faults, IntercomTestServer, Workspace
from intercom_assets_tests.intercom_server.ratelimit import window_limit

REPO = Path(__file__).resolve().parents[1]
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def search(http: requests.Session, srv: IntercomTestServer, kind: str, query: dict[str, Any],
           **extra: Any) -> list[dict[str, Any]]:
    """All records of a search, following cursors in the body."""
    key = "data" if kind == "contacts" else "conversations"
    pagination: dict[str, Any] = {"per_page": 150}
    out: list[dict[str, Any]] = []
    while True:
        response = http.post(f"{srv.base_url}/{kind}/search", json={"query": query, "pagination": pagination, **extra})
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body[key])
        nxt = body["pages"].get("next")
        if not nxt:
            return out
        pagination = {"per_page": 150, "starting_after": nxt["starting_after"]}


def scroll_all(http: requests.Session, srv: IntercomTestServer) -> list[dict[str, Any]]:
    body = http.get(f"{srv.base_url}/companies/scroll").json()
    out = list(body["data"])
    while body["data"]:
        response = http.get(f"{srv.base_url}/companies/scroll", params={"scroll_param": body["scroll_param"]})
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body["data"])
    return out


# ---- CLI --------------------------------------------------------------------------------------
def test_cli_prints_url_first_and_stops_on_sigterm() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_assets_tests.intercom_server", "--port", "0", "--token", "cli-token",
         "--seed", "3", "--now", "2026-11-20T12:00:00Z", "--workspace-timezone", "Europe/Berlin",
         "--rate-limit", "600", "--faults", "rate500=0,scroll_exists=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:")
        response = requests.get(first + "/admins", headers={**HEADERS, "Authorization": "Bearer cli-token"})
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "100"
        scroll = requests.get(first + "/companies/scroll", headers={**HEADERS, "Authorization": "Bearer cli-token"})
        assert scroll.json()["errors"][0]["code"] == "scroll_exists"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_fault_spec() -> None:
    proc = subprocess.run([sys.executable, "-m", "intercom_assets_tests.intercom_server", "--port", "0",
                           "--token", "t", "--faults", "bogus=1"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, timeout=30)
    assert proc.returncode == 2
    assert "faults" in proc.stderr


# ---- cross-cutting HTTP rules -----------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TEST_TOKEN}", "Bearer"])
def test_bad_token_gets_401_without_rate_headers(intercom_server: IntercomTestServer, auth: str | None) -> None:
    headers = {"Accept": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    response = requests.get(intercom_server.base_url + "/admins", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error.list" and body["request_id"]
    assert body["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
    assert not any(h.lower().startswith("x-ratelimit") for h in response.headers)


@pytest.mark.parametrize("accept,status", [("text/html", 406), (None, 406), ("application/json;q=0", 406),
                                           ("*/*", 200), ("application/json", 200),
                                           ("text/html, application/json;q=0.5", 200)])
def test_accept_must_allow_json(intercom_server: IntercomTestServer, accept: str | None, status: int) -> None:
    headers = {"Authorization": f"Bearer {TEST_TOKEN}"}
    if accept is not None:
        headers["Accept"] = accept
    with requests.Session() as session:
        session.headers.pop("Accept", None)
        response = session.get(intercom_server.base_url + "/teams", headers=headers)
    assert response.status_code == status
    if status == 406:
        assert response.json()["errors"][0]["code"] == "not_acceptable"


def test_unknown_path_and_version(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    response = http.get(intercom_server.base_url + "/nowhere")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    assert http.delete(intercom_server.base_url + "/admins").status_code == 404
    bad = http.get(intercom_server.base_url + "/admins", headers={"Intercom-Version": "9.9"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "intercom_version_invalid"


def test_simple_endpoints(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url, ws = intercom_server.base_url, intercom_server.workspace
    assert len(http.get(url + "/admins").json()["admins"]) == len(ws.admins)
    assert http.get(url + "/teams").json()["type"] == "team.list"
    assert http.get(url + "/tags").json()["data"] == ws.tags
    plain = http.get(url + "/segments").json()["segments"]
    counted = http.get(url + "/segments", params={"include_count": "true"}).json()["segments"]
    assert "count" not in plain[0] and isinstance(counted[0]["count"], int)
    assert {s["person_type"] for s in plain} == {"user", "contact"}
    contact_attrs = http.get(url + "/data_attributes", params={"model": "contact"}).json()["data"]
    assert any("id" not in a for a in contact_attrs) and any(a.get("custom") and "id" in a for a in contact_attrs)
    company_attrs = http.get(url + "/data_attributes", params={"model": "company"}).json()["data"]
    assert [a["name"] for a in company_attrs].count("name") == 2
    conv = http.get(url + "/data_attributes", params={"model": "conversation"})
    assert conv.status_code == 422 and conv.json()["errors"][0]["code"] == "parameter_invalid"


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll a state the server reaches (not a guess at how long it takes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.005)


def test_keep_alive_and_concurrency_tracking(intercom_server: IntercomTestServer) -> None:
    intercom_server.reset_counts()
    gate = intercom_server.hold_requests()

    def call(_: int) -> int:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            return session.get(intercom_server.base_url + "/tags").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = pool.map(call, range(16))
        _wait_until(lambda: intercom_server.in_flight() == 16, "all 16 requests held in flight at once")
        gate.set()
        assert set(statuses) == {200}
    assert intercom_server.max_in_flight() == 16
    assert intercom_server.request_counts() == {"GET /tags": 16}
    # a handler thread leaves after its answer is sent: the client may have it first
    _wait_until(lambda: intercom_server.in_flight() == 0, "every handler finished")
    intercom_server.reset_counts()
    assert intercom_server.max_in_flight() == 0 and intercom_server.request_counts() == {}


def test_latency_knob(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.set_latency_ms(150)
    start = time.monotonic()
    http.get(intercom_server.base_url + "/tags")
    assert time.monotonic() - start >= 0.15


# ---- paging -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path,key", [("/contacts", "data"), ("/conversations", "conversations")])
def test_cursor_lists_page_everything_once(intercom_server: IntercomTestServer, http: requests.Session,
                                           path: str, key: str) -> None:
    params: dict[str, Any] = {"per_page": 150}
    ids: list[str] = []
    pages = 0
    while True:
        body = http.get(intercom_server.base_url + path, params=params).json()
        ids.extend(r["id"] for r in body[key])
        pages += 1
        assert body["pages"]["page"] == pages
        if "next" not in body["pages"]:
            break
        params["starting_after"] = body["pages"]["next"]["starting_after"]
    kind = path.strip("/")
    assert len(ids) == len(set(ids)) == len(getattr(intercom_server.workspace, kind)) == body["total_count"]
    assert pages == body["pages"]["total_pages"]


def test_search_paging_rules(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url = intercom_server.base_url + "/contacts/search"
    query = {"field": "role", "operator": "=", "value": "user"}
    first = http.post(url, json={"query": query, "pagination": {"per_page": 150}}).json()
    assert first["pages"]["per_page"] == 150 and len(first["data"]) == 150
    cursor = first["pages"]["next"]["starting_after"]
    ignored = http.post(url + f"?starting_after={cursor}", json={"query": query, "pagination": {"per_page": 150}})
    assert ignored.json()["data"] == first["data"]
    default = http.post(url, json={"query": query}).json()
    assert default["pages"]["per_page"] == 50
    for bad in ({"per_page": 151}, {"per_page": 0}, {"per_page": "x"}, {"starting_after": "not-a-cursor"}):
        response = http.post(url, json={"query": query, "pagination": bad})
        assert response.status_code == 400, bad
    other = http.post(url, json={"query": {"field": "role", "operator": "=", "value": "lead"},
                                 "pagination": {"starting_after": cursor}})
    assert other.status_code == 400
    assert http.post(url, json={"pagination": {}}).status_code == 400
    assert http.post(url, data=b"{nope", headers={"Content-Type": "application/json"}).status_code == 400
    conv = http.post(intercom_server.base_url + "/conversations/search", json={"query": {
        "field": "state", "operator": "IN", "value": ["open", "closed", "snoozed"]}}).json()
    assert conv["type"] == "conversation.list" and conv["pages"]["per_page"] == 20
    assert conv["total_count"] == len(intercom_server.workspace.conversations)


def test_search_sorting_and_operators(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    everything = {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "user"},
                                              {"field": "role", "operator": "=", "value": "lead"}]}
    rows = search(http, intercom_server, "contacts", everything, sort={"field": "updated_at", "order": "ascending"})
    assert [r["updated_at"] for r in rows] == sorted(r["updated_at"] for r in ws.contacts.values())
    leads_without_email = search(http, intercom_server, "contacts", {"operator": "AND", "value": [
        {"field": "role", "operator": "=", "value": "lead"}, {"field": "email", "operator": "=", "value": None}]})
    assert leads_without_email and all(r["email"] is None and r["role"] == "lead" for r in leads_without_email)
    domains = search(http, intercom_server, "contacts",
                     {"field": "email", "operator": "$", "value": "MAIL.example.org"})
    assert domains and all(r["email"].endswith("@mail.example.org") for r in domains)
    bad_sort = http.post(intercom_server.base_url + "/contacts/search",
                         json={"query": everything, "sort": {"field": "updated_at", "order": "desc"}})
    assert bad_sort.status_code == 400 and bad_sort.json()["errors"][0]["code"] == "invalid_sort_order"
    too_many = {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "user"}] * 16}
    assert http.post(intercom_server.base_url + "/contacts/search", json={"query": too_many}).status_code == 400
    contact_id = next(iter(ws.contacts))
    by_contact = search(http, intercom_server, "conversations",
                        {"field": "contact_ids", "operator": "=", "value": contact_id})
    assert {c["id"] for c in by_contact} == {c["id"] for c in ws.conversations.values()
                                              if any(r["id"] == contact_id for r in c["contacts"]["contacts"])}


# ---- day-granular contact search ----------------------------------------------------------------
def _local_bounds(ts: int, tz: ZoneInfo) -> tuple[int, int]:
    day = datetime.fromtimestamp(ts, tz).date()
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = start.date() + timedelta(days=1)
    return int(start.timestamp()), int(datetime(end.year, end.month, end.day, tzinfo=tz).timestamp())


@pytest.mark.parametrize("timezone", ["America/Los_Angeles", "Asia/Kolkata", "UTC"])
def test_contact_dates_compare_by_workspace_day(timezone: str, http: requests.Session) -> None:
    with IntercomTestServer(token=TEST_TOKEN, seed=5, now=TEST_NOW, workspace_timezone=timezone) as srv:
        ws, tz = srv.workspace, ZoneInfo(timezone)
        marks = ws.boundary_ids["contacts"]
        late = ws.contacts[marks["tz_235959"]]["updated_at"]
        assert datetime.fromtimestamp(late, tz).time().isoformat() == "23:59:59"
        assert datetime.fromtimestamp(ws.contacts[marks["tz_midnight"]]["updated_at"], tz).time().isoformat() \
            == "00:00:00"
        assert ws.contacts[marks["utc_midnight"]]["updated_at"] % 86_400 == 0
        start, end = _local_bounds(late, tz)
        expected = {
            ">": {i for i, c in ws.contacts.items() if c["updated_at"] >= end},
            "<": {i for i, c in ws.contacts.items() if c["updated_at"] < start},
            "=": {i for i, c in ws.contacts.items() if start <= c["updated_at"] < end},
        }
        for op, ids in expected.items():
            got = {c["id"] for c in search(http, srv, "contacts", {"field": "updated_at", "operator": op,
                                                                  "value": str(late)})}
            assert got == ids, op
        gt = {c["id"] for c in search(http, srv, "contacts", {"field": "updated_at", "operator": ">", "value": late})}
        assert marks["tz_235959"] not in gt and marks["tz_midnight"] not in gt and marks["tz_next_midnight"] in gt
        eq = expected["="]
        assert {marks["tz_midnight"], marks["tz_235959"]} <= eq and marks["tz_next_midnight"] not in eq
        for op in (">=", "<=", "!=", "IN", "NIN"):
            value: Any = [late] if op in ("IN", "NIN") else late
            response = http.post(srv.base_url + "/contacts/search",
                                 json={"query": {"field": "updated_at", "operator": op, "value": value}})
            assert response.status_code == 400, op
        bad_value = http.post(srv.base_url + "/contacts/search",
                              json={"query": {"field": "created_at", "operator": ">", "value": "foobar"}})
        assert bad_value.status_code == 400


def test_conversation_dates_compare_exact_seconds(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    marks = ws.boundary_ids["conversations"]
    x = ws.conversations[marks["tz_235959"]]["updated_at"]

    def ids(op: str, value: Any) -> set[str]:
        return {c["id"] for c in search(http, intercom_server, "conversations",
                                        {"field": "updated_at", "operator": op, "value": value})}

    assert ids(">", x) == {i for i, c in ws.conversations.items() if c["updated_at"] >= x}
    assert ids("<", x) == {i for i, c in ws.conversations.items() if c["updated_at"] < x}
    assert ids("=", str(x)) == {marks["tz_235959"]}
    assert marks["tz_235959"] in ids(">", x) and marks["tz_next_midnight"] in ids(">", x)
    one_second = {"operator": "AND", "value": [{"field": "updated_at", "operator": ">", "value": x},
                                               {"field": "updated_at", "operator": "<", "value": x + 1}]}
    window = {c["id"] for c in search(http, intercom_server, "conversations", one_second)}
    assert window == {marks["tz_235959"]}
    response = http.post(intercom_server.base_url + "/conversations/search",
                         json={"query": {"field": "updated_at", "operator": ">=", "value": x}})
    assert response.status_code == 400


# ---- companies scroll -------------------------------------------------------------------------
def test_scroll_pages_all_companies_once_then_ends(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    companies = scroll_all(http, intercom_server)
    ids = [c["id"] for c in companies]
    assert len(ids) == len(set(ids)) == len(intercom_server.workspace.companies)
    assert all(c["segments"]["type"] == "segment.list" for c in companies)
    assert any(c["segments"]["segments"] for c in companies) and any(c["website"] is None for c in companies)
    assert not intercom_server.scroll_open()
    assert http.get(intercom_server.base_url + "/companies/scroll").status_code == 200


def test_scroll_is_exclusive_and_param_expires(http: requests.Session) -> None:
    clock = SteppedClock(1_800_000_000.0)
    with IntercomTestServer(token=TEST_TOKEN, now=TEST_NOW, scroll_ttl_seconds=60, clock=clock) as srv:
        url = srv.base_url + "/companies/scroll"
        first = http.get(url).json()
        second = http.get(url)
        assert second.status_code == 400
        assert second.json()["errors"][0]["code"] == "scroll_exists"
        clock.now += 60  # idle for exactly the TTL: still open
        assert http.get(url, params={"scroll_param": first["scroll_param"]}).status_code == 200
        clock.now += 60.5
        expired = http.get(url, params={"scroll_param": first["scroll_param"]})
        assert expired.status_code == 404 and expired.json()["errors"][0]["code"] == "not_found"
        assert http.get(url).status_code == 200


def test_scroll_with_no_companies(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.workspace.companies.clear()
    url = intercom_server.base_url + "/companies/scroll"
    first = http.get(url).json()
    assert first["data"] == [] and first["scroll_param"]
    assert http.get(url, params={"scroll_param": first["scroll_param"]}).status_code == 404


# ---- conversations ----------------------------------------------------------------------------
def test_conversation_shows_newest_500_parts(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    conv_id = ws.big_conversation_id
    every = ws.conversation_parts(conv_id)
    assert len(every) > 500
    body = http.get(f"{intercom_server.base_url}/conversations/{conv_id}").json()
    parts = body["conversation_parts"]
    assert parts["total_count"] == len(every) == body["statistics"]["count_conversation_parts"]
    assert [p["id"] for p in parts["conversation_parts"]] == [p["id"] for p in every[-500:]]
    small_id = next(i for i in ws.conversations if i != conv_id)
    small = http.get(f"{intercom_server.base_url}/conversations/{small_id}").json()["conversation_parts"]
    assert small["total_count"] == len(small["conversation_parts"]) <= 8
    assert http.get(f"{intercom_server.base_url}/conversations/1").status_code == 404


# ---- rate limiting ----------------------------------------------------------------------------
class SteppedClock:
    """The server's clock (unix seconds), moved only by the test: windows and expiry are exact, not raced."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_limit_headers_and_429(http: requests.Session) -> None:
    clock = SteppedClock(1_800_000_003.5)  # 3.5 s into the window [1_800_000_000, 1_800_000_010)
    with IntercomTestServer(token=TEST_TOKEN, now=TEST_NOW, clock=clock) as srv:
        unlimited = http.get(srv.base_url + "/tags")
        assert int(unlimited.headers["X-RateLimit-Limit"]) >= 10_000
        srv.set_rate_limit(60)
        assert window_limit(60) == 10 and window_limit(1000) == 167
        clock.now = 1_800_000_010.0  # a fresh window
        responses = [http.get(srv.base_url + "/tags") for _ in range(12)]
        assert [r.status_code for r in responses] == [200] * 10 + [429] * 2
        assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses] == [*range(9, -1, -1), 0, 0]
        limited = responses[-1]
        assert limited.headers["X-RateLimit-Limit"] == "10" and limited.headers["X-RateLimit-Remaining"] == "0"
        assert int(limited.headers["X-RateLimit-Reset"]) == 1_800_000_020
        assert limited.json()["errors"] == [{"code": "rate_limit_exceeded",
                                             "message": "Exceeded rate limit of 10 in 10_seconds"}]
        clock.now = 1_800_000_019.9
        assert http.get(srv.base_url + "/tags").status_code == 429
        clock.now = 1_800_000_020.0  # the next window has its own budget
        assert http.get(srv.base_url + "/tags").status_code == 200
        srv.set_rate_limit(None)
        clock.now = 1_800_000_020.5
        assert [http.get(srv.base_url + "/tags").status_code for _ in range(12)] == [200] * 12


# ---- fault knobs ------------------------------------------------------------------------------
@pytest.mark.parametrize("knob,status,code", [("rate429", 429, "rate_limit_exceeded"), ("rate500", 500, "server_error"),
                                              ("rate502", 502, "bad_gateway"), ("rate503", 503, "service_unavailable")])
def test_status_faults(intercom_server: IntercomTestServer, http: requests.Session, knob: str, status: int,
                       code: str) -> None:
    intercom_server.set_faults(Faults(**{knob: 1.0}))
    response = http.get(intercom_server.base_url + "/admins")
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
    assert "X-RateLimit-Limit" in response.headers


def test_truncate_fault_sends_short_valid_http(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.set_faults(Faults(truncate=1.0))
    response = http.get(intercom_server.base_url + "/admins")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    intercom_server.set_faults(Faults())
    assert http.get(intercom_server.base_url + "/admins").json()["type"] == "admin.list"


def test_close_fault_drops_connection_mid_body(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.set_faults(Faults(close=1.0))
    with pytest.raises(requests.exceptions.RequestException):
        http.get(intercom_server.base_url + "/admins").json()
    intercom_server.set_faults(Faults())
    assert http.get(intercom_server.base_url + "/admins").status_code == 200


def test_slow_fault(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.set_faults(Faults(slow=1.0, slow_seconds=0.3))
    start = time.monotonic()
    assert http.get(intercom_server.base_url + "/tags").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_fault_paths_and_seeded_determinism(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    intercom_server.set_faults(Faults(rate500=1.0, paths=["/conversations/{id}"]))
    conv_id = next(iter(intercom_server.workspace.conversations))
    assert http.get(intercom_server.base_url + "/tags").status_code == 200
    assert http.get(f"{intercom_server.base_url}/conversations/{conv_id}").status_code == 500

    def pattern() -> list[int]:
        intercom_server.set_faults(Faults(rate500=0.3, rate429=0.2))
        return [http.get(intercom_server.base_url + "/tags").status_code for _ in range(30)]

    first = pattern()
    assert first == pattern() and {200, 429, 500} <= set(first)


def test_scroll_fault_knobs(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    url = intercom_server.base_url + "/companies/scroll"
    intercom_server.scroll_page_size = 10
    intercom_server.set_faults(Faults(scroll_exists=2))
    assert [http.get(url).status_code for _ in range(3)] == [400, 400, 200]
    intercom_server.reset_scroll()

    intercom_server.set_faults(Faults(scroll_expire_after_pages=2))
    body = http.get(url).json()
    assert http.get(url, params={"scroll_param": body["scroll_param"]}).status_code == 200
    assert http.get(url, params={"scroll_param": body["scroll_param"]}).status_code == 404
    assert len(scroll_all(http, intercom_server)) == len(intercom_server.workspace.companies)

    intercom_server.set_faults(Faults(scroll_500_after_pages=1))
    body = http.get(url).json()
    failed = http.get(url, params={"scroll_param": body["scroll_param"]})
    assert failed.status_code == 500 and "restart the scroll" in failed.json()["errors"][0]["message"]
    assert len(scroll_all(http, intercom_server)) == len(intercom_server.workspace.companies)


def test_faults_parse_and_validate() -> None:
    faults = Faults.parse("rate429=0.05,rate500=0.02,truncate=0.01,close=0.01,scroll_exists=2,"
                          "scroll_expire_after_pages=3,slow_seconds=1.5,paths=/contacts/search|GET /tags")
    assert faults == Faults(rate429=0.05, rate500=0.02, truncate=0.01, close=0.01, scroll_exists=2,
                            scroll_expire_after_pages=3, slow_seconds=1.5, paths=["/contacts/search", "GET /tags"])
    for bad in ("rate429=2", "rate429=0.6,rate500=0.6", "nope=1", "rate500"):
        with pytest.raises(ValueError):
            Faults.parse(bad)


# ---- mutations and counts ---------------------------------------------------------------------
def test_touch_add_parts_and_bump(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    ws = intercom_server.workspace
    at = TEST_NOW - timedelta(hours=1)
    contact_id = next(iter(ws.contacts))
    intercom_server.touch("contacts", contact_id, at)
    found = search(http, intercom_server, "contacts",
                   {"field": "updated_at", "operator": "=", "value": int(at.timestamp())})
    assert contact_id in {c["id"] for c in found}
    conv_id = next(iter(ws.conversations))
    before = len(ws.conversation_parts(conv_id))
    intercom_server.add_parts(conv_id, 3, at)
    body = http.get(f"{intercom_server.base_url}/conversations/{conv_id}").json()
    assert body["updated_at"] == int(at.timestamp())
    assert body["conversation_parts"]["total_count"] == before + 3 == body["statistics"]["count_conversation_parts"]
    assert all(p["created_at"] == int(at.timestamp()) for p in body["conversation_parts"]["conversation_parts"][-3:])
    bumped = intercom_server.bump_fraction(0.1, at, seed=9)
    assert {k: len(v) for k, v in bumped.items()} == {"contacts": 60, "companies": 15, "conversations": 30}
    assert bumped == Workspace(seed=1, now=TEST_NOW).bump_fraction(0.1, at, seed=9)
    assert all(ws.companies[i]["updated_at"] == int(at.timestamp()) for i in bumped["companies"])
    with pytest.raises(KeyError):
        intercom_server.touch("contacts", "missing", at)


def test_request_counts(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    conv_ids = list(intercom_server.workspace.conversations)[:3]
    for conv_id in conv_ids:
        http.get(f"{intercom_server.base_url}/conversations/{conv_id}")
    http.post(intercom_server.base_url + "/contacts/search", json={"query": {"field": "role", "operator": "=",
                                                                             "value": "user"}})
    requests.get(intercom_server.base_url + "/admins")
    assert intercom_server.request_counts() == {"GET /conversations/{id}": 3, "POST /contacts/search": 1,
                                                "GET /admins": 1}


# ---- the synthetic workspace ------------------------------------------------------------------
def test_workspace_is_deterministic_and_realistic() -> None:
    ws = Workspace(seed=1, scale="small", now=TEST_NOW)
    assert ws.counts() == {"contacts": 600, "companies": 150, "conversations": 300}  # small: what tests build
    again = Workspace(seed=1, scale="small", now=TEST_NOW)
    assert ws.contacts == again.contacts and ws.conversations == again.conversations
    assert ws.conversation_parts(ws.big_conversation_id) == again.conversation_parts(ws.big_conversation_id)
    assert Workspace(seed=2, scale="small", now=TEST_NOW).contacts != ws.contacts
    now = int(TEST_NOW.timestamp())
    cutoff = now - 30 * 86_400
    for kind in ("contacts", "companies", "conversations"):
        records = list(getattr(ws, kind).values())
        recent = [r for r in records if r["updated_at"] > cutoff]
        assert 0.12 <= len(recent) / len(records) <= 0.2, kind
        assert any(r["created_at"] < cutoff for r in recent), kind
        assert all(now - 400 * 86_400 <= r["created_at"] <= r["updated_at"] <= now for r in records), kind
    contacts = list(ws.contacts.values())
    assert {c["role"] for c in contacts} == {"user", "lead"}
    assert any(c["email"] is None for c in contacts)
    types = {type(v) for c in contacts for v in c["custom_attributes"].values()}
    assert {str, int, float, bool, type(None)} <= types
    assert any(c["admin_assignee_id"] is None for c in ws.conversations.values())
    bodies = [p["body"] or "" for p in ws.conversation_parts(ws.big_conversation_id)]
    assert any("<" in b for b in bodies) and any(any(ord(ch) > 127 for ch in b) for b in bodies)
    assert all(len(ws.conversation_parts(i)) == c["statistics"]["count_conversation_parts"]
               for i, c in ws.conversations.items())
    segment_ids = {s["id"] for s in ws.company_segments}
    assert {s["id"] for c in ws.companies.values() for s in c["segments"]["segments"]} <= segment_ids


def test_medium_scale_builds_quickly() -> None:
    start = time.monotonic()
    ws = Workspace(seed=1, scale="medium", now=TEST_NOW)
    assert time.monotonic() - start < 20
    assert ws.counts() == {"contacts": 30_000, "companies": 6_000, "conversations": 9_000}


def test_now_defaults_to_current_time() -> None:
    ws = Workspace(seed=1)
    assert abs(ws.now - datetime.now(UTC).timestamp()) < 60
