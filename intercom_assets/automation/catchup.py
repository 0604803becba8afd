"""The historical catch-up: the days before the attribution window that were never materialized.

The schedule owns the trailing attribution window; everything older since INTERCOM_START_DATE that was never
materialized is filled by this sensor, oldest first, one run at a time, in chunks of at most the window's length
(one chunk costs about what a scheduled run costs, so a run never grows beyond what the rate budget and the
one-slot pool were sized for). A day counts as done only when EVERY selected history table has it: the
intersection is what a reader can rely on, and a run that failed half-way is then seen as not done. A chunk that
stays incomplete after its run is launched again, after a backoff that doubles each time, at most
MAX_ATTEMPTS times; then the sensor says so and moves on. Snapshot tables have no past days to fill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from intercom_assets.automation.jobs import run_selection
from intercom_assets.automation.schedules import (
    TRIGGER_CATCHUP,
    TRIGGER_TAG,
    no_token_reason,
    range_tags,
    run_in_progress,
    token_is_set,
)
from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames
from intercom_assets.partitions import keys_between, trailing_window
from intercom_assets.reporting import window_tags
from intercom_assets.settings import Settings
from intercom_assets.tables import TABLES, TableSpec

CATCHUP_SENSOR = "intercom_catchup_sensor"
CATCHUP_INTERVAL_SECONDS = 60
CATCHUP_RUN_KEY_PREFIX = "catchup:"
MAX_ATTEMPTS = 4  # the first launch and three retries
RETRY_BACKOFF_SECONDS = 600  # before the first retry; doubles for each further one


def incremental_tables(tables: Sequence[TableSpec] = TABLES) -> list[TableSpec]:
    """Tables whose partitions hold real history (not snapshots, nor the deletion log, whose days are the days of
    detection): the ones a catch-up has to fill."""
    return [spec for spec in tables if spec.has_current_state]


def missing_partitions(
    instance: DagsterInstance,
    partitions_def: DailyPartitionsDefinition,
    before_key: str,
    tables: Sequence[TableSpec] = TABLES,
    current_time: datetime | None = None,
    names: WorkspaceNames = DEFAULT_NAMES,
) -> list[str]:
    """Partitions older than before_key that at least one history table never materialized, oldest first."""
    done: set[str] | None = None
    for spec in incremental_tables(tables):
        materialized = instance.get_materialized_partitions(names.asset_key(spec.name))
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


def catchup_run_key(first: str, last: str, attempt: int = 1) -> str:
    """Unique per chunk and attempt (Dagster launches a run key once)."""
    return f"{CATCHUP_RUN_KEY_PREFIX}{first}...{last}" + (f"#{attempt}" if attempt > 1 else "")


def retry_due(attempts: int, last_launch: float, now: float) -> bool:
    """Whether an incomplete chunk launched `attempts` times, last at `last_launch`, may be launched again."""
    if attempts >= MAX_ATTEMPTS:
        return False
    return now >= last_launch + RETRY_BACKOFF_SECONDS * 2 ** (attempts - 1)


def _attempts(cursor: str | None) -> dict[str, dict[str, Any]]:
    """chunk "first...last" -> {"attempts": n, "at": unix seconds of the last launch}."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    chunks = state.get("chunks") if isinstance(state, dict) else None
    if isinstance(chunks, dict):
        return chunks
    # cursors of the first version listed launched run keys only: count each as one attempt, long ago
    launched = state.get("launched", []) if isinstance(state, dict) else []
    return {key.removeprefix(CATCHUP_RUN_KEY_PREFIX): {"attempts": 1, "at": 0} for key in launched}


def build_catchup_sensor(
    settings: Settings, partitions_def: DailyPartitionsDefinition, job: UnresolvedAssetJobDefinition
) -> SensorDefinition:
    """The sensor that fills history before the attribution window, one chunk per run."""
    window = settings.attribution_window_days
    tables = incremental_tables(settings.selected())
    names = settings.names

    @sensor(
        name=names.qualify(CATCHUP_SENSOR),
        job=job,
        minimum_interval_seconds=CATCHUP_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING if settings.automation_on else DefaultSensorStatus.STOPPED,
        description=(
            f"Fills never-materialized days since {settings.start_date} that are older than the {window}-day "
            f"attribution window: oldest first, at most {window} days per run, one catch-up run at a time; an "
            f"incomplete chunk is retried after a growing backoff, {MAX_ATTEMPTS} attempts at most."
        ),
    )
    def intercom_catchup_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        if not token_is_set(settings.token_env):
            return SkipReason(no_token_reason(settings.token_env))
        running = run_in_progress(context.instance, TRIGGER_CATCHUP, job.name)
        if running:
            return SkipReason(f"Catch-up run {running} is still in progress; one catch-up run at a time.")
        now = datetime.now(UTC)
        window_first, _ = trailing_window(now.date(), window)
        missing = missing_partitions(context.instance, partitions_def, window_first, tables, current_time=now,
                                     names=names)
        chunks = catchup_chunks(partitions_def, missing, window)
        state = _attempts(context.cursor)
        waiting: list[str] = []
        for first, last in chunks:
            chunk = f"{first}...{last}"
            attempts = int(state.get(chunk, {}).get("attempts", 0))
            if attempts and not retry_due(attempts, float(state[chunk].get("at", 0)), now.timestamp()):
                waiting.append(chunk)
                continue
            state = {key: value for key, value in state.items() if key in {f"{f}...{la}" for f, la in chunks}}
            state[chunk] = {"attempts": attempts + 1, "at": now.timestamp()}
            return SensorResult(
                run_requests=[
                    RunRequest(
                        run_key=catchup_run_key(first, last, attempts + 1),
                        tags={**range_tags(first, last), **window_tags(first, last), TRIGGER_TAG: TRIGGER_CATCHUP},
                        # Snapshot tables cannot be extracted for past days: a catch-up run never plans them.
                        asset_selection=run_selection(tables, settings.support_metrics, names),
                    )
                ],
                cursor=json.dumps({"chunks": state}, sort_keys=True),
            )
        if chunks:
            given_up = [c for c in waiting if int(state[c].get("attempts", 0)) >= MAX_ATTEMPTS]
            return SkipReason(
                f"{len(chunks)} ranges before {window_first} are still incomplete; {len(waiting) - len(given_up)} "
                f"wait for their retry backoff; {len(given_up)} failed {MAX_ATTEMPTS} times and are no longer "
                f"retried (e.g. {(given_up or waiting)[0]}): see those runs' errors, fix the cause, then re-run them "
                "from the UI (Materialize, partition range) or reset this sensor's cursor."
            )
        return SkipReason(f"History is complete from {settings.start_date} up to the window ({window_first}).")

    return intercom_catchup_sensor
