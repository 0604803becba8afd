"""The support metrics (intercom_assets/metrics/) over a hand-built lake: each metric's value, worked out by hand.

One `dbt build` (the product's `build_metrics`, as the erasure job runs it) serves every assertion of the module.
The office hours schedule is New York's Monday-Friday 09:00-17:00; the US moved to daylight time on Sunday
2026-03-08 (09:00 is 14:00 UTC before, 13:00 UTC after), Tuesday 2026-03-10 is a holiday (a closed exception
recurring annually since 2024) and Thursday 2026-03-12 has custom hours 10:00-12:00.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from intercom_assets.metrics.assets import build_metrics
from intercom_assets_tests.metrics_lake import (
    EXCEPTION_SCHEMA,
    SCHEDULE_SCHEMA,
    conversation,
    epoch,
    part,
    weekdays,
    write_current,
    write_declared_snapshot,
    write_snapshot,
)

pytestmark = pytest.mark.wall_seconds(35)  # measured in the suite; it starts the longest files first

EXTRACTED = epoch("2026-03-13T00:00")
ADA = {"type": "admin", "id": "101", "name": "Ada", "email": "ada@example.com"}
BOB = {"type": "admin", "id": "102", "name": "Bob", "email": "bob@example.com"}
CY = {"type": "admin", "id": "103", "name": "Cy", "email": "cy@example.com"}
FIN = {"type": "bot", "id": "9", "name": "Fin", "from_ai_agent": True, "is_ai_answer": True}
USER = {"type": "user", "id": "c1", "role": "user"}
LEAD = {"type": "lead", "id": "c2", "role": "lead"}
TEAM = "7001"


def _parts(conv_id: str, rows: list[dict], total: int | None = None) -> list[dict]:
    return [dict(r, conversation_id=conv_id, conversation_updated_at=EXTRACTED,
                 conversation_total_parts=total if total is not None else len(rows)) for r in rows]


def _lake(root: Path) -> None:
    full = _parts("A", [
        part("a1", "assignment", "2026-03-06T21:10", ADA, assigned_to={"type": "admin", "id": "102"}),
        part("a2", "note", "2026-03-06T21:20", BOB, "<p>internal</p>"),
        part("a3", "comment", "2026-03-06T21:30", FIN, "<p>Have you tried?</p>"),
        part("a4", "comment", "2026-03-11T14:00", BOB, "<p>Hi!</p>"),
        part("a5", "close", "2026-03-11T15:00", BOB),
        part("a6", "open", "2026-03-11T16:00", {"type": "user", "id": "c1"}, "<p>Still broken</p>"),
        part("a7", "snoozed", "2026-03-11T17:00", BOB),
        part("a8", "assign_and_reopen", "2026-03-12T13:00", ADA, assigned_to={"type": "admin", "id": "101"}),
        part("a9", "comment", "2026-03-12T14:00", ADA, "<p>Fixed</p>"),
        part("a10", "close", "2026-03-12T15:00", ADA),
    ])
    capped = _parts("B", [
        part("b1", "comment", "2026-03-09T15:00", BOB, "<p>late</p>"),
        part("b2", "close", "2026-03-09T16:00", BOB),
    ], total=612)
    ai = _parts("C", [
        part("c1p", "comment", "2026-03-09T14:01", FIN, "<p>Answer</p>"),
        part("c2p", "close", "2026-03-09T14:02", FIN),
    ])
    team = _parts("F", [
        part("f1", "assignment", "2026-03-09T14:05", ADA, assigned_to={"type": "team", "id": TEAM}),
        part("f2", "comment", "2026-03-09T14:30", CY, "<p>On it</p>"),
    ])
    conversations = [
        conversation("A", "2026-03-06T21:00", USER, state="closed", open=False, admin_assignee_id="101",
                     updated_at=epoch("2026-03-12T15:00"),
                     tags={"type": "tag.list", "tags": [{"type": "tag", "id": "2", "name": "vip"},
                                                        {"type": "tag", "id": "1", "name": "billing"}]},
                     conversation_rating={"rating": 5, "remark": "Great", "created_at": epoch("2026-03-12T16:00"),
                                          "teammate": {"type": "admin", "id": "101"}},
                     sla_applied={"type": "sla_applied", "sla_name": "Gold", "sla_status": "hit"},
                     statistics={"count_conversation_parts": 10}),
        conversation("B", "2026-03-02T14:00", USER, state="closed", open=False,
                     statistics={"count_conversation_parts": 612, "first_contact_reply_at": epoch("2026-03-02T14:00"),
                                 "first_admin_reply_at": epoch("2026-03-02T14:30"),
                                 "first_assignment_at": epoch("2026-03-02T14:10"),
                                 "first_close_at": epoch("2026-03-03T10:00"), "count_reopens": 4,
                                 "count_assignments": 3}),
        conversation("C", "2026-03-09T14:00", LEAD, state="closed", open=False, ai_agent_participated=True,
                     ai_agent={"source_type": "workflow", "resolution_state": "assumed_resolution", "rating": 4}),
        conversation("D", "2026-03-09T14:00", LEAD, ai_agent_participated=True,
                     ai_agent={"source_type": "fin_preview", "resolution_state": "confirmed_resolution"}),
        conversation("E", "2026-03-09T15:00", USER,
                     source={"type": "email", "id": "src-E", "delivered_as": "operator_initiated",
                             "author": {"type": "admin", "id": "101"}}),
        conversation("F", "2026-03-09T14:00", LEAD, team_assignee_id=TEAM,
                     conversation_rating={"rating": 3, "remark": "", "created_at": epoch("2026-03-09T15:00")}),
    ]
    write_current(root, "conversations", conversations, EXTRACTED)
    write_current(root, "conversation_parts", [*full, *capped, *ai, *team], EXTRACTED)
    write_current(root, "conversation_contacts", [
        {"type": "contact", "id": c["contacts"]["contacts"][0]["id"], "conversation_id": c["id"],
         "conversation_updated_at": EXTRACTED} for c in conversations], EXTRACTED)
    write_current(root, "contacts", [{"type": "contact", "id": "c1", "role": "user"},
                                     {"type": "contact", "id": "c2", "role": "lead"}], EXTRACTED)
    write_current(root, "companies", [{"type": "company", "id": "co1", "name": "Acme"}], EXTRACTED)
    write_current(root, "contact_companies", [
        {"type": "company", "id": "co1", "contact_id": cid, "contact_updated_at": EXTRACTED} for cid in ("c1", "c2")],
        EXTRACTED)
    write_current(root, "tickets", [{
        "type": "ticket", "id": "T1", "category": "Customer", "created_at": epoch("2026-03-10T00:00"),
        "updated_at": epoch("2026-03-10T00:25"), "ticket_state": {"type": "ticket_state", "category": "resolved"},
    }], epoch("2026-03-10T00:33:20"))
    write_current(root, "ticket_parts", [
        {"type": "ticket_part", "id": f"t{k}", "part_type": "ticket_state_updated_by_admin", "ticket_id": "T1",
         "created_at": epoch("2026-03-10T00:00") + at, "previous_ticket_state": before, "ticket_state": after,
         "ticket_updated_at": EXTRACTED, "ticket_total_parts": 5}
        for k, (at, before, after) in enumerate([
            (100, "submitted", "in_progress"), (300, "in_progress", "waiting_on_customer"),
            (600, "waiting_on_customer", "resolved"), (1000, "resolved", "in_progress"),
            (1500, "in_progress", "resolved")])], EXTRACTED)
    write_declared_snapshot(root, "admins", [{"type": "admin", "id": a["id"], "name": a["name"]}
                                             for a in (ADA, BOB, CY)], EXTRACTED, "2026-03-12")
    write_declared_snapshot(root, "teams", [{"type": "team", "id": TEAM, "name": "Billing"}], EXTRACTED, "2026-03-12")
    created = [epoch("2025-01-01T00:00") * 1000, epoch("2025-06-01T00:00") * 1000]
    write_snapshot(root, "office_hours_schedules", [
        {"type": "office_hours_schedule", "id": "s1", "name": "New York", "time_zone_name": "America/New_York",
         "time_intervals": weekdays(9, 17), "twenty_four_seven": False, "created_at": created[0],
         "updated_at": created[0]},
        {"type": "office_hours_schedule", "id": "s2", "name": "Always", "time_zone_name": "Europe/London",
         "time_intervals": [], "twenty_four_seven": True, "created_at": created[1], "updated_at": created[1]},
    ], SCHEDULE_SCHEMA, "2026-03-12")
    write_snapshot(root, "office_hours_exceptions", [
        {"type": "office_hours_exception", "id": "e1", "office_hours_schedule_id": "s1",
         "exception_date": "2024-03-10", "exception_type": "closed", "name": "Holiday", "time_intervals": None,
         "recurring_annually": True, "created_at": created[0], "updated_at": created[0]},
        {"type": "office_hours_exception", "id": "e2", "office_hours_schedule_id": "s1",
         "exception_date": "2026-03-12", "exception_type": "custom_hours", "name": "Short day",
         "time_intervals": [{"start_minute": 600, "end_minute": 720, "day_of_week": 3}],
         "recurring_annually": False, "created_at": created[0], "updated_at": created[0]},
    ], EXCEPTION_SCHEMA, "2026-03-12")


def _build(root: Path, scratch: Path, schedule: str | None = None) -> None:
    before = os.environ.pop("INTERCOM_OFFICE_HOURS_SCHEDULE", None)
    if schedule:
        os.environ["INTERCOM_OFFICE_HOURS_SCHEDULE"] = schedule
    try:
        build_metrics(str(root), str(scratch))
    finally:
        os.environ.pop("INTERCOM_OFFICE_HOURS_SCHEDULE", None)
        if before is not None:
            os.environ["INTERCOM_OFFICE_HOURS_SCHEDULE"] = before


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("lake") / "intercom"
    _lake(root)
    _build(root, tmp_path_factory.mktemp("staging"))
    yield root


def rows(root: Path, model: str, where: str = "true") -> list[dict]:
    con = duckdb.connect()
    cursor = con.execute(f"select * from read_parquet('{root}/metrics/{model}/*.parquet') where {where}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def one(root: Path, model: str, where: str) -> dict:
    found = rows(root, model, where)
    assert len(found) == 1, found
    return found[0]


def test_every_model_is_one_parquet_file(lake: Path) -> None:
    models = sorted(p.name for p in (lake / "metrics").iterdir())
    assert models == ["admin_daily_metrics", "company_metrics", "contact_metrics", "conversation_metrics",
                      "team_daily_metrics", "ticket_metrics"]
    for model in models:
        assert sorted(p.name for p in (lake / "metrics" / model).iterdir()) == ["part-0.parquet"]
    assert sorted(r["conversation_id"] for r in rows(lake, "conversation_metrics")) == list("ABCDEF")


def test_conversation_events_and_wall_clock_durations(lake: Path) -> None:
    a = one(lake, "conversation_metrics", "conversation_id = 'A'")
    assert a["first_contact_reply_at"].timestamp() == epoch("2026-03-06T21:00")  # the opening message
    assert a["first_assignment_at"].timestamp() == epoch("2026-03-06T21:10")
    assert a["last_assignment_at"].timestamp() == epoch("2026-03-12T13:00")  # assign_and_reopen counts
    assert a["first_admin_reply_at"].timestamp() == epoch("2026-03-11T14:00")  # not the note, not the bot
    assert a["first_admin_reply_by_id"] == "102"
    assert a["first_close_at"].timestamp() == epoch("2026-03-11T15:00")
    assert a["last_close_at"].timestamp() == epoch("2026-03-12T15:00")
    assert a["last_closed_by_id"] == "101"
    assert (a["time_to_first_assignment"], a["time_to_admin_reply"]) == (600, 406_800)
    assert (a["time_to_first_close"], a["time_to_last_close"]) == (410_400, 496_800)
    assert (a["count_reopens"], a["count_assignments"]) == (2, 2)
    assert (a["admin_replies"], a["bot_replies"], a["notes"]) == (2, 1, 1)
    assert (a["parts_stored"], a["parts_total"], a["parts_capped"], a["metrics_source"]) == (10, 10, False, "parts")
    # open and assigned: 21:10 -> 11th 15:00 (a1..a5), 16:00 -> 17:00 (reopened), 12th 13:00 -> 15:00; snoozed not
    assert a["handling_time"] == 600 + 600 + 405_000 + 3600 + 3600 + 3600 + 3600
    assert (a["state"], a["channel"], a["admin_assignee_id"], a["admin_assignee_name"]) == (
        "closed", "conversation", "101", "Ada")
    assert a["tags"] == ["billing", "vip"]
    assert (a["rating"], a["rating_remark"], a["rated_admin_id"]) == (5, "Great", "101")
    assert (a["sla_name"], a["sla_status"]) == ("Gold", "hit")


def test_office_hours_across_daylight_saving_a_holiday_and_custom_hours(lake: Path) -> None:
    a = one(lake, "conversation_metrics", "conversation_id = 'A'")
    # Fri 6th 16:00-17:00 EST, Mon 9th 09:00-17:00 EDT, Tue 10th closed, Wed 11th 09:00-10:00 EDT
    assert a["time_to_admin_reply_office_hours"] == 3600 + 8 * 3600 + 3600
    assert a["time_to_first_close_office_hours"] == 3600 + 8 * 3600 + 2 * 3600
    # ... Wed 09:00-17:00, Thu 12th only 10:00-11:00 EDT (custom hours 10-12; closed at 15:00 UTC = 11:00 EDT)
    assert a["time_to_last_close_office_hours"] == 3600 + 8 * 3600 + 8 * 3600 + 3600
    assert a["time_to_first_assignment_office_hours"] == 600  # Friday 16:00 -> 16:10 EST


def test_a_named_schedule_is_used_and_an_unknown_one_fails(tmp_path: Path) -> None:
    root = tmp_path / "intercom"
    _lake(root)
    # the workspace's setting as the metrics step and the erasure pass it (YAML `office_hours_schedule`), not
    # through the variable; twenty_four_seven: every second counts
    assert "INTERCOM_OFFICE_HOURS_SCHEDULE" not in os.environ
    build_metrics(str(root), str(tmp_path / "staging"), office_hours_schedule="Always")
    a = one(root, "conversation_metrics", "conversation_id = 'A'")
    assert a["time_to_admin_reply_office_hours"] == a["time_to_admin_reply"] == 406_800
    assert a["time_to_last_close_office_hours"] == 496_800
    # a schedule no one has (here through the variable): the refresh fails (and the files stay as they were)
    with pytest.raises(DagsterDbtCliRuntimeError):
        _build(root, tmp_path / "staging", schedule="Nowhere")
    assert one(root, "conversation_metrics", "conversation_id = 'A'") == a


def test_over_the_part_cap_the_statistics_decide(lake: Path) -> None:
    b = one(lake, "conversation_metrics", "conversation_id = 'B'")
    assert (b["parts_stored"], b["parts_total"], b["parts_capped"], b["metrics_source"]) == (2, 612, True,
                                                                                            "statistics")
    assert b["time_to_admin_reply"] == 1800 and b["time_to_first_assignment"] == 600
    assert b["time_to_first_close"] == epoch("2026-03-03T10:00") - epoch("2026-03-02T14:00")
    assert b["last_close_at"].timestamp() == epoch("2026-03-09T16:00")  # the newest parts are there
    assert (b["count_reopens"], b["count_assignments"]) == (4, 3)
    assert b["first_admin_reply_by_id"] is None


def test_bots_ai_agent_and_outbound(lake: Path) -> None:
    c = one(lake, "conversation_metrics", "conversation_id = 'C'")
    assert (c["bot_replies"], c["admin_replies"], c["first_admin_reply_at"]) == (1, 0, None)
    assert c["last_close_at"].timestamp() == epoch("2026-03-09T14:02") and c["last_closed_by_id"] is None
    assert c["ai_agent_resolved"] is True and c["ai_agent_rating"] == 4
    d = one(lake, "conversation_metrics", "conversation_id = 'D'")
    assert d["ai_agent_participated"] is True and d["ai_agent_resolved"] is False  # a preview
    e = one(lake, "conversation_metrics", "conversation_id = 'E'")
    assert (e["first_contact_reply_at"], e["time_to_admin_reply"], e["count_reopens"]) == (None, None, 0)
    assert (e["channel"], e["delivered_as"]) == ("email", "operator_initiated")


def test_fivetran_variants(lake: Path) -> None:
    a = one(lake, "conversation_metrics", "conversation_id = 'A'")
    assert a["first_contact_reply_at_fivetran"] is None  # no comment part by a contact: the opening message is not one
    assert a["time_to_first_close_minutes_fivetran"] is None
    assert a["time_to_first_response_minutes_fivetran"] == pytest.approx(6780.0)  # from creation, in minutes
    assert a["time_to_first_assignment_minutes_fivetran"] == pytest.approx(10.0)
    assert a["time_to_last_assignment_minutes_fivetran"] == pytest.approx(10.0)  # assign_and_reopen is not one
    assert (a["count_assignments_fivetran"], a["count_reopens_fivetran"]) == (1, 1)
    assert a["last_close_by_admin_id_fivetran"] == "101"
    c = one(lake, "conversation_metrics", "conversation_id = 'C'")
    assert c["last_close_at_fivetran"].timestamp() == epoch("2026-03-09T14:02")  # any author
    assert c["last_admin_close_at_fivetran"] is None


def test_admin_daily_metrics(lake: Path) -> None:
    bob_6 = one(lake, "admin_daily_metrics", "admin_id = '102' and day = '2026-03-06'")
    assert (bob_6["conversations_assigned"], bob_6["conversations_participated"], bob_6["replies_sent"]) == (1, 0, 0)
    bob_11 = one(lake, "admin_daily_metrics", "admin_id = '102' and day = '2026-03-11'")
    assert (bob_11["replies_sent"], bob_11["conversations_participated"], bob_11["conversations_closed"]) == (1, 1, 1)
    assert (bob_11["first_responses"], bob_11["median_first_response_time"]) == (1, 406_800)
    assert bob_11["median_first_response_time_office_hours"] == 36_000
    ada_12 = one(lake, "admin_daily_metrics", "admin_id = '101' and day = '2026-03-12'")
    assert (ada_12["conversations_assigned"], ada_12["replies_sent"], ada_12["conversations_closed"]) == (1, 1, 1)
    assert (ada_12["median_time_to_close"], ada_12["p90_time_to_close"]) == (496_800, 496_800)
    assert ada_12["median_time_to_close_office_hours"] == 64_800 and ada_12["admin_name"] == "Ada"
    assert rows(lake, "admin_daily_metrics", "admin_id = '101' and day = '2026-03-06'") == []  # a1 assigned Bob
    bob_9 = one(lake, "admin_daily_metrics", "admin_id = '102' and day = '2026-03-09'")
    assert (bob_9["replies_sent"], bob_9["conversations_closed"]) == (1, 1)  # conversation B's stored parts


def test_time_to_close_counts_for_the_last_closer(lake: Path) -> None:
    # on the 9th Bob closed B (over the cap: its last close is among the stored parts) 7 days 2 h after it began
    bob_9 = one(lake, "admin_daily_metrics", "admin_id = '102' and day = '2026-03-09'")
    assert bob_9["last_closes"] == 1
    assert bob_9["median_time_to_close"] == epoch("2026-03-09T16:00") - epoch("2026-03-02T14:00")


def test_team_daily_metrics(lake: Path) -> None:
    billing = one(lake, "team_daily_metrics", f"team_id = '{TEAM}' and day = '2026-03-09'")
    assert billing["team_name"] == "Billing"
    assert (billing["conversations_assigned"], billing["replies_sent"], billing["conversations_participated"]) == (
        1, 1, 1)
    assert (billing["first_responses"], billing["median_first_response_time"]) == (1, 1800)
    assert billing["median_first_response_time_office_hours"] == 1800  # 10:00 -> 10:30 EDT, inside the hours


def test_company_and_contact_metrics(lake: Path) -> None:
    acme = one(lake, "company_metrics", "company_id = 'co1'")
    assert (acme["company_name"], acme["conversations"], acme["ratings"]) == ("Acme", 6, 2)
    assert acme["average_rating"] == 4.0 and acme["share_ratings_4_or_5"] == 0.5
    assert acme["conversations_closed"] == 3  # A, B, C
    c1 = one(lake, "contact_metrics", "contact_id = 'c1'")
    assert (c1["contact_role"], c1["conversations"], c1["ratings"], c1["average_rating"]) == ("user", 3, 1, 5.0)
    assert c1["median_first_response_time"] == (406_800 + 1800) / 2  # A and B (E has no reply)


def test_ticket_time_in_each_state(lake: Path) -> None:
    t = one(lake, "ticket_metrics", "ticket_id = 'T1'")
    assert (t["seconds_submitted"], t["seconds_in_progress"]) == (100, 200 + 500)
    assert (t["seconds_waiting_on_customer"], t["seconds_resolved"]) == (300, 400 + 500)  # read at +2000 s
    assert (t["time_to_first_resolution"], t["time_to_resolution"], t["parts_capped"]) == (600, 1500, False)
