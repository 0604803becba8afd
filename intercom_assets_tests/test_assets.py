"""Every table as a daily-partitioned asset, against the Intercom test server, end to end through Dagster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckKey, DagsterInstance, Definitions

from intercom_assets.automation.checks import CHECK_VALID
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key, source_key
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.reporting import CHAINS_TAG, RATE_LIMITED_TAG, REQUESTS_TAG, SECONDS_TAG, WINDOW_TAG
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets.tables import TABLES_BY_NAME
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(75)  # measured in the suite; it starts the longest files first

REPO = Path(__file__).resolve().parents[1]


def ws_newer(server):
    """The test server's newer resources (calls, macros, ...)."""
    return server.newer

FIRST, LAST = "2026-11-10", "2026-11-20"  # the test server's data ends on TEST_NOW's day, 2026-11-20
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}
# `python -m dagster` with the clock of clock.py frozen (the code location runs in this same process).
FROZEN_DAGSTER_CLI = ("import runpy, sys; from intercom_assets_tests.clock import freeze; freeze(setattr); "
                      "sys.argv[0] = 'dagster'; runpy.run_module('dagster', run_name='__main__', alter_sys=True)")
# history tables of the default selection (deleted_records is a log; opt-in tables: test_newer_tables.py)
INCREMENTAL = [spec for spec in TABLES if spec.has_current_state]
SNAPSHOTS = [spec for spec in TABLES if spec.is_snapshot]


@pytest.fixture
def to_today(today: date) -> str:
    """The frozen day of extraction (fixture `today`): snapshot tables are materialized on that day only."""
    return today.isoformat()


def _through(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture
def env(intercom_env, monkeypatch):
    monkeypatch.setenv("INTERCOM_MAX_RETRIES", "2")
    return intercom_env


def _materialize(defs: Definitions, instance: DagsterInstance, tags: dict[str, str] = RANGE_TAGS):
    result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags)
    assert result.success
    return result


