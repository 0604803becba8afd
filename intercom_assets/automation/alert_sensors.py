"""The alert sensors: failed runs, checks that start failing, assets turning stale (what to alert, and when).

How an alert is sent (a JSON log line, a webhook) is alerts.py's business; the catch-up sensor is catchup.py.
"""

import json
import time
from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from intercom_assets.automation.alerts import Alert, send_alert
from intercom_assets.automation.checks import check_keys
from intercom_assets.automation.jobs import is_workspace_run
from intercom_assets.automation.schedules import (
    TRIGGER_TAG,
)
from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames
from intercom_assets.settings import Settings
from intercom_assets.tables import TABLES, TableSpec

RUN_FAILURE_SENSOR = "intercom_run_failure_sensor"
CHECK_FAILURE_SENSOR = "intercom_check_failure_sensor"
TABLE_FAILURES_KEY = "intercom/alerted_table_failures"  # instance key-value: table -> the cause last alerted
MAX_DETAILS = 20
FINISHED_CHECKS = {AssetCheckExecutionRecordStatus.FAILED, AssetCheckExecutionRecordStatus.SUCCEEDED}
ALERTING_FRESHNESS = (FreshnessState.WARN, FreshnessState.FAIL)


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


def failed_tables(context: RunFailureSensorContext) -> dict[str, str] | None:
    """table -> cause, when the run failed because some tables could not be extracted (the step's Failure
    metadata `failed_tables`); None for any other failure."""
    for event in context.get_step_failure_events():
        data = getattr(event.event_specific_data, "user_failure_data", None)
        value = data.metadata.get("failed_tables") if data is not None else None
        if value is not None and isinstance(value.value, dict):
            return {table: f"{d.get('endpoint')}: {d.get('reason')}" for table, d in value.value.items()}
    return None


def is_new_table_failure(context: RunFailureSensorContext, names: WorkspaceNames = DEFAULT_NAMES) -> bool:
    """Whether this failed run deserves an alert: always, unless it failed only on tables already alerted with the
    same cause and not materialized since (a refused endpoint fails every tick until someone grants the scope)."""
    tables = failed_tables(context)
    if tables is None:
        return True
    storage = context.instance.run_storage
    memory = names.qualify(TABLE_FAILURES_KEY)
    alerted = json.loads(storage.get_cursor_values({memory}).get(memory) or "{}")
    new = False
    for table, cause in tables.items():
        seen = alerted.get(table)
        latest = context.instance.get_latest_materialization_event(names.asset_key(table))
        recovered = seen is not None and latest is not None and latest.timestamp > seen["at"]
        if seen is None or seen["cause"] != cause or recovered:
            new = True
            alerted[table] = {"cause": cause, "at": time.time()}
    storage.set_cursor_values({memory: json.dumps(alerted, sort_keys=True)})
    return new


def runs_of(names: WorkspaceNames, run: Any, shared_jobs: Sequence[str]) -> bool:
    """Whether a run is this workspace's to alert on: every run for the default workspace (alone in its code
    location); else its own job, asset runs touching its assets, and the jobs every workspace shares (erasure,
    maintenance) when it is the one workspace given them (`shared_jobs`)."""
    return names.is_default or run.job_name in shared_jobs or is_workspace_run(names, run)


def workspace_alert(alert: Alert, names: WorkspaceNames) -> Alert:
    """The alert naming its workspace (in the summary and as a field), unless it is the only, default one."""
    if names.is_default:
        return alert
    return Alert(kind=alert.kind, severity=alert.severity, summary=f"[workspace {names.name}] {alert.summary}",
                 details={"workspace": names.name, **alert.details})


def build_run_failure_sensor(settings: Settings, shared_jobs: Sequence[str] = ()) -> SensorDefinition:
    """Alerts on every failed run of this code location: `intercom_job` (schedule, catch-up) and the implicit
    asset job that UI backfills and the CLI launch alike (always on: alerts cost nothing). With several workspaces,
    each workspace's sensor alerts on its own runs (see `runs_of`)."""
    names = settings.names

    @run_failure_sensor(
        name=names.qualify(RUN_FAILURE_SENSOR),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.alert_interval_seconds,
        description="Logs a JSON alert (and POSTs it to INTERCOM_ALERT_WEBHOOK_URL) for each failed run; a run that "
        "failed only because tables were refused (a missing permission, the plan) alerts once per table and cause, "
        "until the cause changes or the table was materialized since.",
    )
    def intercom_run_failure_sensor(context: RunFailureSensorContext) -> None:
        if runs_of(names, context.dagster_run, shared_jobs) and is_new_table_failure(context, names):
            send_alert(workspace_alert(run_failure_alert(context), names), settings.alert_webhook_url,
                       [settings.token_env])

    return intercom_run_failure_sensor


