"""What one workspace serves (assets, checks, resources, IO manager, job, schedule, sensors) and what the code
location has once (maintenance, erasure, executor), built from validated settings: both the INTERCOM_* variables
and each IntercomWorkspace YAML file (component.py) come through here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

from dagster import Definitions, EnvVar, in_process_executor

from intercom_assets.assets import build_intercom_assets
from intercom_assets.automation.alert_sensors import build_check_failure_sensor, build_run_failure_sensor
from intercom_assets.automation.catchup import build_catchup_sensor
from intercom_assets.automation.checks import freshness_policy_for, with_freshness_policy
from intercom_assets.automation.erase_job import ERASE_JOB, intercom_erase_job
from intercom_assets.automation.erase_multi import build_multi_erase_job
from intercom_assets.automation.jobs import build_intercom_job
from intercom_assets.automation.maintenance_job import (
    MAINTENANCE_JOB,
    build_maintenance_job,
    build_maintenance_schedule,
)
from intercom_assets.automation.schedules import build_attribution_window_schedule
from intercom_assets.current_assets import build_current_assets
from intercom_assets.keys import WorkspaceNames
from intercom_assets.partitions import build_partitions_def
from intercom_assets.reporting import source_specs
from intercom_assets.resources import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_SHARE,
    DEFAULT_TIMEOUT_SECONDS,
    IntercomParquetIOManager,
    IntercomResource,
    ParquetStorageResource,
)
from intercom_assets.run_step import StepOptions
from intercom_assets.settings import Settings, SettingsError, load_settings
from intercom_assets.tables import SCROLL


def _env(name: str, default, kind: str = "str"):
    """EnvVar when the variable is set (its value then never enters run config), else the default.

    Dagster has no float EnvVar: float settings are parsed here, with an error naming the variable.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number") from None
    return EnvVar.int(name) if kind == "int" else EnvVar(name)


def build_intercom_resource() -> IntercomResource:
    """The shared API resource, every field from its INTERCOM_* variable."""
    return IntercomResource(
        access_token=EnvVar("INTERCOM_ACCESS_TOKEN"),
        base_url=_env("INTERCOM_BASE_URL", DEFAULT_BASE_URL),
        api_version=_env("INTERCOM_API_VERSION", DEFAULT_API_VERSION),
        max_concurrency=_env("INTERCOM_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, "int"),
        rate_limit_share=_env("INTERCOM_RATE_LIMIT_SHARE", DEFAULT_RATE_LIMIT_SHARE, "float"),
        timeout_seconds=_env("INTERCOM_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, "float"),
        max_retries=_env("INTERCOM_MAX_RETRIES", DEFAULT_MAX_RETRIES, "int"),
    )


def build_workspace_defs(settings: Settings, intercom: IntercomResource, shared_jobs: Sequence[str] = ()
                         ) -> Definitions:
    """One workspace's assets, checks, job, schedule, sensors and resources, every name from `settings.names`
    (the default workspace's are today's names). The env-var path and each IntercomWorkspace YAML file call this."""
    names = settings.names
    partitions_def = build_partitions_def(settings.start_date)
    intercom_assets = build_intercom_assets(partitions_def, options=StepOptions(
        companies_refresh_minutes=settings.companies_refresh_minutes,
        deletion_sweep_hours=settings.deletion_sweep_hours,
        pii_policy=settings.pii_policy,
        names=names,
    ))
    # Freshness: Dagster's freshness daemon evaluates the policy; the check-failure sensor alerts on WARN/FAIL.
    selected = settings.selected()
    policy = freshness_policy_for(settings.schedule_cron)
    scroll_policy = freshness_policy_for(settings.schedule_cron, timedelta(minutes=settings.companies_refresh_minutes))
    intercom_assets = with_freshness_policy(
        intercom_assets, {spec.name: scroll_policy if spec.source.paging == SCROLL else policy for spec in selected
                          if not spec.logs_deletions},  # deleted_records is written when something is deleted
        names,
    )
    storage = ParquetStorageResource(root=settings.parquet_root, staging_dir=settings.staging_dir)
    metrics = settings.support_metrics  # the support metrics (dbt, intercom_assets/metrics/)
    intercom_job = build_intercom_job(selected, metrics, names)
    return Definitions(
        # The API passes first: external assets upstream of the tables they feed (lineage only, never run);
        # then the support metrics, rebuilt from the current state (INTERCOM_SUPPORT_METRICS=off leaves them out)
        assets=[*source_specs(names=names), intercom_assets, build_current_assets(names=names),
                *(_metrics_assets(names, settings.office_hours_schedule) if metrics else [])],
        jobs=[intercom_job],
        schedules=[build_attribution_window_schedule(settings, intercom_job)],
        sensors=[
            build_catchup_sensor(settings, partitions_def, intercom_job),
            build_run_failure_sensor(settings, shared_jobs),
            build_check_failure_sensor(settings, selected),
        ],
        resources={
            names.intercom_resource: intercom,
            names.storage_resource: storage,
            names.io_manager: IntercomParquetIOManager(storage=storage),
        },
    )


def _metrics_assets(names: WorkspaceNames, office_hours_schedule: str) -> list:
    """The workspace's support metrics (dbt assets) and the sources they read that no table declares (dbt is
    imported only when the metrics are served: see metrics/__init__.py)."""
    from intercom_assets.metrics.assets import build_metrics_assets, undeclared_source_specs

    return [build_metrics_assets(names, office_hours_schedule), *undeclared_source_specs(names)]


def _metrics_resources() -> dict:
    """The dbt CLI resource every workspace's metrics step runs with (one dbt project)."""
    from intercom_assets.metrics.assets import DBT_RESOURCE_KEY, dbt_resource

    return {DBT_RESOURCE_KEY: dbt_resource()}


def build_shared_defs(workspaces: Sequence[Settings]) -> Definitions:
    """What the code location has once whatever its workspaces: the maintenance job (the instance is shared), the
    erase job (one request reaches every workspace) and the executor."""
    names = [settings.names for settings in workspaces]
    maintenance_job = build_maintenance_job(workspaces)
    erase_job = intercom_erase_job if len(names) == 1 and names[0].is_default else build_multi_erase_job(workspaces)
    return Definitions(
        jobs=[maintenance_job, erase_job],
        resources=_metrics_resources() if any(settings.support_metrics for settings in workspaces) else {},
        schedules=[build_maintenance_schedule(maintenance_job)],
        # Every run of these assets (schedule, sensors, UI backfills, the CLI) executes in one process: separate
        # step processes would split the rate budget and multiply Dagster's per-step cost.
        # The console log level is set where it takes effect: `python_logs` in the instance's dagster.yaml
        # (Definitions-level loggers apply only when a run's config names them).
        executor=in_process_executor,
    )


def shared_job_names() -> list[str]:
    """The jobs of build_shared_defs, alerted on by the first workspace's run-failure sensor only."""
    return [MAINTENANCE_JOB, ERASE_JOB]


def build_definitions(settings: Settings | None = None, intercom: IntercomResource | None = None) -> Definitions:
    """Everything the code location serves for ONE workspace, from validated settings (by default the INTERCOM_*
    variables: today's names, pool and layout)."""
    settings = settings or load_settings()
    return Definitions.merge(
        build_workspace_defs(settings, intercom or build_intercom_resource(), shared_job_names()),
        build_shared_defs([settings]),
    )
