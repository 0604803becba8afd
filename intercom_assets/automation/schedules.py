"""The attribution-window schedule: every tick re-extracts the trailing window of days in ONE range run.

Intercom records change after the day they were first seen (a conversation gets a reply, a contact is tagged), so
the last `INTERCOM_ATTRIBUTION_WINDOW_DAYS` days are re-extracted on every tick. Dagster's
`build_schedule_from_partitioned_job` only requests the newest single partition, so this schedule asks for one
run over the window with the partition-range tags (RunRequest has no range argument in 1.13). There is no run
key: every tick is meant to run again; overlapping ticks are skipped instead.
"""

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.partitions import DATE_FORMAT, trailing_window
from intercom_assets.settings import Settings

SCHEDULE_NAME = "intercom_attribution_window_schedule"
TRIGGER_TAG = "intercom/trigger"
TRIGGER_SCHEDULE = "schedule"
TRIGGER_CATCHUP = "catchup"
TOKEN_VARIABLE = "INTERCOM_ACCESS_TOKEN"
IN_PROGRESS_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
NO_TOKEN_REASON = (
    f"{TOKEN_VARIABLE} is not set: replication starts once the token is set in the environment of the code "
    "location (nothing was requested)."
)


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags that make one run cover the partitions first..last (inclusive)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def token_is_set() -> bool:
    """Whether a run could authenticate at all; without a token every run would fail on its first request."""
    return bool(os.environ.get(TOKEN_VARIABLE, "").strip())


def run_in_progress(instance: DagsterInstance, trigger: str) -> str | None:
    """Id and status of a still queued or running `intercom_job` run launched by this trigger, if any."""
    runs = instance.get_runs(
        RunsFilter(job_name=INTERCOM_JOB, statuses=IN_PROGRESS_STATUSES, tags={TRIGGER_TAG: trigger}), limit=1
    )
    if not runs:
        return None
    return f"{runs[0].run_id} ({runs[0].status.value})"


def window_tags(tick_day: date, settings: Settings) -> Mapping[str, str] | None:
    """Range tags of the trailing window ending on the tick's UTC day, never starting before the start date."""
    first, last = trailing_window(tick_day, settings.attribution_window_days)
    first = max(first, settings.start_date.strftime(DATE_FORMAT))
    return range_tags(first, last) if first <= last else None


def build_attribution_window_schedule(settings: Settings, job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """The cron schedule (UTC) over the trailing window; RUNNING by default unless INTERCOM_AUTOMATION=off."""

    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=settings.schedule_cron,
        job=job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING if settings.automation_on else DefaultScheduleStatus.STOPPED,
        description=(
            f"Every tick ({settings.schedule_cron} UTC) re-extracts the last {settings.attribution_window_days} "
            "days of every table in one run; skipped while the previous window run is still queued or running."
        ),
    )
    def intercom_attribution_window_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        if not token_is_set():
            return SkipReason(NO_TOKEN_REASON)
        running = run_in_progress(context.instance, TRIGGER_SCHEDULE)
        if running:
            return SkipReason(f"The previous attribution-window run {running} has not finished; skipping this tick.")
        tick = context.scheduled_execution_time or datetime.now(UTC)
        tags = window_tags(tick.astimezone(UTC).date(), settings)
        if tags is None:
            return SkipReason(f"The tick's day {tick:%Y-%m-%d} is before INTERCOM_START_DATE={settings.start_date}.")
        return RunRequest(tags={**tags, TRIGGER_TAG: TRIGGER_SCHEDULE})

    return intercom_attribution_window_schedule
