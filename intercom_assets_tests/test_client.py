"""IntercomClient against the Intercom test server (paging, retries, search trap, scroll, pacing) and a tiny
scripted stub for the corner cases the test server does not produce."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from intercom_assets.intercom.client import IntercomClient
from intercom_assets.intercom.errors import IntercomAPIError, IntercomAuthError, IntercomConfigError, IntercomError
from intercom_assets.intercom.request_stats import RequestStats
from intercom_assets.intercom.retries import backoff_delay
from intercom_assets.intercom.search import plan_slices
from intercom_assets.intercom.session import endpoint_template as _endpoint_template
from intercom_assets_tests.intercom_server import Faults, IntercomTestServer

pytestmark = pytest.mark.wall_seconds(35)  # measured in the suite; conftest.py orders and groups the modules

TOKEN = "test-token-0123456789abcdef"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST = {"timeout_seconds": 2.0, "max_retries": 4, "backoff_max_seconds": 0.05, "backoff_base_seconds": 0.01,
        "rate_limit_max_wait_seconds": 0.2, "scroll_exists_max_wait_seconds": 3.0}


def make_client(base_url: str, token: str = TOKEN, **overrides: Any) -> IntercomClient:
    return IntercomClient(base_url, token, **{**FAST, **overrides})


@pytest.fixture
def srv() -> Iterator[IntercomTestServer]:
    with IntercomTestServer(token=TOKEN, seed=7, scale="small", now=NOW, workspace_timezone="America/New_York",
                            latency_ms=0, rate_limit_per_minute=None, faults=Faults()) as server:
        yield server


@pytest.fixture
def client(srv: IntercomTestServer) -> Iterator[IntercomClient]:
    with make_client(srv.base_url) as c:
        yield c


def ids_of(records: list[dict]) -> list[str]:
    return [str(r["id"]) for r in records]


def flat(pages: Iterator[list[dict]]) -> list[dict]:
    return [record for page in pages for record in page]


# ---------------------------------------------------------------- configuration (no server)

@pytest.mark.parametrize("url", ["http://api.intercom.io", "http://10.0.0.5:8080", "ftp://api.intercom.io",
                                 "api.intercom.io", "https://", "", "https://user:pw@api.intercom.io",
                                 "https://api.intercom.io/?x=1"])
def test_unsafe_or_malformed_base_url_is_refused(url: str) -> None:
    with pytest.raises(IntercomConfigError):
        IntercomClient(url, TOKEN)


@pytest.mark.parametrize("url", ["https://api.intercom.io", "https://api.eu.intercom.io/", "http://127.0.0.1:9",
                                 "http://localhost:9", "http://[::1]:9"])
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    IntercomClient(url, TOKEN).close()


@pytest.mark.parametrize("token", ["", "   ", "abc def", "tok\r\nX-Evil: 1"])
def test_bad_token_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(IntercomConfigError) as info:
        IntercomClient("https://api.intercom.io", token)
    assert not token.strip() or token not in str(info.value)


def test_repr_hides_the_token() -> None:
    c = IntercomClient("https://api.intercom.io", TOKEN)
    assert TOKEN not in repr(c) and "api.intercom.io" in repr(c)


def test_endpoint_templates_hide_ids() -> None:
    assert _endpoint_template("GET", "/conversations/200963802864963") == "GET /conversations/{id}"
    assert _endpoint_template("GET", "/companies/6762f0971bb69f9f2193bb2b/segments") == \
        "GET /companies/{id}/segments"
    assert _endpoint_template("POST", "/contacts/search") == "POST /contacts/search"


@given(attempt=st.integers(0, 200), base=st.floats(0, 5), cap=st.floats(0, 60))
def test_backoff_is_full_jitter_and_bounded(attempt: int, base: float, cap: float) -> None:
    assert 0.0 <= backoff_delay(attempt, base, cap) <= min(cap, base * 2 ** min(attempt, 62)) + 1e-9
    assert backoff_delay(attempt, base, cap, rng=lambda lo, hi: hi) == pytest.approx(
        min(cap, base * 2 ** min(attempt, 62)))


def test_request_stats_are_thread_safe() -> None:
    stats = RequestStats()

    def work() -> None:
        for _ in range(1000):
            stats.add("GET /x", requests=1, nbytes=2)
            stats.add("GET /y", retries=1, rate_limited=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.snapshot() == {"GET /x": {"requests": 8000, "retries": 0, "rate_limited": 0, "bytes": 16000},
                                "GET /y": {"requests": 0, "retries": 8000, "rate_limited": 8000, "bytes": 0}}
    assert stats.total() == {"requests": 8000, "retries": 8000, "rate_limited": 8000, "bytes": 16000}


# ---------------------------------------------------------------- paging styles, end to end

def test_single_shot_lists_match_the_workspace(srv: IntercomTestServer, client: IntercomClient) -> None:
    ws = srv.workspace
    assert client.list_all("/admins", "admins") == ws.admins
    assert client.list_all("/teams", "teams") == ws.teams
    assert client.list_all("/tags", "data") == ws.tags
    assert ids_of(client.list_all("/segments", "segments", {"include_count": "true"})) == ids_of(ws.segments)
    for model in ("contact", "company"):
        got = client.list_all("/data_attributes", "data", {"model": model})
        assert [a["full_name"] for a in got] == [a["full_name"] for a in ws.data_attributes(model)]


def test_get_cursor_pages(srv: IntercomTestServer, client: IntercomClient) -> None:
    pages = list(client.iter_pages("/contacts", "data", {"per_page": 50}))
    assert len(pages) > 1 and all(len(p) <= 50 for p in pages)
    got = ids_of(flat(iter(pages)))
    assert sorted(got) == sorted(srv.workspace.contacts) and len(got) == len(set(got))
    assert srv.request_counts()["GET /contacts"] == len(pages)


@pytest.mark.parametrize(("path", "list_key", "kind"), [("/contacts/search", "data", "contacts"),
                                                         ("/conversations/search", "conversations",
                                                          "conversations")])
def test_search_pages_carry_the_cursor_in_the_body(srv: IntercomTestServer, client: IntercomClient, path: str,
                                                   list_key: str, kind: str) -> None:
    start, end = NOW - timedelta(days=20), NOW - timedelta(days=2, hours=5)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    pages = list(client.search_updated(path, list_key, start, end, per_page=25))
    expected = sorted(i for i, r in srv.workspace.records(kind).items() if lo <= r["updated_at"] < hi)
    got = ids_of(flat(iter(pages)))
    assert len(expected) > 25 and sorted(got) == expected and len(got) == len(set(got))
    assert srv.request_counts()[f"POST {path}"] >= 2


def test_scroll_returns_every_company_once(srv: IntercomTestServer, client: IntercomClient) -> None:
    got = ids_of(flat(client.scroll_companies()))
    assert sorted(got) == sorted(srv.workspace.companies) and len(got) == len(set(got))


def test_get_conversations_returns_each_requested_one(srv: IntercomTestServer, client: IntercomClient) -> None:
    wanted = sorted(srv.workspace.conversations)[:40]
    got = {c["id"]: c for c in client.get_conversations(iter(wanted))}
    assert sorted(got) == wanted
    assert got[wanted[0]]["updated_at"] == srv.workspace.conversations[wanted[0]]["updated_at"]


# ---------------------------------------------------------------- the day-boundary search trap

@pytest.mark.parametrize("tz", ["America/New_York", "Pacific/Auckland"])
@pytest.mark.parametrize(("path", "list_key", "kind"), [("/contacts/search", "data", "contacts"),
                                                         ("/conversations/search", "conversations",
                                                          "conversations")])
def test_search_is_exact_to_the_second_across_workspace_midnight(tz: str, path: str, list_key: str,
                                                                 kind: str) -> None:
    with IntercomTestServer(token=TOKEN, seed=3, scale="small", now=NOW, workspace_timezone=tz) as server:
        zone = ZoneInfo(tz)
        midnight = datetime.combine((NOW - timedelta(days=4)).astimezone(zone).date(),
                                    datetime.min.time(), tzinfo=zone).astimezone(UTC)
        before = midnight - timedelta(seconds=1)  # 23:59:59 in the workspace zone
        late, early = sorted(server.workspace.records(kind))[:2]
        server.touch(kind, late, before)
        server.touch(kind, early, midnight)
        with make_client(server.base_url) as c:
            def found(start: datetime, end: datetime) -> set[str]:
                return set(ids_of(flat(c.search_updated(path, list_key, start, end))))

            assert {late, early} <= found(before, midnight + timedelta(seconds=1))
            assert late in found(before, midnight) and early not in found(before, midnight)
            assert early in found(midnight, midnight + timedelta(hours=1))
            assert late not in found(midnight, midnight + timedelta(hours=1))
            assert not {late, early} & found(midnight - timedelta(days=1), before)
            assert not {late, early} & found(midnight + timedelta(seconds=1), midnight + timedelta(days=1))
            # A UTC-day partition holding both instants, as the extraction asks for.
            day = datetime.combine(before.date(), datetime.min.time(), tzinfo=UTC)
            utc_days = found(day, day + timedelta(days=1)) | found(day + timedelta(days=1), day + timedelta(days=2))
            assert {late, early} <= utc_days


def test_search_reyields_only_newer_versions_when_results_shift(srv: IntercomTestServer,
                                                                 client: IntercomClient) -> None:
    """A record updated while its window is read comes back at most once more, newer, and the next read of the
    window has it: the slice holding its new time may have been read before the edit (then the next run's
    re-read of the window picks it up), never an older version after a newer one."""
    start, end = NOW - timedelta(days=30), NOW + timedelta(days=1)
    pages = client.search_updated("/contacts/search", "data", start, end, per_page=20)
    first = next(pages)
    moved = first[0]["id"]
    new_time = int((NOW + timedelta(hours=1)).timestamp())
    srv.touch("contacts", moved, NOW + timedelta(hours=1))
    rest = flat(pages)
    seen = first + rest
    versions = [r["updated_at"] for r in seen if r["id"] == moved]
    assert versions in ([first[0]["updated_at"]], [first[0]["updated_at"], new_time])
    again = [r["updated_at"] for r in flat(client.search_updated("/contacts/search", "data", start, end))
             if r["id"] == moved]
    assert again == [new_time]
    newest: dict[str, int] = {}
    for r in seen:
        newest[r["id"]] = max(newest.get(r["id"], 0), r["updated_at"])
    lo, hi = int(start.timestamp()), int(end.timestamp())
    assert sorted(newest) == sorted(i for i, r in srv.workspace.contacts.items() if lo <= r["updated_at"] < hi)


def test_search_rereads_when_a_record_leaves_a_historical_window(srv: IntercomTestServer,
                                                                  client: IntercomClient) -> None:
    """An edit during paging moves a row out of an old window: the rows behind it shift onto read pages."""
    start, end = NOW - timedelta(days=300), NOW - timedelta(days=10)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    expected = sorted(i for i, r in srv.workspace.contacts.items() if lo <= r["updated_at"] < hi)
    pages = client.search_updated("/contacts/search", "data", start, end, per_page=20)
    first = next(pages)
    srv.touch("contacts", first[0]["id"], NOW)
    got = ids_of(first + flat(pages))
    assert sorted(got) == expected and len(got) == len(set(got))


def test_contact_search_slices_are_the_workspaces_local_days(srv: IntercomTestServer,
                                                              client: IntercomClient) -> None:
    """With the workspace's zone from GET /me, slices ask for whole local days and no widening: the pages read
    are those of the window's local days (not three times as many), and the result is exact."""
    start, end = NOW - timedelta(days=30), NOW
    lo, hi = int(start.timestamp()), int(end.timestamp())
    srv.reset_counts()
    got = flat(client.search_updated("/contacts/search", "data", start, end, per_page=150))
    assert sorted(ids_of(got)) == sorted(i for i, r in srv.workspace.contacts.items() if lo <= r["updated_at"] < hi)
    zone = client.workspace_zone()
    assert zone is not None and zone.key == srv.workspace.timezone
    local = [srv.workspace.local_day(r["updated_at"]) for r in srv.workspace.contacts.values()]
    first, last = srv.workspace.local_day(lo), srv.workspace.local_day(hi - 1)
    in_local_days = sum(first <= day <= last for day in local)
    slices = plan_slices(lo, hi, zone, day_granular=True)
    assert len(slices) == (last - first).days + 1
    # one page per slice here (fewer than 150 contacts a day), and only the local days' contacts are fetched
    assert srv.request_counts()["POST /contacts/search"] == len(slices)
    assert in_local_days < len(got) + 150


