"""The deployment files, checked with what works offline (there is no cluster, no Docker engine, no chart here).

deploy/dagster.yaml is validated by Dagster's own instance-config loader; the Helm values by their YAML structure
and by rendering the K8sRunLauncher section the way the chart's template does, then validating that against
dagster-k8s's config schema; the Dockerfile by what it installs and serves. These tests cannot show that the chart
installs or that the image builds: see deploy/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher

from intercom_assets.automation.schedules import TOKEN_VARIABLE
from intercom_assets.keys import POOL

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PG_VARIABLES = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")


@pytest.fixture
def values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


@pytest.fixture
def instance_yaml() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def test_production_instance_config_is_valid_for_dagster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    for name in PG_VARIABLES:
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_production_instance_reads_every_secret_from_the_environment(instance_yaml: dict[str, Any]) -> None:
    database = instance_yaml["storage"]["postgres"]["postgres_db"]
    for field in ("hostname", "port", "username", "password", "db_name"):
        assert isinstance(database[field], dict) and database[field]["env"].startswith("DAGSTER_PG_"), field
    assert database["scheme"] == "postgresql+psycopg2"


def test_production_limits_match_the_development_instance(instance_yaml: dict[str, Any]) -> None:
    """The pool and run limits were decided once (repo dagster.yaml); production must not drift from them."""
    development = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert instance_yaml["concurrency"] == development["concurrency"]
    assert instance_yaml["run_monitoring"] == development["run_monitoring"]
    assert POOL == "intercom_api"


def test_retention_purges_skipped_sensor_ticks(instance_yaml: dict[str, Any], values: dict[str, Any]) -> None:
    sensor = instance_yaml["retention"]["sensor"]["purge_after_days"]
    assert sensor["skipped"] == 1
    assert values["retention"]["enabled"] is True
    assert values["retention"]["sensor"]["purgeAfterDays"] == sensor
    assert values["retention"]["schedule"]["purgeAfterDays"] == instance_yaml["retention"]["schedule"][
        "purge_after_days"]


def test_helm_values_mirror_the_production_instance(values: dict[str, Any], instance_yaml: dict[str, Any]) -> None:
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"]["defaultLimit"] == instance_yaml["concurrency"]["pools"]["default_limit"]
    assert concurrency["pools"]["granularity"] == instance_yaml["concurrency"]["pools"]["granularity"]
    assert concurrency["runs"]["maxConcurrentRuns"] == instance_yaml["concurrency"]["runs"]["max_concurrent_runs"]
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] and daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    # The chart refuses max_concurrent_runs in both places.
    assert "maxConcurrentRuns" not in daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert daemon["runMonitoring"]["enabled"] is True
    assert values["postgresql"]["postgresqlHost"] and values["global"]["postgresqlSecretName"]


def _user_deployment(values: dict[str, Any]) -> dict[str, Any]:
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1
    return deployments[0]


def test_user_code_deployment_serves_the_module_with_the_s3_root_and_the_secret(values: dict[str, Any]) -> None:
    deployment = _user_deployment(values)
    pyproject = (REPO / "pyproject.toml").read_text()
    module = re.search(r'module_name = "([^"]+)"', pyproject).group(1)
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    # the workspaces the image carries (Dockerfile) are the ones the code location serves, each on S3
    assert re.search(rf"^COPY deploy/workspaces {re.escape(env['INTERCOM_WORKSPACES_DIR'])}$",
                     (DEPLOY / "Dockerfile").read_text(), flags=re.MULTILINE)
    workspaces = [yaml.safe_load(path.read_text())["attributes"]
                  for path in sorted((DEPLOY / "workspaces").glob("*/defs.yaml"))]
    assert len(workspaces) >= 2
    assert all(ws["parquet_root"].startswith("s3://") for ws in workspaces)
    token_variables = [ws["access_token_env"] for ws in workspaces]
    assert len(set(token_variables)) == len(workspaces)
    for variable in (TOKEN_VARIABLE, *token_variables):
        assert variable not in env, "a token comes from a Kubernetes secret, never from values"
    assert not any("AWS_SECRET" in name or "PASSWORD" in name for name in env)
    secrets = [item["name"] for item in deployment["envSecrets"]]
    assert secrets == [item["name"] for item in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def render_k8s_run_launcher(values: dict[str, Any], namespace: str = "intercom") -> dict[str, Any]:
    """The `run_launcher.config` the chart's _run-launcher.tpl writes into dagster.yaml for these values."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    dagster_home = values.get("global", {}).get("dagsterHome", "/opt/dagster/dagster_home")
    config: dict[str, Any] = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or namespace,
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": "dagster",
        "dagster_home": dagster_home,
        "instance_config_map": "dagster-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    renamed = {"envConfigMaps": "env_config_maps", "envSecrets": "env_secrets"}
    for key, target in renamed.items():
        if launcher.get(key):
            config[target] = [item["name"] for item in launcher[key] if "name" in item]
    for key, target in {"envVars": "env_vars", "volumeMounts": "volume_mounts", "volumes": "volumes",
                        "labels": "labels", "resources": "resources", "securityContext": "security_context",
                        "schedulerName": "scheduler_name", "kubeconfigFile": "kubeconfig_file"}.items():
        if launcher.get(key):
            config[target] = launcher[key]
    k8s = launcher.get("runK8sConfig") or {}
    parts = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
             "podTemplateSpecMetadata": "pod_template_spec_metadata", "jobSpecConfig": "job_spec_config",
             "jobMetadata": "job_metadata"}
    if k8s:
        config["run_k8s_config"] = {parts[key]: value for key, value in k8s.items()}
    return config


