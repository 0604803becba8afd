"""Every table as a daily-partitioned asset, against the Intercom test server, end to end through Dagster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import TABLES, TABLES_BY_NAME

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-11-10", "2026-11-20"
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}


@pytest.fixture
def env(intercom_env, monkeypatch):
    monkeypatch.setenv("INTERCOM_MAX_RETRIES", "2")
    return intercom_env


def _materialize(defs: Definitions, instance: DagsterInstance, tags: dict[str, str] = RANGE_TAGS):
    result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags)
    assert result.success
    return result


def _expected(server, first: str, last: str) -> dict[str, dict[str, set]]:
    """Ids per table and day, computed from the server's own dataset."""
    start = datetime.strptime(first, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    end = (datetime.strptime(last, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)).timestamp()
    ws = server.workspace
    expected: dict[str, dict[str, set]] = {name: defaultdict(set) for name in TABLES_BY_NAME}
    for contact in ws.snapshot("contacts"):
        if start <= contact["updated_at"] < end:
            day = day_key(contact["updated_at"])
            expected["contacts"][day].add(contact["id"])
            expected["users" if contact["role"] == "user" else "leads"][day].add(contact["id"])
    for company in ws.snapshot("companies"):
        if start <= company["updated_at"] < end:
            day = day_key(company["updated_at"])
            expected["companies"][day].add(company["id"])
            for segment in company["segments"]["segments"]:
                expected["company_segments"][day].add((company["id"], segment["id"]))
    for conversation in ws.snapshot("conversations"):
        if start <= conversation["updated_at"] < end:
            day = day_key(conversation["updated_at"])
            expected["conversations"][day].add(conversation["id"])
            for part in ws.conversation_parts(conversation["id"])[-500:]:
                expected["conversation_parts"][day].add(part["id"])
    return expected


def _stored(root: Path, table: str, day: str) -> set:
    data = pq.read_table(root / table / f"date={day}" / "part-0.parquet")
    if table == "company_segments":
        return set(zip(data.column("company_id").to_pylist(), data.column("id").to_pylist(), strict=True))
    return set(data.column("id").to_pylist())


def _rows_without_extracted_at(root: Path, table: str) -> list[tuple]:
    data = ds.dataset(root / table, format="parquet", partitioning="hive").to_table()
    data = data.drop_columns(["_extracted_at"])
    return sorted(tuple(str(v) for v in row.values()) for row in data.to_pylist())


def test_range_run_writes_exactly_what_the_server_holds(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with DagsterInstance.ephemeral() as instance:
        _materialize(defs, instance)
    expected = _expected(intercom_server, FIRST, LAST)
    for spec in TABLES:
        for day in keys_between(FIRST, LAST):
            path = root / spec.name / f"date={day}" / "part-0.parquet"
            assert path.exists(), path
            if not spec.is_snapshot:
                assert _stored(root, spec.name, day) == expected[spec.name].get(day, set()), (spec.name, day)
    total = sum(len(ids) for day, ids in expected["conversations"].items())
    assert total > 20, "the test window must hold real data"
    # one search pass for the whole range, never one query per day
    counts = intercom_server.request_counts()
    assert counts.get("POST /contacts/search", 0) <= 2 + total // 150 + 10
    assert counts.get("GET /conversations/{id}", 0) == total


def test_rerun_is_idempotent_and_an_updated_record_moves_day(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with DagsterInstance.ephemeral() as instance:
        _materialize(defs, instance)
        before = {spec.name: _rows_without_extracted_at(root, spec.name) for spec in TABLES}
        _materialize(defs, instance)
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


def test_snapshot_tables_write_only_today_and_keep_other_days(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=2)).isoformat()
    defs = build_definitions(load_settings())
    marker = root / "admins" / f"date={first}" / "part-0.parquet"
    with DagsterInstance.ephemeral() as instance:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": today.isoformat()}
        _materialize(defs, instance, tags)
        assert pq.read_table(marker).num_rows == 0, "a day never snapshotted gets an empty file"
        todays = pq.read_table(root / "admins" / f"date={today.isoformat()}" / "part-0.parquet")
        assert todays.num_rows == len(intercom_server.workspace.admins)
        # an existing older snapshot is never overwritten by today's
        pq.write_table(todays, marker)
        result = _materialize(defs, instance, tags)
    assert pq.read_table(marker).num_rows == todays.num_rows
    events = [
        e for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "admins" and e.partition == first
    ]
    assert "kept" in events[0].materialization.metadata["snapshot"].value


def test_every_table_reads_as_one_dataset_with_duckdb_and_pyarrow(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with DagsterInstance.ephemeral() as instance:
        _materialize(defs, instance)
    con = duckdb.connect()
    for spec in TABLES:
        glob = str(root / spec.name / "*" / "*.parquet")
        count = con.execute(
            f"select count(*) from read_parquet('{glob}', hive_partitioning=true, union_by_name=false)"
        ).fetchone()[0]
        table = ds.dataset(root / spec.name, format="parquet", partitioning="hive").to_table()
        assert table.num_rows == count
        assert table.schema.remove(table.schema.get_field_index("date")) == spec.converter().schema


def test_per_partition_metadata(env, intercom_server):
    defs = build_definitions(load_settings())
    with DagsterInstance.ephemeral() as instance:
        result = _materialize(defs, instance)
    events = result.get_asset_materialization_events()
    assert len(events) == len(TABLES) * len(keys_between(FIRST, LAST))
    for event in events:
        metadata = event.materialization.metadata
        assert "dagster/row_count" in metadata and "dagster/column_schema" in metadata
        assert metadata["api_requests_run"].value > 0
        assert metadata["window_start"].value.startswith(FIRST)
    parts = [e for e in events if e.asset_key.path[-1] == "conversation_parts"]
    assert all("conversations_over_part_cap" in e.materialization.metadata for e in parts)


def test_cli_partition_range_materializes_every_table(env, intercom_server, tmp_path):
    """The documented command line, run from the repo root as a user would."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    first, last = "2026-11-18", "2026-11-20"
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "intercom_assets.definitions",
         "--select", "*", "--partition-range", f"{first}...{last}"],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    for spec in TABLES:
        for day in keys_between(first, last):
            assert (root / spec.name / f"date={day}" / "part-0.parquet").exists(), (spec.name, day)
    assert intercom_server.token not in completed.stdout + completed.stderr
