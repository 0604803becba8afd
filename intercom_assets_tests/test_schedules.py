"""The attribution-window schedule at fixed tick times, its skips, and the run it requests, executed for real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

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

from intercom_assets.automation.checks import CHECK_PARTS
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.maintenance import MAINTENANCE_SCHEDULE
from intercom_assets.automation.schedules import SCHEDULE_NAME, TRIGGER_CATCHUP, TRIGGER_SCHEDULE, TRIGGER_TAG
from intercom_assets.automation.sensors import CATCHUP_SENSOR, CHECK_FAILURE_SENSOR, RUN_FAILURE_SENSOR
from intercom_assets.definitions import build_definitions
from intercom_assets.partitions import keys_between
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import TABLES

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
def test_tick_requests_one_run_over_exactly_the_window(env, when: datetime, first: str, last: str) -> None:
    defs = build_definitions(load_settings())
    with instance_for_test() as instance:
        data = _tick(defs, instance, when)
    assert data.skip_message is None
    assert len(data.run_requests) == 1
    request = data.run_requests[0]
    assert request.run_key is None
    assert request.tags[START] == first and request.tags[END] == last
    assert request.tags[TRIGGER_TAG] == TRIGGER_SCHEDULE
    assert not request.partition_key


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
        assert len(_tick(defs, instance, TICK).run_requests) == 1
        for status in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED):
            running = create_run_for_test(
                instance, job_name=INTERCOM_JOB, status=status, tags={TRIGGER_TAG: TRIGGER_SCHEDULE}
            )
            data = _tick(defs, instance, TICK)
            assert data.run_requests == []
            assert running.run_id in data.skip_message
            instance.report_run_canceled(running)
        assert len(_tick(defs, instance, TICK).run_requests) == 1


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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "0", "INTERCOM_ATTRIBUTION_WINDOW_DAYS"),
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "thirty", "whole number"),
        ("INTERCOM_SCHEDULE_CRON", "every 30 minutes", "not a valid cron"),
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
        (request,) = data.run_requests
        assert isinstance(request, RunRequest)
        result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(tags=request.tags, instance=instance)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.tags[TRIGGER_TAG] == TRIGGER_SCHEDULE
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    window = keys_between("2026-11-18", "2026-11-20")
    for spec in TABLES:
        written = sorted(p.parent.name.removeprefix("date=") for p in (root / spec.name).glob("date=*/part-0.parquet"))
        assert written == window, spec.name
    # The checks ran inside the same run, once per check for the whole window, and pass on real data.
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 34
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert [f for f in failed if f[1] != CHECK_PARTS] == []
    assert all(e.metadata["partitions_checked"].value == 3 for e in evaluations)
