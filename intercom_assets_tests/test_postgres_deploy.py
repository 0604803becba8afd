"""The production instance (deploy/dagster.yaml) on a real PostgreSQL server: webserver, daemon, schedule, backfill.

A PostgreSQL cluster is created in a temporary directory and started on 127.0.0.1 with a free port (as the
`postgres` user when we are root: `initdb` refuses to run as root). `dagster-webserver` and `dagster-daemon run`
then use deploy/dagster.yaml unchanged, with the database reached through the DAGSTER_PG_* variables. The schedule
ticks every minute over a 2-day window while a UI-style backfill covers 3 days overlapping it: both runs must
succeed, their extraction steps must not overlap (pool `intercom_api`, one slot, enforced through PostgreSQL),
and every table's partitions must be on disk. (Two workspaces in the same instance: test_postgres_workspaces.py.)

Without PostgreSQL's server binaries the test is skipped with a plain message, except in CI (CI=true), where it
fails: CI installs them (.ci/run) and must never pass without running this.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.dagster_dev import (
    BACKFILL,
    FINISHED,
    LAUNCH,
    LOCATION,
    REPOSITORY,
    free_port,
    post_graphql,
    tail,
    wait_for_code_location,
)
from intercom_assets_tests.demo import DEMO_TOKEN, REPO_ROOT, bundled_server, spawn_group, stop_process_group
from intercom_assets_tests.dev import kill_group, wait_group

pytestmark = pytest.mark.wall_seconds(110)  # measured in the suite; conftest.py orders and groups the modules

SCHEDULE = "intercom_attribution_window_schedule"
PG_USER, PG_PASSWORD, PG_DB = "dagster", "pg-test-password-8c1f", "dagster_prod"
STARTUP_TIMEOUT_SECONDS = 120.0
RUNS_TIMEOUT_SECONDS = 200.0
GROUP_STOP_TIMEOUT_SECONDS = 30.0
NOT_RUN = "PostgreSQL server binaries not installed: this test did not run"


def _pg_bindir() -> Path | None:
    """Directory with initdb and pg_ctl: Debian keeps them off PATH under /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).resolve().parent)):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None



@dataclass
class Postgres:
    """A running throw-away cluster."""

    port: int
    base: Path

    def connect(self, db: str = PG_DB):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user=PG_USER, password=PG_PASSWORD, dbname=db)


def _as_cluster_owner(command: list[str]) -> list[str]:
    """Run as `postgres` when we are root; as ourselves otherwise (a developer's own cluster)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(command)]


@pytest.fixture(name="postgres")
def postgres_fixture() -> Iterator[Postgres]:
    """initdb + pg_ctl start in a temporary directory; stopped and removed afterwards, also on failure."""
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{NOT_RUN} (CI=true: .ci/run must install the postgresql package)")
        pytest.skip(NOT_RUN)
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="intercom-pg-"))
    data, pwfile, log = base / "data", base / "pwfile", base / "server.log"
    pwfile.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    started = False
    try:
        subprocess.run(_as_cluster_owner([str(bindir / "initdb"), "-D", str(data), "-U", PG_USER,
                                          f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                          "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        completed = subprocess.run(_as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                                      "-o", options, "-w", "-t", "60", "start"]),
                                   capture_output=True, text=True, timeout=90)
        started = True
        assert completed.returncode == 0, f"pg_ctl start failed: {completed.stderr}\n{tail(log)}"
        cluster = Postgres(port, base)
        con = cluster.connect("postgres")
        try:
            con.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
            con.cursor().execute(f"CREATE DATABASE {PG_DB}")
        finally:
            con.close()
        yield cluster
    finally:
        if started:
            subprocess.run(_as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                              "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)



@dataclass
class Deployment:
    """The webserver and daemon of one production-style instance."""

    url: str
    home: Path
    parquet_root: Path
    logs: list[Path]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return post_graphql(self.url, query, variables)

    def diagnostics(self) -> str:
        return "\n".join(f"--- {log.name} (tail) ---\n{tail(log)}" for log in self.logs)


START_SCHEDULE = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value }
      stepStats { stepKey status startTime endTime } } }
  }
}"""

