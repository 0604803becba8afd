"""The catch-up sensor over an instance with gaps, and the alert sensors posting to a local webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetMaterialization,
    DagsterEvent,
    DagsterEventType,
    DagsterRunStatus,
    Definitions,
    build_run_status_sensor_context,
    build_sensor_context,
    instance_for_test,
    job,
    op,
)
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange
from dagster._core.test_utils import create_run_for_test

from intercom_assets.automation.alert_sensors import CHECK_FAILURE_SENSOR, RUN_FAILURE_SENSOR
from intercom_assets.automation.alerts import Alert, send_alert
from intercom_assets.automation.catchup import CATCHUP_SENSOR, MAX_ATTEMPTS, RETRY_BACKOFF_SECONDS, retry_due
from intercom_assets.automation.checks import CHECK_VALID
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import TRIGGER_CATCHUP, TRIGGER_TAG
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key
from intercom_assets.metrics.assets import metrics_keys
from intercom_assets.partitions import DATE_FORMAT, keys_between
from intercom_assets.settings import Settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.clock import FROZEN_NOW
from intercom_assets_tests.webhook import Webhook

TOKEN = "test-token-0123456789abcdef"
START = "dagster/asset_partition_range_start"
END = "dagster/asset_partition_range_end"
WINDOW = 3
TODAY = FROZEN_NOW.date()  # the sensors tick on this day: every test here freezes their clock (fixture below)


def _day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).strftime(DATE_FORMAT)


def _settings(webhook: str | None = None, start: date | None = None, automation: bool = True) -> Settings:
    return Settings(
        start_date=start or TODAY - timedelta(days=14),
        attribution_window_days=WINDOW,
        schedule_cron="*/30 * * * *",
        parquet_root="/nonexistent/parquet",
        automation_on=automation,
        alert_webhook_url=webhook,
        staging_dir=None,
    )


@pytest.fixture(autouse=True)
def _frozen_day(today: date) -> None:
    """Every test here acts on TODAY, whenever it runs (a suite crossing UTC midnight moved the sensor's day)."""
    assert today == TODAY


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


# ---- catch-up -------------------------------------------------------------------------------------------------
def _materialize(instance, keys, tables=TABLES) -> None:
    for spec in tables:
        if spec.is_snapshot:
            continue
        for key in keys:
            instance.report_runless_asset_event(AssetMaterialization(asset_key(spec.name), partition=key))


def _evaluate(defs: Definitions, instance, cursor: str | None):
    sensor = defs.resolve_sensor_def(CATCHUP_SENSOR)
    return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


def test_catchup_launches_missing_ranges_oldest_first_in_chunks_then_retries_with_backoff(token) -> None:
    defs = build_definitions(_settings())
    with instance_for_test() as instance:
        # Days 14..0 ago exist; 2..0 are the schedule's window. Days 11 and 6 are done for every table;
        # day 9 is done for all tables but conversations, so it is still missing.
        _materialize(instance, [_day(11), _day(6)])
        _materialize(instance, [_day(9)], [s for s in TABLES if s.name != "conversations"])
        cursor, requested = None, []
        for _ in range(10):
            data = _evaluate(defs, instance, cursor)
            if not data.run_requests:
                break
            (request,) = data.run_requests
            assert request.tags[TRIGGER_TAG] == TRIGGER_CATCHUP
            assert request.run_key == f"catchup:{request.tags[START]}...{request.tags[END]}"
            # a catch-up run never plans snapshot tables: they have no past days to fill; it merges what it
            # wrote into the current state
            # (nor deleted_records, whose days are days of detection: the window runs record each day)
            # the tables with history, their current state and the support metrics rebuilt from it
            assert set(request.asset_selection) == {asset_key(n) for s in TABLES if s.has_current_state
                                                    for n in (s.name, f"{s.name}_current")} | set(metrics_keys())
            requested.append((request.tags[START], request.tags[END]))
            cursor = data.cursor
        assert requested == [
            (_day(14), _day(12)),
            (_day(10), _day(8)),
            (_day(7), _day(7)),
            (_day(5), _day(3)),
        ]
        assert "4 wait for their retry backoff" in data.skip_message
        # A chunk completed meanwhile is simply no longer missing.
        _materialize(instance, keys_between(_day(14), _day(12)))
        assert _evaluate(defs, instance, cursor).run_requests == []
        # An incomplete chunk whose backoff has passed is launched again, under a new run key; one that failed
        # MAX_ATTEMPTS times is not, and the sensor says so.
        state = json.loads(cursor)["chunks"]
        state[f"{_day(10)}...{_day(8)}"] = {"attempts": 1, "at": 0}
        state[f"{_day(7)}...{_day(7)}"] = {"attempts": MAX_ATTEMPTS, "at": 0}
        data = _evaluate(defs, instance, json.dumps({"chunks": state}))
        (retry,) = data.run_requests
        assert retry.run_key == f"catchup:{_day(10)}...{_day(8)}#2"
        assert json.loads(data.cursor)["chunks"][f"{_day(10)}...{_day(8)}"]["attempts"] == 2
        data = _evaluate(defs, instance, data.cursor)
        assert data.run_requests == [] and f"1 failed {MAX_ATTEMPTS} times" in data.skip_message


def test_retry_backoff_doubles_and_stops() -> None:
    assert not retry_due(1, last_launch=1000, now=1000 + RETRY_BACKOFF_SECONDS - 1)
    assert retry_due(1, last_launch=1000, now=1000 + RETRY_BACKOFF_SECONDS)
    assert not retry_due(2, last_launch=1000, now=1000 + 2 * RETRY_BACKOFF_SECONDS - 1)
    assert retry_due(3, last_launch=0, now=4 * RETRY_BACKOFF_SECONDS)
    assert not retry_due(MAX_ATTEMPTS, last_launch=0, now=10**9)


def test_catchup_requests_nothing_while_a_catchup_run_is_in_progress(token) -> None:
    defs = build_definitions(_settings())
    with instance_for_test() as instance:
        running = create_run_for_test(
            instance, job_name=INTERCOM_JOB, status=DagsterRunStatus.STARTED, tags={TRIGGER_TAG: TRIGGER_CATCHUP}
        )
        data = _evaluate(defs, instance, None)
        assert data.run_requests == [] and running.run_id in data.skip_message
        instance.report_run_failed(running)
        data = _evaluate(defs, instance, None)
        assert [(r.tags[START], r.tags[END]) for r in data.run_requests] == [(_day(14), _day(12))]


def test_catchup_is_done_when_history_is_complete_and_waits_for_a_token(token, monkeypatch) -> None:
    defs = build_definitions(_settings())
    with instance_for_test() as instance:
        _materialize(instance, keys_between(_day(14), _day(3)))
        data = _evaluate(defs, instance, None)
        assert data.run_requests == [] and "History is complete" in data.skip_message
        monkeypatch.delenv("INTERCOM_ACCESS_TOKEN")
        assert "once the token is set" in _evaluate(defs, instance, None).skip_message


# ---- alerts ---------------------------------------------------------------------------------------------------
@op
def extract_step() -> None:
    raise RuntimeError(f"Intercom answered 500 on /contacts/search (token {TOKEN} must never leak)")


@job(name=INTERCOM_JOB)
def failing_job() -> None:
    extract_step()


def test_run_failure_alert_reaches_the_webhook_and_the_log(token, webhook: Webhook, caplog) -> None:
    defs = build_definitions(_settings(webhook.url))
    sensor = defs.resolve_sensor_def(RUN_FAILURE_SENSOR)
    with instance_for_test() as instance:
        result = failing_job.execute_in_process(
            instance=instance, raise_on_error=False, tags={START: _day(5), END: _day(3), TRIGGER_TAG: "catchup"}
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            r.event_log_entry.dagster_event
            for r in instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_FAILURE).records
        )
        context = build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR, dagster_event=failure, dagster_instance=instance, dagster_run=run
        ).for_run_failure()
        with caplog.at_level(logging.INFO, logger="intercom_assets.automation.alerts"):
            sensor(context)
    (payload,) = webhook.received
    assert payload["kind"] == "run_failure" and payload["severity"] == "ERROR"
    assert payload["run_id"] == result.run_id and payload["job"] == INTERCOM_JOB
    assert payload["trigger"] == "catchup" and payload["partition_range"] == f"{_day(5)}...{_day(3)}"
    assert payload["step_errors"][0]["step"] == "extract_step"
    assert "Intercom answered 500 on /contacts/search" in payload["summary"]
    assert TOKEN not in json.dumps(payload) and "[redacted]" in payload["step_errors"][0]["error"]
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "intercom_assets.automation.alerts"]
    assert line == payload


