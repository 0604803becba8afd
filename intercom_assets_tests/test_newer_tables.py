"""The tables of the newer 2.16 resources, end to end through Dagster against the test server: with every table
switched on (INTERCOM_TABLES), each history table holds exactly what the server holds for the run's range, each
snapshot holds today's list, every check passes, and the current states exist. Per-record lists are reused
while their parent's updated_at does not move (a note added without moving it is caught when the parent next
changes); a refused endpoint fails only its tables.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from intercom_assets.automation.checks import CHECK_VALID
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.declared.configuration import CONFIGURATION_TABLES
from intercom_assets.declared.engagement import ENGAGEMENT_TABLES
from intercom_assets.definitions import build_definitions
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.reporting import FAILED_TABLES_TAG
from intercom_assets.settings import load_settings
from intercom_assets.tables import TABLES, TABLES_BY_NAME
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(40)  # measured in the suite; it starts the longest files first

FIRST = "2026-11-10"
ENGAGEMENT = {spec.name for spec in ENGAGEMENT_TABLES}
CONFIGURATION = {spec.name for spec in CONFIGURATION_TABLES}
# the tables of the newer resources (declared in intercom_assets/declared/engagement.py and configuration.py)
NEWER = [spec for spec in TABLES if spec.name in {*ENGAGEMENT, *CONFIGURATION}]
OPT_IN = sorted(spec.name for spec in TABLES if not spec.in_default_selection)


def _seconds(value: Any) -> int:
    return int(datetime.fromisoformat(value).timestamp()) if isinstance(value, str) else int(value)


@pytest.fixture
def env(intercom_env, monkeypatch, today: date) -> dict[str, str]:
    monkeypatch.setenv("INTERCOM_MAX_RETRIES", "2")
    monkeypatch.setenv("INTERCOM_TABLES", "default," + ",".join(OPT_IN))
    return intercom_env


def _run(instance: DagsterInstance, last: str, raise_on_error: bool = True):
    defs = build_definitions(load_settings())
    tags = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": last}
    return defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags,
                                                                 raise_on_error=raise_on_error)


def _expected(server, last: str) -> dict[str, dict[str, set]]:
    """Keys per new history table and day, from the server's own data."""
    start = int(datetime.strptime(FIRST, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    end = int((datetime.strptime(last, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)).timestamp())
    ws, newer = server.workspace, server.newer
    out: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for call in newer.calls():
        if start <= call["updated_at"] < end:
            out["calls"][day_key(call["updated_at"])].add((call["id"],))
            out["call_transcripts"][day_key(call["updated_at"])].update(
                (call["id"], line) for line in range(len(newer.transcript(call))))
    for macro in newer.macros:
        if start <= (at := _seconds(macro["updated_at"])) < end:
            out["macros"][day_key(at)].add((macro["id"],))
    for runs in newer.execution_results.values():
        for run in runs:
            if start <= (at := _seconds(run["created_at"])) < end:
                out["data_connector_execution_results"][day_key(at)].add((run["id"],))
    for contact in ws.snapshot("contacts"):
        if start <= (at := contact["updated_at"]) < end:
            day, cid = day_key(at), contact["id"]
            out["contact_notes"][day].update((n["id"],) for n in newer.notes("contact", contact))
            out["contact_segments"][day].update((cid, s["id"]) for s in newer.contact_segments(contact))
            out["contact_subscriptions"][day].update((cid, s["id"]) for s in newer.contact_subscriptions(contact))
    for company in ws.snapshot("companies"):
        if start <= (at := company["updated_at"]) < end:
            out["company_notes"][day_key(at)].update((n["id"],) for n in newer.notes("company", company))
    for conv in ws.snapshot("conversations"):
        if start <= (at := conv["updated_at"]) < end:
            day, cid = day_key(at), conv["id"]
            out["conversation_handling_events"][day].update(
                (cid, _seconds(e["timestamp"]), e["type"], str(e["teammate"]["id"]))
                for e in newer.handling_events(conv))
            for side in newer.side_conversations(conv):
                out["side_conversations"][day].add((cid, side["side_conversation_id"]))
                out["side_conversation_parts"][day].update(
                    (cid, side["side_conversation_id"], p["id"]) for p in side["conversation_parts"])
    return out


def _stored(root: Path, table: str, day: str) -> set:
    data = pq.read_table(root / table / f"date={day}" / "part-0.parquet")
    columns = [data.column(name).to_pylist() for name in TABLES_BY_NAME[table].key]
    return {tuple(int(v.timestamp()) if isinstance(v, datetime) else v for v in row)
            for row in zip(*columns, strict=True)}


def test_every_newer_table_holds_what_the_server_holds(env, intercom_server, today: date) -> None:
    root, last = Path(env["INTERCOM_PARQUET_ROOT"]), today.isoformat()
    with ephemeral_instance() as instance:
        result = _run(instance, last)
        checks = {(e.asset_key.path[-1], e.partition): e.passed
                  for e in result.get_asset_check_evaluations() if e.check_name == CHECK_VALID}
        current = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    expected = _expected(intercom_server, last)
    history = [s for s in NEWER if s.has_current_state]
    assert {s.name for s in history} == set(expected), "every new history table is checked here"
    for spec in history:
        assert sum(len(keys) for keys in expected[spec.name].values()) > 0, f"{spec.name}: no data in the range"
        for day in keys_between(FIRST, last):
            assert _stored(root, spec.name, day) == expected[spec.name].get(day, set()), (spec.name, day)
            assert checks[(spec.name, day)], (spec.name, day)
        assert f"{spec.name}_current" in current
        assert ds.dataset(root / "current" / spec.name, format="parquet").count_rows() == sum(
            len(keys) for keys in expected[spec.name].values())
    newer = intercom_server.newer
    lists = {"office_hours_schedules": newer.office_hours_schedules, "brands": newer.brands,
             "email_settings": newer.email_settings, "internal_articles": newer.internal_articles,
             "content_snippets": newer.content_snippets, "audiences": newer.audiences,
             "ai_external_pages": newer.external_pages, "ai_content_import_sources": newer.content_import_sources,
             "data_connectors": newer.data_connectors,
             "office_hours_exceptions": [e for v in newer.office_hours_exceptions.values() for e in v],
             "help_center_redirects": [r for v in newer.redirects.values() for r in v],
             "activity_log_event_types": [{"id": name} for name in newer.event_types]}
    for spec in (s for s in NEWER if s.is_snapshot):
        assert _stored(root, spec.name, last) == {(str(r["id"]),) for r in lists[spec.name]}, spec.name
        assert checks[(spec.name, last)], spec.name
    stored = pq.read_table(root / "office_hours_schedules" / f"date={last}" / "part-0.parquet").to_pylist()
    assert stored[0]["time_intervals"][0] == {"start_minute": 540, "end_minute": 1020, "day_of_week": 0}
    notes = ds.dataset(root / "contact_notes", format="parquet").to_table().to_pylist()
    assert any("📞" in n["body"] for n in notes) and all(n["_extra"] in (None, "{}") for n in notes)


def test_per_record_lists_are_reused_and_a_late_note_waits_for_its_contact(env, intercom_server, today,
                                                                           monkeypatch) -> None:
    root, last = Path(env["INTERCOM_PARQUET_ROOT"]), today.isoformat()
    # the per-record lists and their parents only (three runs of every table would cost a minute)
    per_record = [spec.name for spec in NEWER if spec.children is not None and spec.cost.requests_per_parent]
    monkeypatch.setenv("INTERCOM_TABLES", ",".join(["contacts", "companies", "conversations", *per_record]))
    ws = intercom_server.workspace
    contact = next(c for c in ws.snapshot("contacts") if FIRST <= day_key(c["updated_at"]) < last)
    with ephemeral_instance() as instance:
        _run(instance, last)
        intercom_server.reset_counts()
        note = intercom_server.add_contact_note(contact["id"], datetime(2026, 11, 19, 8, tzinfo=UTC))
        _run(instance, last)
        counts = intercom_server.request_counts()
        # nothing changed: no per-record request at all, every list reused from the stored partitions
        for endpoint in ("GET /contacts/{id}/notes", "GET /contacts/{id}/segments", "GET /companies/{id}/notes",
                         "GET /conversations/{id}/handling_events", "GET /conversations/{id}/side_conversations"):
            assert counts.get(endpoint, 0) == 0, endpoint
        day = day_key(contact["updated_at"])
        assert note not in {k[0] for k in _stored(root, "contact_notes", day)}  # missed while the contact rests
        intercom_server.touch("contacts", contact["id"], datetime(2026, 11, 19, 9, tzinfo=UTC))
        intercom_server.reset_counts()
        _run(instance, last)
        assert intercom_server.request_counts().get("GET /contacts/{id}/notes") == 1
    assert note in {k[0] for k in _stored(root, "contact_notes", "2026-11-19")}


def test_a_refused_newer_endpoint_fails_only_its_tables(env, intercom_server, today) -> None:
    intercom_server.set_refusals({"GET /calls": "forbidden", "GET /contacts/{id}/notes": "forbidden"})
    with ephemeral_instance() as instance:
        result = _run(instance, today.isoformat(), raise_on_error=False)
        tags = instance.get_run_by_id(result.run_id).tags
    assert not result.success
    assert tags[FAILED_TABLES_TAG] == "call_transcripts,calls,contact_notes"  # transcripts are of the calls listed
    committed = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert {"contacts", "contact_segments", "macros", "side_conversations", "brands"} <= committed
    assert not {"calls", "call_transcripts", "contact_notes"} & committed


def test_opt_in_tables_are_out_of_the_default_selection_and_named_in(monkeypatch) -> None:
    monkeypatch.delenv("INTERCOM_TABLES", raising=False)
    default = {s.name for s in load_settings().selected()}
    assert default == {s.name for s in TABLES} - set(OPT_IN) and {"calls", "macros", "brands"} <= default
    assert set(OPT_IN) == {"contact_notes", "company_notes", "contact_segments", "contact_subscriptions",
                           "conversation_handling_events", "side_conversations", "side_conversation_parts"}
    monkeypatch.setenv("INTERCOM_TABLES", "default,contact_notes")
    assert {s.name for s in load_settings().selected()} == default | {"contact_notes"}
    monkeypatch.setenv("INTERCOM_TABLES", "contacts,contact_notes")
    assert [s.name for s in load_settings().selected()] == ["contacts", "contact_notes"]




def test_a_deleted_contact_takes_its_notes_segments_and_subscriptions(intercom_env, intercom_server, monkeypatch):
    """As test_deletions.py does for the core tables (on the real clock: the current-state refresh takes the
    deletions detected since its last materialization, whose time the instance records unfrozen)."""
    # the contacts, their per-contact lists and the deletion log only (two runs of every table cost 20 s)
    monkeypatch.setenv("INTERCOM_TABLES", "contacts,contact_notes,contact_segments,contact_subscriptions,"
                                          "deleted_records")
    monkeypatch.setenv("INTERCOM_DELETION_SWEEP_HOURS", "0")
    root, last = Path(intercom_env["INTERCOM_PARQUET_ROOT"]), "2026-11-20"
    newer = intercom_server.newer
    contact = next(c for c in intercom_server.workspace.snapshot("contacts")
                   if FIRST <= day_key(c["updated_at"]) < last and newer.notes("contact", c)
                   and newer.contact_segments(c))
    tables = ("contact_notes", "contact_segments", "contact_subscriptions")

    def holding(where: Path) -> set[str]:
        return {table for table in tables if (where / table).exists() and contact["id"] in ds.dataset(
            where / table, format="parquet").to_table()["contact_id"].to_pylist()}

    with ephemeral_instance() as instance:
        _run(instance, last)
        assert {"contact_notes", "contact_segments"} <= holding(root) & holding(root / "current")
        intercom_server.delete_contact(contact["id"], datetime(2026, 11, 19, 10, tzinfo=UTC))
        _run(instance, last)
    assert holding(root) == set() and holding(root / "current") == set()
