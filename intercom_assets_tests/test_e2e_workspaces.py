"""Two Intercom workspaces in one real `dagster dev` (the repo's dagster.yaml: queued runs, one pool per
workspace): both schedules launch runs, the two workspaces' runs overlap in time, each lake holds exactly its own
server's records, a table refused in one workspace fails only that workspace's run (its alert names it), and one
erase request by email removes the person from both lakes. `dg check defs` and `dg list defs` see the same two."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from intercom_assets.partitions import keys_between
from intercom_assets.reporting import WINDOW_TAG
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.dagster_dev import LOCATION, REPOSITORY, DagsterDev, running_dagster_dev, tail
from intercom_assets_tests.demo import REPO_ROOT
from intercom_assets_tests.intercom_server import IntercomTestServer
from intercom_assets_tests.test_assets import _expected, _stored
from intercom_assets_tests.test_workspaces import _lake_text, workspace_yaml, write_workspaces

pytestmark = pytest.mark.wall_seconds(120)  # measured in the suite; conftest.py orders and groups the modules

WINDOW_DAYS = 2
RUNS_TIMEOUT_SECONDS = 420.0
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status startTime endTime tags { key value } } }
  }
}"""
LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
INCREMENTAL = [spec for spec in TABLES if spec.has_current_state]


def _runs(dev: DagsterDev, job: str) -> list[dict]:
    data = dev.graphql(RUNS, {"filter": {"pipelineName": job}})["runsOrError"]
    assert data["__typename"] == "Runs", data
    return [{**run, "tags": {t["key"]: t["value"] for t in run["tags"]}} for run in data["results"]]


def _first_window_run(dev: DagsterDev, job: str) -> dict | None:
    """The first finished window run of the job launched by the schedule (history tables, whole window)."""
    runs = [run for run in _runs(dev, job) if run["tags"].get("intercom/trigger") == "schedule"
            and run["tags"].get("dagster/schedule_name") and run["status"] in ("SUCCESS", "FAILURE")
            and run["tags"].get(WINDOW_TAG, "").split("...")[0] != run["tags"].get(WINDOW_TAG, "").split("...")[-1]]
    return min(runs, key=lambda run: run["startTime"]) if runs else None


def _wait_until_each_has_a_run_started(dev: DagsterDev, jobs: list[str]) -> None:
    """Until every job has a run in progress at the same moment (their servers hold every request meanwhile)."""
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if all(any(run["status"] == "STARTED" for run in _runs(dev, job)) for job in jobs):
            return
        time.sleep(1)
    raise AssertionError(f"no run of each of {jobs} in progress at once within {RUNS_TIMEOUT_SECONDS:.0f} s")


def _wait_for_window_runs(dev: DagsterDev, jobs: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = {job: _first_window_run(dev, job) for job in jobs}
        if all(found.values()):
            return found  # type: ignore[return-value]
        time.sleep(3)
    raise AssertionError(f"no finished window run of each of {jobs} within {RUNS_TIMEOUT_SECONDS:.0f} s: "
                         f"{ {job: _runs(dev, job) for job in jobs} }")


def _erase(dev: DagsterDev, emails_file: Path) -> str:
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "intercom_erase_job"},
        "runConfigData": {"contact_ids": [], "emails_file": str(emails_file)},
    }
    launched = dev.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = next(r for r in _runs(dev, "intercom_erase_job") if r["runId"] == run_id)
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run["status"]
        time.sleep(2)
    raise AssertionError("the erase run did not finish")