def _expected(server, first: str, last: str) -> dict[str, dict[str, set]]:
    """Keys per table and day, computed from the server's own dataset (every table with history)."""
    start = int(datetime.strptime(first, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    end = int((datetime.strptime(last, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)).timestamp())
    ws = server.workspace
    expected: dict[str, dict[str, set]] = {name: defaultdict(set) for name in TABLES_BY_NAME}

    def add(table: str, at: int, key) -> None:
        expected[table][day_key(at)].add(key)

    for contact in ws.snapshot("contacts"):
        if start <= (at := contact["updated_at"]) < end:
            add("contacts", at, contact["id"])
            add("users" if contact["role"] == "user" else "leads", at, contact["id"])
            for tag in ws.contact_tags(contact["id"]):
                add("contact_tags", at, (contact["id"], tag["id"]))
            for company in ws.contact_companies(contact["id"]):
                add("contact_companies", at, (contact["id"], company["id"]))
    for company in ws.snapshot("companies"):
        if start <= (at := company["updated_at"]) < end:
            add("companies", at, company["id"])
            for segment in company["segments"]["segments"]:
                add("company_segments", at, (company["id"], segment["id"]))
    for conversation in ws.snapshot("conversations"):
        if start <= (at := conversation["updated_at"]) < end:
            add("conversations", at, conversation["id"])
            for part in ws.conversation_parts(conversation["id"])[-500:]:
                add("conversation_parts", at, part["id"])
            for tag in conversation["tags"]["tags"]:
                add("conversation_tags", at, (conversation["id"], tag["id"]))
            for contact in conversation["contacts"]["contacts"]:
                add("conversation_contacts", at, (conversation["id"], contact["id"]))
    for ticket in ws.snapshot("tickets"):
        if start <= (at := ticket["updated_at"]) < end:
            add("tickets", at, ticket["id"])
            for part in ws.ticket_parts(ticket["id"])[-500:]:
                add("ticket_parts", at, part["id"])
    for kind in ("articles", "news_items"):
        for record in ws.snapshot(kind):
            if start <= (at := record["updated_at"]) < end:
                add(kind, at, record["id"])
    for call in ws_newer(server).calls():
        if start <= (at := call["updated_at"]) < end:
            add("calls", at, call["id"])
            for line in range(len(ws_newer(server).transcript(call))):
                add("call_transcripts", at, (call["id"], line))
    for macro in ws_newer(server).macros:
        if start <= (at := int(datetime.fromisoformat(macro["updated_at"]).timestamp())) < end:
            add("macros", at, macro["id"])
    for runs in ws_newer(server).execution_results.values():
        for run in runs:  # each data connector's runs, in the day of their own created_at
            if start <= (at := int(datetime.fromisoformat(run["created_at"]).timestamp())) < end:
                add("data_connector_execution_results", at, run["id"])
    entries, _ = ws.activity.page(start - 1, end, 0, 1_000_000)
    for entry in entries:
        add("activity_logs", entry["created_at"], entry["id"])
    return expected


def _stored(root: Path, table: str, day: str) -> set:
    data = pq.read_table(root / table / f"date={day}" / "part-0.parquet")
    key = TABLES_BY_NAME[table].key
    if len(key) == 2:
        return set(zip(data.column(key[0]).to_pylist(), data.column(key[1]).to_pylist(), strict=True))
    return set(data.column("id").to_pylist())


def _rows_without_extracted_at(root: Path, table: str) -> list[tuple]:
    data = ds.dataset(root / table, format="parquet", partitioning="hive").to_table()
    data = data.drop_columns(["_extracted_at"])
    return sorted(tuple(str(v) for v in row.values()) for row in data.to_pylist())


def _check_states(instance: DagsterInstance, table: str, check: str) -> dict[str, str]:
    """partition -> status of its latest check execution, as the UI's Checks tab reads it, for the partitions
    that were evaluated (a range run also plans the check for partitions it then does not write: those stay
    PLANNED, i.e. not evaluated)."""
    key = AssetCheckKey(asset_key(table), check)
    infos = instance.event_log_storage.get_asset_check_partition_info([key])
    return {
        info.partition_key: info.latest_execution_status.value
        for info in infos
        if info.latest_execution_status.value != "PLANNED"
    }


def test_range_run_writes_exactly_what_the_server_holds(env, intercom_server, to_today):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    ws = intercom_server.workspace
    big = {
        "conversation_parts": day_key(ws.conversations[ws.big_conversation_id]["updated_at"]),
        "ticket_parts": day_key(ws.tickets[ws.big_ticket_id]["updated_at"]),
    }
    with ephemeral_instance() as instance:
        result = _materialize(defs, instance)
        states = {spec.name: _check_states(instance, spec.name, CHECK_VALID) for spec in TABLES}
    expected = _expected(intercom_server, FIRST, LAST)
    for spec in INCREMENTAL:
        for day in keys_between(FIRST, LAST):
            assert _stored(root, spec.name, day) == expected[spec.name].get(day, set()), (spec.name, day)
        expected_states = dict.fromkeys(keys_between(FIRST, LAST), "SUCCEEDED")
        if spec.name in big:  # the seeded over-500-parts conversation and ticket: a WARN on their day
            expected_states[big[spec.name]] = "FAILED"
        assert states[spec.name] == expected_states, spec.name
    for spec in SNAPSHOTS:
        # a range that does not reach today takes no snapshot: no file, no materialization, no check result
        assert not (root / spec.name).exists() and states[spec.name] == {}, spec.name
    # deleted_records: every day of the range is materialized (empty: nothing was detected then) and checked, and
    # the day of detection (the frozen today) holds the seeded deletions and merges
    assert states["deleted_records"] == {**dict.fromkeys(keys_between(FIRST, LAST), "SUCCEEDED"),
                                         to_today: "SUCCEEDED"}
    assert all(not _stored(root, "deleted_records", day) for day in keys_between(FIRST, LAST))
    # (the test server seeds deleted conversations and merged leads: their detection lands in deleted_records)
    # (and the current state of every incremental table, refreshed in the same run)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == ({spec.name for spec in INCREMENTAL} | {"deleted_records"}
                            | {f"{spec.name}_current" for spec in INCREMENTAL})
    total = sum(len(ids) for day, ids in expected["conversations"].items())
    assert total > 20, "the test window must hold real data"
    for spec in INCREMENTAL:
        assert sum(len(keys) for keys in expected[spec.name].values()) > 0, f"{spec.name}: no data in the window"
    # one search pass for the whole range, never one query per day
    counts = intercom_server.request_counts()
    assert counts.get("POST /contacts/search", 0) <= 2 + total // 150 + 10
    assert counts.get("GET /conversations/{id}", 0) == total
    tickets = sum(len(ids) for ids in expected["tickets"].values())
    assert counts.get("GET /tickets/{id}", 0) == tickets
    # per-contact lists only for the contacts whose embedded list was truncated
    in_window = {c for ids in expected["contacts"].values() for c in ids}
    ws = intercom_server.workspace
    truncated = in_window & {*ws.truncated_tags_contact_ids, *ws.undercounted_tags_contact_ids}
    assert counts.get("GET /contacts/{id}/tags", 0) == len(truncated)


def test_rerun_is_idempotent_and_an_updated_record_moves_day(env, intercom_server, to_today):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        _materialize(defs, instance, _through(FIRST, to_today))
        before = {spec.name: _rows_without_extracted_at(root, spec.name) for spec in TABLES}
        _materialize(defs, instance, _through(FIRST, to_today))
        after = {spec.name: _rows_without_extracted_at(root, spec.name) for spec in TABLES}
        assert before == after

        mover = next(
            c for c in intercom_server.workspace.snapshot("contacts")
            if FIRST <= day_key(c["updated_at"]) < "2026-11-15"
        )
        old_day = day_key(mover["updated_at"])
        intercom_server.touch("contacts", mover["id"], datetime(2026, 11, 18, 9, 30, tzinfo=UTC))
        _materialize(defs, instance)
    assert mover["id"] not in _stored(root, "contacts", old_day)
    assert mover["id"] in _stored(root, "contacts", "2026-11-18")


def test_snapshot_tables_materialize_only_the_day_of_their_snapshot(env, intercom_server, to_today):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    first = (date.fromisoformat(to_today) - timedelta(days=2)).isoformat()
    older = root / "admins" / f"date={first}" / "part-0.parquet"
    defs = build_definitions(load_settings())
    tags = _through(first, to_today)
    with ephemeral_instance() as instance:
        result = _materialize(defs, instance, tags)
        for spec in SNAPSHOTS:
            assert sorted(p.parent.name for p in (root / spec.name).glob("*/*.parquet")) == [f"date={to_today}"]
            assert instance.get_materialized_partitions(asset_key(spec.name)) == {to_today}, spec.name
        todays = pq.read_table(root / "admins" / f"date={to_today}" / "part-0.parquet")
        assert todays.num_rows == len(intercom_server.workspace.admins)
        events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "admins"]
        assert [e.partition for e in events] == [to_today]
        # A snapshot file from an earlier day (as if extracted then) is never touched by a later run, and since no
        # run here materialized it, the UI does not claim it; its file is still checked, so the Checks tab shows
        # the truth about it.
        older.parent.mkdir(parents=True)
        pq.write_table(todays.slice(0, 2), older)
        _materialize(defs, instance, tags)
        assert pq.read_table(older).num_rows == 2
        assert instance.get_materialized_partitions(asset_key("admins")) == {to_today}
        assert _check_states(instance, "admins", CHECK_VALID) == {first: "SUCCEEDED", to_today: "SUCCEEDED"}


