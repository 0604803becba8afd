"""The support metrics as Dagster assets: each mart of the dbt project in `dbt_project/` (README "Support metrics")
is one asset `intercom/<model>` in the group `support_metrics`, downstream of the lake tables it reads, with its
column descriptions. A refresh runs `dbt build` over the whole current state (models and their tests), so a
deleted, merged or erased record leaves no row in any metrics file; window runs and catch-up chunks run it after
the current-state refresh (automation/jobs.py), the erasure job after an erasure (`build_metrics`).

The manifest Dagster reads is made by `dbt parse` when the code location loads and the manifest is missing or older
than a file of the dbt project (a clean clone, CI, a model added by hand, an edit under `dagster dev`).
"""

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from intercom_assets.current_assets import current_key
from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.tables import TABLES_BY_NAME, TableSpec

PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
METRICS_GROUP = "support_metrics"
METRICS_STEP = "intercom_support_metrics"
DBT_RESOURCE_KEY = "dbt"
_SOURCES = ("models", "macros", "dbt_project.yml", "profiles.yml")


def lake_asset_key(table: str, names: WorkspaceNames = DEFAULT_NAMES) -> AssetKey:
    """The asset a dbt source stands for (the one place a dbt name becomes an asset key): the current state of a
    table with history; for a snapshot table (whose latest day is read), the API pass it comes from, because a run
    over days that do not reach today skips the snapshot table's own asset, and would then skip the metrics (a
    second table of the same pass, e.g. office hours exceptions beside the schedules: a lineage-only asset under the
    pass, since dbt needs one key per source); a table not declared (yet) by its own name."""
    spec = TABLES_BY_NAME.get(table)
    if spec is None:
        return names.asset_key(table)
    if spec.has_current_state:
        return current_key(table, names)
    return names.source_key(spec.source.name) if spec.is_record_table else _pass_child_key(spec, names)


def _pass_child_key(spec: TableSpec, names: WorkspaceNames) -> AssetKey:
    """`intercom_api/<pass>/<table>`: a snapshot table that shares its API pass with another one."""
    return AssetKey([*names.source_key(spec.source.name).path, spec.name])


def metrics_asset_key(model: str, names: WorkspaceNames = DEFAULT_NAMES) -> AssetKey:
    """`intercom/<model>` (under the workspace's prefix)."""
    return names.asset_key(model)


def metrics_group(names: WorkspaceNames = DEFAULT_NAMES) -> str:
    """`support_metrics`, or `support_metrics_<workspace>`."""
    return METRICS_GROUP if names.is_default else f"{METRICS_GROUP}_{names.name}"


class MetricsTranslator(DagsterDbtTranslator):
    """dbt sources -> the workspace's lake assets, dbt models -> `intercom/<model>` in its metrics group."""

    def __init__(self, names: WorkspaceNames = DEFAULT_NAMES) -> None:
        super().__init__()
        self.names = names

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] == "source":
            return lake_asset_key(name, self.names)
        return metrics_asset_key(name, self.names)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return metrics_group(self.names)


@cache
def metrics_project() -> DbtProject:
    """The dbt project, its manifest made when missing or stale (once per process)."""
    project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
    if _stale(project.manifest_path):
        _parse(project.manifest_path)
    return project


