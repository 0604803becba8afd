"""The daily maintenance job and its schedule: per workspace, a pass over the instance's old runs (maintenance.py)
in that workspace's pool, and the schema upgrade of its lake (lake/schema_upgrade.py)."""

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import (
    Config,
    DefaultScheduleStatus,
    JobDefinition,
    OpDefinition,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)
from dagster._core.storage.dagster_run import DagsterRun

from intercom_assets.automation.jobs import is_workspace_run
from intercom_assets.automation.maintenance import prune_instance
from intercom_assets.keys import WorkspaceNames
from intercom_assets.lake.current_state import current_store
from intercom_assets.lake.schema_upgrade import upgrade_schemas
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.settings import Settings
from intercom_assets.tables import TABLES

MAINTENANCE_JOB = "intercom_maintenance_job"
MAINTENANCE_SCHEDULE = "intercom_maintenance_schedule"
# Daily, between two 30-minute ticks of the window schedule.
MAINTENANCE_CRON = "17 3 * * *"


class MaintenanceConfig(Config):
    """Run config of the maintenance op (the launchpad can override the retention for one run)."""

    retention_days: int
    vacuum: bool = True


def run_owner(run: DagsterRun, workspaces: Sequence[WorkspaceNames]) -> WorkspaceNames:
    """The workspace whose prune op decides about a run: the one whose job it is or whose assets it materialized;
    every other run (the shared erase and maintenance jobs, a job of no workspace) is the first workspace's."""
    return next((names for names in workspaces if is_workspace_run(names, run)), workspaces[0])


def build_maintenance_job(workspaces: Sequence[Settings]) -> JobDefinition:
    """The op job: per workspace, a prune op in that workspace's pool (no run of it materializes while copies are
    made) with its own retention, then a schema upgrade of its lake; the last prune compacts SQLite. The instance
    is shared, so the job is one for every workspace."""
    names = [settings.names for settings in workspaces]
    prunes = [_prune_op(settings.names, names) for settings in workspaces]
    upgrades = [_schema_upgrade_op(settings.names) for settings in workspaces]
    retention = ", ".join(f"{s.names.name}: {s.run_retention_days}" for s in workspaces) if len(workspaces) > 1 \
        else str(workspaces[0].run_retention_days)
    config = {prune.name: {"config": {"retention_days": settings.run_retention_days,
                                      "vacuum": settings is workspaces[-1]}}
              for prune, settings in zip(prunes, workspaces, strict=True)}

    @job(
        name=MAINTENANCE_JOB,
        description=f"Deletes finished runs older than {retention} days (re-recording the newest materialization "
        "and check result they still hold), then VACUUMs a SQLite instance; rewrites lake files written before a "
        "column was declared in their table's declared schema.",
        config={"ops": config},
    )
    def intercom_maintenance_job() -> None:
        for prune in prunes:
            prune()
        for upgrade in upgrades:
            upgrade()

    return intercom_maintenance_job


def _prune_op(names: WorkspaceNames, workspaces: Sequence[WorkspaceNames]) -> OpDefinition:
    """One workspace's pass over its old runs (`run_owner`), in its pool."""

    @op(name=names.qualify("intercom_prune_instance"), pool=names.pool)
    def intercom_prune_instance(context: OpExecutionContext, config: MaintenanceConfig) -> Output[None]:
        report = prune_instance(context.instance, datetime.now(UTC), config.retention_days, config.vacuum,
                                owns=lambda run: run_owner(run, workspaces) == names)
        context.log.info(report.summary())
        for run_id, reason in list(report.runs_kept.items())[:20]:
            context.log.info(f"kept run {run_id}: {reason}")
        sizes = {"instance_bytes_before": report.bytes_before, "instance_bytes_after": report.bytes_after}
        return Output(None, metadata={
            "retention_days": config.retention_days, "runs_deleted": report.runs_deleted,
            "old_runs_kept": len(report.runs_kept),
            "materializations_recorded": report.materializations_copied,
            "check_results_retargeted": report.check_rows_retargeted, "check_rows_deleted": report.check_rows_deleted,
            **{name: value for name, value in sizes.items() if value is not None}, "seconds": round(report.seconds, 2),
        })

    return intercom_prune_instance


def _schema_upgrade_op(names: WorkspaceNames) -> OpDefinition:
    """One workspace's lake files written before a column was declared get the declared schema
    (lake/schema_upgrade.py), in that workspace's pool: no run of it writes meanwhile."""

    @op(name=names.qualify("intercom_upgrade_lake_schemas"), pool=names.pool,
        required_resource_keys={names.storage_resource})
    def upgrade_lake_schemas(context: OpExecutionContext) -> Output[None]:
        parquet_storage: ParquetStorageResource = getattr(context.resources, names.storage_resource)
        store = parquet_storage.get_store()
        scratch = fresh_staging_dir(parquet_storage.staging_dir)
        try:
            report = upgrade_schemas((("", store), ("current/", current_store(store))), TABLES, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        context.log.info(report.summary())
        return Output(None, metadata={"files_checked": report.files_checked,
                                      "files_rewritten": len(report.rewritten)})

    return upgrade_lake_schemas


def build_maintenance_schedule(job_def: JobDefinition) -> ScheduleDefinition:
    """Daily at 03:17 UTC, RUNNING by default like the alert sensors (it only ever removes what is redundant)."""
    return ScheduleDefinition(name=MAINTENANCE_SCHEDULE, cron_schedule=MAINTENANCE_CRON, job=job_def,
                              execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING,
                              description="Prunes old runs and compacts the instance once a day.")
