"""A real `dagster dev` for end-to-end tests: own DAGSTER_HOME, own port, its own process group, GraphQL access.

Shared by the end-to-end, crash-safety and overlap tests so that all of them start, drive and stop Dagster the same
way, and the way `make dev` does (dev.py): the same command, in its own process group, stopped by
`stop_dagster_dev`, which launches nothing more and leaves no process of the group (a leftover would keep the port
and the pool slot).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from intercom_assets_tests.demo import DEMO_TOKEN, REPO_ROOT, bundled_server, spawn_group
from intercom_assets_tests.dev import dagster_dev_command, stop_dagster_dev

LOCATION = "intercom_assets"
REPOSITORY = "__repository__"
STARTUP_TIMEOUT_SECONDS = 180.0
BACKFILL_TIMEOUT_SECONDS = 300.0
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def post_graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """One GraphQL call to a Dagster webserver, as the UI makes it; GraphQL errors fail the test."""
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@dataclass
class DagsterDev:
    """A running `dagster dev` and where to look when something goes wrong."""

    url: str
    parquet_root: Path
    log: Path
    server_log: Path
    home: Path | None = None
    pid: int | None = None

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return post_graphql(self.url, query, variables)

    def diagnostics(self) -> str:
        return f"--- dagster dev log (tail) ---\n{tail(self.log)}\n--- test server log ---\n{tail(self.server_log)}"

    def owns_process(self, pid: int) -> bool:
        """Whether pid is a descendant of this `dagster dev` (so a test signals only processes it started)."""
        if self.pid is None:
            return False
        try:
            return pid in {child.pid for child in psutil.Process(self.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return False


def tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    """A free port for a server that binds it later (`dagster dev`, PostgreSQL, an S3 server), taken below the
    kernel's ephemeral range: every outgoing connection of the suite takes its source port from that range, so a
    port found free there by `bind(0)` was once taken by one of them before the server started, and the webserver
    failed with "address already in use"."""
    try:
        first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768  # Linux's default range starts there
    low = min(20000, first_ephemeral // 2)
    for port in random.sample(range(low, first_ephemeral), k=min(500, first_ephemeral - low)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port between {low} and {first_ephemeral}")


LOCATION_STATUS = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_for_code_location(url: str, graphql: Callable[[str], dict[str, Any]], processes: list[subprocess.Popen],
                           diagnostics: Callable[[], str], timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
    """Wait for /server_info, then for the code location to be LOADED (the webserver answers before that)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args} exited with {process.returncode}\n{diagnostics()}")
        try:
            if requests.get(f"{url}/server_info", timeout=5).ok:
                entries = graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                if entry and entry["loadStatus"] == "LOADED":
                    loaded = entry["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", f"{loaded}\n{diagnostics()}"
                    return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"the webserver was not ready within {timeout:.0f} s\n{diagnostics()}")


@contextmanager
def running_dagster_dev(workdir: Path, intercom_env: Mapping[str, str], server_log: Path,
                        dagster_yaml: str | None = None) -> Iterator[DagsterDev]:
    """`dagster dev` on a free port with DAGSTER_HOME and the Parquet root under workdir; stopped as a group.

    `dagster_yaml` replaces the repo's dagster.yaml in that DAGSTER_HOME (tests that need shorter intervals).
    The support metrics are off unless `intercom_env` turns them on: none of these tests is about them (their dbt
    build, in every window run, is covered by test_metrics*.py and test_erasure.py), and the build and dbt's import
    in every process that loads the code location cost each run seconds of CPU.
    """
    home = workdir / "dagster_home"
    home.mkdir()
    if dagster_yaml is None:
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(dagster_yaml)
    port = free_port()
    dev = DagsterDev(f"http://127.0.0.1:{port}", workdir / "parquet", workdir / "dagster-dev.log", server_log, home)
    env = {**os.environ, "INTERCOM_SUPPORT_METRICS": "off", **intercom_env, "DAGSTER_HOME": str(home),
           "INTERCOM_PARQUET_ROOT": str(dev.parquet_root)}
    with open(dev.log, "ab") as log:
        process = spawn_group(dagster_dev_command(port), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    dev.pid = process.pid
    try:
        started = time.monotonic()
        wait_for_code_location(dev.url, dev.graphql, [process], dev.diagnostics)
        print(f"dagster dev ready in {time.monotonic() - started:.0f} s")
        yield dev
    finally:
        stop_dagster_dev(process, timeout=30)


@contextmanager
def bundled_dagster_dev(workdir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[DagsterDev]:
    """`dagster dev` with its own DAGSTER_HOME, automation off, against the bundled test server."""
    today = datetime.now(UTC).date()
    server_log = workdir / "server.log"
    with bundled_server(server_log) as api_url:
        env = {
            "INTERCOM_ACCESS_TOKEN": DEMO_TOKEN,
            "INTERCOM_BASE_URL": api_url,
            "INTERCOM_START_DATE": (today - timedelta(days=10)).isoformat(),
            "INTERCOM_AUTOMATION": "off",
            **(extra_env or {}),
        }
        with running_dagster_dev(workdir, env, server_log) as dev:
            yield dev


@pytest.fixture(name="dagster_dev")
def dagster_dev_fixture(tmp_path: Path) -> Iterator[DagsterDev]:
    """`dagster dev` against the bundled test server; stopped as a group."""
    with bundled_dagster_dev(tmp_path) as dev:
        yield dev


@contextmanager
def explain_failure(dev: DagsterDev) -> Iterator[None]:
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


def backfill(dev: DagsterDev, tables: list[str], days: list[str], title: str) -> dict[str, Any]:
    """What the UI launches for a partition backfill of these tables over these days; waits until it ends."""
    return wait_for_backfill(dev, launch_backfill(dev, tables, days, title))


def launch_backfill(dev: DagsterDev, tables: list[str], days: list[str], title: str) -> str:
    """Launch what the UI launches for a partition backfill of these tables over these days; its id."""
    params = {
        "assetSelection": [{"path": ["intercom", table]} for table in tables],
        "partitionNames": days,
        "fromFailure": False,
        "title": title,
    }
    launched = dev.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def wait_for_backfill(dev: DagsterDev, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        backfill = dev.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in FINISHED:
            return backfill
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} not finished within {BACKFILL_TIMEOUT_SECONDS:.0f} s: {backfill}")


LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}"""


def launch_run(dev: DagsterDev, job_name: str, tags: Mapping[str, str]) -> str:
    """Launch a whole job with tags through GraphQL, as the UI's launchpad does; returns the run id."""
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job_name},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
    }
    launched = dev.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } ... on Error { message } }
}"""
RUN_FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def wait_for_run(dev: DagsterDev, run_id: str, timeout: float = BACKFILL_TIMEOUT_SECONDS) -> str:
    """Poll a run through GraphQL, as the UI does, until it finishes; returns its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = dev.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if run["status"] in RUN_FINISHED:
            return run["status"]
        time.sleep(2)
    raise AssertionError(f"run {run_id} not finished within {timeout:.0f} s")