def test_every_table_reads_as_one_dataset_with_duckdb_and_pyarrow(env, intercom_server, to_today):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        _materialize(defs, instance, _through(FIRST, to_today))
    con = duckdb.connect()
    for spec in TABLES:
        glob = str(root / spec.name / "*" / "*.parquet")
        count = con.execute(
            f"select count(*) from read_parquet('{glob}', hive_partitioning=true, union_by_name=false)"
        ).fetchone()[0]
        table = ds.dataset(root / spec.name, format="parquet", partitioning="hive").to_table()
        assert table.num_rows == count
        assert table.schema.remove(table.schema.get_field_index("date")) == spec.converter().schema


def test_each_partition_event_carries_its_own_facts_and_the_run_its_figures(env, intercom_server, to_today):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    days = keys_between(FIRST, to_today)
    with ephemeral_instance() as instance:
        result = _materialize(defs, instance, _through(FIRST, to_today))
        tags = instance.get_run_by_id(result.run_id).tags
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    events = [e for e in result.get_asset_materialization_events() if e.partition is not None]
    # + deleted_records over the range: the detections on today, the other days empty
    assert len(events) == len(INCREMENTAL) * len(days) + len(SNAPSHOTS) + len(days)
    current = [e for e in result.get_asset_materialization_events() if e.partition is None]
    assert sorted(e.asset_key.path[-1] for e in current) == sorted(f"{spec.name}_current" for spec in INCREMENTAL)
    for event in current:  # where the state is, and what its refresh did
        metadata = event.materialization.metadata
        assert Path(metadata["dagster/uri"].value) == root / "current" / event.asset_key.path[-1][:-len("_current")]
        assert {"partitions", "rows_in", "files_rewritten", "seconds"} <= set(metadata)
    for event in events:
        metadata = event.materialization.metadata
        assert set(metadata) == {"dagster/row_count", "dagster/uri", "size_bytes"}, metadata.keys()
        path = Path(metadata["dagster/uri"].value)
        assert path == root / event.asset_key.path[-1] / f"date={event.partition}" / "part-0.parquet"
        assert metadata["size_bytes"].value == path.stat().st_size
        assert metadata["dagster/row_count"].value == pq.ParquetFile(path).metadata.num_rows
    assert tags[WINDOW_TAG] == f"{FIRST}...{to_today}"
    assert int(tags[REQUESTS_TAG]) > 0 and tags[RATE_LIMITED_TAG] == "0" and float(tags[SECONDS_TAG]) > 0
    # every API pass's duration, so a user sees which one outgrows the schedule
    chains = dict(item.split("=") for item in tags[CHAINS_TAG].split())
    assert {spec.source.name for spec in TABLES_BY_NAME.values() if spec.name != "deleted_records"} == set(chains)
    assert all(value.endswith("s") and float(value[:-1]) >= 0 for value in chains.values())
    summaries = [message for message in logs if message.startswith("Run summary:")]
    assert len(summaries) == 1 and f"{FIRST}...{to_today}" in summaries[0] and "POST /contacts/search" in summaries[0]
    # the column schema, with descriptions, is on the definitions, not on the events
    spec = defs.resolve_assets_def(asset_key("contacts")).specs_by_key[asset_key("contacts")]
    schema = spec.metadata["dagster/column_schema"]
    columns = {c.name: c for c in getattr(schema, "schema", schema).columns}
    assert set(columns) == set(TABLES_BY_NAME["contacts"].converter().schema.names)
    assert columns["_extra"].description and columns["_extracted_at"].description
    lineage = defs.resolve_asset_graph().get(asset_key("users")).parent_keys
    assert lineage == {source_key("contacts_search")}


