"""Several Intercom workspaces in one code location (IntercomWorkspace, one defs.yaml each): their names never
collide, the default workspace keeps today's names, a bad YAML file fails the load saying where and what to write,
and two workspaces extract, fail and erase independently against two test servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, build_schedule_context
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from intercom_assets.builder import build_definitions
from intercom_assets.component import load_workspaces
from intercom_assets.errors import SettingsError
from intercom_assets.lake.deletions import SUPPRESSED
from intercom_assets.partitions import keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES, TABLES, TABLES_BY_NAME
from intercom_assets_tests.conftest import TEST_NOW
from intercom_assets_tests.instances import ephemeral_instance
from intercom_assets_tests.intercom_server import IntercomTestServer
from intercom_assets_tests.test_assets import _expected, _stored

pytestmark = pytest.mark.wall_seconds(100)  # measured in the suite; it starts the longest files first

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-11-10", "2026-11-20"
INCREMENTAL = [spec for spec in DEFAULT_TABLES if spec.has_current_state]  # what runs by default


def workspace_yaml(name: str, **attributes: object) -> str:
    """A defs.yaml of one IntercomWorkspace (attribute values written as YAML/JSON scalars and lists)."""
    lines = ["type: intercom_assets.IntercomWorkspace", "attributes:", f"  name: {name}"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in attributes.items()]
    return "\n".join(lines) + "\n"


def write_workspaces(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "defs.yaml").write_text(text)
    return folder


def _names(defs) -> dict[str, list[str]]:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "keys": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
        "pools": sorted({ad.op.pool for ad in repo.assets_defs_by_key.values() if ad.is_executable}),
        "groups": sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()}),
        "resources": sorted(repo.get_top_level_resources()),
    }


def test_the_default_workspace_keeps_todays_names(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERCOM_PARQUET_ROOT", str(tmp_path / "lake"))
    names = _names(build_definitions(load_settings()))
    assert names["jobs"] == ["__ASSET_JOB", "intercom_erase_job", "intercom_job", "intercom_maintenance_job"]
    assert names["schedules"] == ["intercom_attribution_window_schedule", "intercom_maintenance_schedule"]
    assert names["sensors"] == ["intercom_catchup_sensor", "intercom_check_failure_sensor",
                                "intercom_run_failure_sensor"]
    assert names["pools"] == ["intercom_api"]
    # today's names, and the support metrics (on by default)
    assert names["groups"] == ["intercom", "intercom_api", "intercom_snapshots", "support_metrics"]
    assert names["resources"] == ["dbt", "intercom", "intercom_parquet_io_manager", "parquet_storage"]
    assert {k.split("/")[0] for k in names["keys"]} == {"intercom", "intercom_api"}
    assert {f"intercom/{spec.name}" for spec in TABLES} <= set(names["keys"])


def test_two_yaml_workspaces_have_their_own_names_pools_and_roots(tmp_path):
    folder = write_workspaces(tmp_path / "defs", {
        "eu": workspace_yaml("eu", access_token_env="EU_TOKEN", base_url="https://api.eu.intercom.io",
                             parquet_root=str(tmp_path / "eu")),
        "au": workspace_yaml("au", access_token_env="AU_TOKEN", key_prefix="intercom/au",
                             tables=["contacts", "admins"], parquet_root=str(tmp_path / "au")),
    })
    defs = load_workspaces(folder)
    names = _names(defs)
    assert names["jobs"] == ["__ASSET_JOB", "intercom_au_job", "intercom_erase_job", "intercom_eu_job",
                             "intercom_maintenance_job"]
    assert names["schedules"] == ["intercom_au_attribution_window_schedule",
                                  "intercom_eu_attribution_window_schedule", "intercom_maintenance_schedule"]
    assert names["sensors"] == [f"intercom_{ws}_{what}_sensor" for ws in ("au", "eu")
                                for what in ("catchup", "check_failure", "run_failure")]
    assert names["pools"] == ["intercom_au_api", "intercom_eu_api"]
    # the support metrics of each workspace (on by default), all run by the one dbt project's resource
    assert names["groups"] == ["intercom_au", "intercom_au_api", "intercom_au_snapshots", "intercom_eu",
                               "intercom_eu_api", "intercom_eu_snapshots", "support_metrics_au", "support_metrics_eu"]
    assert names["resources"] == ["dbt", "intercom_au", "intercom_au_parquet_io_manager", "intercom_eu",
                                  "intercom_eu_parquet_io_manager", "parquet_storage_au", "parquet_storage_eu"]
    for ws, prefix in (("eu", "intercom_eu/"), ("au", "intercom/au/")):
        assert {f"{prefix}conversation_metrics", f"{prefix}ticket_metrics"} <= set(names["keys"]), ws
        metrics = defs.resolve_assets_def(AssetKey([*prefix.strip("/").split("/"), "conversation_metrics"]))
        assert metrics.op.pool == f"intercom_{ws}_api"
    every = {spec.name for spec in TABLES}
    assert {k.removeprefix("intercom_eu/") for k in names["keys"] if k.startswith("intercom_eu/")} >= every
    assert {k.removeprefix("intercom/au/") for k in names["keys"] if k.startswith("intercom/au/")} >= every
    assert not any(k.startswith("intercom/") and not k.startswith("intercom/au") for k in names["keys"])
    # each storage resource points at its own root
    resources = defs.resources
    assert resources["parquet_storage_eu"].root == str(tmp_path / "eu")
    assert resources["parquet_storage_au"].root == str(tmp_path / "au")


def test_a_named_workspace_defaults_to_its_own_root_and_prefix(tmp_path):
    defs = load_workspaces(write_workspaces(tmp_path / "defs", {"us": workspace_yaml("us", access_token_env="T")}))
    resources = defs.resources
    assert resources["parquet_storage_us"].root == os.path.abspath("data/intercom_us")
    assert "intercom_us/contacts" in _names(defs)["keys"]


GOOD = {"access_token_env": "EU_TOKEN"}
BAD = [
    ("unknown table", {"eu": workspace_yaml("eu", **GOOD, tables=["contacts", "contcts"])},
     "eu", "attributes.tables", "unknown tables ['contcts']: use names from contacts, users"),
    ("unknown key", {"eu": workspace_yaml("eu", **GOOD, scheduel_cron="*/5 * * * *")},
     "eu", "attributes.scheduel_cron", "unknown attribute; did you mean `schedule_cron`?"),
    ("a token in the YAML", {"eu": workspace_yaml("eu", **GOOD, access_token="secret-value")},
     "eu", "attributes.access_token", "set `access_token_env` to the variable that holds it"),
    ("no access_token_env", {"eu": workspace_yaml("eu")},
     "eu", "attributes.access_token_env", "e.g. `access_token_env: INTERCOM_EU_ACCESS_TOKEN`"),
    ("same key prefix", {"eu": workspace_yaml("eu", **GOOD, key_prefix="intercom"),
                         "us": workspace_yaml("us", **GOOD, key_prefix="intercom")},
     "us", "attributes.key_prefix", "'intercom' is also the key_prefix of"),
    ("nested key prefix", {"eu": workspace_yaml("eu", **GOOD, key_prefix="intercom"),
                           "us": workspace_yaml("us", **GOOD, key_prefix="intercom/us")},
     "us", "attributes.key_prefix", "nests with 'intercom', the key_prefix of"),
    ("same root", {"eu": workspace_yaml("eu", **GOOD, parquet_root="/tmp/lake"),
                   "us": workspace_yaml("us", **GOOD, parquet_root="/tmp/lake")},
     "us", "attributes.parquet_root", "give each workspace its own parquet_root (e.g. `parquet_root: data/"),
    ("same name, so the same pool", {"eu": workspace_yaml("eu", **GOOD), "us": workspace_yaml("eu", **GOOD)},
     "us", "attributes.name", "'eu' is also the name of"),
    ("bad cron", {"eu": workspace_yaml("eu", **GOOD, schedule_cron="every day")},
     "eu", "attributes.schedule_cron", "is not a valid cron expression (e.g. '*/30 * * * *')"),
]


@pytest.mark.parametrize(("case", "files", "culprit", "key", "message"), BAD, ids=[case[0] for case in BAD])
def test_a_bad_yaml_fails_the_load_naming_the_file_the_key_and_the_fix(tmp_path, case, files, culprit, key,
                                                                       message):
    folder = write_workspaces(tmp_path / "defs", files)
    with pytest.raises(SettingsError) as raised:
        load_workspaces(folder)
    text = str(raised.value)
    assert text.startswith(f"{folder / culprit / 'defs.yaml'}: {key}: "), text
    assert message in text
    assert "secret-value" not in text


def test_an_unset_token_variable_skips_the_workspace_schedule_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("EU_TOKEN_UNSET", raising=False)
    defs = load_workspaces(write_workspaces(tmp_path / "defs", {
        "eu": workspace_yaml("eu", access_token_env="EU_TOKEN_UNSET", parquet_root=str(tmp_path / "eu")),
    }))
    schedule = defs.resolve_schedule_def("intercom_eu_attribution_window_schedule")
    with ephemeral_instance() as instance:
        result = schedule.evaluate_tick(build_schedule_context(instance=instance))
    assert result.run_requests == [] or result.run_requests is None
    assert "EU_TOKEN_UNSET is not set" in (result.skip_message or "")


@pytest.fixture
def two_servers() -> Iterator[tuple[IntercomTestServer, IntercomTestServer]]:
    """Two workspaces: other seeds and time zones; the second refuses the activity log (a missing scope)."""
    with IntercomTestServer(token="token-eu-0123456789", seed=1, scale="small", now=TEST_NOW,
                            workspace_timezone="Europe/Berlin") as eu, \
         IntercomTestServer(token="token-au-0123456789", seed=7, scale="small", now=TEST_NOW,
                            workspace_timezone="Australia/Sydney",
                            refusals={"GET /admins/activity_logs": "forbidden"}) as au:
        yield eu, au


def _in_window(server: IntercomTestServer) -> dict:
    """A contact updated inside the test range (so the range run stores it)."""
    expected = _expected(server, FIRST, LAST)["contacts"]
    ids = sorted(i for day in sorted(expected) for i in expected[day])
    return server.workspace.contacts[ids[0]]


def _lake_text(root: Path) -> str:
    """Every value of every Parquet file under the root but the suppression list, as one lower-case text."""
    parts = []
    for path in sorted(root.rglob("*.parquet")):
        if path != root / SUPPRESSED:
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return "\n".join(parts).lower()


def test_two_workspaces_extract_fail_and_erase_on_their_own(two_servers, tmp_path, monkeypatch, today):
    eu, au = two_servers
    # one person in both workspaces, under the same email
    person_eu, person_au = _in_window(eu), _in_window(au)
    email = person_eu["email"]
    au.workspace.contacts[person_au["id"]]["email"] = email  # a top-level edit writes through (see INTERFACES.md)
    assert au.workspace.contacts[person_au["id"]]["email"] == email
    monkeypatch.setenv("WS_EU_TOKEN", eu.token)
    monkeypatch.setenv("WS_AU_TOKEN", au.token)
    roots = {"eu": tmp_path / "lake-eu", "au": tmp_path / "lake-au"}
    common = {"start_date": "2026-06-01", "automation": "off", "max_retries": 2}
    defs = load_workspaces(write_workspaces(tmp_path / "defs", {
        "eu": workspace_yaml("eu", access_token_env="WS_EU_TOKEN", base_url=eu.base_url,
                             parquet_root=str(roots["eu"]), **common),
        # the support metrics: eu's (the default) in its own lake, none for au
        "au": workspace_yaml("au", access_token_env="WS_AU_TOKEN", base_url=au.base_url,
                             parquet_root=str(roots["au"]), support_metrics=False, **common),
    }))
    tags = {ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: LAST}
    with ephemeral_instance() as instance:
        ok = defs.resolve_job_def("intercom_eu_job").execute_in_process(instance=instance, tags=tags)
        refused = defs.resolve_job_def("intercom_au_job").execute_in_process(instance=instance, tags=tags,
                                                                            raise_on_error=False)
        assert ok.success
        assert not refused.success  # activity_logs refused; every other au table committed (below)
        for name, server, result in (("eu", eu, ok), ("au", au, refused)):
            expected = _expected(server, FIRST, LAST)
            for spec in INCREMENTAL:
                if name == "au" and spec.name == "activity_logs":
                    assert not (roots["au"] / "activity_logs").exists()
                    continue
                for day in keys_between(FIRST, LAST):
                    assert _stored(roots[name], spec.name, day) == expected[spec.name].get(day, set()), \
                        (name, spec.name, day)
            materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
            assert {key.split("/")[0] for key in materialized} == {f"intercom_{name}"}
        assert _expected(eu, FIRST, LAST)["contacts"] != _expected(au, FIRST, LAST)["contacts"]
        eu_metrics = {e.asset_key.to_user_string() for e in ok.get_asset_materialization_events()
                      if e.asset_key.path[-1] == "conversation_metrics"}
        assert eu_metrics == {"intercom_eu/conversation_metrics"}
        assert pq.read_table(roots["eu"] / "metrics" / "conversation_metrics" / "part-0.parquet").num_rows > 0
        assert not (roots["au"] / "metrics").exists()
        for name, person in (("eu", person_eu), ("au", person_au)):
            text = _lake_text(roots[name])
            assert person["id"].lower() in text and email.lower() in text
        # one erase request by email reaches both lakes; each keeps its own suppression list
        emails = tmp_path / "emails.txt"
        emails.write_text(email + "\n")
        erased = defs.resolve_job_def("intercom_erase_job").execute_in_process(
            instance=instance, run_config={"contact_ids": [], "emails_file": str(emails)})
        assert erased.success
        stored_config = instance.get_run_by_id(erased.run_id).run_config
        assert email not in json.dumps(stored_config)
    for name, person, other in (("eu", person_eu, person_au), ("au", person_au, person_eu)):
        text = _lake_text(roots[name])
        assert email.lower() not in text, name
        suppressed = set(pq.read_table(roots[name] / SUPPRESSED).column("id").to_pylist())
        assert person["id"] in suppressed and other["id"] not in suppressed, name
        rows = pq.read_table(roots[name] / "deleted_records").to_pylist()
        assert {r["id"] for r in rows if r["reason"] == "erased"} == {person["id"]}, name
    assert TABLES_BY_NAME["contacts"].key == ("id",)


def test_dg_lists_and_checks_two_workspaces_and_names_a_bad_file(tmp_path):
    """`dg list defs` and `dg check defs` in a dg project whose defs folder holds two IntercomWorkspace files."""
    project = tmp_path / "project"
    package = project / "wsproject"
    write_workspaces(package / "defs", {
        "eu": workspace_yaml("eu", access_token_env="EU_TOKEN", parquet_root=str(tmp_path / "eu")),
        "au": workspace_yaml("au", access_token_env="AU_TOKEN", parquet_root=str(tmp_path / "au")),
    })
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nfrom intercom_assets.component import load_workspaces\n\n"
        "defs = load_workspaces(Path(__file__).parent / 'defs')\n")
    (project / "pyproject.toml").write_text(
        '[tool.dg]\ndirectory_type = "project"\n\n[tool.dg.project]\nroot_module = "wsproject"\n'
        'code_location_target_module = "wsproject.definitions"\n')
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    venv = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(project), "DAGSTER_HOME": str(home), "VIRTUAL_ENV": str(venv.parent),
           "PATH": f"{venv}:{os.environ.get('PATH', '')}"}

    def dg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "dg"), *args], cwd=project, env=env, capture_output=True, text=True,
                              timeout=300)

    checked = dg("check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]
    assert "All component YAML validated successfully" in checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    found = json.loads(listed.stdout)
    keys = {asset["asset_key"] for asset in found["assets"]}
    for ws in ("eu", "au"):
        assert {f"intercom_{ws}/{spec.name}" for spec in TABLES} <= keys
        # each workspace's definitions say which file declared them
        assert {a["source"] for a in found["assets"] if a["asset_key"].startswith(f"intercom_{ws}/")} == {
            f"wsproject/defs/{ws}/defs.yaml:1"}
    assert {job["name"] for job in found["jobs"]} >= {"intercom_eu_job", "intercom_au_job", "intercom_erase_job"}
    assert {s["name"] for s in found["schedules"]} >= {"intercom_eu_attribution_window_schedule",
                                                        "intercom_au_attribution_window_schedule"}
    # a bad file: the load fails naming it, the attribute and the fix
    (package / "defs" / "au" / "defs.yaml").write_text(
        workspace_yaml("au", access_token_env="AU_TOKEN", tables=["contcts"]))
    bad = dg("check", "defs")
    assert bad.returncode != 0
    assert f"{package / 'defs' / 'au' / 'defs.yaml'}: attributes.tables: " in bad.stdout + bad.stderr


def test_each_workspace_prunes_its_own_old_runs_in_its_own_pool(tmp_path):
    """The maintenance job has a prune op per workspace, in that workspace's pool, with its own retention (the last
    one compacts SQLite); each op deletes only its workspace's runs, the first also those of no workspace."""
    from datetime import UTC, datetime, timedelta

    from dagster import DagsterRun, DagsterRunStatus

    from intercom_assets.automation.maintenance import prune_instance
    from intercom_assets.automation.maintenance_job import run_owner
    from intercom_assets.keys import WorkspaceNames

    folder = write_workspaces(tmp_path / "defs", {
        "eu": workspace_yaml("eu", access_token_env="EU_TOKEN", parquet_root=str(tmp_path / "eu"),
                             run_retention_days=3),
        "au": workspace_yaml("au", access_token_env="AU_TOKEN", key_prefix="intercom/au",
                             parquet_root=str(tmp_path / "au"), run_retention_days=10),
    })
    job = load_workspaces(folder).resolve_job_def("intercom_maintenance_job")
    assert {node.name: node.pool for node in job.graph.node_defs if "prune" in node.name} == {
        "intercom_au_prune_instance": "intercom_au_api", "intercom_eu_prune_instance": "intercom_eu_api"}
    assert job.run_config == {"ops": {
        "intercom_au_prune_instance": {"config": {"retention_days": 10, "vacuum": False}},
        "intercom_eu_prune_instance": {"config": {"retention_days": 3, "vacuum": True}}}}

    au, eu = WorkspaceNames("au", "intercom/au"), WorkspaceNames("eu", "intercom_eu")
    with ephemeral_instance() as instance:
        for run_id, job_name in (("eu-run", "intercom_eu_job"), ("au-run", "intercom_au_job"),
                                 ("erase-run", "intercom_erase_job")):
            instance.add_run(DagsterRun(job_name=job_name, run_id=run_id, status=DagsterRunStatus.SUCCESS))
        later = datetime.now(UTC) + timedelta(days=30)
        report = prune_instance(instance, later, 3, run_vacuum=False, owns=lambda r: run_owner(r, [au, eu]) == eu)
        assert report.runs_deleted == 1 and {r.run_id for r in instance.get_runs()} == {"au-run", "erase-run"}
        report = prune_instance(instance, later, 10, run_vacuum=False, owns=lambda r: run_owner(r, [au, eu]) == au)
        assert report.runs_deleted == 2 and instance.get_runs() == []


