"""Deletions and merges reach every file: a record deleted or merged away after it was stored in an old partition
is gone from every table keyed by it or derived from it after the next run (the next sweep, for contacts), and
deleted_records says why. Runs against the Intercom test server, which deletes and merges as Intercom does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.lake.deletions import DeletionLog, drop_rows
from intercom_assets.lake.staging import TableStager
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DELETIONS_TABLE, TABLES, TABLES_BY_NAME
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(35)  # measured in the suite; it starts the longest files first

FIRST, LAST = "2026-11-10", "2026-11-20"
OLD = "2026-11-15"  # records stored before this day sit in partitions the second run's range does not cover
LATE_FIRST = "2026-11-18"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _run(defs, instance: DagsterInstance, first: str, last: str):
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags)
    assert result.success
    return result


def _all(root: Path, table: str) -> pa.Table:
    return ds.dataset(root / table, format="parquet", partitioning="hive").to_table()


def _day_of(root: Path, table: str, record_id: str) -> str:
    data = _all(root, table)
    days = {d for i, d in zip(data.column("id").to_pylist(), data.column("date").to_pylist(), strict=True)
            if i == record_id}
    assert len(days) == 1, (table, record_id, days)
    return str(days.pop())


def _referring(root: Path, source_table: str, record_id: str) -> dict[str, int]:
    """table.column -> rows whose column names the record, over every stored partition of every table."""
    found = {}
    for spec in TABLES:
        for column in spec.columns_referring_to(source_table):
            if not (root / spec.name).exists():
                continue
            values = _all(root, spec.name).column(column).to_pylist()
            if hits := sum(1 for v in values if v == record_id):
                found[f"{spec.name}.{column}"] = hits
    return found


def _rewrites(result) -> dict[tuple[str, str], int]:
    """(table, partition) -> rows removed, of the run's deletion rewrites."""
    return {(e.asset_key.path[-1], e.partition): e.materialization.metadata["rows_removed"].value
            for e in result.get_asset_materialization_events()
            if e.partition is not None and "rows_removed" in e.materialization.metadata}


@pytest.fixture
def env(intercom_env, monkeypatch):
    monkeypatch.setenv("INTERCOM_DELETION_SWEEP_HOURS", "0")  # every run sweeps the contact ids
    monkeypatch.setenv("INTERCOM_MAX_RETRIES", "2")
    return intercom_env


