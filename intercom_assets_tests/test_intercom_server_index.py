"""The test server's `updated_at` index and search result cache.

Searches bounded on `updated_at` read the index instead of every record (what makes `xlarge` usable); these tests
hold it to exactly what the scan of every record answers (same records, same order, boundary instants and DST
days included), through every steering mutation, and check the cache serves an extractor's ~90 concurrent slices.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import IntercomTestServer, Workspace
from intercom_assets_tests.intercom_server.paging import ResultCache
from intercom_assets_tests.intercom_server.search import QueryCompiler, parse_sort, sort_records
from intercom_assets_tests.intercom_server.search_plan import find_ids, updated_bounds
from intercom_assets_tests.intercom_server.store import SortedKeys
from intercom_assets_tests.intercom_server.vocab import SCALES
from intercom_assets_tests.intercom_server.workspace import RECORD_KINDS

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"}
NOW = int(TEST_NOW.timestamp())
DAY = 86_400
SEARCHED = ("contacts", "conversations", "tickets")
SORTS: list[dict[str, str] | None] = [None, {"field": "updated_at", "order": "ascending"},
                                      {"field": "updated_at", "order": "descending"},
                                      {"field": "created_at", "order": "ascending"}]


def window(low: Any, high: Any) -> dict[str, Any]:
    """The query an extractor sends for one slice."""
    return {"operator": "AND", "value": [{"field": "updated_at", "operator": ">", "value": low},
                                         {"field": "updated_at", "operator": "<", "value": high}]}


def scan(ws: Workspace, kind: str, query: dict[str, Any], sort: dict[str, str] | None = None) -> list[str]:
    """What search answered before the index existed: every record rendered, filtered, sorted."""
    predicate = QueryCompiler(kind, ws).compile(query)
    return [r["id"] for r in sort_records([r for r in ws.snapshot(kind) if predicate(r)], parse_sort(sort))]


def planned(ws: Workspace, kind: str, query: dict[str, Any], sort: dict[str, str] | None = None) -> list[str]:
    compiler = QueryCompiler(kind, ws)
    predicate = compiler.compile(query)
    return find_ids(ws, kind, compiler, predicate, query, parse_sort(sort))


def index_is_right(ws: Workspace) -> None:
    for kind in RECORD_KINDS:
        store = ws.records(kind)
        assert list(store.index()) == sorted((r["updated_at"], i) for i, r in store.items()), kind


def dst_instants(tz: ZoneInfo) -> list[int]:
    """Instants around the 2026 DST changes of a zone: local midnights, the skipped/repeated hour, day ends."""
    out = []
    for day in (datetime(2026, 3, 8), datetime(2026, 11, 1), datetime(2026, 3, 29), datetime(2026, 10, 25)):
        start = day.replace(tzinfo=tz)
        for hours in (0, 1.5, 2.5, 3, 24):
            ts = int((start + timedelta(hours=hours)).timestamp())
            out += [ts - 1, ts]
    return out


@pytest.fixture(scope="module", params=["America/New_York", "Asia/Kolkata"])
def workspace(request: pytest.FixtureRequest) -> Workspace:
    """A small workspace with records moved onto DST days and day boundaries (touch keeps the index right)."""
    ws = Workspace(seed=3, scale="small", now=TEST_NOW, timezone=request.param)
    instants = dst_instants(ws.tz) + list(ws.boundary_times().values())
    for kind in SEARCHED:
        ids = list(ws.records(kind))[10:]
        for record_id, ts in zip(ids, instants + instants, strict=False):
            ws.touch(kind, record_id, ts)
    return ws


def test_sorted_keys_behave_as_a_sorted_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SortedKeys, "LOAD", 4)  # many splits and emptied buckets
    rng = random.Random(9)
    reference = sorted((rng.randrange(50), f"id{i}") for i in range(60))
    keys = SortedKeys(reference)
    for step in range(600):
        if reference and rng.random() < 0.45:
            key = reference.pop(rng.randrange(len(reference)))
            keys.remove(key)
        else:
            key = (rng.randrange(50), f"new{step}")
            keys.add(key)
            reference.append(key)
            reference.sort()
        assert len(keys) == len(reference)
        low, high = sorted((rng.randrange(-2, 53), rng.randrange(-2, 53)))
        assert keys.between(low, high) == [k for k in reference if low <= k[0] < high]
    assert list(keys) == reference
    with pytest.raises(KeyError):
        keys.remove((99, "absent"))


def test_index_answers_what_the_scan_answers(workspace: Workspace) -> None:
    ws = workspace
    rng = random.Random(4)
    instants = dst_instants(ws.tz) + list(ws.boundary_times().values())
    instants += [t + d for t in list(instants) for d in (-86_400, 1, 86_400)]
    instants += [rng.randint(NOW - 420 * DAY, NOW + DAY) for _ in range(30)]
    queries: list[dict[str, Any]] = []
    for _ in range(40):
        low = rng.choice(instants)
        queries.append(window(low, low + rng.choice([1, 3600, DAY, 3 * DAY, 30 * DAY])))
    for ts in rng.sample(instants, 12):
        queries += [{"field": "updated_at", "operator": op, "value": str(ts)} for op in (">", "<", "=")]
    low = rng.choice(instants)
    queries += [
        {"operator": "AND", "value": [*window(low, low + 90 * DAY)["value"],
                                      {"field": "created_at", "operator": ">", "value": low - 60 * DAY}]},
        {"operator": "AND", "value": [window(low, low + 30 * DAY), {"field": "updated_at", "operator": "<",
                                                                    "value": low + 9 * DAY}]},
        {"operator": "OR", "value": window(low, low + 30 * DAY)["value"]},
        window(low + DAY, low),  # empty
    ]
    for query in queries:
        for kind in SEARCHED:
            for sort in SORTS:
                assert planned(ws, kind, query, sort) == scan(ws, kind, query, sort), (kind, query, sort)
    compiler = QueryCompiler("contacts", ws)
    compiler.compile(queries[0])
    assert updated_bounds(compiler, queries[0]) is not None  # the windows above did go through the index


def test_contact_windows_on_dst_days_use_whole_local_days(workspace: Workspace) -> None:
    ws = workspace
    for day in (datetime(2026, 3, 8), datetime(2026, 11, 1)):
        start = int(day.replace(tzinfo=ws.tz).timestamp())
        end = int((day + timedelta(days=1)).replace(tzinfo=ws.tz).timestamp())
        # > (the day before) AND < (the day after): exactly the records of that local day, however long it is
        got = planned(ws, "contacts", window(start - 1, end), SORTS[1])
        assert got == [i for i in scan(ws, "contacts", {"field": "updated_at", "operator": "=", "value": start},
                                       SORTS[1])]
        assert all(start <= ws.contacts[i]["updated_at"] < end for i in got)


def test_every_mutation_keeps_the_index_right() -> None:
    ws = Workspace(seed=5, scale="small", now=TEST_NOW)
    index_is_right(ws)
    convs, contacts = list(ws.conversations), list(ws.contacts)
    lead = next(i for i, c in ws.contacts.items() if c["role"] == "lead" and any(
        r["id"] == i for conv in ws.conversations.values() for r in conv["contacts"]["contacts"]))
    user = next(i for i, c in ws.contacts.items() if c["role"] == "user" and i not in ws.merge_history)
    steps = [
        lambda: ws.touch("contacts", contacts[3], NOW - 100),
        lambda: ws.touch("articles", next(iter(ws.articles)), NOW - 90),
        lambda: ws.add_parts(convs[4], 2, NOW - 80),
        lambda: ws.add_ticket_parts(ws.big_ticket_id, 1, NOW - 70),
        lambda: ws.bump_fraction(0.2, NOW - 60, seed=3, kinds=RECORD_KINDS),
        lambda: ws.delete_contact(contacts[5], NOW - 50),
        lambda: ws.delete_conversation(convs[6], NOW - 40),
        lambda: ws.merge_contact(lead, user, NOW - 30),
        lambda: ws.delete_company(next(iter(ws.companies)), NOW - 20),
    ]
    for step in steps:
        generation = ws.generation
        step()
        assert ws.generation > generation
        index_is_right(ws)
        for kind in SEARCHED:
            query = window(NOW - 2 * DAY, NOW)
            assert planned(ws, kind, query, SORTS[1]) == scan(ws, kind, query, SORTS[1])
    assert contacts[5] not in planned(ws, "contacts", window(0, NOW + DAY), SORTS[1])


def test_top_level_edits_of_a_read_record_write_through(intercom_server: IntercomTestServer,
                                                       http: requests.Session) -> None:
    """As when records were plain dicts (tests fake API drift so), but nested values stay the caller's."""
    srv, ws = intercom_server, intercom_server.workspace
    contact_id = ws.boundary_ids["contacts"]["tz_midnight"]
    contact = ws.contacts[contact_id]
    contact["loyalty_tier"] = "gold"
    del contact["email"]
    contact["updated_at"] = NOW - 5
    contact["custom_attributes"]["seats"] = -1
    srv.touch("contacts", contact_id, NOW - 7)  # steering still applies to the kept record
    served = http.get(f"{srv.base_url}/contacts/{contact_id}").json()
    assert served["loyalty_tier"] == "gold" and "email" not in served and served["updated_at"] == NOW - 7
    served.pop("enabled_push_messaging")  # GET /contacts/{id} adds it
    assert served["custom_attributes"]["seats"] != -1 and ws.contacts[contact_id] == served
    index_is_right(ws)
    assert planned(ws, "contacts", window(NOW - 2 * DAY, NOW + DAY), SORTS[1])[-1] == contact_id
    ws.contacts[contact_id].pop("loyalty_tier")
    assert "loyalty_tier" not in ws.contacts[contact_id]