def test_alerts_name_the_workspace_and_scrub_its_token(monkeypatch):
    from types import SimpleNamespace

    from dagster import AssetKey

    from intercom_assets.automation.alert_sensors import runs_of, workspace_alert
    from intercom_assets.automation.alerts import Alert, alert_payload
    from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames

    eu, au = WorkspaceNames("eu", "intercom_eu"), WorkspaceNames("au", "intercom/au")
    monkeypatch.setenv("EU_TOKEN_FOR_ALERTS", "eu-secret-token-0123")
    alert = workspace_alert(Alert("run_failure", "ERROR", "Run 1 failed: eu-secret-token-0123 leaked"), eu)
    payload = alert_payload(alert, secret_variables=["EU_TOKEN_FOR_ALERTS"])
    assert payload["workspace"] == "eu" and payload["summary"].startswith("[workspace eu] Run 1 failed")
    assert "eu-secret-token-0123" not in json.dumps(payload)
    assert workspace_alert(alert, DEFAULT_NAMES) is alert  # the one default workspace: unchanged alerts

    def run(job: str, *keys: str) -> SimpleNamespace:
        return SimpleNamespace(job_name=job, asset_selection={AssetKey(k.split("/")) for k in keys} or None)

    assert runs_of(eu, run("intercom_eu_job"), ())
    assert not runs_of(eu, run("intercom_au_job"), ())
    assert runs_of(au, run("__ASSET_JOB", "intercom/au/contacts"), ())
    assert not runs_of(eu, run("__ASSET_JOB", "intercom/au/contacts"), ())
    assert runs_of(eu, run("intercom_erase_job"), ["intercom_erase_job"])
    assert not runs_of(au, run("intercom_erase_job"), ())
    assert runs_of(DEFAULT_NAMES, run("intercom_au_job"), ())