def test_deleted_and_merged_records_leave_every_old_partition_and_deleted_records_says_why(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    ws = intercom_server.workspace
    with ephemeral_instance() as instance:
        _run(defs, instance, FIRST, LAST)
        # victims stored in old partitions, with rows in derived tables
        links = _all(root, "conversation_contacts")
        contacts = {c["id"]: c for c in ws.snapshot("contacts")}
        old_contacts = [c for c in contacts.values() if FIRST <= day_key(c["updated_at"]) < OLD]
        deleted_contact = next(c["id"] for c in old_contacts if c["role"] == "user"
                               and len(_referring(root, "contacts", c["id"])) > 2)  # contacts, users and a link
        talking = {ref["id"] for conv in ws.snapshot("conversations")
                   for ref in (conv.get("contacts") or {}).get("contacts", [])}
        lead = next(c["id"] for c in old_contacts if c["role"] == "lead" and c["id"] in talking)
        survivor = next(c["id"] for c in contacts.values() if c["role"] == "user" and c["id"] != deleted_contact)
        parts = _all(root, "conversation_parts")
        with_parts = set(parts.column("conversation_id").to_pylist())
        conversation = next(c["id"] for c in ws.snapshot("conversations")
                            if FIRST <= day_key(c["updated_at"]) < OLD and c["id"] in with_parts)
        segments = set(_all(root, "company_segments").column("company_id").to_pylist())
        company = next(c["id"] for c in ws.snapshot("companies")
                       if FIRST <= day_key(c["updated_at"]) < OLD and c["id"] in segments)
        ticket_parts = set(_all(root, "ticket_parts").column("ticket_id").to_pylist())
        ticket = next(t["id"] for t in ws.snapshot("tickets")
                      if FIRST <= day_key(t["updated_at"]) < OLD and t["id"] in ticket_parts)
        victims = {("contacts", deleted_contact), ("contacts", lead), ("conversations", conversation),
                   ("companies", company), ("tickets", ticket)}
        for source_table, record_id in victims:
            assert _referring(root, source_table, record_id), (source_table, record_id)
        lead_day = _day_of(root, "contacts", lead)
        lead_conversations = {c for c, i in zip(links.column("conversation_id").to_pylist(),
                                                links.column("id").to_pylist(), strict=True) if i == lead}

        intercom_server.delete_contact(deleted_contact, AT)
        moved = intercom_server.merge_contact(lead, survivor, AT)
        intercom_server.delete_conversation(conversation, AT)
        intercom_server.delete_company(company, AT)
        intercom_server.delete_ticket(ticket, AT)  # no list names it: the ticket sweep finds it
        result = _run(defs, instance, LATE_FIRST, LAST)  # the old partitions are outside this run's range

        for source_table, record_id in victims:
            assert _referring(root, source_table, record_id) == {}, (source_table, record_id)
            assert _referring(root / "current", source_table, record_id) == {}, (source_table, record_id)
        # the current state was refreshed from what this run wrote and rewrote, not rebuilt from every partition
        refreshed = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()
                     if e.partition is None}
        written_days = len(keys_between(LATE_FIRST, LAST))
        assert refreshed["conversations_current"]["partitions"].value == written_days + sum(
            1 for (table, _) in _rewrites(result) if table == "conversations")
        contacts_now = _all(root / "current", "contacts")
        assert len(set(contacts_now.column("id").to_pylist())) == contacts_now.num_rows
        assert set(contacts_now.column("id").to_pylist()) == {c["id"] for c in ws.snapshot("contacts")
                                                               if FIRST <= day_key(c["updated_at"]) <= LAST + "~"}
        # the merged lead's conversations stay, now the surviving user's
        assert moved and lead_conversations <= set(moved)
        links = _all(root, "conversation_contacts")
        now_linked = {c for c, i in zip(links.column("conversation_id").to_pylist(), links.column("id").to_pylist(),
                                        strict=True) if i == survivor}
        assert set(moved) <= now_linked and set(moved) <= set(_all(root, "conversations").column("id").to_pylist())

        why = {(r["source_table"], r["id"]): r for r in _all(root, "deleted_records").to_pylist()}
        assert why[("contacts", deleted_contact)]["reason"] == "deleted"
        assert why[("contacts", lead)]["reason"] == "merged"
        assert why[("contacts", lead)]["merged_into_id"] == survivor
        assert why[("conversations", conversation)]["reason"] == "deleted"
        assert why[("conversations", conversation)]["deleted_at"] == AT
        assert why[("companies", company)]["reason"] == "deleted"
        assert why[("tickets", ticket)]["reason"] == "deleted"

        # every rewrite of a partition outside the range is a materialization of it, with the rows removed, and
        # its check was evaluated again
        events = [e for e in result.get_asset_materialization_events() if e.partition is not None]
        rewrites = _rewrites(result)
        assert ("contacts", lead_day) in rewrites and ("leads", lead_day) in rewrites
        assert all(partition < LATE_FIRST and removed > 0 for (_, partition), removed in rewrites.items())
        evaluated = {(e.asset_key.path[-1], e.partition) for e in result.get_asset_check_evaluations()}
        assert set(rewrites) <= evaluated
        for event in events:  # each event's row count is its file's
            path = Path(event.materialization.metadata["dagster/uri"].value)
            assert event.materialization.metadata["dagster/row_count"].value == pq.read_table(path).num_rows

        # a later run over the whole range (Intercom may list a merged lead for a while) does not bring them back,
        # and does not touch deleted_records' rows
        before = _all(root, "deleted_records").sort_by("id")
        _run(defs, instance, FIRST, LAST)
        for source_table, record_id in victims:
            assert _referring(root, source_table, record_id) == {}, (source_table, record_id)
            assert _referring(root / "current", source_table, record_id) == {}, (source_table, record_id)
        assert _all(root, "deleted_records").sort_by("id").equals(before)


def test_rows_of_a_logged_deletion_are_never_staged_again(tmp_path):
    """Intercom may still return a record it deleted (a lagging search index): its rows are dropped on arrival."""
    log = DeletionLog()
    log.ids["contacts"].add("gone")
    spec = TABLES_BY_NAME["contacts"]
    stager = TableStager(spec, tmp_path, ["2026-11-20"], 1_790_000_000, log.removals(spec))
    at = int(datetime(2026, 11, 20, 9, tzinfo=UTC).timestamp())
    stager.add_records([{"type": "contact", "id": "gone", "updated_at": at},
                        {"type": "contact", "id": "kept", "updated_at": at}])
    staged = stager.finished(["2026-11-20"])
    assert staged.counts.removed == 1
    assert pq.read_table(staged.partitions["2026-11-20"].path).column("id").to_pylist() == ["kept"]
    links = TABLES_BY_NAME["conversation_contacts"]
    assert set(log.removals(links)) == {"id"}
    data = pa.table({"conversation_id": ["1", "2"], "id": ["gone", "other"]})
    kept, removed = drop_rows(data, log.removals(links))
    assert removed == 1 and kept.column("id").to_pylist() == ["other"]
    assert DELETIONS_TABLE.key == ("source_table", "id")
