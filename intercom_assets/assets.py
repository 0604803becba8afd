"""The Intercom assets, generated from the table declarations as ONE subsettable multi-asset.

One step per run extracts every selected table over the run's whole partition range with one shared client:
separate steps would split the rate budget and multiply Dagster's per-step bookkeeping. Each table is still its
own asset (`intercom/<table>`), selectable alone, with its checks evaluated per partition in the same step.

What the step records, and only that:
- an incremental table: its Output over the range (the IO manager commits one file per day), each partition
  with its own row count, file and size;
- a snapshot table: a materialization of today's partition only, when the range includes today (past days
  hold no snapshot, so they are not shown as materialized and get no file);
- a table whose source failed (a refused permission, the scroll after its restarts): nothing; the others are
  still committed and checked, then the step fails naming the failed tables, so the run is marked failed.
"""

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetMaterialization,
    AssetOut,
    AssetsDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Failure,
    MetadataValue,
    Output,
    multi_asset,
)

from intercom_assets.automation.checks import check_specs, evaluate_partitions, latest_materializations
from intercom_assets.automation.schedules import TRIGGER_CATCHUP, TRIGGER_TAG
from intercom_assets.extraction import ExtractionResult, ScrollPolicy, Window, extract
from intercom_assets.keys import EXTRACT_STEP, GROUP, IO_MANAGER_KEY, POOL, SNAPSHOT_GROUP, asset_key, source_key
from intercom_assets.lake.io_manager import commit_partition, partition_facts
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import DATE_FORMAT
from intercom_assets.reporting import column_schema, run_figure_tags, summary_line, window_tags
from intercom_assets.resources import IntercomResource, ParquetStorageResource
from intercom_assets.tables import SCROLL, SEARCH, TABLES, TableSpec


def _describe(spec: TableSpec) -> str:
    rule = (
        "snapshot: only the UTC day of extraction is materialized"
        if spec.is_snapshot
        else f"UTC day of `{spec.partition_column}`"
    )
    return (
        f"{spec.description}\n\nFrom `{spec.source.request}`. Key: {', '.join(spec.key)}. Partition: {rule}. "
        f"Replaces the Stitch Intercom (v02-02-2016) table: {spec.replaces}."
    )


def _out(spec: TableSpec) -> AssetOut:
    """The table's output; its upstream API pass is wired through `internal_asset_deps`."""
    return AssetOut(
        key=asset_key(spec.name),
        description=_describe(spec),
        group_name=SNAPSHOT_GROUP if spec.is_snapshot else GROUP,
        metadata={
            "dagster/column_schema": column_schema(spec),
            "primary_key": list(spec.key),
            "partition_column": spec.partition_column or "snapshot (day of extraction)",
            "api_request": spec.source.request,
        },
        kinds={"parquet"},
        is_required=False,
        io_manager_key=IO_MANAGER_KEY,
    )


def _fresh_staging_dir(configured: str | None) -> Path:
    """A new staging directory for this run, after removing those that killed runs left behind.

    Each directory is named after the process that made it, and only directories whose process is gone are
    removed, so runs of other Dagster instances (or parallel test workers) sharing the directory are left alone.
    """
    parent = Path(configured or tempfile.gettempdir()) / "intercom-staging"
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.iterdir():
        owner = stale.name.split("-")[1] if stale.name.startswith("run-") else ""
        if owner.isdigit() and not _process_alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=parent))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _snapshot_materializations(
    spec: TableSpec, result: ExtractionResult, store: ParquetStore, scratch: Path
) -> Iterator[AssetMaterialization]:
    """Commit today's snapshot (the only partition a snapshot table has in a run) and record it."""
    for key, staged in result.tables[spec.name].partitions.items():
        commit_partition(store, spec.name, key, staged, scratch)
        yield AssetMaterialization(
            asset_key=asset_key(spec.name), partition=key, metadata=partition_facts(store, spec.name, key, staged)
        )


def _check_targets(
    selected: Sequence[TableSpec], window: Window, result: ExtractionResult, store: ParquetStore
) -> list[tuple[TableSpec, str]]:
    """Every stored partition of the run's range: what this run wrote, and what earlier runs wrote for tables
    that wrote nothing here (a failed source, a snapshot's earlier days), so each partition's check state stays
    the truth about its file."""
    targets = []
    for spec in selected:
        written = result.tables[spec.name].partitions if spec.name in result.tables else {}
        stored = set() if len(written) == len(window.partition_keys) else store.stored_partitions(spec.name)
        targets += [(spec, key) for key in window.partition_keys if key in written or key in stored]
    return targets


def _wipe_stale_snapshot_failures(context: AssetExecutionContext, snapshots: Sequence[TableSpec]) -> None:
    """Dagster marks every planned, unmaterialized partition of a FAILED run as failed, snapshot tables' past
    days included, and keeps them failed until materialized, which a past snapshot day never is. After a run
    whose sources all succeeded, those marks are rebuilt from the latest attempts (this run's), which clears them.
    """
    keys = [asset_key(spec.name) for spec in snapshots]
    stale = []
    for record in context.instance.get_asset_records(keys):
        cached = record.asset_entry.cached_status
        if cached is not None and cached.serialized_failed_partition_subset:
            stale.append(record.asset_entry.asset_key)
    if stale:
        context.instance.wipe_asset_cached_status(stale)


