"""The test server's random faults are a function of (seed, request, attempt), never of arrival order.

So a test meets the same faults however its client threads interleave, while retries of one request still fail
independently at the configured rates (a request meets k faults in a row with probability rate**k).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import Faults, IntercomTestServer
from intercom_assets_tests.intercom_server.faults import FaultInjector, fault_roll, request_identity

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json", "Intercom-Version": "2.16"}
HOSTILE = Faults(rate500=0.15, rate502=0.15, rate503=0.15)  # test_client.py's 5xx mix: 45% of attempts fail


def _streaks(injector: FaultInjector, requests_: list[str], attempts: int) -> dict[str, list[str | None]]:
    """Each request's outcomes over `attempts` attempts, drawing round-robin across the requests."""
    out: dict[str, list[str | None]] = {r: [] for r in requests_}
    for _ in range(attempts):
        for request in requests_:
            out[request].append(injector.draw("GET /conversations/{id}", "/conversations/{id}", request))
    return out


def test_the_roll_is_a_fixed_uniform_number_per_seed_request_and_attempt() -> None:
    rolls = [fault_roll(7, f"GET /conversations/{n}", attempt) for n in range(2000) for attempt in range(5)]
    assert rolls == [fault_roll(7, f"GET /conversations/{n}", attempt) for n in range(2000) for attempt in range(5)]
    assert all(0.0 <= roll < 1.0 for roll in rolls)
    assert len(set(rolls)) == len(rolls)
    assert fault_roll(8, "GET /conversations/1", 0) != fault_roll(7, "GET /conversations/1", 0)
    deciles = Counter(int(roll * 10) for roll in rolls)
    assert all(abs(deciles[d] - 1000) < 150 for d in range(10)), deciles


def test_draws_do_not_depend_on_the_order_requests_arrive() -> None:
    names = [request_identity("GET", f"/conversations/{n}") for n in range(200)]
    in_order = _streaks(FaultInjector(HOSTILE, seed=7), names, attempts=6)
    shuffled = list(names)
    random.Random(1).shuffle(shuffled)
    assert _streaks(FaultInjector(HOSTILE, seed=7), shuffled, attempts=6) == in_order
    assert _streaks(FaultInjector(HOSTILE, seed=8), names, attempts=6) != in_order


def test_rates_hold_and_retries_fail_independently() -> None:
    injector = FaultInjector(HOSTILE, seed=7)
    streaks = _streaks(injector, [f"GET /conversations/{n}" for n in range(20_000)], attempts=4)
    firsts = Counter(outcomes[0] for outcomes in streaks.values())
    for name in ("rate500", "rate502", "rate503"):
        assert abs(firsts[name] / 20_000 - 0.15) < 0.01, firsts
    for k in range(1, 5):  # k faults in a row: 0.45**k, the retries do not repeat the first outcome
        share = sum(all(o is not None for o in outcomes[:k]) for outcomes in streaks.values()) / 20_000
        assert abs(share - 0.45**k) < 0.01, (k, share)


def test_set_faults_starts_the_attempts_over_and_paths_select_what_is_counted() -> None:
    injector = FaultInjector(HOSTILE, seed=7)
    first = _streaks(injector, ["GET /conversations/1"], attempts=20)
    injector.set(HOSTILE)
    assert _streaks(injector, ["GET /conversations/1"], attempts=20) == first
    injector.set(Faults(rate500=1.0, paths=["POST /contacts/search"]))
    assert _streaks(injector, ["GET /conversations/1"], attempts=3) == {"GET /conversations/1": [None] * 3}


def test_an_uncounted_refusal_does_not_shift_the_next_attempts() -> None:
    """A scroll start refused with scroll_exists depends on the clock: the attempt after it draws as if it
    had not happened."""
    key, template, request = "GET /companies/scroll", "/companies/scroll", "GET /companies/scroll"
    plain = FaultInjector(HOSTILE, seed=3)
    expected = [plain.draw(key, template, request) for _ in range(12)]
    refused = FaultInjector(HOSTILE, seed=3)
    got = []
    for n in range(12):
        got.append(refused.draw(key, template, request))
        if n % 3 == 0 and got[-1] is None:  # answered scroll_exists: redrawn, the same outcome again
            refused.not_an_attempt(key, template, request)
            assert refused.draw(key, template, request) is None
    assert got == expected


