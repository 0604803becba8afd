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

from intercom_assets.automation.jobs import INTERCOM_JOB, run_selection
from intercom_assets.keys import TRIGGER_CATCHUP as TRIGGER_CATCHUP
from intercom_assets.keys import TRIGGER_SCHEDULE, TRIGGER_TAG
from intercom_assets.partitions import DATE_FORMAT, trailing_window
from intercom_assets.reporting import window_tags
from intercom_assets.settings import Settings
from intercom_assets.tables import SCROLL, TABLES

SCHEDULE_NAME = "intercom_attribution_window_schedule"
# The table whose newest materialization marks the end of the last complete scroll (the scroll's record table).
SCROLL_TABLE = next(spec.name for spec in TABLES if spec.source.paging == SCROLL and spec.is_record_table)
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


def token_is_set(variable: str = TOKEN_VARIABLE) -> bool:
    """Whether a run could authenticate at all; without a token every run would fail on its first request."""
    return bool(os.environ.get(variable, "").strip())


def no_token_reason(variable: str = TOKEN_VARIABLE) -> str:
    """The skip reason of a schedule or sensor whose workspace's token variable is unset."""
    return NO_TOKEN_REASON.replace(TOKEN_VARIABLE, variable)


def run_in_progress(instance: DagsterInstance, trigger: str, job_name: str = INTERCOM_JOB) -> str | None:
    """Id and status of a still queued or running `intercom_job` run (of this workspace) launched by this trigger."""
    runs = instance.get_runs(
        RunsFilter(job_name=job_name, statuses=IN_PROGRESS_STATUSES, tags={TRIGGER_TAG: trigger}), limit=1
    )
    if not runs:
        return None
    return f"{runs[0].run_id} ({runs[0].status.value})"


def window_range(tick_day: date, settings: Settings) -> Mapping[str, str] | None:
    """Range tags of the trailing window ending on the tick's UTC day, never starting before the start date."""
    first, last = trailing_window(tick_day, settings.attribution_window_days)
    first = max(first, settings.start_date.strftime(DATE_FORMAT))
    return range_tags(first, last) if first <= last else None


def scroll_is_fresh(tick: datetime, settings: Settings, last_scroll: float | None) -> bool:
    """Whether the last complete companies scroll (its tables' newest materialization) is younger than
    INTERCOM_COMPANIES_REFRESH_MINUTES, so a scheduled window run may leave the scroll out."""
    refresh = settings.companies_refresh_minutes
    return bool(refresh) and last_scroll is not None and tick.timestamp() - last_scroll < refresh * 60


def tick_requests(tick: datetime, settings: Settings, last_scroll: float | None = None) -> list[RunRequest]:
    """What one tick launches: the window run of the selected history tables, and today's snapshot run.

    Snapshot tables have one partition per day of extraction, so they are requested for the tick's day only:
    planned over past days, a failed run would mark days that can never hold a snapshot as failed. Each request
    has a run key unique to the tick (Dagster requires one when a tick asks for several runs). Within
    INTERCOM_COMPANIES_REFRESH_MINUTES of the last complete scroll the tables of the scroll are left out: their
    stored partitions stay as they are.
    """
    tick_day = tick.astimezone(UTC).date()
    stamp = tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    requests = []
    skip_scroll = scroll_is_fresh(tick, settings, last_scroll)
    names = settings.names
    history = run_selection([
        spec for spec in settings.selected()
        if not spec.is_snapshot and not (skip_scroll and spec.source.paging == SCROLL)
    ], settings.support_metrics, names)
    snapshots = [names.asset_key(spec.name) for spec in settings.selected() if spec.is_snapshot]
    tags = window_range(tick_day, settings)
    if history and tags is not None:
        first, last = tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]
        requests.append(RunRequest(run_key=f"window:{stamp}", asset_selection=history,
                                   tags={**tags, **window_tags(first, last), TRIGGER_TAG: TRIGGER_SCHEDULE}))
    day = tick_day.strftime(DATE_FORMAT)
    if snapshots and day >= settings.start_date.strftime(DATE_FORMAT):
        tags = {**range_tags(day, day), **window_tags(day, day), TRIGGER_TAG: TRIGGER_SCHEDULE}
        requests.append(RunRequest(run_key=f"snapshots:{stamp}", asset_selection=snapshots, tags=tags))
    return requests


def build_attribution_window_schedule(settings: Settings, job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """The cron schedule (UTC) over the trailing window; RUNNING by default unless INTERCOM_AUTOMATION=off."""

    names = settings.names

    @schedule(
        name=names.qualify(SCHEDULE_NAME),
        cron_schedule=settings.schedule_cron,
        job=job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING if settings.automation_on else DefaultScheduleStatus.STOPPED,
        description=(
            f"Every tick ({settings.schedule_cron} UTC) re-extracts the last {settings.attribution_window_days} "
            "days of the history tables in one run, and takes today's snapshots in a one-day run; skipped while "
            "a run of the previous tick is still queued or running."
        ),
    )
    def intercom_attribution_window_schedule(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        if not token_is_set(settings.token_env):
            return SkipReason(no_token_reason(settings.token_env))
        running = run_in_progress(context.instance, TRIGGER_SCHEDULE, job.name)
        if running:
            return SkipReason(f"The previous tick's run {running} has not finished; skipping this tick.")
        tick = context.scheduled_execution_time or datetime.now(UTC)
        last = context.instance.get_latest_materialization_event(names.asset_key(SCROLL_TABLE))
        requests = tick_requests(tick, settings, last.timestamp if last is not None else None)
        if not requests:
            return SkipReason(f"The tick's day {tick:%Y-%m-%d} is before INTERCOM_START_DATE={settings.start_date}.")
        return requests

    return intercom_attribution_window_schedule
