"""The support metrics as Dagster assets: each mart of the dbt project in `dbt_project/` (README "Support metrics")
is one asset `intercom/<model>` in the group `support_metrics`, downstream of the lake tables it reads, with its
column descriptions. A refresh runs `dbt build` over the whole current state (models and their tests), so a
deleted, merged or erased record leaves no row in any metrics file; window runs and catch-up chunks run it after
the current-state refresh (automation/jobs.py), the erasure job after an erasure (`build_metrics`).

The manifest Dagster reads is made by `dbt parse` when the code location loads and the manifest is missing or older
than a file of the dbt project (a clean clone, CI, a model added by hand, an edit under `dagster dev`).
"""

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from intercom_assets.current_assets import current_key
from intercom_assets.keys import POOL, asset_key, source_key
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.tables import TABLES_BY_NAME, TableSpec

PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
METRICS_GROUP = "support_metrics"
METRICS_STEP = "intercom_support_metrics"
DBT_RESOURCE_KEY = "dbt"
_SOURCES = ("models", "macros", "dbt_project.yml", "profiles.yml")


def lake_asset_key(table: str) -> AssetKey:
    """The asset a dbt source stands for (the one place a dbt name becomes an asset key): the current state of a
    table with history; for a snapshot table (whose latest day is read), the API pass it comes from, because a run
    over days that do not reach today skips the snapshot table's own asset, and would then skip the metrics (a
    second table of the same pass, e.g. office hours exceptions beside the schedules: a lineage-only asset under the
    pass, since dbt needs one key per source); a table not declared (yet) by its own name."""
    spec = TABLES_BY_NAME.get(table)
    if spec is None:
        return asset_key(table)
    if spec.has_current_state:
        return current_key(table)
    return source_key(spec.source.name) if spec.is_record_table else _pass_child_key(spec)


def _pass_child_key(spec: TableSpec) -> AssetKey:
    """`intercom_api/<pass>/<table>`: a snapshot table that shares its API pass with another one."""
    return AssetKey([*source_key(spec.source.name).path, spec.name])


def metrics_asset_key(model: str) -> AssetKey:
    """`intercom/<model>`."""
    return asset_key(model)


class MetricsTranslator(DagsterDbtTranslator):
    """dbt sources -> the lake's assets, dbt models -> `intercom/<model>` in the group `support_metrics`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] == "source":
            return lake_asset_key(name)
        return metrics_asset_key(name)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return METRICS_GROUP


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


def metrics_keys() -> list[AssetKey]:
    """The assets of the project's marts (every model that is not inlined): what a window run refreshes."""
    manifest = json.loads(metrics_project().manifest_path.read_text())
    return sorted(metrics_asset_key(node["name"]) for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral")


def undeclared_source_specs() -> list[AssetSpec]:
    """External assets for the dbt sources no table declares yet (the metrics read their files when some exist,
    else as empty), so that the graph shows them, described, instead of stubs."""
    manifest = json.loads(metrics_project().manifest_path.read_text())
    return [AssetSpec(key=lake_asset_key(node["name"]), group_name=METRICS_GROUP,
                      description=f"{node['description']} Not extracted by this code location: the support metrics "
                      "read its files under the Parquet root when there are any, else read it as empty.")
            for node in manifest["sources"].values() if node["name"] not in TABLES_BY_NAME] + [
        AssetSpec(key=_pass_child_key(spec), group_name=METRICS_GROUP, deps=[source_key(spec.source.name)],
                  description=f"The latest snapshot of {spec.name}, as the support metrics read it (lineage only: "
                  f"the table itself is `{asset_key(spec.name).to_user_string()}`).")
        for spec in _metrics_snapshot_children(manifest)]


def _metrics_snapshot_children(manifest: Mapping[str, Any]) -> list[TableSpec]:
    """Snapshot tables the metrics read that share their API pass with another table (lineage-only keys)."""
    names = [node["name"] for node in manifest["sources"].values()]
    return [TABLES_BY_NAME[name] for name in names if name in TABLES_BY_NAME
            and not TABLES_BY_NAME[name].has_current_state and not TABLES_BY_NAME[name].is_record_table]


def dbt_args(root: str) -> list[str]:
    """`dbt build` over the lake at `root` (absolute, as the storage resource holds it)."""
    return ["build", "--vars", json.dumps({"lake_root": root})]


def build_metrics_assets(project: DbtProject | None = None):
    """The marts as one subsettable step in the `intercom_api` pool (it writes Parquet into the lake)."""
    project = project or metrics_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=METRICS_STEP,
        dagster_dbt_translator=MetricsTranslator(),
        backfill_policy=BackfillPolicy.single_run(),
        pool=POOL,
    )
    def intercom_support_metrics(context: AssetExecutionContext, dbt: DbtCliResource,
                                 parquet_storage: ParquetStorageResource) -> Iterator[Any]:
        """Rebuild the selected metrics from the current state."""
        scratch = fresh_staging_dir(parquet_storage.staging_dir)
        try:
            yield from dbt.cli(dbt_args(parquet_storage.root), context=context, target_path=scratch).stream()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return intercom_support_metrics


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource of the metrics project, with the `dbt` installed beside this Python (a venv's bin is not
    always on PATH: `.venv/bin/python -m ...`)."""
    beside = Path(sys.executable).parent / "dbt"
    return DbtCliResource(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR,
                          dbt_executable=str(beside) if beside.exists() else "dbt")


def build_metrics(root: str, staging_dir: str | None) -> None:
    """Rebuild every metrics file outside an asset step (the erasure job); raises when dbt fails."""
    scratch = fresh_staging_dir(staging_dir)
    try:
        dbt_resource().cli(dbt_args(root), target_path=scratch, raise_on_error=True).wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