def _dg_lists_and_checks(tmp_path: Path, env: dict[str, str], names: list[str]) -> None:
    """`dg check defs` and `dg list defs` from the repo root see the same workspaces (INTERCOM_WORKSPACES_DIR)."""
    home = tmp_path / "dg_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    venv = Path(sys.executable).parent
    full = {**os.environ, **env, "DAGSTER_HOME": str(home), "VIRTUAL_ENV": str(venv.parent),
            "PATH": f"{venv}:{os.environ.get('PATH', '')}"}
    checked = subprocess.run([str(venv / "dg"), "check", "defs"], cwd=REPO_ROOT, env=full, capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = subprocess.run([str(venv / "dg"), "list", "defs", "--json"], cwd=REPO_ROOT, env=full,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    found = json.loads(listed.stdout)
    for name in names:
        assert f"intercom_{name}/contacts" in {asset["asset_key"] for asset in found["assets"]}
        assert f"intercom_{name}_attribution_window_schedule" in {s["name"] for s in found["schedules"]}


def test_two_workspaces_through_dagster_dev(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with IntercomTestServer(token="e2e-token-eu-0123456789", seed=3, scale="small", now=now,
                            workspace_timezone="Europe/Berlin") as eu, \
         IntercomTestServer(token="e2e-token-au-0123456789", seed=9, scale="small", now=now,
                            workspace_timezone="Australia/Sydney",
                            refusals={"GET /admins/activity_logs": "forbidden"}) as au:
        # the same person in both workspaces, under one email, updated today (inside every window)
        person_eu = next(iter(eu.workspace.contacts.values()))
        person_au = next(iter(au.workspace.contacts.values()))
        email = person_eu["email"]
        au.workspace.contacts[person_au["id"]]["email"] = email
        eu.touch("contacts", person_eu["id"], now)
        au.touch("contacts", person_au["id"], now)
        roots = {"eu": tmp_path / "lake-eu", "au": tmp_path / "lake-au"}
        # the window (yesterday and today) starts on the start date: nothing older for the catch-up sensor
        common = {"start_date": (now.date() - timedelta(days=WINDOW_DAYS - 1)).isoformat(),
                  "attribution_window_days": WINDOW_DAYS,
                  "schedule_cron": "* * * * *", "automation": "on", "max_retries": 2,
                  # the run-failure alert waited for below comes within 10 s instead of 60
                  "alert_interval_seconds": 10,
                  # a YAML workspace's metrics: test_workspaces.py (here a dbt build in every window run)
                  "support_metrics": False}
        folder = write_workspaces(tmp_path / "workspaces", {
            "eu": workspace_yaml("eu", access_token_env="E2E_EU_TOKEN", base_url=eu.base_url,
                                 parquet_root=str(roots["eu"]), **common),
            "au": workspace_yaml("au", access_token_env="E2E_AU_TOKEN", base_url=au.base_url,
                                 parquet_root=str(roots["au"]), **common),
        })
        env = {"INTERCOM_WORKSPACES_DIR": str(folder), "E2E_EU_TOKEN": eu.token, "E2E_AU_TOKEN": au.token}
        _dg_lists_and_checks(tmp_path, env, ["eu", "au"])
        (tmp_path / "servers.log").write_text("(the test servers run inside the test process)\n")
        # Both servers hold every request until a run of each workspace is in progress: a run of one workspace
        # then cannot finish before the other's starts, whatever order the scheduler ticks them in (a run lasts
        # seconds at this scale); the pools must still let the two run at once.
        gates = [eu.hold_requests(), au.hold_requests()]
        with running_dagster_dev(tmp_path, env, tmp_path / "servers.log") as dev:
            try:
                _wait_until_each_has_a_run_started(dev, ["intercom_eu_job", "intercom_au_job"])
                for gate in gates:
                    gate.set()
                runs = _wait_for_window_runs(dev, ["intercom_eu_job", "intercom_au_job"])
                eu_run, au_run = runs["intercom_eu_job"], runs["intercom_au_job"]
                assert eu_run["status"] == "SUCCESS", eu_run
                assert au_run["status"] == "FAILURE", au_run  # activity_logs refused in au only
                assert "activity_logs" in au_run["tags"].get("intercom/failed_tables", ""), au_run["tags"]
                # runs of different workspaces overlap in time: each workspace's pool (one slot) holds back only
                # its own runs
                spans = {job: [(r["startTime"], r["endTime"]) for r in _runs(dev, job)
                               if r["tags"].get("intercom/trigger") == "schedule" and r["endTime"]]
                         for job in ("intercom_eu_job", "intercom_au_job")}
                assert any(a0 < b1 and b0 < a1 for a0, a1 in spans["intercom_eu_job"]
                           for b0, b1 in spans["intercom_au_job"]), spans
                for name, server, run in (("eu", eu, eu_run), ("au", au, au_run)):
                    first, last = run["tags"][WINDOW_TAG].split("...")
                    expected = _expected(server, first, last)
                    for spec in INCREMENTAL:
                        if name == "au" and spec.name == "activity_logs":
                            assert not (roots["au"] / spec.name).exists()
                            continue
                        for day in keys_between(first, last):
                            assert _stored(roots[name], spec.name, day) == expected[spec.name].get(day, set()), \
                                (name, spec.name, day)
                    assert email.lower() in _lake_text(roots[name])
                emails = tmp_path / "emails.txt"
                emails.write_text(email + "\n")
                assert _erase(dev, emails) == "SUCCESS"
                for name, person in (("eu", person_eu), ("au", person_au)):
                    text = _lake_text(roots[name])
                    contacts = json.dumps(pq.read_table(roots[name] / "contacts").to_pylist(), default=str)
                    assert email.lower() not in text and person["id"] not in contacts, name
                # the run-failure alert names its workspace (the sensor ticks every 10 s: alert_interval_seconds)
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline and '"workspace": "au"' not in dev.log.read_text(errors="replace"):
                    time.sleep(5)
                alerts = [line for line in dev.log.read_text(errors="replace").splitlines()
                          if '"kind": "run_failure"' in line]
                assert any('"workspace": "au"' in line and "[workspace au]" in line for line in alerts), \
                    alerts[-5:]
                assert not any('"workspace": "eu"' in line for line in alerts), alerts[-5:]
            except BaseException:
                print(tail(dev.log, 150))
                raise
