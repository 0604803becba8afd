"""Ctrl-C on `make dev` stops everything it started and launches nothing more.

The test runs what `make dev` runs (`python -m intercom_assets_tests.dev`, bundled test server, automation on) in a
process group of its own, as a terminal's foreground job is, with a temporary DAGSTER_HOME and a free port. Once the
webserver answers and the catch-up sensor has begun its first tick (on an empty instance that tick asks for a run,
and creating it takes seconds: a stop in the middle of it is the case that used to launch a run), it sends SIGINT
to that group, as Ctrl-C does, and then checks that no process carrying that DAGSTER_HOME is left and that no run
was created, queued or started and no tick begun after the stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
import requests
from dagster import DagsterEventType, DagsterInstance

from intercom_assets_tests.dagster_dev import free_port, tail
from intercom_assets_tests.demo import REPO_ROOT, open_instance, spawn_group
from intercom_assets_tests.dev import ConsoleFilter, kill_group

pytestmark = pytest.mark.wall_seconds(25)  # measured in the suite; conftest.py orders and groups the modules

STARTUP_TIMEOUT_SECONDS = 90.0
FIRST_TICK_TIMEOUT_SECONDS = 30.0
EXIT_TIMEOUT_SECONDS = 45.0
CATCHUP_SENSOR = "intercom_catchup_sensor"
LAUNCH_EVENTS = {DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START}


def _leftovers(home: Path, port: int) -> list[psutil.Process]:
    """Live processes that belong to this test's `make dev`: its DAGSTER_HOME in their environment (every process
    it starts inherits it), its home or port on their command line, or a working directory inside the home."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(process.cmdline())
            if (process.environ().get("DAGSTER_HOME") == str(home) or str(home) in cmdline
                    or f"-p {port}" in cmdline or f"--port {port}" in cmdline
                    or process.cwd().startswith(str(home))):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _catchup_ticks(instance: DagsterInstance) -> list:
    states = [state for state in instance.all_instigator_state() if state.instigator_name == CATCHUP_SENSOR]
    return [tick for state in states for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)]


