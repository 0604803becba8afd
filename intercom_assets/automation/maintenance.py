"""Daily instance maintenance: delete old runs without changing what the instance says about any partition.

Dagster purges only ticks (`retention:` in dagster.yaml); every run keeps its events forever, and the schedule
writes ~400 materializations plus checks every 30 minutes. This job deletes finished runs created more than
INTERCOM_RUN_RETENTION_DAYS ago (events, check rows, compute logs, SQLite shard files) and VACUUMs SQLite.

A run older than the retention may still hold the newest materialization of a partition (the day that left the
attribution window, a snapshot's day). Keeping such runs would keep one whole run per day forever, so that
materialization is re-recorded as a small runless event with its original timestamp and metadata plus where it
came from (`report_runless_asset_event` would stamp "now": the partition would look freshly materialized); a
runless event belongs to no run and is never copied again. Each asset's latest-materialization row is pointed
back at its real newest event, which the copies would otherwise displace (freshness reads it).

What the UI and the sensors read is kept unchanged: materialized/failed/in-progress partitions, the newest
materialization per partition, the asset's latest materialization, the latest check result per partition and
per check. Dagster derives "failed" and "in progress" from the newest attempt's run, so an old run is KEPT when it
is that attempt for a failed partition, when copying its materialization would land after a failed or in-progress
attempt, or when its deletion would let an older failed attempt become the newest. Check results are not copied:
a copy would become each check's latest execution (and look new to the check-failure sensor). The latest row of
each (check, partition) stays in place instead, pointed at the copied materialization it targeted; every other
check row of a deleted run goes. The op runs in the extraction's pool: no run materializes while it decides and
copies. With several workspaces each has its own prune op, in its own pool, deciding about its own runs (see
maintenance_job.run_owner): a pass never waits for, nor races, the runs of a workspace whose pool it does not hold.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)
from dagster._core.event_api import EventLogRecord
from dagster._core.events import DagsterEvent, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckPartitionInfo,
)
from dagster._core.storage.dagster_run import FINISHED_STATUSES, NOT_FINISHED_STATUSES, DagsterRun
from dagster._serdes import deserialize_value, serialize_value

from intercom_assets.automation.instance_storage import (
    asset_rows,
    check_row_run_ids,
    chunks,
    delete_check_rows,
    delete_run_files,
    instance_bytes,
    restore_asset_row,
    retarget_check_rows,
    sqlite_files,
    stored_check_keys,
    vacuum,
)

# Metadata added to a re-recorded (runless) copy.
COPIED_FROM_RUN = "maintenance/copied_from_run"
MATERIALIZED_AT = "maintenance/materialized_at"
COPIED_AT = "maintenance/copied_at"


@dataclass
class MaintenanceReport:
    """What one pass did; `bytes_*` are the SQLite files of the instance (None on PostgreSQL)."""

    runs_deleted: int = 0
    runs_kept: dict[str, str] = field(default_factory=dict)
    materializations_copied: int = 0
    check_rows_retargeted: int = 0
    check_rows_deleted: int = 0
    bytes_before: int | None = None
    bytes_after: int | None = None
    vacuumed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        sizes = "" if self.bytes_before is None else f"; instance {self.bytes_before:,} -> {self.bytes_after:,} bytes"
        return (f"Deleted {self.runs_deleted} runs ({len(self.runs_kept)} old runs kept: they still explain a "
                f"partition's status); re-recorded {self.materializations_copied} materializations; pointed "
                f"{self.check_rows_retargeted} check results at them; deleted {self.check_rows_deleted} check rows"
                f"{sizes}; "
                f"{self.seconds:.1f} s")


@dataclass
class _AssetState:
    """Per partition: the newest materialization, and the newest attempt when no materialization followed it."""

    newest: dict[str | None, EventLogRecord]
    open_attempts: dict[str, tuple[str, int]]


def _asset_state(instance: DagsterInstance, key: AssetKey) -> _AssetState:
    storage = instance.event_log_storage
    ids = sorted(storage.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION).values())
    newest: dict[str | None, EventLogRecord] = {}
    for chunk in chunks(ids):
        result = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, storage_ids=list(chunk)), len(chunk))
        newest.update({record.partition_key: record for record in result.records})
    if not ids:  # unpartitioned: the asset's own latest materialization
        for record in instance.fetch_materializations(key, limit=1).records:
            if record.partition_key is None:
                newest[None] = record
    attempts = storage.get_latest_asset_partition_materialization_attempts_without_materializations(key)
    return _AssetState(newest=newest, open_attempts=dict(attempts))


def _run_statuses(instance: DagsterInstance, run_ids: Iterable[str]) -> dict[str, DagsterRunStatus]:
    """Status per run id; deleted runs are absent (Dagster then counts their attempts as neither failed nor running)."""
    ids = sorted({run_id for run_id in run_ids if run_id})
    statuses: dict[str, DagsterRunStatus] = {}
    for chunk in chunks(ids):
        for record in instance.get_run_records(RunsFilter(run_ids=list(chunk))):
            statuses[record.dagster_run.run_id] = record.dagster_run.status
    return statuses


def _planned_partitions(instance: DagsterInstance, run_id: str) -> set[tuple[AssetKey, str]]:
    planned: set[tuple[AssetKey, str]] = set()
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records:
        data = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        keys = data.partitions_subset.get_partition_keys() if data.partitions_subset else [data.partition]
        planned.update((data.asset_key, key) for key in keys if key is not None)
    return planned


@dataclass
class _Plan:
    """Runs to delete, old runs kept (with why), and what to re-record before deleting."""

    delete: set[str]
    keep: dict[str, str]
    materializations: list[EventLogRecord]


@dataclass
class _Facts:
    """What Dagster says now: per asset and partition, per check and partition, and the runs involved."""

    states: dict[AssetKey, _AssetState]
    checks: Sequence[AssetCheckPartitionInfo]
    statuses: dict[str, DagsterRunStatus]
    unfinished: set[str]

    def failed_or_running(self, run_id: str) -> bool:
        return self.statuses.get(run_id) == DagsterRunStatus.FAILURE or run_id in self.unfinished


def _facts(instance: DagsterInstance) -> _Facts:
    states = {key: _asset_state(instance, key) for key in instance.all_asset_keys()}
    checks = instance.event_log_storage.get_asset_check_partition_info(stored_check_keys(instance))
    runs = {r.run_id for s in states.values() for r in s.newest.values()}
    runs |= {run_id for s in states.values() for run_id, _ in s.open_attempts.values()}
    runs |= {info.latest_planned_run_id for info in checks}
    unfinished = {r.dagster_run.run_id for r in instance.get_run_records(RunsFilter(statuses=NOT_FINISHED_STATUSES))}
    return _Facts(states, checks, _run_statuses(instance, runs), unfinished)


def _decide(facts: _Facts, delete: set[str], danger: set[tuple[AssetKey, str]]) -> tuple[dict[str, str], _Plan]:
    """One round: the runs of `delete` that must stay after all (with why), and the copies otherwise needed."""
    keep: dict[str, str] = {}
    copies: list[EventLogRecord] = []
    for key, state in facts.states.items():
        name = key.to_user_string()
        for partition, record in state.newest.items():
            attempt = state.open_attempts.get(partition) if partition is not None else None
            if record.run_id not in delete:
                continue
            if attempt and facts.failed_or_running(attempt[0]):
                keep[record.run_id] = f"newest materialization of {name} {partition}, attempted again since"
            else:
                copies.append(record)
        for partition, (run_id, _) in state.open_attempts.items():
            if run_id not in delete:
                continue
            if facts.statuses.get(run_id) == DagsterRunStatus.FAILURE:
                keep[run_id] = f"newest attempt of failed {name} {partition}"
            elif (key, partition) in danger and (
                partition not in state.newest or state.newest[partition].run_id not in delete
            ):
                keep[run_id] = f"its deletion would surface an older failed attempt of {name} {partition}"
    # The latest row of each (check, partition) stays where it is, whatever its run; only a never-executed row of
    # a failed run needs that run (it reads EXECUTION_FAILED, and SKIPPED once the run is gone).
    for info in facts.checks:
        run_id = info.latest_planned_run_id
        if run_id in delete and info.latest_execution_status == AssetCheckExecutionRecordStatus.PLANNED and (
            facts.statuses.get(run_id) == DagsterRunStatus.FAILURE
        ):
            keep[run_id] = f"check {info.check_key.name} ({info.partition_key}) did not run in this failed run"
    return keep, _Plan(delete, {}, copies)


def plan_pruning(instance: DagsterInstance, old: dict[str, DagsterRunStatus]) -> tuple[_Plan, _Facts]:
    """Which old runs can go and what to re-record first. A fixpoint: keeping a failed run can make another run
    necessary (its older attempts must stay hidden), so rounds repeat until no new run is kept."""
    facts = _facts(instance)
    planned: dict[str, set[tuple[AssetKey, str]]] = {}
    keep: dict[str, str] = {}
    while True:
        delete = set(old) - set(keep)
        danger: set[tuple[AssetKey, str]] = set()
        for run_id in facts.unfinished | {r for r in keep if old[r] == DagsterRunStatus.FAILURE}:
            danger |= planned.setdefault(run_id, _planned_partitions(instance, run_id))
        new_keep, plan = _decide(facts, delete, danger)
        if set(new_keep) <= set(keep):
            plan.keep = keep
            return plan, facts
        keep.update(new_keep)


def _report_copy(instance: DagsterInstance, event_type: DagsterEventType, data: object, timestamp: float) -> None:
    """A runless event with the ORIGINAL timestamp (report_runless_asset_event stamps "now", which would make
    a day-old materialization look fresh and move the partition's "materialized at")."""
    event = DagsterEvent(event_type_value=event_type.value, event_specific_data=data, job_name=RUNLESS_JOB_NAME)
    instance.report_dagster_event(event, run_id=RUNLESS_RUN_ID, timestamp=timestamp)


def _provenance(entry: EventLogEntry, now: datetime) -> dict[str, str]:
    materialized_at = datetime.fromtimestamp(entry.timestamp, UTC).isoformat()
    return {COPIED_FROM_RUN: entry.run_id, MATERIALIZED_AT: materialized_at, COPIED_AT: now.isoformat()}


def _copy_materializations(instance: DagsterInstance, records: list[EventLogRecord], now: datetime) -> dict:
    """Re-record each materialization runless; returns (asset key, partition) -> storage id of the copy."""
    for record in records:
        original = record.asset_materialization
        assert original is not None
        metadata = {**original.metadata, **_provenance(record.event_log_entry, now)}
        copy = AssetMaterialization(asset_key=original.asset_key, description=original.description, metadata=metadata,
                                    partition=original.partition, tags=original.tags)
        _report_copy(instance, DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(copy), record.timestamp)
    new_ids: dict = {}
    for key in {record.asset_key for record in records}:
        storage = instance.event_log_storage
        latest = storage.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION)
        new_ids.update({(key, p): storage_id for p, storage_id in latest.items()})
        if any(r.partition_key is None for r in records if r.asset_key == key):
            new_ids[(key, None)] = instance.fetch_materializations(key, limit=1).records[0].storage_id
    return new_ids