def _evaluation(instance: DagsterInstance, key: AssetCheckKey, partition: str) -> Any:
    """The latest finished evaluation of one check on one partition (severity, description), from Dagster's
    check-execution table (storage ids of events are not comparable across SQLite's per-run shards)."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status=FINISHED_CHECKS, partition_filter=PartitionKeyFilter(key=partition)
    )
    record = history[0] if history else None
    return record.event.dagster_event.event_specific_data if record and record.event else None


def check_state_changes(
    instance: DagsterInstance, keys: Sequence[AssetCheckKey], after_id: int | None, failing: dict[str, str]
) -> tuple[list[Alert], int | None]:
    """Alerts for (check, partition) pairs whose state turned failing (or changed severity) since `after_id`.

    One alert per check and change: a defect stays in the attribution window for weeks and every 30-minute run
    re-evaluates it, but it is reported once, when it appears; a later pass clears it, so a relapse alerts
    again. `failing` (key "asset:check:partition" -> severity) is updated in place. Returns the alerts and the
    newest check-evaluation storage id seen.
    """
    infos = instance.event_log_storage.get_asset_check_partition_info(list(keys), after_storage_id=after_id)
    newest = after_id
    changed: dict[AssetCheckKey, list[str]] = {}
    for info in infos:
        storage_id = info.latest_check_event_storage_id
        if storage_id is None or (after_id is not None and storage_id <= after_id):
            continue
        newest = max(newest or 0, storage_id)
        name = f"{info.check_key.asset_key.to_user_string()}:{info.check_key.name}:{info.partition_key}"
        if info.latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED:
            failing.pop(name, None)
        elif info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED:
            changed.setdefault(info.check_key, []).append(str(info.partition_key))
    alerts = []
    for check_key, partitions in sorted(changed.items(), key=lambda item: item[0].to_user_string()):
        target = check_key.asset_key.to_user_string()
        new: dict[str, list[tuple[str, str | None]]] = {}
        for partition in sorted(partitions):
            evaluation = _evaluation(instance, check_key, partition)
            severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
            name = f"{target}:{check_key.name}:{partition}"
            if failing.get(name) == severity:
                continue
            failing[name] = severity
            new.setdefault(severity, []).append((partition, getattr(evaluation, "description", None)))
        for severity, found in sorted(new.items()):
            partitions = [partition for partition, _ in found]
            alerts.append(
                Alert(
                    kind="check_failure",
                    severity=severity,
                    summary=f"Check {check_key.name} on {target} failed ({severity}) in "
                    f"{len(partitions)} partitions: {partitions[:10]}",
                    details={
                        "check": check_key.name,
                        "asset": target,
                        "failing_partitions": partitions,
                        "failure_details": {p: d for p, d in found[:MAX_DETAILS] if d},
                    },
                )
            )
    return alerts, newest


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
    """Alerts on checks that start failing (ERROR and WARN), per partition, and on assets turning stale under
    their freshness policy.

    It reads Dagster's check-execution table (indexed, cheap on sqlite and postgres alike) rather than scanning
    the event log, and the freshness daemon's state records; the cursor remembers what is already reported.
    """
    names = settings.names
    keys = check_keys(tables, names)
    asset_keys = [names.asset_key(spec.name) for spec in tables]

    @sensor(
        name=names.qualify(CHECK_FAILURE_SENSOR),
        minimum_interval_seconds=settings.alert_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Logs a JSON alert (and POSTs it to INTERCOM_ALERT_WEBHOOK_URL) once per check, partition "
        "and change of state, and for each asset whose freshness turns WARN or FAIL.",
    )
    def intercom_check_failure_sensor(context: SensorEvaluationContext) -> SensorResult:
        state = json.loads(context.cursor) if context.cursor else {}
        failing = dict(state.get("failing", {}))
        alerts, newest_id = check_state_changes(context.instance, keys, state.get("check_id"), failing)
        freshness_alerts, seen = _new_freshness_alerts(context.instance, asset_keys, state.get("freshness", {}))
        alerts += freshness_alerts
        for alert in alerts:
            send_alert(workspace_alert(alert, names), settings.alert_webhook_url, [settings.token_env])
        cursor = json.dumps({"check_id": newest_id, "failing": failing, "freshness": seen}, sort_keys=True)
        if alerts:
            context.log.info(f"Sent {len(alerts)} alerts: {[a.summary for a in alerts][:10]}")
        message = f"Sent {len(alerts)} alerts; {len(failing)} check partitions failing (reported once each)."
        return SensorResult(skip_reason=SkipReason(message), cursor=cursor)

    return intercom_check_failure_sensor
