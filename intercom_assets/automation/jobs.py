"""The job the schedule and the catch-up sensor launch (UI backfills and the CLI use Dagster's implicit asset job)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import AssetKey, AssetSelection, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from intercom_assets.keys import CURRENT_SUFFIX, DEFAULT_NAMES, WorkspaceNames
from intercom_assets.tables import TABLES, TableSpec

INTERCOM_JOB = "intercom_job"


def run_selection(tables: Sequence[TableSpec], metrics: bool = True, names: WorkspaceNames = DEFAULT_NAMES
                  ) -> list[AssetKey]:
    """What a window or catch-up run materializes: the tables, then the current state of the incremental ones, then
    (when there are any, and `metrics`: INTERCOM_SUPPORT_METRICS) the support metrics, rebuilt from that state."""
    current = [names.asset_key(spec.name + CURRENT_SUFFIX) for spec in tables if spec.has_current_state]
    keys = [*(names.asset_key(spec.name) for spec in tables), *current]
    if current and metrics:
        from intercom_assets.metrics.assets import metrics_keys  # dbt only when served (see metrics/__init__.py)

        keys += metrics_keys(names)
    return keys


def is_workspace_run(names: WorkspaceNames, run: Any) -> bool:
    """Whether a run is this workspace's own: its job, or an asset run touching its assets (alerts and the
    maintenance's pruning go by it)."""
    return run.job_name == names.qualify(INTERCOM_JOB) or any(
        key.path[: len(names.prefix)] == names.prefix for key in run.asset_selection or ())


def build_intercom_job(tables: Sequence[TableSpec] = TABLES, metrics: bool = True,
                       names: WorkspaceNames = DEFAULT_NAMES) -> UnresolvedAssetJobDefinition:
    """The selected tables (INTERCOM_TABLES; every table by default) with their checks, in-process like every job
    of the code location (see definitions.py)."""
    return define_asset_job(
        name=names.qualify(INTERCOM_JOB),
        selection=AssetSelection.assets(*run_selection(tables, metrics, names)),
        description="Extract the selected Intercom tables over the run's partition range in one API pass.",
    )
