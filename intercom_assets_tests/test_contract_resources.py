"""Contract tests of the newer resources: every new endpoint's real responses validate against the official
2.16 description with only the relaxations test_contract.py lists (SOURCE.md's), and the relaxed description
still rejects wrong types, bad enums and broken list shapes in those resources.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from openapi_core import Config, OpenAPI

from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.intercom_server import IntercomTestServer
from intercom_assets_tests.test_contract import NULLABLE_FIELDS, _fails, check, load_spec, relax
from intercom_assets_tests.test_contract import spec as spec  # noqa: F401 - the module-scoped fixture

YEAR_AGO = int(TEST_NOW.timestamp()) - 420 * 86_400


@pytest.fixture(scope="module")
def openapi(spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(relax(spec), config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def server() -> Iterator[IntercomTestServer]:
    with IntercomTestServer(token=TEST_TOKEN, seed=7, scale="small", now=TEST_NOW) as srv:
        yield srv


@pytest.fixture
def session(server: IntercomTestServer) -> Iterator[requests.Session]:
    server.set_refusals({})
    server.merged_contact_status = 410
    with requests.Session() as s:
        s.headers.update({"Authorization": f"Bearer {TEST_TOKEN}", "Accept": "application/json",
                          "Intercom-Version": "2.16"})
        yield s


def _get(openapi: OpenAPI, spec: dict[str, Any], session: requests.Session, url: str,
         status: int = 200, **params: Any) -> dict[str, Any]:
    response = session.get(url, params=params or None)
    assert response.status_code == status, (url, response.text[:300])
    return check(openapi, spec, response)


def test_unpaged_lists_and_single_records_validate(openapi: OpenAPI, spec: dict[str, Any],
                                                   server: IntercomTestServer, session: requests.Session) -> None:
    ws, url = server.workspace, server.base_url
    user_with_history = next(iter(ws.merge_history))
    contacts = [user_with_history, *ws.truncated_tags_contact_ids[:2], *ws.undercounted_tags_contact_ids[:2],
                *ws.truncated_companies_contact_ids[:2], *ws.undercounted_companies_contact_ids[:2],
                *list(ws.contacts)[:20:4]]
    paths = ["/me", "/ticket_types", "/ticket_states", "/conversations/attributes",
             "/conversations/attributes?include_archived=true", "/help_center/help_centers", "/subscription_types",
             "/away_status_reasons"]
    for contact_id in contacts:
        paths += [f"/contacts/{contact_id}", f"/contacts/{contact_id}?include_merge_history=true",
                  f"/contacts/{contact_id}/tags", f"/contacts/{contact_id}/companies"]
    paths += [f"/companies/{c}" for c in list(ws.companies)[:30:3]]
    paths += [f"/conversations/{c}" for c in ws.unanswered_conversation_ids[:5] + ws.multi_contact_conversation_ids[:3]
              + ws.multi_tag_conversation_ids[:3]]
    for path in paths:
        _get(openapi, spec, session, url + path)
    body = _get(openapi, spec, session, f"{url}/contacts/{user_with_history}", include_merge_history="true")
    assert body["merge_history"] and body["merge_history"][0]["source_contact_role"] == "lead"
    listed = _get(openapi, spec, session, url + "/contacts", per_page=150, include_merge_history="true")
    assert any(c.get("merge_history") for c in listed["data"]) or len(ws.contacts) > 150
    searched = session.post(url + "/contacts/search?include_merge_history=true", json={
        "query": {"field": "id", "operator": "IN", "value": list(ws.merge_history)}, "pagination": {"per_page": 150}})
    assert all(c["merge_history"] for c in check(openapi, spec, searched)["data"])


@pytest.mark.parametrize("path,per_page", [("/articles", 7), ("/help_center/collections", 3),
                                           ("/news/news_items", 4), ("/news/newsfeeds", 1)])
def test_every_page_of_the_help_center_and_news_lists_validates(openapi: OpenAPI, spec: dict[str, Any],
                                                                server: IntercomTestServer,
                                                                session: requests.Session, path: str,
                                                                per_page: int) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"per_page": per_page}
    while True:
        body = _get(openapi, spec, session, server.base_url + path, **params)
        seen += [r["id"] for r in body["data"]]
        nxt = body["pages"].get("next")
        if not nxt:
            break
        params = {"per_page": per_page, "starting_after": nxt["starting_after"]}
    assert len(seen) == len(set(seen)) == body["total_count"] > per_page


def test_every_page_of_deleted_conversations_and_contact_companies_validates(
        openapi: OpenAPI, spec: dict[str, Any], server: IntercomTestServer, session: requests.Session) -> None:
    ws = server.workspace
    for start, key, total in [
        (f"{server.base_url}/conversations/deleted?per_page=2", "conversations", len(ws.deleted_conversations)),
        (f"{server.base_url}/contacts/{ws.truncated_companies_contact_ids[0]}/companies?per_page=4", "data",
         len(ws.contact_company_ids[ws.truncated_companies_contact_ids[0]])),
    ]:
        link: str | None = start
        seen = 0
        while link:
            assert urlsplit(link).netloc == urlsplit(server.base_url).netloc
            body = _get(openapi, spec, session, link)
            seen += len(body[key])
            link = body["pages"]["next"]
        assert seen == total == body["total_count"] > 4


def test_a_year_of_activity_logs_validates(openapi: OpenAPI, spec: dict[str, Any], server: IntercomTestServer,
                                           session: requests.Session) -> None:
    params: dict[str, Any] = {"created_at_after": YEAR_AGO, "per_page": 150}
    seen = 0
    while True:
        body = _get(openapi, spec, session, server.base_url + "/admins/activity_logs", **params)
        seen += len(body["activity_logs"])
        nxt = body["pages"].get("next")
        if not nxt:
            break
        params["starting_after"] = nxt["starting_after"]
    assert seen == sum(server.workspace.activity.day_counts) > 1000


def test_every_ticket_search_page_and_ticket_validates(openapi: OpenAPI, spec: dict[str, Any],
                                                       server: IntercomTestServer, session: requests.Session) -> None:
    ws = server.workspace
    query = {"operator": "OR", "value": [{"field": "updated_at", "operator": ">", "value": 0},
                                         {"field": "updated_at", "operator": "=", "value": 0}]}
    pagination: dict[str, Any] = {"per_page": 150}
    seen = 0
    while True:
        response = session.post(server.base_url + "/tickets/search", json={
            "query": query, "pagination": pagination, "sort": {"field": "updated_at", "order": "ascending"}})
        body = check(openapi, spec, response)
        seen += len(body["tickets"])
        nxt = body["pages"].get("next")
        if not nxt:
            break
        pagination = {"per_page": 150, "starting_after": nxt["starting_after"]}
    assert seen == len(ws.tickets)
    for ticket_id in [ws.big_ticket_id, *list(ws.tickets)[::10]]:
        assert _get(openapi, spec, session, f"{server.base_url}/tickets/{ticket_id}")["id"] == ticket_id


def test_error_statuses_of_the_new_endpoints_validate(openapi: OpenAPI, spec: dict[str, Any],
                                                      server: IntercomTestServer, session: requests.Session) -> None:
    ws, url = server.workspace, server.base_url
    bad_auth = {"Authorization": "Bearer wrong", "Accept": "application/json"}
    gets = ["/me", "/ticket_types", "/ticket_states", "/conversations/attributes", "/help_center/help_centers",
            "/help_center/collections", "/articles", "/news/news_items", "/news/newsfeeds", "/subscription_types",
            "/away_status_reasons", "/conversations/deleted", f"/admins/activity_logs?created_at_after={YEAR_AGO}",
            f"/tickets/{ws.big_ticket_id}", f"/contacts/{next(iter(ws.contacts))}",
            f"/contacts/{next(iter(ws.contacts))}/tags", f"/contacts/{next(iter(ws.contacts))}/companies",
            f"/companies/{next(iter(ws.companies))}"]
    for path in gets:
        response = requests.get(url + path, headers=bad_auth)
        assert response.status_code == 401
        check(openapi, spec, response)
    merged = next(iter(ws.merged_contacts))
    gone = session.get(f"{url}/contacts/{merged}")
    assert gone.status_code == 410 and gone.headers["Link"] == f'</contacts/{ws.merge_target(merged)}>; rel="canonical"'
    cases = [
        (gone, 410, "contact_merged"),
        (session.get(f"{url}/contacts/{next(iter(ws.deleted_contacts))}"), 404, "not_found"),
        (session.get(f"{url}/contacts/{next(iter(ws.deleted_contacts))}/tags"), 404, "not_found"),
        (session.get(f"{url}/companies/{next(iter(ws.deleted_companies))}"), 404, "company_not_found"),
        (session.get(f"{url}/tickets/1"), 404, "not_found"),
        (session.get(url + "/conversations/deleted", params={"per_page": 61}), 400, "parameter_invalid"),
        (session.get(url + "/conversations/deleted", params={"order": "sideways"}), 400, "parameter_invalid"),
        (session.get(url + "/admins/activity_logs"), 400, "parameter_not_found"),
        (session.post(url + "/tickets/search", json={"query": {"field": "updated_at", "operator": ">=",
                                                               "value": 0}}), 400, "bad_request"),
    ]
    server.set_refusals({"GET /admins/activity_logs": "forbidden", "POST /tickets/search": "api_plan_restricted"})
    cases += [(session.get(url + "/admins/activity_logs", params={"created_at_after": 0}), 403, "forbidden"),
              (session.post(url + "/tickets/search", json={"query": {}}), 403, "api_plan_restricted")]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert check(openapi, spec, response)["errors"][0]["code"] == code


# ---- the relaxations are not broader than listed, in the new resources too ---------------------------------
@pytest.fixture(scope="module")
def samples(server: IntercomTestServer) -> dict[str, Any]:
    ws = server.workspace
    ticket = dict(ws.tickets[ws.big_ticket_id])
    ticket["ticket_parts"] = {"type": "ticket_part.list", "ticket_parts": ws.ticket_parts(ws.big_ticket_id)[:40],
                              "total_count": 40}
    activity, _ = ws.activity.page(YEAR_AGO, int(TEST_NOW.timestamp()), 0, 200)
    unanswered = dict(ws.conversations[ws.unanswered_conversation_ids[0]])
    unanswered["conversation_parts"] = {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0}
    user = ws.contacts[next(iter(ws.merge_history))]
    return copy.deepcopy({
        "ticket": ticket, "article": next(iter(ws.articles.values())),
        "collection": next(iter(ws.collections.values())), "news_item": next(iter(ws.news_items.values())),
        "activity": {"type": "activity_log.list", "activity_logs": activity},
        "deleted": {"type": "conversations.list", "total_count": 1, "conversations": [
            {"type": "conversation", "id": "1", "metrics_retained": False, "deleted_at": 1}],
            "pages": {"type": "pages", "next": "http://127.0.0.1:1/conversations/deleted?page=2", "page": 1,
                      "per_page": 1, "total_pages": 2}},
        "ticket_types": {"type": "list", "data": ws.ticket_types},
        "unanswered": unanswered, "user": dict(user, merge_history=ws.merge_history[user["id"]]),
        "reasons": {"type": "list", "data": ws.away_status_reasons},
        "attributes": {"type": "list", "data": ws.conversation_attributes},
    })


def _mutated(samples: dict[str, Any], name: str, mutate: Any) -> Any:
    value = copy.deepcopy(samples[name])
    mutate(value)
    return value


CHECKS: dict[str, tuple[str, str, Any]] = {
    # sample name -> (method, path, wrap): how a sample is sent through the relaxed description
    "ticket": ("get", "/tickets/1", lambda v: v),
    "article": ("get", "/articles", lambda v: {"type": "list", "data": [v]}),
    "collection": ("get", "/help_center/collections", lambda v: {"type": "list", "data": [v]}),
    "news_item": ("get", "/news/news_items", lambda v: {"type": "list", "data": [v]}),
    "activity": ("get", "/admins/activity_logs", lambda v: v),
    "deleted": ("get", "/conversations/deleted", lambda v: v),
    "ticket_types": ("get", "/ticket_types", lambda v: v),
    "unanswered": ("get", "/conversations/1", lambda v: v),
    "user": ("get", "/contacts/1", lambda v: v),
    "reasons": ("get", "/away_status_reasons", lambda v: v),
    "attributes": ("get", "/conversations/attributes", lambda v: v),
}


def test_unmodified_samples_pass(openapi: OpenAPI, samples: dict[str, Any]) -> None:
    for name, (method, path, wrap) in CHECKS.items():
        assert not _fails(openapi, method, path, wrap(samples[name])), name


@pytest.mark.parametrize("name,mutate", [
    pytest.param("ticket", lambda t: t.update(category="Support"), id="ticket category enum"),
    pytest.param("ticket", lambda t: t.update(admin_assignee_id=None), id="ticket assignee null"),
    pytest.param("ticket", lambda t: t.update(admin_assignee_id="12"), id="ticket assignee string"),
    pytest.param("ticket", lambda t: t["ticket_state"].update(category="done"), id="ticket state enum"),
    pytest.param("ticket", lambda t: t["ticket_parts"].update(total_count=None), id="ticket parts total_count null"),
    pytest.param("ticket", lambda t: t["ticket_parts"]["ticket_parts"][0]["author"].update(type="lead"),
                 id="ticket part author enum"),
    pytest.param("ticket", lambda t: t["ticket_parts"]["ticket_parts"][0].update(created_at="today"),
                 id="ticket part timestamp"),
    pytest.param("ticket", lambda t: t["ticket_attributes"].update(bad={"filesize": "big"}),
                 id="ticket attribute neither scalar nor file"),
    pytest.param("ticket", lambda t: t["linked_objects"].update(data={"id": "x"}), id="linked objects shape"),
    pytest.param("article", lambda a: a.update(state="archived"), id="article state enum"),
    pytest.param("article", lambda a: a.update(author_id="12"), id="article author string"),
    pytest.param("article", lambda a: a.update(parent_ids=["12"]), id="article parent ids strings"),
    pytest.param("collection", lambda c: c.update(order="1"), id="collection order string"),
    pytest.param("news_item", lambda n: n.update(state="published"), id="news item state enum"),
    pytest.param("news_item", lambda n: n.update(newsfeed_assignments={"id": 1}), id="news assignments shape"),
    pytest.param("activity", lambda a: a["activity_logs"][0].update(activity_type="coffee_break"),
                 id="activity type enum"),
    pytest.param("activity", lambda a: a["activity_logs"][0].update(created_at=None), id="activity created null"),
    pytest.param("deleted", lambda d: d["pages"].update(next={"page": 2}), id="deleted pages.next object"),
    pytest.param("deleted", lambda d: d["conversations"][0].update(deleted_at="now"), id="deleted_at string"),
    pytest.param("ticket_types", lambda t: t["data"][0].update(category="Other"), id="ticket type category enum"),
    pytest.param("unanswered", lambda c: c["statistics"].update(time_to_admin_reply="never"),
                 id="statistics non-null of the wrong type"),
    pytest.param("unanswered", lambda c: c["statistics"].update(count_conversation_parts=None),
                 id="statistics null on a field not in the list"),
    pytest.param("user", lambda u: u["merge_history"][0].update(source_contact_role="visitor"),
                 id="merge history role enum"),
    pytest.param("user", lambda u: u.update(merge_history={"source_contact_id": "x"}), id="merge history shape"),
    pytest.param("reasons", lambda r: r["data"][0].update(deleted="yes"), id="away reason deleted string"),
    pytest.param("attributes", lambda a: a["data"][0].update(data_type="enum"), id="conversation attribute type"),
])
def test_violations_still_fail(openapi: OpenAPI, samples: dict[str, Any], name: str, mutate: Any) -> None:
    method, path, wrap = CHECKS[name]
    assert _fails(openapi, method, path, wrap(_mutated(samples, name, mutate)))


def test_the_new_relaxations_are_needed(samples: dict[str, Any]) -> None:
    strict = OpenAPI.from_dict(copy.deepcopy(load_spec()), config=Config(spec_validator_cls=None))

    def other_nulls_filled(c: dict[str, Any]) -> None:
        c.pop("ai_agent")
        c.update(admin_assignee_id=1, team_assignee_id=1)
        c["source"]["author"]["email"] = "someone@example.com"

    unanswered = _mutated(samples, "unanswered", other_nulls_filled)
    assert unanswered["statistics"]["time_to_admin_reply"] is None
    assert _fails(strict, "get", "/conversations/1", unanswered)
    # an unanswered conversation has had none of the events its statistics time (null, as the recorded payloads
    # send them): with each of them filled in, the strict description accepts it
    stats = unanswered["statistics"]
    nulls = {name for name, value in stats.items() if value is None}
    assert nulls == {name for schema, name, _ in NULLABLE_FIELDS if schema == "conversation_statistics"}
    stats.update({name: unanswered["created_at"] + 60 if name.endswith("_at") else "1" if name.endswith("_id")
                  else 60 for name in nulls})
    assert not _fails(strict, "get", "/conversations/1", unanswered)
