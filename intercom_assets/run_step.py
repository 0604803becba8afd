"""What the extraction step does in a run, in order, and what it tells Dagster about it.

1. extract the selected tables over the run's range (one pass per API source; deletions detected meanwhile);
2. propagate new deletions: log them, rewrite every stored partition (of every table, any day) still holding
   their rows, record each rewrite as a materialization of that partition with the rows removed, and merge them
   into `deleted_records` (each day of the range that gained none is recorded as it is stored);
3. commit: an incremental table's Output over the range (the IO manager writes one file per day, each partition
   with its own facts); a snapshot table's today partition as a materialization of its own; recorded after the
   rewrites, so the newest day of the range is each asset's latest materialization;
4. evaluate the checks of every partition that was written or rewritten, or that the range covers and is stored;
5. report (run tags, one summary line) and fail the step when a table could not be extracted, after all of the
   above, so the run is marked failed while every other table is committed and checked.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetMaterialization,
    Failure,
    MetadataValue,
    Output,
)

from intercom_assets.automation.checks import check_evaluations, check_keys, evaluate_partitions
from intercom_assets.extraction import ExtractionResult, ScrollPolicy, Window, extract
from intercom_assets.extraction.deletions import DeletionDetector
from intercom_assets.extraction.extractor import DeletionWork
from intercom_assets.keys import DEFAULT_NAMES, TRIGGER_CATCHUP, TRIGGER_TAG, WorkspaceNames
from intercom_assets.lake.deletions import (
    Deletion,
    DeletionLog,
    filter_staged,
    merge_deleted_records,
    rewrite_partitions,
    scoped,
    stored_ids,
)
from intercom_assets.lake.io_manager import commit_partition, partition_facts
from intercom_assets.lake.pii_policy import PiiPolicy
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import DATE_FORMAT, day_key
from intercom_assets.reporting import run_figure_tags, summary_line, window_tags
from intercom_assets.resources import IntercomResource, ParquetStorageResource
from intercom_assets.tables import DELETIONS_TABLE, TABLES, TABLES_BY_NAME, TableSpec

StepEvent = Output | AssetMaterialization | AssetCheckEvaluation


@dataclass(frozen=True)
class StepOptions:
    """Code-location settings the step needs (INTERCOM_COMPANIES_REFRESH_MINUTES, ..._DELETION_SWEEP_HOURS,
    ..._PII_POLICY)."""

    companies_refresh_minutes: int = 0
    deletion_sweep_hours: int = 24
    pii_policy: PiiPolicy | None = None  # INTERCOM_PII_POLICY, applied before rows reach staging
    names: WorkspaceNames = DEFAULT_NAMES  # the workspace's asset keys


def run_extraction(
    context: AssetExecutionContext, intercom: IntercomResource, parquet_storage: ParquetStorageResource,
    tables: Sequence[TableSpec], options: StepOptions,
) -> Iterator[StepEvent]:
    """The step, as described in this module's docstring."""
    names = options.names
    by_name = {spec.name: spec for spec in tables}
    selected = [by_name[name] for name in by_name if name in context.selected_output_names]
    time_window = context.partition_time_window
    window = Window(time_window.start.astimezone(UTC), time_window.end.astimezone(UTC), tuple(context.partition_keys))
    first, last = window.partition_keys[0], window.partition_keys[-1]
    context.instance.add_run_tags(context.run_id, window_tags(first, last))
    started = datetime.now(UTC)
    now = int(started.timestamp())
    store = parquet_storage.get_store()
    store.check_writable()
    context.log.info(f"Extracting {', '.join(s.name for s in selected)} for {first}..{last} "
                     f"({len(window.partition_keys)} days)")
    staging = fresh_staging_dir(parquet_storage.staging_dir)
    try:
        log = DeletionLog.load(store)
        clock = time.monotonic()
        with intercom.open_client() as client:
            detect = any(not spec.is_snapshot for spec in selected)
            deletions = DeletionWork.due(
                DeletionDetector(client, log, lambda table: stored_ids(store, table), started), log, now,
                options.deletion_sweep_hours, selected,
            ) if detect else None
            result = extract(client, selected, window,
                             started.strftime(DATE_FORMAT), staging, now, store, _scroll(context, options), deletions,
                             options.pii_policy)
            stats, per_endpoint = client.stats.total(), client.stats.snapshot()
        seconds = time.monotonic() - clock
        for table, parents in sorted(result.over_cap.items()):
            if parents:
                context.log.warning(f"{table}: {len(parents)} parents have more parts than the API returns (it "
                                    f"returns the 500 newest): {sorted(parents)[:20]}")
        committed = [spec for spec in selected if spec.name in result.tables]
        new = log.new(result.deletions)
        fresh = _ids_by_table(new)
        for spec in committed:  # rows of records deleted during the run are not committed in the first place
            result.tables[spec.name].counts.removed += filter_staged(spec, result.tables[spec.name].partitions,
                                                                     scoped(fresh))
        # Deletions first: rewrites of old partitions are recorded before the range's own days, so each asset's
        # latest materialization (what its overview shows) is the newest day the run wrote, not an old rewrite.
        rewritten: dict[str, set[str]] = defaultdict(set)
        yield from _deletion_days(context, store, window, {day_key(now)} if new else set(), staging, now, names)
        if new:
            just_written = {spec.name: set(result.tables[spec.name].partitions) for spec in committed}
            yield from _propagate(context, store, log, new, now, staging, rewritten, just_written, names)
        yield from _commit(context, store, committed, result, staging, names)
        if result.swept:
            log.mark_swept(store, result.swept, now, staging)
        yield from _evaluate_checks(context, store, selected, window, result, rewritten, names)
        failed = sorted(result.failures)
        context.instance.add_run_tags(
            context.run_id, run_figure_tags(stats, seconds, failed, chain_seconds(result, selected))
        )
        context.log.info(summary_line((first, last, len(window.partition_keys)), stats, per_endpoint, seconds,
                                      result.source_seconds, [s.name for s in committed], failed)
                         + (f"; {len(new)} deletions propagated" if new else ""))
        if failed:
            raise Failure(
                description=f"{len(failed)} of {len(selected)} tables were not extracted; the other "
                f"{len(committed)} were committed and checked: "
                + "; ".join(f"{name}: {result.failures[name].reason}" for name in failed),
                metadata={"failed_tables": MetadataValue.json(_failure_details(result))},
            )
        _wipe_stale_snapshot_failures(context, [spec for spec in committed if spec.is_snapshot], names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _scroll(context: AssetExecutionContext, options: StepOptions) -> ScrollPolicy | None:
    """With a scroll cadence, a complete scroll is stored, and catch-up chunks reuse one younger than it."""
    if not options.companies_refresh_minutes:
        return None
    catchup = context.run.tags.get(TRIGGER_TAG) == TRIGGER_CATCHUP
    return ScrollPolicy(reuse_seconds=options.companies_refresh_minutes * 60 if catchup else 0)


def _commit(context: AssetExecutionContext, store: ParquetStore, committed: Sequence[TableSpec],
            result: ExtractionResult, staging: Path, names: WorkspaceNames) -> Iterator[StepEvent]:
    for spec in committed:
        staged = result.tables[spec.name].partitions
        if spec.is_snapshot:
            for key, partition in staged.items():  # only today's: a snapshot table's one partition of the run
                commit_partition(store, spec.name, key, partition, staging)
                yield AssetMaterialization(names.asset_key(spec.name), partition=key,
                                           metadata=partition_facts(store, spec.name, key, partition))
            continue
        for key, partition in staged.items():
            context.add_asset_metadata(partition_facts(store, spec.name, key, partition),
                                       asset_key=names.asset_key(spec.name), partition_key=key)
        yield Output(staged, output_name=spec.name)


def _ids_by_table(deletions: Sequence[Deletion]) -> dict[str, set[str]]:
    by_table: dict[str, set[str]] = defaultdict(set)
    for deletion in deletions:
        by_table[deletion.source_table].add(deletion.id)
    return dict(by_table)


def _propagate(context: AssetExecutionContext, store: ParquetStore, log: DeletionLog, new: Sequence[Deletion],
               now: int, staging: Path, rewritten: dict[str, set[str]], just_written: Mapping[str, set[str]],
               names: WorkspaceNames) -> Iterator[StepEvent]:
    """Log new deletions, remove their rows from every other stored partition, and add them to deleted_records."""
    log.append(store, new, now, staging)
    for rewrite in rewrite_partitions(store, TABLES, log, staging / "_deletions", only=_ids_by_table(new),
                                      skip=just_written):
        rewritten[rewrite.table].add(rewrite.partition)
        yield AssetMaterialization(
            names.asset_key(rewrite.table), partition=rewrite.partition,
            metadata={**partition_facts(store, rewrite.table, rewrite.partition, rewrite.staged),
                      "rows_removed": rewrite.rows_removed},
            description="Rewritten without the rows of records Intercom deleted or merged away.",
        )
    for key, staged in merge_deleted_records(store, new, now, now, staging / "_deletions").items():
        rewritten[DELETIONS_TABLE.name].add(key)
        yield AssetMaterialization(names.asset_key(DELETIONS_TABLE.name), partition=key,
                                   metadata=partition_facts(store, DELETIONS_TABLE.name, key, staged))
    counts = Counter(f"{d.source_table} {d.reason}" for d in new)
    context.log.info(f"Deletions propagated: {dict(counts)}; {sum(len(p) for p in rewritten.values())} partitions "
                     "rewritten")


def _deletion_days(context: AssetExecutionContext, store: ParquetStore, window: Window, detection_days: set[str],
                   staging: Path, extracted_at: int, names: WorkspaceNames) -> Iterator[AssetMaterialization]:
    """deleted_records over the run's range: the day this run adds deletions to is recorded by `_propagate`, after
    these; every other day of the range is recorded as it is stored (an empty file when nothing was ever detected
    that day, as for any table's empty day), so a run or a UI backfill over any days materializes each partition
    it planned."""
    if DELETIONS_TABLE.name not in context.selected_output_names:
        return
    stored = store.stored_partitions(DELETIONS_TABLE.name)
    missing = [key for key in window.partition_keys if key not in stored and key not in detection_days]
    merge_deleted_records(store, [], 0, extracted_at, staging / "_deletions", days=missing)  # empty files, once
    for key in window.partition_keys:
        if key in detection_days:
            continue
        path = store.partition_path(DELETIONS_TABLE.name, key)
        yield AssetMaterialization(
            names.asset_key(DELETIONS_TABLE.name), partition=key,
            metadata={"dagster/row_count": store.row_count(DELETIONS_TABLE.name, key), "dagster/uri": str(path),
                      "size_bytes": path.stat().st_size},
            description="No deletion detected by this run on this day; the rows stored for it are unchanged.")


def _evaluate_checks(context: AssetExecutionContext, store: ParquetStore, selected: Sequence[TableSpec],
                     window: Window, result: ExtractionResult, rewritten: Mapping[str, set[str]],
                     names: WorkspaceNames) -> Iterator[AssetCheckEvaluation]:
    """Every stored partition of the range, and every partition a deletion rewrote (whatever its table)."""
    targets: dict[tuple[str, str], TableSpec] = {}
    for spec in selected:
        written = result.tables[spec.name].partitions if spec.name in result.tables else {}
        stored = set() if len(written) == len(window.partition_keys) else store.stored_partitions(spec.name)
        targets.update({(spec.name, key): spec for key in window.partition_keys if key in written or key in stored})
    every = TABLES_BY_NAME
    targets.update({(table, key): every[table] for table, keys in rewritten.items() for key in keys})
    wanted = set(context.selected_asset_check_keys) | set(check_keys([every[t] for t in rewritten], names))
    verdicts = evaluate_partitions(store, [(spec, key) for (_, key), spec in sorted(targets.items())])
    yield from check_evaluations(context.instance, verdicts, wanted, names)


def chain_seconds(result: ExtractionResult, selected: Sequence[TableSpec]) -> dict[str, float]:
    """Seconds of each API pass of the run (searches, the scroll, the paged lists), each with the fetches of its
    children and the finishing of its tables, so a user sees which one outgrows the schedule."""
    passes = {spec.source.name for spec in selected}
    return {name: seconds for name, seconds in result.source_seconds.items() if name in passes}


def _failure_details(result: ExtractionResult) -> dict[str, Any]:
    return {
        name: {"endpoint": failure.endpoint, "refused": failure.refused, "reason": failure.reason}
        for name, failure in sorted(result.failures.items())
    }


def _wipe_stale_snapshot_failures(context: AssetExecutionContext, snapshots: Sequence[TableSpec],
                                  names: WorkspaceNames) -> None:
    """Dagster marks every planned, unmaterialized partition of a FAILED run as failed, and keeps it failed until
    materialized, which a snapshot table's past day never is. After a run whose sources all succeeded, those marks
    are rebuilt from the latest attempts (this run's), which clears them (a backfill over past days could leave
    them; scheduled runs only ask for today's snapshots)."""
    keys = [names.asset_key(spec.name) for spec in snapshots]
    stale = []
    for record in context.instance.get_asset_records(keys):
        cached = record.asset_entry.cached_status
        if cached is not None and cached.serialized_failed_partition_subset:
            stale.append(record.asset_entry.asset_key)
    if stale:
        context.instance.wipe_asset_cached_status(stale)
