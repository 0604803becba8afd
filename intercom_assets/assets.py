"""The Intercom assets, generated from the table declarations as ONE subsettable multi-asset.

One step per run extracts every selected table over the run's whole partition range with one shared client:
separate steps would split the rate budget and multiply Dagster's per-step bookkeeping. Each table is still its
own asset (`intercom/<table>`), selectable alone, with per-partition metadata.
"""


import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    multi_asset,
)

from intercom_assets.extract import ExtractionResult, Window, extract
from intercom_assets.lake.staging import EmptyPlaceholder, KeepExisting, StagedPartition, StagedTable
from intercom_assets.partitions import DATE_FORMAT
from intercom_assets.resources import IntercomResource, ParquetStorageResource
from intercom_assets.tables import TABLES, TableSpec

GROUP = "intercom"
KEY_PREFIX = "intercom"
IO_MANAGER_KEY = "intercom_parquet_io_manager"
EXTRACT_STEP = "intercom_extract"
# One slot: two runs never scroll companies at once nor write the same partition (limit set in dagster.yaml).
POOL = "intercom_api"


def asset_key(table: str) -> AssetKey:
    return AssetKey([KEY_PREFIX, table])


@cache
def table_schema(schema: pa.Schema) -> TableSchema:
    """Dagster's column schema of a declared Arrow schema (`dagster/column_schema` in the UI)."""
    return TableSchema(columns=[TableColumn(name=f.name, type=str(f.type)) for f in schema])


def _describe(spec: TableSpec) -> str:
    rule = (
        "snapshot on the UTC day of extraction"
        if spec.is_snapshot
        else f"UTC day of `{spec.partition_column}`"
    )
    return (
        f"{spec.description}\n\nKey: {', '.join(spec.key)}. Partition: {rule}. "
        f"Replaces the Stitch Intercom (v02-02-2016) table: {spec.replaces}."
    )


def _partition_metadata(spec: TableSpec, key: str, output: Any, store_rows: int | None) -> dict[str, Any]:
    schema = spec.converter().schema
    metadata: dict[str, Any] = {"dagster/column_schema": table_schema(schema)}
    if isinstance(output, StagedPartition):
        metadata["dagster/row_count"] = output.row_count
        if spec.is_snapshot:
            metadata["snapshot"] = "written: today's snapshot"
    elif isinstance(output, KeepExisting):
        metadata["dagster/row_count"] = store_rows or 0
        metadata["snapshot"] = "kept: the stored snapshot of that day was left unchanged"
    elif isinstance(output, EmptyPlaceholder):
        metadata["dagster/row_count"] = 0
        metadata["snapshot"] = "placeholder: no snapshot was ever taken on that day; an empty file with the schema"
    return metadata


def _run_metadata(
    spec: TableSpec, staged: StagedTable, result: ExtractionResult, stats: dict[str, Any], window: Window
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "api_requests_run": stats.get("requests", 0),
        "api_retries_run": stats.get("retries", 0),
        "api_rate_limited_run": stats.get("rate_limited", 0),
        "extraction_seconds_run": round(stats.get("extraction_seconds", 0.0), 3),
        "rows_offered": staged.counts.rows_in,
    }
    if staged.counts.missing_timestamp:
        metadata["rows_without_timestamp"] = staged.counts.missing_timestamp
    if spec.name == "conversation_parts":
        metadata["conversations_fetched"] = result.fetched_conversations
        metadata["conversations_reused"] = result.reused_conversations
        metadata["conversations_over_part_cap"] = len(result.truncated_conversations)
        if result.truncated_conversations:
            metadata["conversations_over_part_cap_ids"] = MetadataValue.json(
                {
                    cid: {"returned": r, "total": t}
                    for cid, (r, t) in sorted(result.truncated_conversations.items())
                }
            )
    return metadata


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


def build_intercom_assets(partitions_def: DailyPartitionsDefinition, tables: Sequence[TableSpec] = TABLES):
    """The multi-asset over every declared table."""
    outs = {
        spec.name: AssetOut(
            key=asset_key(spec.name),
            io_manager_key=IO_MANAGER_KEY,
            description=_describe(spec),
            group_name=GROUP,
            is_required=False,
            metadata={"primary_key": list(spec.key), "partition_column": spec.partition_column or "snapshot"},
            kinds={"parquet"},
        )
        for spec in tables
    }
    by_name = {spec.name: spec for spec in tables}

    @multi_asset(
        name=EXTRACT_STEP,
        outs=outs,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=POOL,
    )
    def intercom_extract(
        context: AssetExecutionContext, intercom: IntercomResource, parquet_storage: ParquetStorageResource
    ) -> Iterator[Output]:
        """One pass over the API for the run's whole range; records split into day partitions."""
        selected = [by_name[name] for name in by_name if name in context.selected_output_names]
        time_window = context.partition_time_window
        window = Window(
            start=time_window.start.astimezone(UTC),
            end=time_window.end.astimezone(UTC),
            partition_keys=tuple(context.partition_keys),
        )
        started = datetime.now(UTC)
        today_key = started.strftime(DATE_FORMAT)
        store = parquet_storage.get_store()
        store.check_writable()
        context.log.info(
            f"Extracting {', '.join(s.name for s in selected)} for {window.partition_keys[0]}.."
            f"{window.partition_keys[-1]} ({len(window.partition_keys)} days)"
        )
        staging = _fresh_staging_dir(parquet_storage.staging_dir)
        try:
            clock = time.monotonic()
            with intercom.open_client() as client:
                result = extract(
                    client, selected, window, today_key, staging, int(started.timestamp()), store
                )
                stats = {**client.stats.total(), "extraction_seconds": time.monotonic() - clock}
            context.log.info(f"Seconds per API source: {result.source_seconds}")
            if result.truncated_conversations:
                context.log.warning(
                    f"{len(result.truncated_conversations)} conversations have more parts than the API returns "
                    f"(it returns the 500 newest): {sorted(result.truncated_conversations)[:20]}"
                )
            for spec in selected:
                staged = result.tables[spec.name]
                for key, output in staged.partitions.items():
                    # The extractor already looked: KeepExisting means a stored file exists, so no second check.
                    stored = store.row_count(spec.name, key) if isinstance(output, KeepExisting) else None
                    context.add_asset_metadata(
                        _partition_metadata(spec, key, output, stored),
                        asset_key=asset_key(spec.name),
                        partition_key=key,
                    )
                yield Output(
                    staged.partitions,
                    output_name=spec.name,
                    metadata=_run_metadata(spec, staged, result, stats, window),
                )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    return intercom_extract