# ---- the result cache ---------------------------------------------------------------------------
@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def test_cache_serves_an_extractors_concurrent_slices(intercom_server: IntercomTestServer) -> None:
    """30 slices per source, three sources at once, each paged to its end by its own thread."""
    srv, ws = intercom_server, intercom_server.workspace
    key = {"contacts": "data", "conversations": "conversations", "tickets": "tickets"}
    slices = [(kind, NOW - (30 - i) * 10 * DAY, NOW - (29 - i) * 10 * DAY) for kind in SEARCHED for i in range(30)]
    local = threading.local()

    def page_through(job: tuple[str, int, int]) -> list[str]:
        kind, low, high = job
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update(HEADERS)
        out: list[str] = []
        pagination: dict[str, Any] = {"per_page": 5}
        while True:
            body = local.session.post(f"{srv.base_url}/{kind}/search", json={
                "query": window(low, high), "sort": SORTS[1], "pagination": pagination}).json()
            out += [r["id"] for r in body[key[kind]]]
            if not body["pages"].get("next"):
                return out
            pagination = {"per_page": 5, "starting_after": body["pages"]["next"]["starting_after"]}

    cache = srv._api.cache
    with ThreadPoolExecutor(len(slices)) as pool:
        results = list(pool.map(page_through, slices))
    for (kind, low, high), got in zip(slices, results, strict=True):
        assert got == scan(ws, kind, window(low, high), SORTS[1])
    assert cache.computed == len(slices) == len(cache)  # every page after the first came from the cache
    with ThreadPoolExecutor(len(slices)) as pool:
        assert list(pool.map(page_through, slices)) == results
    assert cache.computed == len(slices)