FINISHED_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
@contextmanager
def running_deployment(postgres: Postgres, tmp_path: Path, intercom_env: dict[str, str]) -> Iterator[Deployment]:
    """dagster-webserver and dagster-daemon on deploy/dagster.yaml, each in its own process group, with these
    Intercom variables (the code location's)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    logs = [tmp_path / "webserver.log", tmp_path / "daemon.log", *sorted(tmp_path.glob("intercom-server*.log"))]
    deployment = Deployment(f"http://127.0.0.1:{port}", home, tmp_path / "parquet", logs)
    bindir = Path(sys.executable).parent
    processes: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USERNAME": PG_USER,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "DAGSTER_PG_DB": PG_DB,
        "INTERCOM_PARQUET_ROOT": str(deployment.parquet_root),
        **intercom_env,
    }
    commands = [
        [str(bindir / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        [str(bindir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
    ]
    try:
        for command, log_path in zip(commands, logs, strict=False):
            with open(log_path, "ab") as log:
                processes.append(spawn_group(command, cwd=REPO_ROOT, env=env, stdout=log,
                                             stderr=subprocess.STDOUT))
        wait_for_code_location(deployment.url, deployment.graphql, processes, deployment.diagnostics,
                               STARTUP_TIMEOUT_SECONDS)
        yield deployment
    finally:
        # The daemon first, so that nothing new is launched. Each process group until it is empty: the webserver
        # and the daemon each run the code location in a `dagster api grpc` of their own (the daemon's also runs
        # the runs it launches), which outlives its parent while it winds down a run. One still doing so when
        # the `postgres` fixture stopped the database lost its cleanup thread (it reads the runs from the
        # database) and then waited forever for it: a `dagster api grpc` left running long after the suite.
        for process in reversed(processes):
            stop_process_group(process, timeout=30)
            if not wait_group(process.pid, GROUP_STOP_TIMEOUT_SECONDS):
                kill_group(process.pid, signals=(signal.SIGKILL,))


@pytest.fixture
def deployment(postgres: Postgres, tmp_path: Path) -> Iterator[Deployment]:
    """The production instance with the one INTERCOM_* workspace, against the bundled test server."""
    today = datetime.now(UTC).date()
    with bundled_server(tmp_path / "intercom-server.log") as api_url:
        env = {
            "INTERCOM_ACCESS_TOKEN": DEMO_TOKEN,
            "INTERCOM_BASE_URL": api_url,
            "INTERCOM_START_DATE": (today - timedelta(days=3)).isoformat(),
            "INTERCOM_ATTRIBUTION_WINDOW_DAYS": "2",
            "INTERCOM_SCHEDULE_CRON": "* * * * *",
            # The schedule is started below through GraphQL; the catch-up sensor stays off so that the only runs
            # are the two this test is about.
            "INTERCOM_AUTOMATION": "off",
            # the storage, schedule and pool are what this test is about: the window run leaves out the dbt build
            # of the support metrics (test_metrics*.py), which doubled its length on a busy machine
            "INTERCOM_SUPPORT_METRICS": "off",
        }
        with running_deployment(postgres, tmp_path, env) as deployment:
            yield deployment


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def _wait_for(deployment: Deployment, backfill_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first scheduled window run and the backfill, once both finished."""
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    scheduled: dict[str, Any] | None = None
    backfill: dict[str, Any] = {}
    while time.monotonic() < deadline:
        backfill = deployment.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        runs = deployment.graphql(RUNS, {"filter": {"tags": [{"key": "intercom/trigger", "value": "schedule"}]}})
        finished = [r for r in runs["runsOrError"]["results"] if r["status"] in FINISHED_RUN
                    and _tags(r).get("dagster/run_key", "").startswith("window:")]
        # results are newest first: the first scheduled window run is the last one (each tick also takes the
        # day's snapshots in a run of its own)
        scheduled = finished[-1] if finished else None
        if scheduled and backfill["status"] in FINISHED:
            return scheduled, backfill
        time.sleep(2)
    raise AssertionError(f"not finished in {RUNS_TIMEOUT_SECONDS:.0f} s: scheduled={scheduled} backfill={backfill}")


def _extract_interval(run: dict[str, Any]) -> tuple[float, float]:
    step = next(s for s in run["stepStats"] if s["stepKey"] == "intercom_extract")
    return step["startTime"], step["endTime"]


def test_schedule_and_overlapping_backfill_on_postgres(deployment: Deployment, postgres: Postgres) -> None:
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=offset)).isoformat() for offset in (3, 2, 1, 0)]
    tables = [spec.name for spec in TABLES if not spec.is_snapshot]  # a backfill of history (past days)
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    try:
        started = deployment.graphql(START_SCHEDULE, {"selector": {**selector, "scheduleName": SCHEDULE}})
        assert started["startSchedule"]["__typename"] == "ScheduleStateResult", started
        params = {
            "assetSelection": [{"path": ["intercom", table]} for table in tables],
            "partitionNames": days[:3],
            "fromFailure": False,
            "title": "overlapping backfill",
        }
        launched = deployment.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched

        scheduled, backfill = _wait_for(deployment, launched["backfillId"])
        assert scheduled["status"] == "SUCCESS", scheduled
        assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, backfill
        assert len(backfill["runs"]) == 1 and backfill["runs"][0]["status"] == "SUCCESS", backfill
        assert _tags(scheduled)["dagster/asset_partition_range_start"] == days[2]
        assert _tags(scheduled)["dagster/asset_partition_range_end"] == days[3]

        backfill_run = next(r for r in deployment.graphql(RUNS, {"filter": {"runIds": [backfill["runs"][0]["runId"]]}})
                            ["runsOrError"]["results"])
        assert _tags(backfill_run)["dagster/asset_partition_range_start"] == days[0]
        assert _tags(backfill_run)["dagster/asset_partition_range_end"] == days[2]
        # One slot in pool intercom_api: the two extraction steps ran one after the other.
        first, second = sorted([_extract_interval(scheduled), _extract_interval(backfill_run)])
        assert first[1] <= second[0], f"extraction steps overlapped: {first} {second}"

        for table in tables:
            for day in days:
                path = deployment.parquet_root / table / f"date={day}" / "part-0.parquet"
                assert path.is_file(), f"missing {path}"

        # Everything went to PostgreSQL, nothing to a SQLite file beside dagster.yaml.
        con = postgres.connect()
        try:
            cursor = con.cursor()
            cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
            assert cursor.fetchone()[0] >= 2
            cursor.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            assert cursor.fetchone()[0] >= len(tables) * 5
            cursor.execute("SELECT count(*) FROM job_ticks")
            assert cursor.fetchone()[0] >= 1
        finally:
            con.close()
        assert not list(deployment.home.rglob("*.db")), sorted(deployment.home.rglob("*.db"))
    except BaseException:
        print(deployment.diagnostics())
        raise
