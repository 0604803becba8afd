"""Contract tests of the newer 2.16 endpoints the test server serves (calls, per-record lists of contacts,
companies and conversations, macros, office hours, the configuration and knowledge lists, data connectors and
their runs, redirects, event types): every page of every one validates against the official 2.16 description,
with realistic data in it (calls with transcripts, notes with HTML and emoji, an office hours schedule with
exceptions, a data connector with failed runs), and a refused endpoint answers 403 in the error envelope.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from openapi_core import OpenAPI

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import IntercomTestServer
from intercom_assets_tests.test_contract import check
from intercom_assets_tests.test_contract import spec as spec  # noqa: F401 - the module-scoped fixture
from intercom_assets_tests.test_contract_resources import openapi as openapi  # noqa: F401 - the fixture
from intercom_assets_tests.test_contract_resources import server as server  # noqa: F401 - the fixture

NOW = int(TEST_NOW.timestamp())


@pytest.fixture
def session(server: IntercomTestServer) -> Iterator[requests.Session]:
    server.set_refusals({})
    with requests.Session() as s:
        s.headers.update({"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json",
                          "Intercom-Version": "2.16"})
        yield s


def _get(openapi: OpenAPI, spec: dict[str, Any], session: requests.Session, url: str, status: int = 200,
         **params: Any) -> dict[str, Any]:
    response = session.get(url, params=params or None)
    assert response.status_code == status, (url, response.text[:300])
    return check(openapi, spec, response)


def _every_page(openapi: OpenAPI, spec: dict[str, Any], session: requests.Session, url: str, key: str = "data",
                **params: Any) -> list[dict[str, Any]]:
    """Every record of a list, following whichever paging it answers (as the extractor does)."""
    records: list[dict[str, Any]] = []
    turn: dict[str, Any] = {}
    for _ in range(100):
        body = _get(openapi, spec, session, url, **params, **turn)
        records += body[key]
        pages = body.get("pages") if isinstance(body.get("pages"), dict) else body
        nxt = pages.get("next")
        if isinstance(nxt, dict) and nxt.get("starting_after"):
            turn = {"starting_after": nxt["starting_after"]}
        elif isinstance(nxt, str):
            turn = {"page": int(parse_qs(urlsplit(nxt).query)["page"][0])}
        elif "next" not in pages and pages.get("page", 1) < pages.get("total_pages", 0):
            turn = {"page": pages["page"] + 1}
        else:
            return records
    raise AssertionError(f"{url}: more than 100 pages")


def test_calls_and_their_transcripts_validate(openapi: OpenAPI, spec: dict[str, Any], server: IntercomTestServer,
                                              session: requests.Session) -> None:
    url = server.base_url
    calls = _every_page(openapi, spec, session, url + "/calls", per_page=4)
    assert len(calls) > 4 and len({c["id"] for c in calls}) == len(calls)
    assert all(c["conversation_id"] in server.workspace.conversations for c in calls)
    conversation_ids = sorted({c["conversation_id"] for c in calls})[:20]
    found = session.post(url + "/calls/search", json={"conversation_ids": conversation_ids})
    data = check(openapi, spec, found)["data"]
    assert {c["conversation_id"] for c in data} == set(conversation_ids)
    assert any(c["transcript"] for c in data) and any(c["transcript_status"] == "not_available" for c in data)
    too_many = session.post(url + "/calls/search", json={"conversation_ids": [str(i) for i in range(21)]})
    assert too_many.status_code == 400 and check(openapi, spec, too_many)["errors"]


def test_per_record_lists_validate_with_realistic_data(openapi: OpenAPI, spec: dict[str, Any],
                                                       server: IntercomTestServer, session: requests.Session) -> None:
    ws, url = server.workspace, server.base_url
    notes, segments, subscriptions = [], [], []
    for contact_id in list(ws.contacts)[:60]:
        notes += _every_page(openapi, spec, session, f"{url}/contacts/{contact_id}/notes")
        segments += _get(openapi, spec, session, f"{url}/contacts/{contact_id}/segments")["data"]
        subscriptions += _get(openapi, spec, session, f"{url}/contacts/{contact_id}/subscriptions")["data"]
    assert notes and segments and subscriptions
    assert any("<p>" in n["body"] for n in notes) and any(any(ord(ch) > 0xFFFF for ch in n["body"]) for n in notes)
    company_notes = [n for c in list(ws.companies)[:60]
                     for n in _every_page(openapi, spec, session, f"{url}/companies/{c}/notes")]
    assert company_notes and all(n["company"]["type"] == "company" for n in company_notes)
    events, sides = [], []
    for conv_id in list(ws.conversations)[:80]:
        events += _get(openapi, spec, session, f"{url}/conversations/{conv_id}/handling_events")["handling_events"]
        sides += _every_page(openapi, spec, session, f"{url}/conversations/{conv_id}/side_conversations",
                             key="side_conversations")
    assert {e["type"] for e in events} == {"paused", "resumed"}
    assert sides and all(s["conversation_parts"] and s["total_count"] == len(s["conversation_parts"]) for s in sides)
    _get(openapi, spec, session, f"{url}/contacts/nope/notes", status=404)
    _get(openapi, spec, session, f"{url}/conversations/nope/handling_events", status=404)


@pytest.mark.parametrize("path,key,per_page", [
    ("/macros", "data", 7), ("/internal_articles", "data", 5), ("/content_snippets", "data", 3),
    ("/audiences", "data", 3), ("/ai/external_pages", "data", 4), ("/ai/content_import_sources", "data", 1),
    ("/data_connectors", "data", 2), ("/brands", "data", None), ("/emails", "data", None),
    ("/office_hours_schedules", "data", None), ("/admins/activity_log_event_types", "event_types", None),
])
def test_every_page_of_the_workspace_lists_validates(openapi: OpenAPI, spec: dict[str, Any],
                                                     server: IntercomTestServer, session: requests.Session,
                                                     path: str, key: str, per_page: int | None) -> None:
    params = {"per_page": per_page} if per_page else {}
    records = _every_page(openapi, spec, session, server.base_url + path, key=key, **params)
    assert records and len(records) > (per_page or 0)
    if key == "data":
        assert len({r["id"] for r in records}) == len(records)


def test_macros_come_newest_first_and_updated_since_filters(openapi: OpenAPI, spec: dict[str, Any],
                                                            server: IntercomTestServer,
                                                            session: requests.Session) -> None:
    every = _every_page(openapi, spec, session, server.base_url + "/macros", per_page=4)
    stamps = [m["updated_at"] for m in every]
    assert stamps == sorted(stamps, reverse=True) and all(s.endswith("Z") for s in stamps)
    since = NOW - 30 * 86_400
    recent = _every_page(openapi, spec, session, server.base_url + "/macros", per_page=4, updated_since=since)
    assert 0 < len(recent) < len(every) and recent == every[:len(recent)]


def test_office_hours_exceptions_redirects_and_connector_runs_validate(
        openapi: OpenAPI, spec: dict[str, Any], server: IntercomTestServer, session: requests.Session) -> None:
    url = server.base_url
    for schedule in _get(openapi, spec, session, url + "/office_hours_schedules")["data"]:
        exceptions = _get(openapi, spec, session,
                          f"{url}/office_hours_schedules/{schedule['id']}/office_hours_exceptions")["data"]
        assert {e["exception_type"] for e in exceptions} == {"closed", "custom_hours"}
    for center in server.workspace.help_centers:
        redirects = _every_page(openapi, spec, session, f"{url}/help_center/help_centers/{center['id']}/redirects",
                                per_page=2)
        assert redirects and all(r["help_center_id"] == center["id"] for r in redirects)
    connector = _get(openapi, spec, session, url + "/data_connectors")["data"][0]
    runs = _every_page(openapi, spec, session, f"{url}/data_connectors/{connector['id']}/execution_results",
                       per_page=30, start_ts=NOW - 30 * 86_400, end_ts=NOW)
    assert any(not r["success"] for r in runs) and any(r["success"] for r in runs)
    last_hour = _get(openapi, spec, session, f"{url}/data_connectors/{connector['id']}/execution_results")["data"]
    assert len(last_hour) < len(runs)


def test_a_refused_newer_endpoint_answers_403(openapi: OpenAPI, spec: dict[str, Any], server: IntercomTestServer,
                                              session: requests.Session) -> None:
    server.set_refusals({"GET /calls": "forbidden", "GET /contacts/{id}/notes": "api_plan_restricted"})
    contact_id = next(iter(server.workspace.contacts))
    assert _get(openapi, spec, session, server.base_url + "/calls", status=403)["errors"]
    assert _get(openapi, spec, session, f"{server.base_url}/contacts/{contact_id}/notes", status=403)["errors"]
    _get(openapi, spec, session, server.base_url + "/macros")
