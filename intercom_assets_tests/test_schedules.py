"""The attribution-window schedule at fixed tick times, its skips, and the run it requests, executed for real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    build_schedule_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from intercom_assets.automation.alert_sensors import CHECK_FAILURE_SENSOR, RUN_FAILURE_SENSOR
from intercom_assets.automation.catchup import CATCHUP_SENSOR
from intercom_assets.automation.checks import check_keys
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.maintenance_job import MAINTENANCE_SCHEDULE
from intercom_assets.automation.schedules import (
    SCHEDULE_NAME,
    TRIGGER_CATCHUP,
    TRIGGER_SCHEDULE,
    TRIGGER_TAG,
    tick_requests,
)
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key
from intercom_assets.metrics.assets import metrics_keys, undeclared_source_specs
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets.tables import TABLES as ALL_TABLES  # every table is defined, opt-in ones too

pytestmark = pytest.mark.wall_seconds(35)  # measured in the suite; it starts the longest files first

START = "dagster/asset_partition_range_start"
END = "dagster/asset_partition_range_end"
TOKEN = "test-token-0123456789abcdef"
TICK = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    values = {
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "INTERCOM_START_DATE": "2026-11-01",
        "INTERCOM_ATTRIBUTION_WINDOW_DAYS": "3",
        "INTERCOM_PARQUET_ROOT": str(tmp_path / "parquet"),
        "INTERCOM_MAX_RETRIES": "2",
    }
    for name in ("INTERCOM_AUTOMATION", "INTERCOM_SCHEDULE_CRON", "INTERCOM_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _tick(defs: Definitions, instance, when: datetime):
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    return schedule.evaluate_tick(build_schedule_context(instance=instance, scheduled_execution_time=when))


@pytest.mark.parametrize(
    ("when", "first", "last"),
    [
        (TICK, "2026-11-18", "2026-11-20"),
        # 00:10 at UTC+02:00 is still the previous UTC day.
        (datetime(2026, 11, 21, 0, 10, tzinfo=timezone(timedelta(hours=2))), "2026-11-18", "2026-11-20"),
        (datetime(2026, 11, 20, 23, 30, tzinfo=UTC), "2026-11-18", "2026-11-20"),
        # The window never reaches before the start date.
        (datetime(2026, 11, 2, 0, 0, tzinfo=UTC), "2026-11-01", "2026-11-02"),
    ],
)
def test_tick_requests_one_window_run_and_one_snapshot_run(env, when: datetime, first: str, last: str) -> None:
    defs = build_definitions(load_settings())
    with instance_for_test() as instance:
        data = _tick(defs, instance, when)
    assert data.skip_message is None
    window, snapshots = data.run_requests
    # the history tables over exactly the window, in one run
    assert window.tags[START] == first and window.tags[END] == last
    # the tables with history, then their current state, then the support metrics, in the same run
    assert set(window.asset_selection) == {asset_key(n) for s in TABLES if not s.is_snapshot
                                           for n in (s.name, *([f"{s.name}_current"] if s.has_current_state else []))
                                           } | set(metrics_keys())
    assert asset_key("conversation_metrics") in window.asset_selection
    # the snapshot tables over the tick's day only: they have no other days
    assert snapshots.tags[START] == snapshots.tags[END] == last
    assert set(snapshots.asset_selection) == {asset_key(s.name) for s in TABLES if s.is_snapshot}
    assert window.run_key == f"window:{when.astimezone(UTC):%Y-%m-%dT%H:%M}"
    assert snapshots.run_key == f"snapshots:{when.astimezone(UTC):%Y-%m-%dT%H:%M}"
    for request in (window, snapshots):
        assert not request.partition_key
        assert request.tags[TRIGGER_TAG] == TRIGGER_SCHEDULE


def test_tick_skips_while_the_previous_window_run_is_in_progress(env) -> None:
    defs = build_definitions(load_settings())
    with instance_for_test() as instance:
        create_run_for_test(
            instance, job_name=INTERCOM_JOB, status=DagsterRunStatus.SUCCESS, tags={TRIGGER_TAG: TRIGGER_SCHEDULE}
        )
        # A catch-up run does not block the schedule (the one-slot pool serialises the two).
        create_run_for_test(
            instance, job_name=INTERCOM_JOB, status=DagsterRunStatus.STARTED, tags={TRIGGER_TAG: TRIGGER_CATCHUP}
        )
        assert len(_tick(defs, instance, TICK).run_requests) == 2
        for status in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED):
            running = create_run_for_test(
                instance, job_name=INTERCOM_JOB, status=status, tags={TRIGGER_TAG: TRIGGER_SCHEDULE}
            )
            data = _tick(defs, instance, TICK)
            assert data.run_requests == []
            assert running.run_id in data.skip_message
            instance.report_run_canceled(running)
        assert len(_tick(defs, instance, TICK).run_requests) == 2


def test_tick_skips_without_a_token(env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN")
    defs = build_definitions(load_settings())
    with instance_for_test() as instance:
        data = _tick(defs, instance, TICK)
    assert data.run_requests == []
    assert "INTERCOM_ACCESS_TOKEN" in data.skip_message and "once the token is set" in data.skip_message


def test_definitions_load_with_stable_names_and_automation_switch(env, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = build_definitions(load_settings())
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {SCHEDULE_NAME, MAINTENANCE_SCHEDULE}
    assert {s.name for s in repo.sensor_defs} == {CATCHUP_SENSOR, RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR}
    assert defs.resolve_job_def(INTERCOM_JOB).name == "intercom_job"
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.cron_schedule == "*/30 * * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert defs.resolve_sensor_def(CATCHUP_SENSOR).default_status == DefaultSensorStatus.RUNNING

    monkeypatch.setenv("INTERCOM_AUTOMATION", "off")
    monkeypatch.setenv("INTERCOM_SCHEDULE_CRON", "0 * * * *")
    off = build_definitions(load_settings())
    assert off.resolve_schedule_def(SCHEDULE_NAME).default_status == DefaultScheduleStatus.STOPPED
    assert off.resolve_schedule_def(SCHEDULE_NAME).cron_schedule == "0 * * * *"
    assert off.resolve_sensor_def(CATCHUP_SENSOR).default_status == DefaultSensorStatus.STOPPED
    # Alerts stay on: a manually launched run can fail too.
    assert off.resolve_sensor_def(RUN_FAILURE_SENSOR).default_status == DefaultSensorStatus.RUNNING
    assert off.resolve_sensor_def(RUN_FAILURE_SENSOR).minimum_interval_seconds == 60


def test_the_alert_sensors_look_as_often_as_set(env, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_ALERT_INTERVAL_SECONDS", "15")
    defs = build_definitions()
    for sensor in (RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR):
        assert defs.resolve_sensor_def(sensor).minimum_interval_seconds == 15


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "0", "INTERCOM_ATTRIBUTION_WINDOW_DAYS"),
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "thirty", "whole number"),
        ("INTERCOM_SCHEDULE_CRON", "every 30 minutes", "not a valid cron"),
        ("INTERCOM_TABLES", "contacts, tickts", r"unknown tables \['tickts'\]"),
        ("INTERCOM_ALERT_INTERVAL_SECONDS", "1", "INTERCOM_ALERT_INTERVAL_SECONDS"),
    ],
)
def test_a_bad_window_or_cron_is_a_clear_error_at_load(env, monkeypatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        build_definitions()


def test_the_requested_window_run_writes_every_table_and_runs_the_checks(env, intercom_server, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_BASE_URL", intercom_server.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", intercom_server.token)
    defs = build_definitions(load_settings())
    with instance_for_test() as instance:
        data = _tick(defs, instance, TICK)
        results = []
        for request in data.run_requests:
            assert isinstance(request, RunRequest)
            results.append(defs.resolve_job_def(INTERCOM_JOB).execute_in_process(
                tags=request.tags, instance=instance, asset_selection=request.asset_selection))
            assert results[-1].success
            assert instance.get_run_by_id(results[-1].run_id).tags[TRIGGER_TAG] == TRIGGER_SCHEDULE
        result = results[0]
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    window = keys_between("2026-11-18", "2026-11-20")
    # deleted_records: the seeded deletions and merges land on the day they were detected (the real today); every
    # day of the window is materialized too, empty
    detected = [p.parent.name.removeprefix("date=") for p in (root / "deleted_records").glob("date=*/part-0.parquet")
                if pq.ParquetFile(p).metadata.num_rows]
    assert len(detected) == 1 and detected[0] not in window
    for spec in TABLES:
        written = sorted(p.parent.name.removeprefix("date=") for p in (root / spec.name).glob("date=*/part-0.parquet"))
        # the tick (TEST_NOW's day) is not the real today, so its snapshot run takes no snapshot
        expected = [] if spec.is_snapshot else sorted({*window, *detected}) if spec.logs_deletions else window
        assert written == expected, spec.name
    # The checks ran inside the same run, once per table and written partition, and pass on real data (but the
    # WARN of the seeded over-500-parts conversation, on its own partition).
    # (and deleted_records', on the day the seeded deletions and merges were detected: the real today)
    # (and the support metrics, rebuilt in the same run after the current state: their dbt tests as checks)
    evaluations = result.get_asset_check_evaluations()
    assert sorted((e.asset_key.path[-1], e.partition) for e in evaluations) == sorted(
        [(spec.name, day) for spec in TABLES if not spec.is_snapshot for day in window]
        + [("deleted_records", detected[0])]
        + [(model, None) for model in ("conversation_metrics", "ticket_metrics") for _test in ("unique", "not_null")]
    )
    assert all((root / "metrics" / key.path[-1] / "part-0.parquet").exists() for key in metrics_keys())
    failed = sorted((e.asset_key.path[-1], e.partition, e.severity.value) for e in evaluations if not e.passed)
    ws = intercom_server.workspace
    assert failed == sorted([
        ("conversation_parts", day_key(ws.conversations[ws.big_conversation_id]["updated_at"]), "WARN"),
        ("ticket_parts", day_key(ws.tickets[ws.big_ticket_id]["updated_at"]), "WARN"),
    ])


def test_intercom_tables_decides_what_the_schedule_catchup_freshness_and_alerts_cover(env, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_TABLES", "contacts, conversations,conversation_parts,admins")
    settings = load_settings()
    assert settings.tables == ("contacts", "conversations", "conversation_parts", "admins")
    defs = build_definitions(settings)
    selected = {asset_key(name) for name in settings.tables}
    job = defs.resolve_job_def(INTERCOM_JOB)
    assert set(job.asset_layer.executable_asset_keys) == selected | {
        asset_key(f"{name}_current") for name in ("contacts", "conversations", "conversation_parts")} | set(
        metrics_keys())
    # every table is still defined (deleted_records among them, and the current states), so the UI can select any
    # subset
    history = [spec for spec in ALL_TABLES if spec.has_current_state]
    # (and the support metrics, with the dbt sources no table declares)
    assert len([k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "intercom"]) == len(
        ALL_TABLES) + len(history) + len(metrics_keys()) + len(
        [spec for spec in undeclared_source_specs() if spec.key.path[0] == "intercom"])
    assets_def = defs.resolve_assets_def(asset_key("contacts"))
    fresh = {key for key, spec in assets_def.specs_by_key.items() if spec.freshness_policy is not None}
    assert fresh == selected
    checks = {key.asset_key for key in check_keys(settings.selected())}
    assert checks == selected


def test_within_the_companies_refresh_period_a_window_run_leaves_the_scroll_out(env, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_COMPANIES_REFRESH_MINUTES", "360")
    settings = load_settings()
    scroll = {asset_key("companies"), asset_key("company_segments")}
    fresh = tick_requests(TICK, settings, last_scroll=(TICK - timedelta(minutes=359)).timestamp())
    assert not scroll & set(fresh[0].asset_selection)
    assert asset_key("contacts") in fresh[0].asset_selection
    due = tick_requests(TICK, settings, last_scroll=(TICK - timedelta(minutes=360)).timestamp())
    assert scroll <= set(due[0].asset_selection)
    assert scroll <= set(tick_requests(TICK, settings, last_scroll=None)[0].asset_selection)
    # every run reads the scroll when the cadence is off (the default)
    monkeypatch.delenv("INTERCOM_COMPANIES_REFRESH_MINUTES")
    assert scroll <= set(tick_requests(TICK, load_settings(), last_scroll=TICK.timestamp())[0].asset_selection)
    defs = build_definitions(settings)
    policies = {key: spec.freshness_policy for key, spec in
                defs.resolve_assets_def(asset_key("contacts")).specs_by_key.items()}
    assert policies[asset_key("companies")].fail_window.to_timedelta() == timedelta(hours=8)
    assert policies[asset_key("contacts")].fail_window.to_timedelta() == timedelta(hours=2)