@pytest.mark.parametrize("zone_name", ["America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_slices_cover_the_window_exactly_across_dst(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    low = int(datetime(2026, 3, 1, 7, 30, tzinfo=UTC).timestamp())
    high = int(datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp())
    for day_granular in (True, False):
        slices = plan_slices(low, high, zone, day_granular, max_slices=32)
        assert len(slices) <= 32
        assert slices[0].keep_low == low and slices[-1].keep_high == high
        for before, after in zip(slices, slices[1:], strict=False):
            assert before.keep_high == after.keep_low == after.after + 1 == before.before
        tz = zone if day_granular else ZoneInfo("UTC")
        for one in slices:  # every cut is a local midnight of the zone the API compares in
            assert datetime.fromtimestamp(one.before, tz).time() == datetime.min.time()


def test_search_rejects_naive_or_empty_windows(client: IntercomClient) -> None:
    with pytest.raises(ValueError):
        next(client.search_updated("/contacts/search", "data", datetime(2026, 1, 1), datetime(2026, 1, 2)))
    with pytest.raises(ValueError):
        next(client.search_updated("/contacts/search", "data", NOW, NOW))


# ---------------------------------------------------------------- retries

@pytest.mark.parametrize("faults", [
    Faults(rate429=0.3),
    Faults(rate500=0.15, rate502=0.15, rate503=0.15),
    Faults(truncate=0.3),
    Faults(close=0.3),
    Faults(slow=0.2, slow_seconds=1.0),
], ids=["429", "5xx", "truncated-json", "closed-mid-body", "slow"])
def test_transient_failures_are_retried_to_a_complete_result(srv: IntercomTestServer, faults: Faults) -> None:
    srv.set_faults(faults)
    # A scroll broken mid-way stays open on the server until it idles out; keep that short here.
    srv.scroll_ttl_seconds = 0.2
    with make_client(srv.base_url, timeout_seconds=0.5, max_retries=8, max_scroll_restarts=30) as c:
        wanted = sorted(srv.workspace.conversations)[:30]
        got = sorted(conv["id"] for conv in c.get_conversations(wanted))
        companies = ids_of(flat(c.scroll_companies()))
        admins = c.list_all("/admins", "admins")
    assert got == wanted
    assert admins == srv.workspace.admins
    assert sorted(companies) == sorted(srv.workspace.companies)
    totals = c.stats.total()
    assert totals["retries"] > 0 or totals["rate_limited"] > 0
    if faults.rate429:
        assert totals["rate_limited"] > 0


def test_429_waits_for_the_window_reset_from_the_headers() -> None:
    reset_in = 1.0

    def handler(n: int, _req: dict) -> tuple[int, dict, Any]:
        if n == 0:
            return 429, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                         "X-RateLimit-Reset": str(int(time.time() + reset_in) + 1)}, {
                "type": "error.list", "errors": [{"code": "rate_limit_exceeded", "message": "slow down"}]}
        return 200, {}, {"type": "admin.list", "admins": [{"id": "1"}]}

    with stub(handler) as (url, seen):
        c = make_client(url, rate_limit_max_wait_seconds=5.0)
        started = time.monotonic()
        assert c.list_all("/admins", "admins") == [{"id": "1"}]
        assert time.monotonic() - started >= reset_in
    assert len(seen) == 2
    assert c.stats.snapshot()["GET /admins"] == {"requests": 2, "retries": 1, "rate_limited": 1,
                                                  "bytes": c.stats.snapshot()["GET /admins"]["bytes"]}


def test_a_burst_of_5xx_then_success_is_retried_exactly() -> None:
    statuses = [500, 502, 503, 504]

    def handler(n: int, _req: dict) -> tuple[int, dict, Any]:
        if n < len(statuses):
            return statuses[n], {}, {"type": "error.list", "errors": [{"code": "server_error", "message": "x"}]}
        return 200, {}, {"type": "team.list", "teams": [{"id": "t1"}]}

    with stub(handler) as (url, seen):
        c = make_client(url, max_retries=4)
        assert c.list_all("/teams", "teams") == [{"id": "t1"}]
    assert len(seen) == 5
    assert c.stats.snapshot()["GET /teams"]["retries"] == 4


def test_a_cursor_that_does_not_advance_is_an_error() -> None:
    looping = {"type": "list", "data": [{"id": "1"}], "pages": {"next": {"starting_after": "same"}}}
    with stub(lambda _n, _r: (200, {}, looping)) as (url, seen):
        with pytest.raises(IntercomAPIError) as info:
            list(make_client(url).iter_pages("/contacts", "data"))
    assert info.value.code == "cursor_loop" and len(seen) == 2


def test_exhausted_retry_budget_names_endpoint_and_status(srv: IntercomTestServer) -> None:
    srv.set_faults(Faults(rate503=1.0))
    with make_client(srv.base_url, max_retries=2) as c:
        with pytest.raises(IntercomAPIError) as info:
            next(c.get_conversations([next(iter(srv.workspace.conversations))]))
    err = info.value
    assert err.endpoint == "GET /conversations/{id}" and err.status == 503
    assert "GET /conversations/{id}" in str(err) and "503" in str(err) and "http" not in str(err)
    assert srv.request_counts()["GET /conversations/{id}"] == 3
    assert c.stats.snapshot()["GET /conversations/{id}"]["retries"] == 2


def test_401_fails_fast_with_advice(srv: IntercomTestServer) -> None:
    with make_client(srv.base_url, token="wrong-token-000") as c, pytest.raises(IntercomAuthError) as info:
        c.list_all("/admins", "admins")
    assert info.value.status == 401 and "GET /admins" in str(info.value)
    assert "INTERCOM_ACCESS_TOKEN" in str(info.value) and "region" in str(info.value)
    assert sum(srv.request_counts().values()) == 1


def test_403_and_other_4xx_are_not_retried() -> None:
    def handler(_n: int, req: dict) -> tuple[int, dict, Any]:
        if req["path"].startswith("/teams"):
            return 403, {}, {"type": "error.list", "errors": [{"code": "api_plan_restricted",
                                                              "message": f"plan lacks API; token {TOKEN}"}]}
        return 422, {}, {"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "bad model"}]}

    with stub(handler) as (url, seen):
        c = make_client(url)
        with pytest.raises(IntercomAuthError) as auth:
            c.list_all("/teams", "teams")
        with pytest.raises(IntercomAPIError) as api:
            c.list_all("/data_attributes", "data", {"model": "conversation"})
    assert len(seen) == 2
    assert auth.value.status == 403 and "plan does not include GET /teams" in str(auth.value)
    assert TOKEN not in str(auth.value)
    assert (api.value.status, api.value.code, api.value.endpoint) == (422, "parameter_invalid",
                                                                      "GET /data_attributes")


def test_redirects_are_not_followed() -> None:
    with stub(lambda _n, _r: (302, {"Location": "https://evil.example/steal"}, {})) as (url, seen):
        with pytest.raises(IntercomAPIError) as info:
            make_client(url).list_all("/admins", "admins")
    assert info.value.status == 302 and len(seen) == 1


def test_every_request_carries_auth_version_and_accept_headers() -> None:
    with stub(lambda _n, _r: (200, {}, {"type": "list", "data": [], "pages": {}})) as (url, seen):
        c = make_client(url, api_version="2.11")
        c.list_all("/tags", "data")
        list(c.search_updated("/contacts/search", "data", NOW - timedelta(days=1), NOW))
    for req in seen:
        assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert req["headers"]["Intercom-Version"] == "2.11"
        assert req["headers"]["Accept"] == "application/json"
    # contact search asks GET /me for the workspace's time zone; without one (this stub names none) it reads the
    # whole window as one slice widened by 25 hours on each side
    assert seen[1]["method"] == "GET" and seen[1]["path"].startswith("/me")
    assert seen[2]["method"] == "POST" and seen[2]["headers"]["Content-Type"] == "application/json"
    body = seen[2]["body"]
    lo, hi = int((NOW - timedelta(days=1)).timestamp()), int(NOW.timestamp())
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
    assert [f["value"] for f in body["query"]["value"]] == [lo - 25 * 3600, hi + 25 * 3600]


# ---------------------------------------------------------------- companies scroll rules

def test_scroll_waits_out_scroll_exists(srv: IntercomTestServer, client: IntercomClient) -> None:
    srv.set_faults(Faults(scroll_exists=2))
    got = ids_of(flat(client.scroll_companies()))
    assert sorted(got) == sorted(srv.workspace.companies)


def test_scroll_exists_beyond_the_wait_budget_fails() -> None:
    exists = {"type": "error.list", "errors": [{"code": "scroll_exists", "message": "scroll already exists"}]}
    with stub(lambda _n, _r: (400, {}, exists)) as (url, seen):
        c = make_client(url, scroll_exists_max_wait_seconds=0.3)
        with pytest.raises(IntercomAPIError) as info:
            next(c.scroll_companies())
    assert info.value.code == "scroll_exists" and len(seen) >= 2


@pytest.mark.parametrize("faults", [Faults(scroll_expire_after_pages=2), Faults(scroll_500_after_pages=1)],
                         ids=["expired-404", "500"])
def test_broken_scroll_restarts_and_deduplicates(srv: IntercomTestServer, client: IntercomClient,
                                                 faults: Faults) -> None:
    clean = ids_of(flat(client.scroll_companies()))
    srv.set_faults(faults)
    srv.reset_counts()
    broken = ids_of(flat(client.scroll_companies()))
    assert broken == clean or (sorted(broken) == sorted(clean) and len(broken) == len(set(broken)))
    # the restart re-read pages already seen: more requests than the clean scroll needed
    assert srv.request_counts()["GET /companies/scroll"] > 2


def test_empty_workspace_scroll_ends_on_empty_data() -> None:
    """With no companies the first page still has a scroll_param whose next page would 404: never asked."""
    def handler(_n: int, req: dict) -> tuple[int, dict, Any]:
        if "scroll_param" not in req["query"]:
            return 200, {}, {"type": "list", "data": [], "scroll_param": "p"}
        return 404, {}, {"type": "error.list", "errors": [{"code": "not_found", "message": "expired"}]}

    with stub(handler) as (url, seen):
        assert list(make_client(url).scroll_companies()) == []
    assert len(seen) == 1


def test_scroll_restarts_are_bounded() -> None:
    def handler(_n: int, req: dict) -> tuple[int, dict, Any]:
        if "scroll_param" not in req["query"]:
            return 200, {}, {"type": "list", "data": [{"id": "c1"}], "scroll_param": "p"}
        return 500, {}, {"type": "error.list", "errors": [{"code": "server_error", "message": "restart"}]}

    with stub(handler) as (url, seen):
        c = make_client(url, max_scroll_restarts=2)
        pages = []
        with pytest.raises(IntercomAPIError) as info:
            for page in c.scroll_companies():
                pages.append(page)
    assert pages == [[{"id": "c1"}]] and info.value.status == 500
    assert len(seen) == 6  # 3 passes of (start, failing next page): a 500 mid-scroll is not retried in place


def test_one_scroll_at_a_time_per_client(srv: IntercomTestServer) -> None:
    """A second scroll of the same client waits for the first to finish (a generous wait: this must not time out
    however slowly the threads are scheduled)."""
    client = make_client(srv.base_url, scroll_exists_max_wait_seconds=60.0)
    first = client.scroll_companies()
    next(first)
    order: list[str] = []
    started = threading.Event()

    def second() -> None:
        order.append("second-start")
        started.set()
        list(client.scroll_companies())
        order.append("second-done")

    t = threading.Thread(target=second)
    t.start()
    assert started.wait(10)
    t.join(0.2)
    assert t.is_alive(), "the second scroll did not wait for the first"
    order.append("first-done")
    list(first)
    t.join(30)
    client.close()
    assert order == ["second-start", "first-done", "second-done"]
    # Each scroll asked only for its own pages (start, the rest, the empty end): no start met the open scroll.
    pages = -(-len(srv.workspace.companies) // srv.scroll_page_size)
    assert srv.request_counts()["GET /companies/scroll"] == 2 * (pages + 1)


# ---------------------------------------------------------------- concurrency and pacing

def test_concurrency_is_bounded_and_memory_window_small(srv: IntercomTestServer) -> None:
    """Four requests in flight at once (held there by the server until all four arrived), never more."""
    gate = srv.hold_requests()

    def release_when_four_are_in_flight() -> None:
        deadline = time.monotonic() + 30
        while srv.in_flight() < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        gate.set()

    releaser = threading.Thread(target=release_when_four_are_in_flight)
    releaser.start()
    submitted = 0

    def ids() -> Iterator[str]:
        nonlocal submitted
        for cid in sorted(srv.workspace.conversations)[:60]:
            submitted += 1
            yield cid

    with make_client(srv.base_url, max_concurrency=4) as c:
        stream = c.get_conversations(ids())
        next(stream)
        assert submitted <= 2 * 4 + 1  # bounded submission window, not all 60 at once
        rest = list(stream)
    releaser.join()
    assert len(rest) == 59
    assert srv.max_in_flight() == 4


def test_first_error_cancels_the_rest() -> None:
    def handler(_n: int, req: dict) -> tuple[int, dict, Any]:
        if req["path"].endswith("/666"):
            return 400, {}, {"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "no"}]}
        time.sleep(0.02)
        return 200, {}, {"type": "conversation", "id": req["path"].rsplit("/", 1)[1]}

    ids = [str(i) for i in range(1, 6)] + ["666"] + [str(i) for i in range(1000, 1300)]
    with stub(handler) as (url, seen):
        got: list[str] = []
        with pytest.raises(IntercomAPIError) as info:
            for conversation in make_client(url, max_concurrency=4).get_conversations(ids):
                got.append(conversation["id"])
        # The raise came after the client's fetch threads were joined: every request it will send is in `seen`.
        assert info.value.status == 400 and info.value.endpoint == "GET /conversations/{id}"
        assert len(seen) < 30  # the other 300 were never sent


def test_abandoning_the_conversation_stream_stops_promptly(srv: IntercomTestServer) -> None:
    srv.set_latency_ms(30)
    with make_client(srv.base_url, max_concurrency=4) as c:
        stream = c.get_conversations(sorted(srv.workspace.conversations))
        next(stream)
        stream.close()  # returns once the fetch threads are joined: nothing is sent after it
        sent = srv.request_counts()["GET /conversations/{id}"]
    # promptly: only what was already in the pipeline (2 x max_concurrency) and in flight, not the other ~100
    assert sent <= 2 * 4 + 4 < len(srv.workspace.conversations)


def test_missing_conversation_is_skipped(srv: IntercomTestServer, client: IntercomClient) -> None:
    wanted = sorted(srv.workspace.conversations)[:3]
    got = sorted(c["id"] for c in client.get_conversations([*wanted, "999999999999"]))
    assert got == wanted


def test_pacing_keeps_a_concurrent_run_under_a_small_limit(srv: IntercomTestServer) -> None:
    srv.set_rate_limit(600)  # 100 per 10 s window; this app may use half: 50, one per 0.2 s
    wanted = sorted(srv.workspace.conversations)[:24]
    with make_client(srv.base_url, max_concurrency=8, rate_limit_share=0.5) as c:
        started = time.monotonic()
        got = list(c.get_conversations(wanted))
        elapsed = time.monotonic() - started
    assert len(got) == 24
    assert c.stats.total()["rate_limited"] == 0
    # Only the first max_concurrency requests go out before any limit is known; the rest are spread.
    assert elapsed >= 0.2 * (24 - 8) * 0.9


def test_stats_count_requests_retries_and_bytes(srv: IntercomTestServer) -> None:
    raw = requests.get(f"{srv.base_url}/admins", timeout=5, headers={
        "Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.16", "Accept": "application/json"})
    srv.reset_counts()
    with make_client(srv.base_url) as c:
        c.list_all("/admins", "admins")
        srv.set_faults(Faults(rate500=1.0, paths=["GET /teams"]))
        with pytest.raises(IntercomAPIError):
            c.list_all("/teams", "teams")
    snap = c.stats.snapshot()
    assert snap["GET /admins"] == {"requests": 1, "retries": 0, "rate_limited": 0, "bytes": len(raw.content)}
    assert snap["GET /teams"]["requests"] == FAST["max_retries"] + 1 == srv.request_counts()["GET /teams"]
    assert snap["GET /teams"]["retries"] == FAST["max_retries"]
    assert c.stats.total()["requests"] == sum(srv.request_counts().values())


# ---------------------------------------------------------------- the token stays secret

def test_token_never_in_logs_or_exception_text(srv: IntercomTestServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    srv.set_faults(Faults(rate429=0.1, rate500=0.1, truncate=0.05, close=0.05))
    with make_client(srv.base_url, max_retries=10) as c:
        list(c.get_conversations(sorted(srv.workspace.conversations)[:20]))
        srv.set_faults(Faults(rate503=1.0))
        for call in (lambda: c.list_all("/admins", "admins"),
                     lambda: make_client(srv.base_url, token=TOKEN + "x").list_all("/admins", "admins"),
                     lambda: make_client(f"http://example.com/{TOKEN}", token=TOKEN)):
            with pytest.raises(IntercomError) as info:
                call()
            texts.append("".join(traceback.format_exception(info.value)) + repr(info.value))
        texts.append(repr(c))
    assert caplog.records, "expected DEBUG/WARNING lines"
    assert all(TOKEN not in text for text in texts)
    assert TOKEN not in caplog.text


# ---------------------------------------------------------------- a scripted stub server

Handler = Callable[[int, dict], tuple[int, dict, Any]]


@contextmanager
def stub(handler: Handler) -> Iterator[tuple[str, list[dict]]]:
    """Serve `handler(request_number, request) -> (status, headers, json body)` on a loopback port."""
    seen: list[dict] = []
    lock = threading.Lock()

    class Handle(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            req = {"method": self.command, "path": path, "query": query, "headers": dict(self.headers),
                   "body": json.loads(raw) if raw else None}
            with lock:
                n = len(seen)
                seen.append(req)
            status, headers, body = handler(n, req)
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- requests in flight follow rate x latency
def test_requests_in_flight_follow_the_allowed_rate_times_the_latency(srv: IntercomTestServer) -> None:
    """200 ms per request and 80 requests/s allowed (6,000/min x 0.8): Little's law asks for 16 in flight
    (20 with the headroom), more than a fixed pool of 8 and far fewer than the ceiling of 64."""
    srv.set_latency_ms(200)
    srv.set_rate_limit(6_000)
    ids = sorted(srv.workspace.conversations)[:120]
    with make_client(srv.base_url, max_concurrency=64) as c:
        srv.reset_counts()
        assert len(list(c.get_conversations(ids))) == len(ids)
        limit = c.in_flight_limit
    assert 16 <= limit <= 24, limit
    assert 14 <= srv.max_in_flight() <= 25, srv.max_in_flight()


def test_the_configured_concurrency_is_a_ceiling(srv: IntercomTestServer) -> None:
    srv.set_latency_ms(200)
    srv.set_rate_limit(6_000)
    with make_client(srv.base_url, max_concurrency=6) as c:
        srv.reset_counts()
        list(c.get_conversations(sorted(srv.workspace.conversations)[:40]))
        assert c.in_flight_limit == 6
    assert srv.max_in_flight() <= 6


def test_the_environments_proxy_is_still_honoured(srv: IntercomTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies are read from the environment once, when the client is made (not on every request): a proxy
    named there must still carry the requests, and NO_PROXY still exempt the host."""
    with socket.socket() as closed:  # a loopback port nobody listens on: the "proxy"
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with make_client(srv.base_url, max_retries=0) as c, pytest.raises(IntercomError):
        c.list_all("/admins", "admins")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with make_client(srv.base_url) as c:
        assert c.list_all("/admins", "admins")
