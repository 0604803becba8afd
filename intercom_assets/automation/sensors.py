"""Sensors: the historical catch-up, and the alerts for failed runs, failed checks and stale assets.

Catch-up: the schedule owns the trailing attribution window; everything older since INTERCOM_START_DATE that was
never materialized is filled by this sensor, oldest first, one run at a time, in chunks of at most the window's
length (one chunk costs about what a scheduled run costs, so a run never grows beyond what the rate budget and
the one-slot pool were sized for). A day counts as done only when EVERY incremental table has it: the intersection
is what a reader can rely on, and a run that failed half-way (some tables written, some not) is then seen as not
done. Snapshot tables are left out on purpose: their past days are placeholders, written by any run.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from intercom_assets.assets import asset_key
from intercom_assets.automation.alerts import Alert, send_alert
from intercom_assets.automation.checks import DETAILS, FAILING_PARTITIONS, check_keys
from intercom_assets.automation.schedules import (
    NO_TOKEN_REASON,
    TRIGGER_CATCHUP,
    TRIGGER_TAG,
    range_tags,
    run_in_progress,
    token_is_set,
)
from intercom_assets.partitions import keys_between, trailing_window
from intercom_assets.settings import Settings
from intercom_assets.tables import TABLES, TableSpec

CATCHUP_SENSOR = "intercom_catchup_sensor"
RUN_FAILURE_SENSOR = "intercom_run_failure_sensor"
CHECK_FAILURE_SENSOR = "intercom_check_failure_sensor"
CATCHUP_INTERVAL_SECONDS = 60
ALERT_INTERVAL_SECONDS = 60
CATCHUP_RUN_KEY_PREFIX = "catchup:"
MAX_RESULTS_PER_CHECK = 10
ALERTING_FRESHNESS = (FreshnessState.WARN, FreshnessState.FAIL)


# ---- historical catch-up ----------------------------------------------------------------------------------
def incremental_tables(tables: Sequence[TableSpec] = TABLES) -> list[TableSpec]:
    """Tables whose partitions hold real history (not snapshots): the ones a catch-up has to fill."""
    return [spec for spec in tables if not spec.is_snapshot]


def missing_partitions(
    instance: DagsterInstance,
    partitions_def: DailyPartitionsDefinition,
    before_key: str,
    tables: Sequence[TableSpec] = TABLES,
    current_time: datetime | None = None,
) -> list[str]:
    """Partitions older than before_key that at least one incremental table never materialized, oldest first."""
    done: set[str] | None = None
    for spec in incremental_tables(tables):
        materialized = instance.get_materialized_partitions(asset_key(spec.name))
        done = materialized if done is None else done & materialized
    done = done or set()
    keys = partitions_def.get_partition_keys(current_time=current_time)
    return [key for key in keys if key < before_key and key not in done]


def catchup_chunks(
    partitions_def: DailyPartitionsDefinition, missing: Sequence[str], max_days: int
) -> list[tuple[str, str]]:
    """Contiguous missing ranges, each cut into pieces of at most max_days, oldest first."""
    if not missing:
        return []
    ranges = partitions_def.subset_with_partition_keys(missing).get_partition_key_ranges(partitions_def)
    chunks: list[tuple[str, str]] = []
    for key_range in sorted(ranges, key=lambda r: r.start):
        days = keys_between(key_range.start, key_range.end)
        for i in range(0, len(days), max_days):
            piece = days[i : i + max_days]
            chunks.append((piece[0], piece[-1]))
    return chunks


def catchup_run_key(first: str, last: str) -> str:
    return f"{CATCHUP_RUN_KEY_PREFIX}{first}...{last}"


def _launched(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    try:
        return set(json.loads(cursor).get("launched", []))
    except (ValueError, AttributeError):
        return set()


def build_catchup_sensor(
    settings: Settings, partitions_def: DailyPartitionsDefinition, job: UnresolvedAssetJobDefinition
) -> SensorDefinition:
    """The sensor that fills history before the attribution window, one chunk per run, never a chunk twice."""
    window = settings.attribution_window_days

    @sensor(
        name=CATCHUP_SENSOR,
        job=job,
        minimum_interval_seconds=CATCHUP_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING if settings.automation_on else DefaultSensorStatus.STOPPED,
        description=(
            f"Fills never-materialized days since {settings.start_date} that are older than the {window}-day "
            f"attribution window: oldest first, at most {window} days per run, one catch-up run at a time."
        ),
    )
    def intercom_catchup_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        if not token_is_set():
            return SkipReason(NO_TOKEN_REASON)
        running = run_in_progress(context.instance, TRIGGER_CATCHUP)
        if running:
            return SkipReason(f"Catch-up run {running} is still in progress; one catch-up run at a time.")
        now = datetime.now(UTC)
        window_first, _ = trailing_window(now.date(), window)
        missing = missing_partitions(context.instance, partitions_def, window_first, current_time=now)
        launched = _launched(context.cursor)
        chunks = catchup_chunks(partitions_def, missing, window)
        for first, last in chunks:
            run_key = catchup_run_key(first, last)
            if run_key in launched:
                continue
            return SensorResult(
                run_requests=[
                    RunRequest(run_key=run_key, tags={**range_tags(first, last), TRIGGER_TAG: TRIGGER_CATCHUP})
                ],
                cursor=json.dumps({"launched": sorted(launched | {run_key})}),
            )
        if chunks:
            return SkipReason(
                f"{len(chunks)} missing ranges before {window_first} were each launched once already and are "
                f"still incomplete (e.g. {chunks[0][0]}...{chunks[0][1]}): failed runs are not retried "
                "automatically; re-run them from the UI (Materialize, partition range)."
            )
        return SkipReason(f"History is complete from {settings.start_date} up to the window ({window_first}).")

    return intercom_catchup_sensor


# ---- alerts -----------------------------------------------------------------------------------------------
def run_failure_alert(context: RunFailureSensorContext) -> Alert:
    """What failed (run, job, range, trigger) and why (the run's failure message and each failed step's error)."""
    run = context.dagster_run
    step_errors: list[dict[str, Any]] = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        # Dagster wraps the op's exception ("Error occurred while executing op ..."); the cause says why.
        root = error
        while root is not None and root.cause is not None:
            root = root.cause
        step_errors.append(
            {
                "step": event.step_key,
                "error": root.message.strip() if root else (event.message or "unknown"),
                **({"raised_as": error.message.strip()} if error is not None and root is not error else {}),
            }
        )
    reason = step_errors[0]["error"] if step_errors else (context.failure_event.message or "unknown")
    tags = run.tags or {}
    return Alert(
        kind="run_failure",
        severity="ERROR",
        summary=f"Run {run.run_id} of {run.job_name} failed: {reason.splitlines()[0] if reason else 'unknown'}",
        details={
            "run_id": run.run_id,
            "job": run.job_name,
            "trigger": tags.get(TRIGGER_TAG, "manual"),
            "partition_range": (
                f"{tags[ASSET_PARTITION_RANGE_START_TAG]}...{tags[ASSET_PARTITION_RANGE_END_TAG]}"
                if ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags
                else tags.get("dagster/partition")
            ),
            "run_error": context.failure_event.message,
            "step_errors": step_errors,
        },
    )


def build_run_failure_sensor(settings: Settings) -> SensorDefinition:
    """Alerts on every failed run of this code location: `intercom_job` (schedule, catch-up) and the implicit
    asset job that UI backfills and the CLI launch alike (always on: alerts cost nothing)."""

    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
        description="Logs a JSON alert (and POSTs it to INTERCOM_ALERT_WEBHOOK_URL) for each failed run.",
    )
    def intercom_run_failure_sensor(context: RunFailureSensorContext) -> None:
        send_alert(run_failure_alert(context), settings.alert_webhook_url)

    return intercom_run_failure_sensor


def check_failure_alert(record: AssetCheckExecutionRecord) -> Alert:
    """An alert from a failed check execution record (its evaluation event carries severity and metadata)."""
    evaluation = record.event.dagster_event.event_specific_data if record.event else None
    metadata = getattr(evaluation, "metadata", {}) or {}
    failing = metadata.get(FAILING_PARTITIONS)
    details = metadata.get(DETAILS)
    severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
    target = record.key.asset_key.to_user_string()
    return Alert(
        kind="check_failure",
        severity=severity,
        summary=f"Check {record.key.name} on {target} failed ({severity})"
        + (f" in partitions {failing.value[:10]}" if failing is not None else ""),
        details={
            "check": record.key.name,
            "asset": target,
            "run_id": record.run_id,
            "failing_partitions": failing.value if failing is not None else [],
            "failure_details": details.value if details is not None else {},
            "description": getattr(evaluation, "description", None),
        },
    )


def _new_check_results(
    instance: DagsterInstance, keys: Sequence[AssetCheckKey], after_id: int | None
) -> tuple[list[AssetCheckExecutionRecord], int]:
    """Finished check executions newer than after_id, oldest first (on a first evaluation: the latest of each).

    Only keys whose latest execution is new are looked up further, so a quiet tick costs one indexed query.
    """
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(list(keys))
    newest_id = max([after_id or 0, *(record.id for record in latest.values())])
    finished = {AssetCheckExecutionRecordStatus.FAILED, AssetCheckExecutionRecordStatus.SUCCEEDED}
    if after_id is None:
        return sorted((r for r in latest.values() if r.status in finished), key=lambda r: r.id), newest_id
    results = []
    for key, record in latest.items():
        if record.id <= after_id:
            continue
        history = storage.get_asset_check_execution_history(key, limit=MAX_RESULTS_PER_CHECK, status=finished)
        results += [r for r in history if r.id > after_id]
    return sorted(results, key=lambda r: r.id), newest_id


def check_alerts(results: Sequence[AssetCheckExecutionRecord], reported: dict[str, str]) -> tuple[list[Alert], int]:
    """Alerts for failed results, except a failure identical to the one already reported for that check.

    A defect stays inside the attribution window for weeks and every 30-minute run finds it again: alerting
    once per distinct failure (severity and failing partitions) keeps the channel readable. A passing result
    clears the memory, so the next failure alerts again. `reported` is updated in place.
    """
    alerts: list[Alert] = []
    suppressed = 0
    for record in results:
        name = f"{record.key.asset_key.to_user_string()}:{record.key.name}"
        if record.status != AssetCheckExecutionRecordStatus.FAILED:
            reported.pop(name, None)
            continue
        alert = check_failure_alert(record)
        signature = json.dumps([alert.severity, alert.details["failing_partitions"]])
        if reported.get(name) == signature:
            suppressed += 1
            continue
        reported[name] = signature
        alerts.append(alert)
    return alerts, suppressed


def _new_freshness_alerts(
    instance: DagsterInstance, keys: Sequence[AssetKey], seen: dict[str, float]
) -> tuple[list[Alert], dict[str, float]]:
    """Assets whose freshness state turned WARN or FAIL since the last evaluation."""
    records = instance.get_freshness_state_records(list(keys))
    alerts: list[Alert] = []
    now_seen = dict(seen)
    for key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
        name = key.to_user_string()
        changed_at = record.updated_at.timestamp()
        if seen.get(name) is not None and changed_at <= seen[name]:
            continue
        now_seen[name] = changed_at
        if record.freshness_state in ALERTING_FRESHNESS:
            alerts.append(
                Alert(
                    kind="freshness",
                    severity="ERROR" if record.freshness_state == FreshnessState.FAIL else "WARN",
                    summary=f"{name} is {record.freshness_state.value}: not materialized within its freshness window",
                    details={
                        "asset": name,
                        "check": "freshness_policy",
                        "freshness_state": record.freshness_state.value,
                        "since": record.updated_at.isoformat(),
                    },
                )
            )
    return alerts, now_seen


def build_check_failure_sensor(settings: Settings, tables: Sequence[TableSpec] = TABLES) -> SensorDefinition:
    """Alerts on failed asset checks (ERROR and WARN) and on assets turning stale under their freshness policy.

    It reads Dagster's check-execution table (indexed, cheap on sqlite and postgres alike) rather than scanning
    the event log, and the freshness daemon's state records; the cursor remembers what was already reported.
    """
    keys = check_keys(tables)
    asset_keys = [asset_key(spec.name) for spec in tables]

    @sensor(
        name=CHECK_FAILURE_SENSOR,
        minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Logs a JSON alert (and POSTs it to INTERCOM_ALERT_WEBHOOK_URL) for each failed check "
        "and each asset whose freshness turns WARN or FAIL.",
    )
    def intercom_check_failure_sensor(context: SensorEvaluationContext) -> SensorResult:
        state = json.loads(context.cursor) if context.cursor else {}
        results, newest_id = _new_check_results(context.instance, keys, state.get("check_id"))
        reported = dict(state.get("reported", {}))
        alerts, suppressed = check_alerts(results, reported)
        freshness_alerts, seen = _new_freshness_alerts(context.instance, asset_keys, state.get("freshness", {}))
        alerts += freshness_alerts
        for alert in alerts:
            send_alert(alert, settings.alert_webhook_url)
        cursor = json.dumps({"check_id": newest_id, "reported": reported, "freshness": seen}, sort_keys=True)
        if alerts:
            context.log.info(f"Sent {len(alerts)} alerts: {[a.summary for a in alerts][:10]}")
        message = f"Sent {len(alerts)} alerts; {suppressed} repeated failures not re-sent."
        return SensorResult(skip_reason=SkipReason(message), cursor=cursor)

    return intercom_check_failure_sensor
