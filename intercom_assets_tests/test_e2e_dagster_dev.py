"""End to end through the real `dagster dev`: the webserver, the daemons, a UI-style backfill, Parquet on disk.

Unit tests run assets in-process; only this test proves that the pieces an operator uses fit together: the
workspace loads, the backfill daemon turns `launchPartitionBackfill` into one single-run backfill, the run writes
every table's partitions, and the schedule and sensors are served by the code location.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from intercom_assets.tables import TABLES
from intercom_assets_tests.demo import DEMO_TOKEN, REPO_ROOT, bundled_server, spawn_group, stop_process_group

LOCATION = "intercom_assets"
REPOSITORY = "__repository__"
DAYS = 3
STARTUP_TIMEOUT_SECONDS = 180.0
BACKFILL_TIMEOUT_SECONDS = 300.0
SCHEDULE = "intercom_attribution_window_schedule"
CATCHUP_SENSOR = "intercom_catchup_sensor"
SENSORS = (CATCHUP_SENSOR, "intercom_run_failure_sensor", "intercom_check_failure_sensor")
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@dataclass
class DagsterDev:
    """A running `dagster dev` and where to look when something goes wrong."""

    url: str
    parquet_root: Path
    log: Path
    server_log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def diagnostics(self) -> str:
        return f"--- dagster dev log (tail) ---\n{_tail(self.log)}\n--- test server log ---\n{_tail(self.server_log)}"


def _tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(dev: DagsterDev, process: subprocess.Popen) -> None:
    """Wait for /server_info, then for the code location to be LOADED (the webserver answers before that)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    query = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {process.returncode}\n{dev.diagnostics()}")
        try:
            if requests.get(f"{dev.url}/server_info", timeout=5).ok:
                entries = dev.graphql(query)["workspaceOrError"]["locationEntries"]
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                if entry and entry["loadStatus"] == "LOADED":
                    loaded = entry["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", f"{loaded}\n{dev.diagnostics()}"
                    return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"dagster dev not ready within {STARTUP_TIMEOUT_SECONDS:.0f} s\n{dev.diagnostics()}")


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[DagsterDev]:
    """`dagster dev` with its own DAGSTER_HOME, automation off, against the test server; stopped as a group."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    today = datetime.now(UTC).date()
    port = _free_port()
    dev = DagsterDev(f"http://127.0.0.1:{port}", tmp_path / "parquet", tmp_path / "dagster-dev.log",
                     tmp_path / "server.log")
    with bundled_server(dev.server_log) as api_url:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "INTERCOM_ACCESS_TOKEN": DEMO_TOKEN,
            "INTERCOM_BASE_URL": api_url,
            "INTERCOM_PARQUET_ROOT": str(dev.parquet_root),
            "INTERCOM_START_DATE": (today - timedelta(days=10)).isoformat(),
            "INTERCOM_AUTOMATION": "off",
        }
        command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
                   "-p", str(port)]
        with open(dev.log, "ab") as log:
            process = spawn_group(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            started = time.monotonic()
            _wait_until_up(dev, process)
            print(f"dagster dev ready in {time.monotonic() - started:.0f} s")
            yield dev
        finally:
            stop_process_group(process, timeout=30)


@contextmanager
def _explain_failure(dev: DagsterDev) -> Iterator[None]:
    """On any failure print the logs of dagster dev and the server: the assertion alone rarely says why."""
    try:
        yield
    except BaseException:
        print(dev.diagnostics())
        raise


LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status numPartitions error { message } runs(limit: 10) { runId status tags { key value } }
    }
    ... on Error { message }
  }
}"""

INSTIGATORS = """
query Instigators($selector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $selector) {
    __typename
    ... on Schedules { results { name cronSchedule scheduleState { status } } }
    ... on Error { message }
  }
  sensorsOrError(repositorySelector: $selector) {
    __typename
    ... on Sensors { results { name sensorState { status } } }
    ... on Error { message }
  }
}"""


def _wait_for_backfill(dev: DagsterDev, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        backfill = dev.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in FINISHED:
            return backfill
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} not finished within {BACKFILL_TIMEOUT_SECONDS:.0f} s: {backfill}")


def test_ui_backfill_of_every_table_through_dagster_dev(dagster_dev: DagsterDev) -> None:
    """Launch what the UI launches for 3 days of all 13 tables, and find every file the run should write."""
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=offset)).isoformat() for offset in reversed(range(DAYS))]
    tables = [spec.name for spec in TABLES]
    assert len(tables) == 13
    with _explain_failure(dagster_dev):
        params = {
            "assetSelection": [{"path": ["intercom", table]} for table in tables],
            "partitionNames": days,
            "fromFailure": False,
            "title": "e2e backfill",
        }
        launched = dagster_dev.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched

        started = time.monotonic()
        backfill = _wait_for_backfill(dagster_dev, launched["backfillId"])
        print(f"backfill {launched['backfillId']} {backfill['status']} in {time.monotonic() - started:.0f} s")
        assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, backfill
        assert len(backfill["runs"]) == 1, f"expected one single-run backfill, got {backfill['runs']}"
        run = backfill["runs"][0]
        assert run["status"] == "SUCCESS", run
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert tags.get("dagster/asset_partition_range_start") == days[0], tags
        assert tags.get("dagster/asset_partition_range_end") == days[-1], tags

        root = dagster_dev.parquet_root
        for table in tables:
            for day in days:
                path = root / table / f"date={day}" / "part-0.parquet"
                assert path.is_file(), f"missing {path}"
            glob = str(root / table / "*" / "*.parquet")
            stored_days = duckdb.sql(
                f"SELECT DISTINCT CAST(date AS VARCHAR) FROM read_parquet('{glob}', hive_partitioning=true)"
            ).fetchall()
            count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)").fetchall()[0]
            on_disk = sum(pq.ParquetFile(file).metadata.num_rows for file in (root / table).glob("*/*.parquet"))
            assert count == (on_disk,), (table, count, on_disk)
            assert {row[0] for row in stored_days} <= set(days), (table, stored_days)
        admins = str(root / "admins" / f"date={today.isoformat()}" / "part-0.parquet")
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{admins}')").fetchall()[0][0] > 0

        selector = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
        data = dagster_dev.graphql(INSTIGATORS, {"selector": selector})
        schedules = data["schedulesOrError"]
        sensors = data["sensorsOrError"]
        assert schedules["__typename"] == "Schedules", schedules
        assert sensors["__typename"] == "Sensors", sensors
        schedule_names = {s["name"]: s for s in schedules["results"]}
        sensor_names = {s["name"]: s for s in sensors["results"]}
        assert SCHEDULE in schedule_names, sorted(schedule_names)
        for sensor in SENSORS:
            assert sensor in sensor_names, (sensor, sorted(sensor_names))
        # INTERCOM_AUTOMATION=off stops what launches runs; the alerting sensors stay on.
        assert schedule_names[SCHEDULE]["scheduleState"]["status"] == "STOPPED", schedule_names[SCHEDULE]
        assert sensor_names[CATCHUP_SENSOR]["sensorState"]["status"] == "STOPPED", sensor_names[CATCHUP_SENSOR]