def build_intercom_assets(
    partitions_def: DailyPartitionsDefinition, tables: Sequence[TableSpec] = TABLES, companies_refresh_minutes: int = 0
) -> AssetsDefinition:
    """The multi-asset over every declared table, with its per-partition checks.

    With `companies_refresh_minutes` (INTERCOM_COMPANIES_REFRESH_MINUTES) a complete companies scroll is stored,
    and catch-up chunks reuse one younger than that period instead of scrolling again.
    """
    by_name = {spec.name: spec for spec in tables}
    sources = {source.name for spec in tables for source in spec.sources}

    @multi_asset(
        name=EXTRACT_STEP,
        outs={spec.name: _out(spec) for spec in tables},
        deps=[source_key(name) for name in sorted(sources)],
        internal_asset_deps={spec.name: {source_key(source.name) for source in spec.sources} for spec in tables},
        check_specs=check_specs(partitions_def, tables),
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=POOL,
    )
    def intercom_extract(
        context: AssetExecutionContext, intercom: IntercomResource, parquet_storage: ParquetStorageResource
    ) -> Iterator[Output | AssetMaterialization | AssetCheckEvaluation]:
        """One pass over the API for the run's whole range; records split into day partitions."""
        selected = [by_name[name] for name in by_name if name in context.selected_output_names]
        time_window = context.partition_time_window
        window = Window(
            start=time_window.start.astimezone(UTC),
            end=time_window.end.astimezone(UTC),
            partition_keys=tuple(context.partition_keys),
        )
        first, last = window.partition_keys[0], window.partition_keys[-1]
        context.instance.add_run_tags(context.run_id, window_tags(first, last))
        started = datetime.now(UTC)
        store = parquet_storage.get_store()
        store.check_writable()
        context.log.info(f"Extracting {', '.join(s.name for s in selected)} for {first}..{last} "
                         f"({len(window.partition_keys)} days)")
        staging = _fresh_staging_dir(parquet_storage.staging_dir)
        try:
            clock = time.monotonic()
            scroll = None
            if companies_refresh_minutes:
                catchup = context.run.tags.get(TRIGGER_TAG) == TRIGGER_CATCHUP
                scroll = ScrollPolicy(reuse_seconds=companies_refresh_minutes * 60 if catchup else 0)
            with intercom.open_client() as client:
                result = extract(client, selected, window, started.strftime(DATE_FORMAT), staging,
                                 int(started.timestamp()), store, scroll)
                stats, per_endpoint = client.stats.total(), client.stats.snapshot()
            seconds = time.monotonic() - clock
            for table, parents in sorted(result.over_cap.items()):
                if parents:
                    context.log.warning(
                        f"{table}: {len(parents)} parents have more parts than the API returns (it returns the "
                        f"500 newest): {sorted(parents)[:20]}"
                    )
            committed = [spec for spec in selected if spec.name in result.tables]
            for spec in committed:
                if spec.is_snapshot:
                    yield from _snapshot_materializations(spec, result, store, staging)
                    continue
                staged = result.tables[spec.name].partitions
                for key, partition in staged.items():
                    context.add_asset_metadata(
                        partition_facts(store, spec.name, key, partition),
                        asset_key=asset_key(spec.name),
                        partition_key=key,
                    )
                yield Output(staged, output_name=spec.name)
            wanted = set(context.selected_asset_check_keys)
            targets = {spec.name: latest_materializations(context.instance, spec.name, window.partition_keys)
                       for spec in selected}
            for verdict in evaluate_partitions(store, _check_targets(selected, window, result, store)):
                yield from verdict.evaluations(wanted, targets[verdict.table.name].get(verdict.partition))
            failed = sorted(result.failures)
            context.instance.add_run_tags(
                context.run_id, run_figure_tags(stats, seconds, failed, chain_seconds(result, selected))
            )
            context.log.info(summary_line((first, last, len(window.partition_keys)), stats, per_endpoint, seconds,
                                          result.source_seconds, [s.name for s in committed], failed))
            if failed:
                raise Failure(
                    description=f"{len(failed)} of {len(selected)} tables were not extracted; the other "
                    f"{len(committed)} were committed and checked: "
                    + "; ".join(f"{name}: {result.failures[name].reason}" for name in failed),
                    metadata={"failed_tables": MetadataValue.json(_failure_details(result))},
                )
            _wipe_stale_snapshot_failures(context, [spec for spec in committed if spec.is_snapshot])
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    return intercom_extract


def chain_seconds(result: ExtractionResult, selected: Sequence[TableSpec]) -> dict[str, float]:
    """Seconds of each sequential pass (searches, the scroll), so a user sees when one outgrows the schedule."""
    chains = {spec.source.name for spec in selected if spec.source.paging in (SEARCH, SCROLL)}
    return {name: seconds for name, seconds in result.source_seconds.items() if name in chains}


def _failure_details(result: ExtractionResult) -> dict[str, Any]:
    return {
        name: {"endpoint": failure.endpoint, "refused": failure.refused, "reason": failure.reason}
        for name, failure in sorted(result.failures.items())
    }