def test_a_mutation_invalidates_cached_results(intercom_server: IntercomTestServer, http: requests.Session) -> None:
    srv, ws = intercom_server, intercom_server.workspace
    url = srv.base_url + "/conversations/search"
    query = {"query": window(NOW - 3 * DAY, NOW), "sort": SORTS[1], "pagination": {"per_page": 150}}
    before = [c["id"] for c in http.post(url, json=query).json()["conversations"]]
    outside = next(i for i in ws.conversations if i not in before)
    srv.touch("conversations", outside, NOW - 2 * DAY)
    after = http.post(url, json=query).json()
    assert outside in [c["id"] for c in after["conversations"]] and after["total_count"] == len(before) + 1
    assert len(srv._api.cache) == 1  # the result from before the edit is gone, not just unused


def test_result_cache_bounds_single_flight_and_generations() -> None:
    cache = ResultCache(size=3, max_ids=10)
    calls: list[str] = []

    def compute(key: str, n: int = 1) -> Any:
        return lambda: calls.append(key) or [key] * n

    for key in "abcd":
        cache.get(key, 0, compute(key))
    assert len(cache) == 3 and cache.get("b", 0, compute("b")) == ["b"] and calls == list("abcd")
    cache.get("a", 0, compute("a"))  # evicted (least recently used), so computed again
    assert calls == list("abcda")
    cache.get("big", 0, compute("big", 9))  # over max_ids: older entries go
    assert len(cache) <= 2 and cache.get("big", 0, compute("big")) == ["big"] * 9
    cache.get("x", 1, compute("x"))  # a newer generation drops every older result
    assert len(cache) == 1 and cache.get("big", 1, compute("big2")) == ["big2"]

    release, started = threading.Event(), threading.Event()

    def slow() -> list[str]:
        started.set()
        release.wait(5)
        calls.append("slow")
        return ["slow"]

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(cache.get, "q", 2, slow)]
        started.wait(5)
        futures += [pool.submit(cache.get, "q", 2, slow) for _ in range(9)]
        release.set()
        assert all(f.result(5) == ["slow"] for f in futures)
    assert calls.count("slow") == 1

    def failing() -> list[str]:
        raise ValueError("bad query")

    with pytest.raises(ValueError):
        cache.get("bad", 2, failing)
    assert cache.get("bad", 2, compute("fixed")) == ["fixed"]


def test_xlarge_scale_sizes() -> None:
    """Built by hand, not here (half a minute, 1.4 GiB): its sizes are the benchmark's requirement."""
    size = SCALES["xlarge"]
    assert (size.contacts, size.companies, size.conversations) == (1_000_000, 100_000, 300_000)
    assert (size.min_parts + size.max_parts) / 2 == 8
    assert min(size.tickets, size.articles, size.news_items, size.collections, size.deleted_conversations,
               size.deleted_contacts, size.merged_leads, size.deleted_companies) > 0
