"""`intercom/<table>_current`: one unpartitioned asset per incremental table, its current state (one row per key,
the newest version, deleted and erased records removed), under `{root}/current/<table>/`.

A refresh merges every partition of the table materialized since its current state was last materialized (the
instance's event log says which) into the stored state (lake/current_state.py), and removes the records deleted
since then; the first one builds the state from every stored partition. Window runs and catch-up chunks refresh
them in the same run, after the extraction step; a UI backfill runs them in a run of their own, without a range,
and a single-run backfill policy keeps `dagster asset materialize --select '*' --partition-range ...` working.
The step holds the `intercom_api` pool, like every step that writes Parquet.

Each materialization records what the state holds after the refresh, `dagster/row_count` (the asset overview's
Row count) and `files`, counted from Parquet footers through a manifest (lake/current_size.py), beside what the
refresh changed (`rows_in`, `rows_out`, `files_rewritten`, ...).
"""


import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from intercom_assets.keys import CURRENT_SUFFIX, DEFAULT_NAMES, WorkspaceNames
from intercom_assets.lake.current_inputs import Footers, plan_merge, record_merge
from intercom_assets.lake.current_size import StateSize, state_size
from intercom_assets.lake.current_state import CURRENT_DIR, RefreshReport, current_tables, rebuild, refresh
from intercom_assets.lake.deletions import DeletionLog
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.reporting import column_schema
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec

CURRENT_STEP = "intercom_current"
PAGE = 1000


def current_key(table: str, names: WorkspaceNames = DEFAULT_NAMES) -> AssetKey:
    """`intercom/<table>_current` (under the workspace's prefix)."""
    return names.asset_key(table + CURRENT_SUFFIX)


def _spec(spec: TableSpec, names: WorkspaceNames) -> AssetSpec:
    base = spec.subset_of or spec.name
    return AssetSpec(
        key=current_key(spec.name, names),
        deps=[names.asset_key(spec.name)] + ([current_key(base, names)] if base != spec.name else []),
        description=f"Current state of `{names.asset_key(spec.name).to_user_string()}`: one row per "
        f"{', '.join(spec.key)}, its newest "
        "version; rows of deleted, merged-away and erased records removed. Files: "
        f"`{CURRENT_DIR}/{spec.name}/date=*/part-0.parquet` (each row in the day of its version).",
        group_name=names.group,
        kinds={"parquet"},
        metadata={"dagster/column_schema": column_schema(spec), "primary_key": list(spec.key)},
        skippable=True,
    )


def build_current_assets(tables: Sequence[TableSpec] = TABLES, names: WorkspaceNames = DEFAULT_NAMES
                         ) -> AssetsDefinition:
    """The current-state assets of the incremental tables among `tables`, as one subsettable step."""
    specs = current_tables(tables)

    @multi_asset(
        name=names.qualify(CURRENT_STEP),
        specs=[_spec(spec, names) for spec in specs],
        can_subset=True,
        backfill_policy=BackfillPolicy.single_run(),
        pool=names.pool,
        required_resource_keys={names.storage_resource},
    )
    def intercom_current(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        """Merge what was materialized since the last refresh into each selected table's current state."""
        parquet_storage: ParquetStorageResource = getattr(context.resources, names.storage_resource)
        store = parquet_storage.get_store()
        wanted = {key.path[-1].removesuffix(CURRENT_SUFFIX) for key in context.selected_asset_keys}
        bases = [spec for spec in current_tables() if spec.subset_of is None
                 and (spec.name in wanted or any(TABLES_BY_NAME[name].subset_of == spec.name for name in wanted))]
        scratch = fresh_staging_dir(parquet_storage.staging_dir)
        footers: Footers = {}  # a parent's fingerprints, read for it, serve its children
        try:
            for spec in bases:
                for report in _refresh(context, store, spec, scratch, footers, names):
                    if report.table in wanted:
                        size = state_size(store, report.table, scratch)
                        yield MaterializeResult(asset_key=current_key(report.table, names),
                                                metadata=_metadata(parquet_storage, report, size))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return intercom_current


def _refresh(context: AssetExecutionContext, store: ParquetStore, spec: TableSpec, scratch: Path,
             footers: Footers, names: WorkspaceNames) -> list[RefreshReport]:
    """Rebuild when never materialized; else merge the partitions materialized since whose content changed (the
    manifest of lake/current_inputs.py), minus new deletions. `footers`: fingerprints already read in this step."""
    instance = context.instance
    last = _last_materialization(instance, current_key(spec.name, names))
    # a child's days also change with its parent's (a child of a snapshot parent, e.g. a data connector's runs,
    # has its own timestamps and no parent state to follow)
    parent = spec.children.parent if spec.children is not None else None
    if parent is not None and not TABLES_BY_NAME[parent].has_current_state:
        parent = None
    if last is None:
        report = rebuild(store, spec, DeletionLog.load(store).removals(spec), scratch)  # subsets too
        context.log.info(f"{spec.name}_current built from {report.partitions} partitions in {report.seconds:.1f} s")
        plan = plan_merge(store, spec.name, store.stored_partitions(spec.name), parent, footers, forget=True)
    else:
        storage_id, timestamp = last
        changed = _materialized_since(instance, names.asset_key(spec.name), storage_id)
        plan = plan_merge(store, spec.name, changed, parent, footers)  # days rewritten unchanged are left out
        removals = DeletionLog.load(store, detected_since=int(timestamp)).removals(spec)
        report = refresh(store, spec, plan.days, removals, scratch)
        report.unchanged = len(changed) - len(plan.days)  # materialized since, with the content merged before
        report.partitions += report.unchanged
    record_merge(store, spec.name, plan, scratch)
    return [report, *report.subsets]


def _last_materialization(instance: DagsterInstance, key: AssetKey) -> tuple[int, float] | None:
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1, ascending=False).records
    return (records[0].storage_id, records[0].timestamp) if records else None


def _materialized_since(instance: DagsterInstance, key: AssetKey, storage_id: int) -> list[str]:
    """Partitions of `key` materialized after the event `storage_id` (extraction, deletion rewrites)."""
    partitions: set[str] = set()
    cursor = None
    while True:
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=storage_id), limit=PAGE, cursor=cursor, ascending=True
        )
        partitions.update(r.partition_key for r in result.records if r.partition_key)
        if not result.has_more:
            return sorted(partitions)
        cursor = result.cursor


def _metadata(storage: ParquetStorageResource, report: RefreshReport, size: StateSize) -> dict:
    """What the state holds (`dagster/row_count`, the overview's Row count, and its files), where it is, and
    what this refresh changed."""
    figures = report.metadata()
    return {
        "dagster/row_count": MetadataValue.int(size.rows),
        "files": MetadataValue.int(size.files),
        "dagster/uri": MetadataValue.path(f"{storage.root.rstrip('/')}/{CURRENT_DIR}/{report.table}"),
        **{name: round(value, 3) if isinstance(value, float) else value for name, value in figures.items()},
    }