def test_request_identity_separates_pages_and_ignores_spelling() -> None:
    page1 = request_identity("POST", "/conversations/search", body=b'{"query":{"a":1},"pagination":{"per_page":5}}')
    page2 = request_identity("POST", "/conversations/search",
                             body=b'{"query":{"a":1},"pagination":{"per_page":5,"starting_after":"c1"}}')
    other_slice = request_identity("POST", "/conversations/search",
                                   body=b'{"query":{"a":2},"pagination":{"per_page":5}}')
    assert len({page1, page2, other_slice}) == 3
    assert page1 == request_identity("POST", "/conversations/search",
                                     body=b'{"pagination": {"per_page": 5}, "query": {"a": 1}}')
    assert request_identity("GET", "/contacts", "per_page=5&starting_after=x") == request_identity(
        "GET", "/contacts", "starting_after=x&per_page=5")
    assert request_identity("GET", "/contacts", "starting_after=x") != request_identity(
        "GET", "/contacts", "starting_after=y")


@pytest.fixture
def srv() -> Iterator[IntercomTestServer]:
    with IntercomTestServer(token=TEST_TOKEN, seed=7, scale="small", now=TEST_NOW) as server:
        yield server


def _fetch_until_ok(srv: IntercomTestServer, ids: list[str], workers: int) -> dict[str, list[int]]:
    """Each conversation fetched until it answers 200 (retrying at once), from `workers` threads: the statuses
    each id met, in order."""
    local = threading.local()

    def fetch(conversation_id: str) -> tuple[str, list[int]]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update(HEADERS)
        statuses: list[int] = []
        while not statuses or statuses[-1] != 200:
            statuses.append(local.session.get(f"{srv.base_url}/conversations/{conversation_id}").status_code)
        return conversation_id, statuses

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(fetch, ids))


def test_concurrent_clients_meet_the_same_faults_whatever_the_interleaving(srv: IntercomTestServer) -> None:
    ids = sorted(srv.workspace.conversations)[:60]
    srv.set_faults(HOSTILE)
    sequential = _fetch_until_ok(srv, ids, workers=1)
    assert sum(len(statuses) - 1 for statuses in sequential.values()) > 20, "the faults must be hit"
    shuffled = list(reversed(ids))
    random.Random(2).shuffle(shuffled)
    srv.set_faults(HOSTILE)
    assert _fetch_until_ok(srv, shuffled, workers=8) == sequential


def test_scroll_params_are_seeded(srv: IntercomTestServer) -> None:
    """A scroll page is the same request in every run, so it meets the same faults."""
    with requests.Session() as http, IntercomTestServer(token=TEST_TOKEN, seed=7, scale="small",
                                                        now=TEST_NOW) as twin:
        http.headers.update(HEADERS)
        params = []
        for server in (srv, srv, twin, twin):
            params.append(http.get(f"{server.base_url}/companies/scroll").json()["scroll_param"])
            server.reset_scroll()
    assert params[0] != params[1] and params[:2] == params[2:]


def test_a_faults_seed_replaces_the_servers() -> None:
    names = [f"GET /conversations/{n}" for n in range(50)]
    chosen = _streaks(FaultInjector(Faults(rate500=0.45, seed=8), seed=7), names, attempts=4)
    assert chosen == _streaks(FaultInjector(Faults(rate500=0.45), seed=8), names, attempts=4)
    assert chosen != _streaks(FaultInjector(Faults(rate500=0.45), seed=7), names, attempts=4)
    assert Faults.parse("rate500=0.45,seed=8") == Faults(rate500=0.45, seed=8)
