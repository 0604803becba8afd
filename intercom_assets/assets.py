"""The Intercom assets, generated from the table declarations as ONE subsettable multi-asset.

One step per run extracts every selected table over the run's whole partition range with one shared client:
separate steps would split the rate budget and multiply Dagster's per-step bookkeeping. Each table is still its
own asset (`intercom/<table>`), selectable alone, with its check evaluated per partition in the same step; what
the step does, in order, is run_step.py's business. `intercom/deleted_records` is an output too: the step writes
it from the deletions it detects.
"""

from collections.abc import Iterator, Sequence

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetMaterialization,
    AssetOut,
    AssetsDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Output,
    multi_asset,
)

from intercom_assets.automation.checks import check_specs
from intercom_assets.keys import EXTRACT_STEP, WorkspaceNames
from intercom_assets.reporting import column_schema
from intercom_assets.resources import IntercomResource, ParquetStorageResource
from intercom_assets.run_step import StepOptions, run_extraction
from intercom_assets.tables import TABLES, TableSpec, lineage_sources


def _describe(spec: TableSpec) -> str:
    if spec.logs_deletions:
        return (f"{spec.description}\n\nWritten by every run of the history tables from the deletion signals it "
                f"reads ({', '.join(f'`{s.request}`' for s in lineage_sources(spec))}, and the per-record probes "
                "that confirm them), and by `intercom_erase_job`. Key: "
                f"{', '.join(spec.key)}. Partition: UTC day of `{spec.partition_column}`.")
    rule = (
        "snapshot: only the UTC day of extraction is materialized"
        if spec.is_snapshot
        else f"UTC day of `{spec.partition_column}`"
    )
    return (
        f"{spec.description}\n\nFrom `{spec.source.request}`. Key: {', '.join(spec.key)}. Partition: {rule}. "
        f"Replaces the Stitch Intercom (v02-02-2016) table: {spec.replaces}."
    )


def _out(spec: TableSpec, names: WorkspaceNames) -> AssetOut:
    """The table's output; its upstream API pass is wired through `internal_asset_deps`."""
    return AssetOut(
        key=names.asset_key(spec.name),
        description=_describe(spec),
        group_name=names.snapshot_group if spec.is_snapshot else names.group,
        metadata={
            "dagster/column_schema": column_schema(spec),
            "primary_key": list(spec.key),
            "partition_column": spec.partition_column or "snapshot (day of extraction)",
            "api_request": spec.source.request,
        },
        kinds={"parquet"},
        is_required=False,
        io_manager_key=names.io_manager,
    )


def build_intercom_assets(
    partitions_def: DailyPartitionsDefinition, tables: Sequence[TableSpec] = TABLES,
    options: StepOptions | None = None,
) -> AssetsDefinition:
    """The multi-asset over every declared table (deleted_records included), with their per-partition checks."""
    options = options or StepOptions()
    names = options.names
    outputs = list(tables)
    sources = {source.name for spec in outputs for source in lineage_sources(spec)}

    @multi_asset(
        name=names.qualify(EXTRACT_STEP),
        outs={spec.name: _out(spec, names) for spec in outputs},
        deps=[names.source_key(name) for name in sorted(sources)],
        internal_asset_deps={spec.name: {names.source_key(s.name) for s in lineage_sources(spec)}
                             for spec in outputs},
        check_specs=check_specs(partitions_def, outputs, names),
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=names.pool,
        required_resource_keys={names.intercom_resource, names.storage_resource},
    )
    def intercom_extract(context: AssetExecutionContext
                         ) -> Iterator[Output | AssetMaterialization | AssetCheckEvaluation]:
        """One pass over the API for the run's whole range; records split into day partitions."""
        intercom: IntercomResource = getattr(context.resources, names.intercom_resource)
        storage: ParquetStorageResource = getattr(context.resources, names.storage_resource)
        yield from run_extraction(context, intercom, storage, outputs, options)

    return intercom_extract