def test_cli_partition_range_materializes_every_table_and_logs_no_debug_lines(env, intercom_server, to_today,
                                                                              tmp_path):
    """The documented command line, run from the repo root as a user would, with the repo's dagster.yaml (through
    `python -m dagster` with the run's clock frozen, as in-process runs have it, so its snapshot day is known)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    first = "2026-11-18"
    completed = subprocess.run(
        [sys.executable, "-c", FROZEN_DAGSTER_CLI, "asset", "materialize", "-m", "intercom_assets.definitions",
         "--select", "*", "--partition-range", f"{first}...{to_today}"],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    for spec in INCREMENTAL:
        for day in keys_between(first, to_today):
            assert (root / spec.name / f"date={day}" / "part-0.parquet").exists(), (spec.name, day)
    for spec in SNAPSHOTS:
        assert [p.parent.name for p in (root / spec.name).glob("*/*.parquet")] == [f"date={to_today}"]
    console = (completed.stdout + completed.stderr).splitlines()
    # python_logs in dagster.yaml sets the console level for CLI runs (Definitions-level loggers do not)
    assert sum(" - DEBUG - " in line for line in console) == 0
    assert sum(" - INFO - " in line for line in console) > 0
    assert any("Run summary:" in line for line in console)
    assert intercom_server.token not in completed.stdout + completed.stderr