def _utc_seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@pytest.fixture
def make_dev(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path, int, Path]]:
    """`python -m intercom_assets_tests.dev` in its own process group; whatever survives the test is killed."""
    home, port, log_path = tmp_path / "dagster_home", free_port(), tmp_path / "make-dev.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INTERCOM_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DAGSTER_PORT=str(port), INTERCOM_PARQUET_ROOT=str(tmp_path / "parquet"),
               INTERCOM_AUTOMATION="on")
    with open(log_path, "ab") as log:
        process = spawn_group([sys.executable, "-m", "intercom_assets_tests.dev"], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, home, port, log_path
    finally:
        kill_group(process.pid, grace=1)
        for leftover in _leftovers(home, port):
            leftover.kill()


def test_ctrl_c_stops_every_process_and_launches_nothing(make_dev) -> None:
    process, home, port, log_path = make_dev
    started = time.monotonic()
    deadline = started + STARTUP_TIMEOUT_SECONDS
    while True:
        assert process.poll() is None, f"make dev exited with {process.returncode}\n{tail(log_path)}"
        assert time.monotonic() < deadline, f"the webserver did not answer\n{tail(log_path)}"
        try:
            if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    with open_instance(home) as instance:
        deadline = time.monotonic() + FIRST_TICK_TIMEOUT_SECONDS
        while not _catchup_ticks(instance):
            assert time.monotonic() < deadline, f"the catch-up sensor never ticked\n{tail(log_path)}"
            time.sleep(0.5)
    print(f"make dev up and the catch-up sensor ticking after {time.monotonic() - started:.0f} s")

    stopped_at = time.time()
    os.killpg(process.pid, signal.SIGINT)
    try:
        code = process.wait(timeout=EXIT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make dev did not exit within {EXIT_TIMEOUT_SECONDS:.0f} s of Ctrl-C\n{tail(log_path)}")
    print(f"make dev exited {time.time() - stopped_at:.1f} s after Ctrl-C")
    log = log_path.read_text(errors="replace")
    assert code == 0, f"exit code {code}\n{tail(log_path)}"

    leftovers = [(p.pid, " ".join(p.cmdline())[:160]) for p in _leftovers(home, port)]
    assert not leftovers, f"processes left after Ctrl-C: {leftovers}\n{log[-4000:]}"

    with open_instance(home) as instance:
        launched = []
        for record in instance.get_run_records():
            run = record.dagster_run
            if _utc_seconds(record.create_timestamp) >= stopped_at:
                launched.append((run.run_id, "created", run.status.value))
            for entry in instance.all_logs(run.run_id, of_type=LAUNCH_EVENTS):
                if entry.timestamp >= stopped_at:
                    launched.append((run.run_id, entry.dagster_event_type.value, run.status.value))
        assert not launched, f"launched after Ctrl-C: {launched}\n{log[-4000:]}"
        late_ticks = [(tick.instigator_name, tick.status.value) for state in instance.all_instigator_state()
                      for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)
                      if tick.timestamp >= stopped_at]
        assert not late_ticks, f"ticks begun after Ctrl-C: {late_ticks}"
    assert "Code server process has exited" not in log, log[-4000:]


def _daemon_line(daemon: str, message: str) -> str:
    """A console line as `dagster dev` prints it (colored)."""
    return (f"\x1b[32m2026-12-07 15:25:40 +0000\x1b[0m - dagster.daemon.{daemon} - \x1b[34mINFO\x1b[0m - "
            f"{message}\n")


def test_console_filter_drops_what_repeats_every_tick_and_keeps_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes((REPO_ROOT / "dagster.yaml").read_bytes())
    keep = ConsoleFilter(home).keep
    yaml_warning = ("\x1b[32m2026-12-07 15:24:29 +0000\x1b[0m - dagster - \x1b[34mWARNING\x1b[0m - Found a dagster "
                    "instance configuration value (dagster.yaml) in the current folder, but your DAGSTER_HOME ...\n")
    skipped = _daemon_line("SensorDaemon", "Sensor intercom_check_failure_sensor skipped: Sent 0 alerts; 0 check "
                                           "partitions failing (reported once each).")
    other_skip = _daemon_line("SensorDaemon", "Sensor intercom_check_failure_sensor skipped: Sent 1 alerts; 1 check "
                                              "partitions failing (reported once each).")
    assert not keep(yaml_warning), "the copy in DAGSTER_HOME is the repo's file: nothing to act on"
    assert not keep(_daemon_line("SensorDaemon", "Checking for new runs for sensor: intercom_catchup_sensor"))
    assert not keep(_daemon_line("MonitoringDaemon", "Collected 1 runs for monitoring"))
    assert not keep(_daemon_line("MonitoringDaemon", "Checking run 9bd13e53-83aa-47e4-8845-0e4382b6e37f"))
    assert keep(skipped), "a skip reason is shown the first time"
    assert not keep(skipped), "and not again while it stays the same"
    assert keep(other_skip), "a new reason is shown"
    assert keep(skipped), "and so is the old one when it comes back"
    assert keep(_daemon_line("SchedulerDaemon", "Schedule intercom_attribution_window_schedule skipped: no window"))
    assert keep(_daemon_line("SensorDaemon", "Creating new run for intercom_catchup_sensor"))
    assert keep(_daemon_line("QueuedRunCoordinatorDaemon", "Launched 1 runs."))
    assert keep("2026-12-07 15:25:33 +0000 - dagster - INFO - intercom_job - 9bd13e53 - intercom_extract - x\n")
    assert keep(_daemon_line("SensorDaemon", "Sensor intercom_catchup_sensor skipped: x").replace("INFO", "ERROR"))

    interrupted = ["2026-12-07 15:53:15 +0000 - dagster - ERROR - intercom_job - 65d8ccc0 - 19666 - RUN_FAILURE - "
                   "Execution of run for \"intercom_job\" failed. Execution was interrupted unexpectedly.\n", "\n",
                   "dagster._core.errors.DagsterExecutionInterruptedError\n", "Stack Trace:\n",
                   '  File "dagster/_core/execution/api.py", line 742, in job_execution_iterator\n']
    assert all(keep(line) for line in interrupted), "before Ctrl-C a stack trace is shown whole"
    stopping = ConsoleFilter(home)
    stopping.stopping = True
    assert [stopping.keep(line) for line in interrupted] == [True, False, False, False, False]

    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert ConsoleFilter(home).keep(yaml_warning), "a DAGSTER_HOME with another dagster.yaml: the warning stands"


@pytest.mark.parametrize("workspaces", [0, 2], ids=["variables", "two YAML workspaces"])
def test_loading_the_code_location_prints_no_warning(tmp_path: Path, workspaces: int) -> None:
    """Every code server and run worker loads the code location: a warning there is printed once per process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INTERCOM_", "DAGSTER_"))}
    env.update(INTERCOM_ACCESS_TOKEN="t" * 16, INTERCOM_PARQUET_ROOT=str(tmp_path), DAGSTER_HOME=str(tmp_path))
    for n in range(workspaces):
        (tmp_path / "workspaces" / f"w{n}").mkdir(parents=True)
        (tmp_path / "workspaces" / f"w{n}" / "defs.yaml").write_text(
            f"type: intercom_assets.IntercomWorkspace\nattributes:\n  name: w{n}\n  access_token_env: W{n}_TOKEN\n"
            f"  parquet_root: {tmp_path / f'lake-{n}'}\n")
        env.update({"INTERCOM_WORKSPACES_DIR": str(tmp_path / "workspaces"), f"W{n}_TOKEN": "t" * 16})
    loaded = subprocess.run([sys.executable, "-W", "always", "-c", "import intercom_assets.definitions"],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert "Warning" not in loaded.stderr, loaded.stderr