def _restore_asset_rows(instance: DagsterInstance, before: dict[AssetKey, dict], delete: set[str],
                        new_ids: dict) -> None:
    """Point each asset's "last materialization" back at its newest real one (or that one's copy): storing the
    copies moved it to whichever copy came last, which the freshness policy and the UI would then read."""
    for key, row in before.items():
        if not row.get("last_materialization"):
            continue
        record = deserialize_value(row["last_materialization"], EventLogRecord)
        if record.run_id in delete:
            copies = AssetRecordsFilter(asset_key=key, storage_ids=[new_ids[(key, record.partition_key)]])
            record = instance.fetch_materializations(copies, limit=1).records[0]
        values = {"last_materialization": serialize_value(record), "last_run_id": row["last_run_id"]}
        if "last_materialization_timestamp" in row:
            values["last_materialization_timestamp"] = row["last_materialization_timestamp"]
        restore_asset_row(instance, key, values, only_if_last_run_id=RUNLESS_RUN_ID)


def prune_instance(instance: DagsterInstance, now: datetime, retention_days: int, run_vacuum: bool = True,
                   owns: Callable[[DagsterRun], bool] | None = None) -> MaintenanceReport:
    """One maintenance pass as of `now` (injectable for tests and the benchmark), over the runs `owns` accepts
    (every run by default)."""
    started = time.monotonic()
    report = MaintenanceReport(bytes_before=instance_bytes(instance))
    cutoff = now - timedelta(days=retention_days)
    old = {r.dagster_run.run_id: r.dagster_run.status
           for r in instance.get_run_records(RunsFilter(statuses=FINISHED_STATUSES, created_before=cutoff))
           if owns is None or owns(r.dagster_run)}
    if old:
        plan, facts = plan_pruning(instance, old)
        report.runs_kept = plan.keep
        rows_before = asset_rows(instance, {record.asset_key for record in plan.materializations})
        new_ids = _copy_materializations(instance, plan.materializations, now)
        report.materializations_copied = len(plan.materializations)
        moved = {r.storage_id: new_ids[(r.asset_key, r.partition_key)] for r in plan.materializations}
        report.check_rows_retargeted = retarget_check_rows(instance, moved)
        _restore_asset_rows(instance, rows_before, plan.delete, new_ids)
        for run_id in sorted(plan.delete):
            instance.delete_run(run_id)
            delete_run_files(instance, run_id)
        report.runs_deleted = len(plan.delete)
        # Rows of every run that no longer exists: these, and any left by an earlier pass or a manual deletion.
        owners = check_row_run_ids(instance)
        gone = sorted(set(owners) - set(_run_statuses(instance, owners)))
        report.check_rows_deleted = delete_check_rows(instance, gone)
        instance.wipe_asset_cached_status(list(facts.states))
    if run_vacuum:
        report.vacuumed = vacuum(sqlite_files(instance))
    report.bytes_after = instance_bytes(instance)
    report.seconds = time.monotonic() - started
    return report