def test_run_launcher_config_validates_against_dagster_k8s(values: dict[str, Any]) -> None:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    rendered = render_k8s_run_launcher(values)
    result = process_config(K8sRunLauncher.config_type(), rendered)
    assert result.success, [error.message for error in result.errors]
    assert rendered["env_secrets"] == ["intercom-secrets"]


def test_run_launcher_check_can_fail(values: dict[str, Any]) -> None:
    """The schema check is real: a misspelt key in the rendered config is refused."""
    rendered = {**render_k8s_run_launcher(values), "env_secret": ["intercom-secrets"]}
    assert not process_config(K8sRunLauncher.config_type(), rendered).success


def test_dockerfile_installs_what_the_instance_and_the_root_need() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11"), "the project supports Python 3.11 (setup.py)"
    install = next(line for line in instructions if "pip install" in line and "[" in line)
    extras = set(re.search(r"\[([a-z0-9,_-]+)\]", install).group(1).split(","))
    assert {"s3", "postgres", "k8s"} <= extras
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (REPO / source).exists(), source
    cmd = yaml.safe_load(re.search(r"^CMD (.+)$", dockerfile, flags=re.MULTILINE).group(1))
    assert cmd[:3] == ["dagster", "api", "grpc"]
    assert cmd[cmd.index("-p") + 1] == str(_user_deployment(yaml.safe_load(
        (DEPLOY / "helm" / "values.yaml").read_text()))["port"])
    assert cmd[cmd.index("-m") + 1] == "intercom_assets.definitions"


def test_the_deployed_workspaces_load_as_one_code_location(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/workspaces/ is a valid set of IntercomWorkspace files: distinct names, pools and roots."""
    from intercom_assets.component import load_workspaces

    defs = load_workspaces(DEPLOY / "workspaces")
    repo = defs.get_repository_def()
    names = [path.parent.name for path in sorted((DEPLOY / "workspaces").glob("*/defs.yaml"))]
    assert {job.name for job in repo.get_all_jobs()} >= {f"intercom_{name}_job" for name in names}
    pools = {ad.op.pool for ad in repo.assets_defs_by_key.values() if ad.is_executable}
    assert pools == {f"intercom_{name}_api" for name in names}
    roots = {defs.resources[f"parquet_storage_{name}"].root for name in names}
    assert len(roots) == len(names)