def _parse(manifest: Path) -> None:
    """`dbt parse` into a private folder, its manifest then renamed into place (processes may parse at once)."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="parse-", dir=manifest.parent))
    try:
        dbt_resource().cli(["parse", "--quiet"], target_path=scratch, raise_on_error=True).wait()
        os.replace(scratch / manifest.name, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    files = (path for name in _SOURCES for path in [PROJECT_DIR / name, *(PROJECT_DIR / name).rglob("*")])
    return any(path.is_file() and path.stat().st_mtime > built for path in files)


@cache
def _manifest() -> dict[str, Any]:
    """The project's manifest, parsed once per process (735 KB: every workspace's definitions and every schedule
    and catch-up tick read it)."""
    return json.loads(metrics_project().manifest_path.read_text())


def metrics_keys(names: WorkspaceNames = DEFAULT_NAMES) -> list[AssetKey]:
    """The assets of the project's marts (every model that is not inlined): what a window run refreshes."""
    manifest = _manifest()
    return sorted(metrics_asset_key(node["name"], names) for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral")


def undeclared_source_specs(names: WorkspaceNames = DEFAULT_NAMES) -> list[AssetSpec]:
    """External assets for the dbt sources no table declares yet (the metrics read their files when some exist,
    else as empty), so that the graph shows them, described, instead of stubs."""
    manifest = _manifest()
    return [AssetSpec(key=lake_asset_key(node["name"], names), group_name=metrics_group(names),
                      description=f"{node['description']} Not extracted by this code location: the support metrics "
                      "read its files under the Parquet root when there are any, else read it as empty.")
            for node in manifest["sources"].values() if node["name"] not in TABLES_BY_NAME] + [
        AssetSpec(key=_pass_child_key(spec, names), group_name=metrics_group(names),
                  deps=[names.source_key(spec.source.name)],
                  description=f"The latest snapshot of {spec.name}, as the support metrics read it (lineage only: "
                  f"the table itself is `{names.asset_key(spec.name).to_user_string()}`).")
        for spec in _metrics_snapshot_children(manifest)]


def _metrics_snapshot_children(manifest: Mapping[str, Any]) -> list[TableSpec]:
    """Snapshot tables the metrics read that share their API pass with another table (lineage-only keys)."""
    names = [node["name"] for node in manifest["sources"].values()]
    return [TABLES_BY_NAME[name] for name in names if name in TABLES_BY_NAME
            and not TABLES_BY_NAME[name].has_current_state and not TABLES_BY_NAME[name].is_record_table]


def dbt_args(root: str, office_hours_schedule: str = "") -> list[str]:
    """`dbt build` over the lake at `root` (absolute, as the storage resource holds it); the office hours schedule
    when one is named (else dbt reads INTERCOM_OFFICE_HOURS_SCHEDULE, and then takes the only or first one)."""
    variables = {"lake_root": root, **({"office_hours_schedule": office_hours_schedule} if office_hours_schedule
                                      else {})}
    return ["build", "--vars", json.dumps(variables)]


def build_metrics_assets(names: WorkspaceNames = DEFAULT_NAMES, office_hours_schedule: str = "",
                         project: DbtProject | None = None):
    """The workspace's marts as one subsettable step in its pool (it writes Parquet into its lake)."""
    project = project or metrics_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=names.qualify(METRICS_STEP),
        dagster_dbt_translator=MetricsTranslator(names),
        backfill_policy=BackfillPolicy.single_run(),
        pool=names.pool,
        required_resource_keys={DBT_RESOURCE_KEY, names.storage_resource},
    )
    def intercom_support_metrics(context: AssetExecutionContext) -> Iterator[Any]:
        """Rebuild the selected metrics from the current state."""
        dbt: DbtCliResource = getattr(context.resources, DBT_RESOURCE_KEY)
        parquet_storage: ParquetStorageResource = getattr(context.resources, names.storage_resource)
        scratch = fresh_staging_dir(parquet_storage.staging_dir)
        try:
            yield from dbt.cli(dbt_args(parquet_storage.root, office_hours_schedule), context=context,
                               target_path=scratch).stream()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return intercom_support_metrics


class VenvDbtCliResource(DbtCliResource):
    """The dbt CLI resource for the `dbt` installed beside this Python: its version is the installed dbt-core's.

    dagster-dbt asks the executable (`dbt --version`, a Python process importing dbt: about 3 s of CPU) once per
    resource, i.e. once in every run that builds the metrics; the package metadata says the same for free. This
    overrides dagster-dbt's private `_cli_version`, as it is in the version the lock pins."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource of the metrics project, with the `dbt` installed beside this Python (a venv's bin is not
    always on PATH: `.venv/bin/python -m ...`); another `dbt` on PATH is asked its version."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return VenvDbtCliResource(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, dbt_executable=str(beside))
    return DbtCliResource(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, dbt_executable="dbt")


def build_metrics(root: str, staging_dir: str | None, office_hours_schedule: str = "") -> None:
    """Rebuild every metrics file outside an asset step (the erasure job), with the workspace's office hours
    schedule as its metrics step uses it; raises when dbt fails."""
    scratch = fresh_staging_dir(staging_dir)
    try:
        dbt_resource().cli(dbt_args(root, office_hours_schedule), target_path=scratch, raise_on_error=True).wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
