"""The 2.16 description's examples of every object of the newer tables keep every value through a run's path
(derivation, staging, Parquet, read back), nearly all in typed columns: the machinery of test_real_payloads.py
over the 200 examples of the newer endpoints in the bundled description.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from intercom_assets.tables import TABLES_BY_NAME
from intercom_assets_tests.test_field_coverage import api_description
from intercom_assets_tests.test_real_payloads import (
    MIN_DECLARED_SHARE,
    Route,
    Tokens,
    _nested,
    _same,
    general,
    leaves,
    place,
    stage_and_read,
)

pytestmark = pytest.mark.wall_seconds(5)  # measured in the suite; it starts the longest files first

PARENT = {"type": "parent", "id": "p1", "updated_at": 1_767_225_600}
# (request, list key in its example or None for a single object) -> the table its objects are rows of
EXAMPLES: dict[tuple[str, str | None], str] = {
    ("GET /calls/{call_id}", None): "calls",
    ("POST /calls/search", "data"): "call_transcripts",
    ("GET /conversations/{id}/handling_events", "handling_events"): "conversation_handling_events",
    ("GET /conversations/{id}/side_conversations", "side_conversations"): "side_conversations",
    ("GET /contacts/{contact_id}/notes", "data"): "contact_notes",
    ("GET /companies/{company_id}/notes", "data"): "company_notes",
    ("GET /notes/{note_id}", None): "contact_notes",
    ("GET /contacts/{contact_id}/segments", "data"): "contact_segments",
    ("GET /contacts/{contact_id}/subscriptions", "data"): "contact_subscriptions",
    ("GET /macros", "data"): "macros",
    ("GET /macros/{id}", None): "macros",
    ("GET /office_hours_schedules", "data"): "office_hours_schedules",
    ("GET /office_hours_schedules/{office_hours_schedule_id}/office_hours_exceptions", "data"):
        "office_hours_exceptions",
    ("GET /brands", "data"): "brands",
    ("GET /brands/{id}", None): "brands",
    ("GET /emails", "data"): "email_settings",
    ("GET /internal_articles", "data"): "internal_articles",
    ("GET /content_snippets", "data"): "content_snippets",
    ("GET /audiences", "data"): "audiences",
    ("GET /ai/external_pages", "data"): "ai_external_pages",
    ("GET /ai/content_import_sources", "data"): "ai_content_import_sources",
    ("GET /data_connectors", "data"): "data_connectors",
    ("GET /data_connectors/{data_connector_id}/execution_results", "data"): "data_connector_execution_results",
    ("GET /help_center/help_centers/{help_center_id}/redirects", "data"): "help_center_redirects",
    ("GET /admins/activity_log_event_types", "event_types"): "activity_log_event_types",
}


def examples() -> list[tuple[str, str, Any]]:
    """(request, table, object) for every object in the 200 examples of the newer endpoints."""
    paths = api_description()["paths"]
    found = []
    for (request, key), table in EXAMPLES.items():
        method, path = request.split(" ")
        answer = paths[path][method.lower()]["responses"]["200"]["content"]["application/json"]
        for example in answer["examples"].values():
            body = example["value"]
            found += [(request, table, item) for item in (body[key] if key else [body])]
    return found


def routes(table: str, obj: Any) -> list[Route]:
    """The rows a run derives from one object of this table's list, and where its leaves land."""
    spec = TABLES_BY_NAME[table]
    if table == "activity_log_event_types":  # a bare name: the row keyed by it
        return [Route(table, obj, lambda path: [(0, ("id",))] if path == () else [])]
    if spec.children is None:
        return [Route(table, obj, _same)]
    answer = {spec.children.fetched: [obj]}
    if table == "call_transcripts":  # the call with its transcript: the call's fields are the calls table's
        lines = len(obj.get("transcript") or [])
        parent = {**obj, "updated_at": PARENT["updated_at"]}

        def locate_lines(path: Tokens) -> list[tuple[int, Tokens]]:
            if path == ("transcript_status",):
                return [(i, path) for i in range(lines)]
            if path[:1] == ("transcript",) and len(path) == 2:  # an empty line: its row, numbered
                return [(path[1], ("line",))]
            return _nested(("transcript",))(path)

        call = {k: v for k, v in parent.items() if k not in ("transcript", "transcript_status")}
        return [Route("calls", call, lambda p: [] if p[0] in ("transcript", "transcript_status") else _same(p)),
                Route(table, (parent, answer), locate_lines)]
    # the parent is the record the object names (an exception's schedule), as in a run
    parent = {**PARENT, "id": obj.get(spec.children.id_column, PARENT["id"])}
    if table == "side_conversations":
        parts = TABLES_BY_NAME["side_conversation_parts"]
        return [Route(table, (parent, answer), lambda p: [] if p[0] == "conversation_parts" else _same(p)),
                Route(parts.name, (parent, answer), _nested(("conversation_parts",)))]
    return [Route(table, (parent, answer), _same)]


def _place(table: str, rows: list, stored: list, i: int, row_path: Tokens, leaf: Any) -> str:
    if i >= len(rows):
        return "lost"
    if row_path == ("line",) and leaf == {}:  # an empty transcript line is its row (numbered by `line`)
        return "declared" if stored[i] is not None and stored[i]["line"] == i else "lost"
    return place(table, rows[i], stored[i], row_path, leaf)


@pytest.mark.parametrize("request_,table", [(r, t) for (r, _), t in EXAMPLES.items()])
def test_the_newer_descriptions_examples_keep_every_value(request_: str, table: str, tmp_path: Path) -> None:
    objects = [obj for request, _, obj in examples() if request == request_]
    assert objects, f"{request_}: the description has no example object"
    statuses: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for n, obj in enumerate(objects):
        staged = []
        for route in routes(table, obj):
            rows, stored = stage_and_read(route, tmp_path / f"{n:03d}-{route.table}")
            assert rows and all(row is not None for row in stored), (request_, route.table, n)
            staged.append((route, rows, stored))
        for path, leaf in leaves(obj):
            places = [_place(route.table, rows, stored, i, row_path, leaf)
                      for route, rows, stored in staged for i, row_path in route.locate(path)]
            status = ("lost" if not places or "lost" in places else "declared" if set(places) == {"declared"}
                      else "opaque" if "opaque" in places else "extra")
            statuses[status] += 1
            if status != "declared":
                outside[f"{status}: {general(path)}"] += 1
    print(f"\n{request_} -> {table}: {dict(statuses)} {dict(outside)}")
    assert not statuses["lost"], outside
    assert statuses["declared"] / sum(statuses.values()) >= MIN_DECLARED_SHARE, outside