def _check_result(instance, table: str, check: str, severity: AssetCheckSeverity, partitions: dict[str, bool]):
    """Record check evaluations per partition inside a run of their own, as the extraction step does."""
    run = create_run_for_test(instance, job_name=INTERCOM_JOB)
    for partition, passed in partitions.items():
        evaluation = AssetCheckEvaluation(
            asset_key=asset_key(table), check_name=check, passed=passed, severity=severity, partition=partition,
            description=None if passed else f"defect in {partition}",
        )
        event = DagsterEvent(
            event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
            job_name=INTERCOM_JOB,
            event_specific_data=evaluation,
            message=f"check {check}",
        )
        instance.report_dagster_event(event, run_id=run.run_id, log_level=logging.DEBUG)


def test_check_failures_are_alerted_once_per_partition_and_change_and_freshness_failures_too(
    token, webhook: Webhook
) -> None:
    defs = build_definitions(_settings(webhook.url))
    sensor = defs.resolve_sensor_def(CHECK_FAILURE_SENSOR)
    error, warn = AssetCheckSeverity.ERROR, AssetCheckSeverity.WARN

    def evaluate(cursor):
        return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, definitions=defs))

    with instance_for_test() as instance:
        data = evaluate(None)
        assert webhook.received == [] and data.run_requests == []
        _check_result(instance, "contacts", CHECK_VALID, error, {_day(4): False, _day(3): False, _day(2): True})
        data = evaluate(data.cursor)
        (alert,) = webhook.received
        assert alert["kind"] == "check_failure" and alert["severity"] == "ERROR"
        assert alert["check"] == CHECK_VALID and alert["asset"] == "intercom/contacts"
        assert alert["failing_partitions"] == [_day(4), _day(3)]
        assert alert["failure_details"] == {_day(4): f"defect in {_day(4)}", _day(3): f"defect in {_day(3)}"}
        # Nothing new on the next evaluation.
        data = evaluate(data.cursor)
        assert len(webhook.received) == 1
        _check_result(instance, "conversation_parts", CHECK_VALID, warn, {_day(2): False})
        instance.report_runless_asset_event(
            FreshnessStateChange(
                key=asset_key("companies"),
                previous_state=FreshnessState.PASS,
                new_state=FreshnessState.FAIL,
                state_change_timestamp=datetime.now(UTC).timestamp(),
            )
        )
        data = evaluate(data.cursor)
        warned, fresh = webhook.received[1:]
        assert (warned["check"], warned["severity"], warned["failing_partitions"]) == (CHECK_VALID, "WARN", [_day(2)])
        assert (fresh["kind"], fresh["asset"], fresh["freshness_state"]) == ("freshness", "intercom/companies", "FAIL")
        # The next runs find the same defects again, and a run over older days passes there: not re-sent.
        _check_result(instance, "contacts", CHECK_VALID, error, {_day(4): False, _day(3): False})
        _check_result(instance, "conversation_parts", CHECK_VALID, warn, {_day(9): True, _day(8): True})
        data = evaluate(data.cursor)
        assert len(webhook.received) == 3 and "3 check partitions failing" in data.skip_message
        # A new failing partition alerts for that partition only; one that passed and fails again alerts again.
        _check_result(instance, "contacts", CHECK_VALID, error, {_day(4): True, _day(3): False, _day(1): False})
        data = evaluate(data.cursor)
        assert webhook.received[-1]["failing_partitions"] == [_day(1)]
        _check_result(instance, "contacts", CHECK_VALID, error, {_day(4): False})
        evaluate(data.cursor)
        assert webhook.received[-1]["failing_partitions"] == [_day(4)] and len(webhook.received) == 5


def test_webhook_failure_is_logged_never_raised_and_hides_the_url(token, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intercom_assets.automation.alerts"):
        payload = send_alert(Alert("check_failure", "ERROR", "x"), "http://127.0.0.1:9/hooks/secret-path")
    assert payload["summary"] == "x"
    failure = [r.getMessage() for r in caplog.records if "alert_webhook_failed" in r.getMessage()]
    assert failure and "secret-path" not in failure[0] and "127.0.0.1:9" in failure[0]
    hook = Webhook(status=500)
    try:
        send_alert(Alert("check_failure", "ERROR", "y"), hook.url)
    finally:
        hook.close()
    assert hook.received[0]["summary"] == "y"
    assert any('"status": 500' in r.getMessage() for r in caplog.records)
