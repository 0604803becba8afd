"""Maintenance prunes old runs and leaves every partition's status, newest materialization and check unchanged.

Real range runs of `intercom_job` against the bundled test server into a persistent instance with the repo's
dagster.yaml (the consolidated SQLite event log), windows overlapping across simulated days and one failed run.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus, DefaultScheduleStatus, Definitions
from dagster._core.event_api import EventLogRecord
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from intercom_assets.automation.catchup import missing_partitions
from intercom_assets.automation.checks import check_keys
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.maintenance import COPIED_AT, COPIED_FROM_RUN, MATERIALIZED_AT, prune_instance
from intercom_assets.automation.maintenance_job import MAINTENANCE_CRON, MAINTENANCE_JOB, MAINTENANCE_SCHEDULE
from intercom_assets.automation.schedules import range_tags
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import build_partitions_def
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets.tables import TABLES_BY_NAME
from intercom_assets_tests.clock import FROZEN_NOW
from intercom_assets_tests.demo import open_instance

pytestmark = pytest.mark.wall_seconds(40)  # measured in the suite; it starts the longest files first

REPO = Path(__file__).resolve().parents[1]
PROVENANCE = {COPIED_FROM_RUN, MATERIALIZED_AT, COPIED_AT}
RETENTION_DAYS = 7


@pytest.fixture
def home(intercom_env, today, tmp_path) -> Path:
    """A DAGSTER_HOME with the repo's dagster.yaml; the runs' clock is frozen (their deleted_records day is fixed)."""
    path = tmp_path / "dagster_home"
    path.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", path / "dagster.yaml")
    return path


HISTORY = [spec for spec in TABLES if not spec.is_snapshot]


def _run(defs: Definitions, instance: DagsterInstance, first: str, last: str, succeed: bool = True) -> str:
    """A range run of the history tables, as the schedule's window run, the catch-up and backfills make them
    (snapshot tables are only ever requested for their day, today)."""
    result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(
        instance=instance, tags=range_tags(first, last), raise_on_error=False,
        asset_selection=[asset_key(spec.name) for spec in HISTORY],
    )
    assert result.success is succeed
    return result.run_id


def _original_metadata(record: EventLogRecord) -> dict[str, Any]:
    """The metadata a materialization was recorded with (a re-recorded copy adds where it came from)."""
    assert record.asset_materialization is not None
    return {k: v for k, v in record.asset_materialization.metadata.items() if k not in PROVENANCE}


def _state(instance: DagsterInstance) -> dict[str, Any]:
    """Everything maintenance must leave unchanged, read the way the UI and the sensors read it."""
    partitions_def = build_partitions_def(load_settings().start_date)
    state: dict[str, Any] = {"status": {}, "newest": {}, "latest": {}, "checks": {}}
    for spec in TABLES:
        key = asset_key(spec.name)
        cached = get_and_update_asset_status_cache_value(instance, key, partitions_def)
        if cached is None:  # no event at all (a snapshot table in these past ranges): nothing to show
            assert spec.is_snapshot, spec.name
            state["status"][spec.name] = ([], [], [])
        else:
            state["status"][spec.name] = (
                sorted(cached.deserialize_materialized_partition_subsets(partitions_def).get_partition_keys()),
                sorted(cached.deserialize_failed_partition_subsets(partitions_def).get_partition_keys()),
                sorted(cached.deserialize_in_progress_partition_subsets(partitions_def).get_partition_keys()),
            )
        for record in instance.fetch_materializations(key, limit=10_000).records:
            newest = state["newest"].setdefault((spec.name, record.partition_key), record)
            assert newest.storage_id >= record.storage_id
        latest = instance.get_latest_materialization_event(key)
        state["latest"][spec.name] = latest and (latest.dagster_event.partition, latest.timestamp)  # type: ignore[union-attr]
    state["newest"] = {
        name: (record.timestamp, _original_metadata(record))
        for name, record in state["newest"].items()
    }
    # Days missing before 2026-11-21, as of a fixed instant after it: the wall clock's day would move between the
    # states compared across UTC midnight.
    state["missing"] = missing_partitions(instance, partitions_def, "2026-11-21", current_time=FROZEN_NOW)
    for info in instance.event_log_storage.get_asset_check_partition_info(check_keys(TABLES)):
        state["checks"][(info.check_key, info.partition_key)] = (info.latest_execution_status, info.is_current)
    state["checks"].update(asyncio.run(_latest_checks_as_the_ui_reads_them(instance)))
    return state


async def _latest_checks_as_the_ui_reads_them(instance: DagsterInstance) -> dict[AssetCheckKey, tuple]:
    """Per check, its latest execution's resolved status and, for an executed one, whether it targets the latest
    materialization. (For a skipped one Dagster compares the two runs' creation times, and says "outdated" once
    they are deleted: inherent to deleting runs.)"""
    context = LoadingContextForTest(instance)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys(TABLES))
    state = {}
    for key, record in latest.items():
        status = await record.resolve_status(context)
        executed = status in (AssetCheckExecutionResolvedStatus.SUCCEEDED, AssetCheckExecutionResolvedStatus.FAILED)
        state[key] = (status, await record.targets_latest_materialization(context) if executed else None)
    return state


def _check_rows(instance: DagsterInstance, run_id: str) -> list[tuple[AssetCheckKey, str | None, str]]:
    table = AssetCheckExecutionsTable
    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(table.select().where(table.c.run_id == run_id)).mappings().fetchall()
    return [(AssetCheckKey(AssetKey.from_db_string(r["asset_key"]), r["check_name"]), r["partition"],
             r["execution_status"]) for r in rows]


def _assert_gone(instance: DagsterInstance, run_id: str) -> list[str]:
    """No run, no events; of its check rows only those still the latest of their (check, partition), which are
    what the UI reads for that partition (a never-executed one reads "skipped" with or without its run).
    Returns the statuses of those rows."""
    assert instance.get_run_record_by_id(run_id) is None
    assert not instance.get_records_for_run(run_id).records
    every = check_keys(TABLES)
    latest = {(info.check_key, info.partition_key): info.latest_planned_run_id
              for info in instance.event_log_storage.get_asset_check_partition_info(every)}
    rows = _check_rows(instance, run_id)
    assert all(latest[(check_key, partition)] == run_id for check_key, partition, _ in rows)
    return [status for _, _, status in rows]


def _prune_and_compare(instance: DagsterInstance, now: datetime):
    before = _state(instance)
    report = prune_instance(instance, now, RETENTION_DAYS)
    after = _state(instance)
    for part in ("status", "latest", "missing", "checks", "newest"):
        assert after[part] == before[part], part
    # The cache rebuilt by the UI's query equals a cache built from scratch.
    instance.wipe_asset_cached_status([asset_key(spec.name) for spec in TABLES])
    assert _state(instance)["status"] == before["status"]
    return report


def test_pruning_keeps_every_partition_status_and_newest_materialization(intercom_env, home, monkeypatch):
    defs = build_definitions(load_settings())
    with open_instance(home) as instance:
        # Four simulated days: windows that overlap, one run that fails (the API refuses the token).
        day1 = _run(defs, instance, "2026-11-01", "2026-11-10")
        day2 = _run(defs, instance, "2026-11-05", "2026-11-14")
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "wrong-token-0123456789")
        failed = _run(defs, instance, "2026-11-13", "2026-11-17", succeed=False)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", intercom_env["INTERCOM_ACCESS_TOKEN"])
        time.sleep(2)
        day4 = _run(defs, instance, "2026-11-17", "2026-11-20")
        created = {r.dagster_run.run_id: r.create_timestamp for r in instance.get_run_records()}
        assert (home / "storage" / day1).is_dir(), "compute logs of the run"
        assert _state(instance)["status"]["contacts"][1] == [f"2026-11-{d}" for d in range(13, 17)]

        # Pass 1: day1, day2 and the failed run are old. day1 goes (its newest partitions are re-recorded);
        # the failed run is the newest attempt of failed partitions, and day2 holds the newest materialization of
        # 11-13/14 whose later attempt failed: copying it would hide that failure, so both stay.
        now = created[failed] + (created[day4] - created[failed]) / 2 + timedelta(days=RETENTION_DAYS)
        report = _prune_and_compare(instance, now)
        assert report.runs_deleted == 1 and set(report.runs_kept) == {day2, failed}
        # 11-01..11-04 are day1's alone; the ranges end before today, so no snapshot table was materialized; and
        # today's deleted_records partition, which only day1 wrote (it detected the seeded deletions)
        assert report.materializations_copied == len(HISTORY) * 4 + 1
        _assert_gone(instance, day1)
        assert not (home / "storage" / day1).exists()
        copies = [r for r in instance.fetch_materializations(asset_key("contacts"), limit=100).records if not r.run_id]
        assert {r.partition_key for r in copies} == {f"2026-11-0{d}" for d in range(1, 5)}
        assert all(r.asset_materialization.metadata[COPIED_FROM_RUN].value == day1 for r in copies)

        # Pass 2, far ahead: day4 goes too (its partitions re-recorded; its latest check rows stay, pointed at the
        # copies); pass 3 finds nothing more to do.
        report = _prune_and_compare(instance, datetime.now(UTC) + timedelta(days=30))
        assert report.runs_deleted == 1 and set(report.runs_kept) == {day2, failed}
        assert report.check_rows_retargeted > 0  # day4's results now target the copies of its materializations
        assert "SUCCEEDED" in _assert_gone(instance, day4)
        assert report.bytes_after is not None and report.bytes_before is not None
        assert report.bytes_after < report.bytes_before
        report = _prune_and_compare(instance, datetime.now(UTC) + timedelta(days=30))
        assert (report.runs_deleted, report.materializations_copied, report.check_rows_retargeted) == (0, 0, 0)
        assert instance.get_run_record_by_id(failed).dagster_run.status == DagsterRunStatus.FAILURE


def test_a_run_in_progress_keeps_the_run_it_would_otherwise_hide(intercom_env, home):
    """Copying a materialization after a newer attempt that is still queued would end its "in progress"."""
    defs = build_definitions(load_settings())
    with open_instance(home) as instance:
        done = _run(defs, instance, "2026-11-18", "2026-11-20")
        job_def = defs.resolve_job_def(INTERCOM_JOB)
        queued = instance.create_run_for_job(job_def, tags=range_tags("2026-11-20", "2026-11-20"))
        assert _state(instance)["status"]["contacts"][2] == ["2026-11-20"]
        far = datetime.now(UTC) + timedelta(days=30)
        report = _prune_and_compare(instance, far)
        assert report.runs_deleted == 0 and set(report.runs_kept) == {done}
        instance.report_run_canceled(queued)
        report = _prune_and_compare(instance, far)
        assert report.runs_deleted == 2 and report.materializations_copied == len(HISTORY) * 3 + 1  # deleted_records


def test_a_later_attempt_that_hides_an_older_failure_is_kept(intercom_env, home, monkeypatch):
    """A canceled (not failed) later attempt makes 11-14 read "not failed"; deleting it would resurface the failure."""
    defs = build_definitions(load_settings())
    with open_instance(home) as instance:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "wrong-token-0123456789")
        failed = _run(defs, instance, "2026-11-13", "2026-11-14", succeed=False)
        job_def = defs.resolve_job_def(INTERCOM_JOB)
        later = instance.create_run_for_job(job_def, tags=range_tags("2026-11-14", "2026-11-14"))
        instance.report_run_canceled(later)
        assert _state(instance)["status"]["contacts"][1] == ["2026-11-13"]
        report = _prune_and_compare(instance, datetime.now(UTC) + timedelta(days=30))
        assert report.runs_deleted == 0 and set(report.runs_kept) == {failed, later.run_id}


def test_maintenance_job_and_schedule_in_the_code_location(intercom_env, home, monkeypatch):
    monkeypatch.setenv("INTERCOM_RUN_RETENTION_DAYS", "3")
    defs = build_definitions(load_settings())
    schedule = defs.resolve_schedule_def(MAINTENANCE_SCHEDULE)
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        MAINTENANCE_CRON, "UTC", MAINTENANCE_JOB)
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    with open_instance(home) as instance:
        run = _run(defs, instance, "2026-11-18", "2026-11-20")
        # a day written before conversations gained a column: its file lacks it (and the stored file says so)
        store = ParquetStore(intercom_env["INTERCOM_PARQUET_ROOT"])
        before = store.read("conversations", "2026-11-19")
        added = before.schema.names[-3]
        old_file = Path(str(store.partition_path("conversations", "2026-11-19")))
        pq.write_table(before.drop_columns([added]), old_file)
        result = defs.resolve_job_def(MAINTENANCE_JOB).execute_in_process(instance=instance)
        assert result.success
        outputs = {e.step_key: e.step_output_data.metadata for e in result.all_events if e.is_successful_output}
        metadata = outputs["intercom_prune_instance"]
        assert metadata["retention_days"].value == 3
        # The run is minutes old: nothing to delete; the SQLite files are still compacted.
        assert metadata["runs_deleted"].value == 0 and metadata["instance_bytes_after"].value > 0
        assert instance.get_run_record_by_id(run) is not None
        # every file has its table's declared schema again: the old day's column is back, null, the rest kept
        upgrade = outputs["intercom_upgrade_lake_schemas"]
        assert upgrade["files_rewritten"].value == 1 and upgrade["files_checked"].value > 30, upgrade
        after = store.read("conversations", "2026-11-19")
        assert after.schema.equals(TABLES_BY_NAME["conversations"].converter().schema)
        assert after.drop_columns([added]).equals(before.drop_columns([added]))
        assert after[added].null_count == after.num_rows


@pytest.mark.parametrize("raw", ["0", "x", "3651"])
def test_a_bad_retention_fails_loading(raw):
    with pytest.raises(SettingsError, match="INTERCOM_RUN_RETENTION_DAYS"):
        load_settings({"INTERCOM_RUN_RETENTION_DAYS": raw})
