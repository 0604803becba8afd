"""A run worker killed with SIGKILL mid-run: readers never see a broken file, the pool slot comes back, the next
run repairs the window.

The crash is the realistic one: runs are launched through a real `dagster dev` and its run worker (the process that
logs "Started process for run (pid: N)") is killed with SIGKILL, so no `finally`, atexit or signal handler of
ours or Dagster's runs. Meanwhile a reader thread keeps reading every table the way users do (DuckDB's
`read_parquet` glob and pyarrow.dataset); any error it hits fails the test.

Who cleans up after the dead worker: the code server that spawned it sees it gone and fails the run, then run
monitoring frees the run's slot in pool `intercom_api` (`free_slots_after_run_end_seconds`). Dagster's default run
launcher cannot health-check workers, so run monitoring alone would never fail such a run.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import range_tags
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import EXTRACT_STEP, POOL
from intercom_assets.lake.storage import PART_FILE, TEMP_PREFIX, TEMP_SUFFIX
from intercom_assets.partitions import keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.dagster_dev import DagsterDev, explain_failure, launch_run, running_dagster_dev
from intercom_assets_tests.demo import REPO_ROOT, open_instance
from intercom_assets_tests.instances import ephemeral_instance
from intercom_assets_tests.intercom_server import IntercomTestServer

pytestmark = pytest.mark.wall_seconds(100)  # measured in the suite; it starts the longest files first

FIRST, LAST = "2026-11-14", "2026-11-20"
DAYS = keys_between(FIRST, LAST)
# The range ends before today: the history tables are written, snapshot tables (today only) are not.
TABLE_NAMES = [spec.name for spec in TABLES if spec.has_current_state]  # deleted_records: detection days
WINDOW_FILES = [Path(table) / f"date={day}" / PART_FILE for table in TABLE_NAMES for day in DAYS]
# Slow enough that extraction spans seconds (a random kill can land in it), fast enough to keep the test short.
LATENCY_MS = 60
SCROLL_PAGE_SIZE = 10
RUN_TIMEOUT_SECONDS = 180.0
SLOT_TIMEOUT_SECONDS = 60.0
WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


def _test_dagster_yaml() -> str:
    """TEST-ONLY instance config: the repo's dagster.yaml (same pool, same run monitoring) with 1 s intervals.

    With the repo's 30 s poll interval and 30 s `free_slots_after_run_end_seconds` a freed slot would take up to
    a minute to show; the mechanism under test is the same, only its clock is faster. The 1 s dequeue interval
    of the run queue (default 5 s) only shortens the wait for the next run.
    """
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config["run_monitoring"].update({"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1})
    config["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }
    return yaml.safe_dump(config)


@dataclass
class Crashable:
    """The running `dagster dev`, its instance as seen from the test, and the test server it extracts from."""

    dev: DagsterDev
    instance: DagsterInstance
    server: IntercomTestServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crashable]:
    """One `dagster dev` for the module (its start-up costs ~15 s) against an in-process test server."""
    workdir = tmp_path_factory.mktemp("crash")
    # A killed worker leaves its staging and scratch directories behind: keep them in pytest's tmp, not /tmp.
    scratch = workdir / "tmp"
    scratch.mkdir()
    with IntercomTestServer(token=TEST_TOKEN, seed=1, scale="small", now=TEST_NOW) as server:
        env = {
            "INTERCOM_ACCESS_TOKEN": server.token,
            "INTERCOM_BASE_URL": server.base_url,
            "INTERCOM_START_DATE": "2026-06-01",
            "INTERCOM_AUTOMATION": "off",
            "INTERCOM_SUPPORT_METRICS": "off",  # as in dagster dev (dagster_dev.py): the clean run is the same run
            "INTERCOM_STAGING_DIR": str(scratch),
            "TMPDIR": str(scratch),
        }
        with running_dagster_dev(workdir, env, workdir / "server.log", _test_dagster_yaml()) as dev:
            assert dev.home is not None
            with open_instance(dev.home) as instance:
                yield Crashable(dev, instance, server, env)


@dataclass
class Reader:
    """Reads every table in a loop, as DuckDB and pyarrow.dataset users would, and records every failure."""

    root: Path
    errors: list[str] = field(default_factory=list)
    reads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Reader:
        self._thread = threading.Thread(target=self._loop, name="parquet-reader", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        connection = duckdb.connect()
        while not self._stop.is_set():
            started = time.monotonic()
            self._read_every_table(connection)
            # Half the time reading, half resting: back to back, the passes kept a whole core busy for the whole
            # test (beside the runs under test and the suite's other workers).
            self._stop.wait(time.monotonic() - started)
        connection.close()

    def _read_every_table(self, connection: duckdb.DuckDBPyConnection) -> None:
        """One pass: each table the way users read it (DuckDB's glob, pyarrow.dataset); failures are findings."""
        for table in TABLE_NAMES:
            directory = self.root / table
            # Files are only ever added or replaced, never removed: once one is listed, a glob matches.
            if not any(directory.glob(f"*/{PART_FILE}")):
                continue
            glob = str(directory / "*" / "*.parquet")
            try:
                # hash of the whole row: every column of every row group is decoded, without Python objects.
                connection.execute(
                    f"SELECT count(*), sum(hash(t)) FROM read_parquet('{glob}', hive_partitioning=true) t"
                ).fetchall()
            except Exception as error:  # noqa: BLE001 - every reader failure is a finding
                self.errors.append(f"duckdb {table}: {type(error).__name__}: {error}")
            try:
                ds.dataset(directory, format="parquet", partitioning="hive").to_table()
            except Exception as error:  # noqa: BLE001
                self.errors.append(f"pyarrow {table}: {type(error).__name__}: {error}")
            self.reads += 1


def _wait(what: str, condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None, run_id
    return run.status


def _wait_finished(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    def finished() -> DagsterRunStatus | None:
        status = _status(instance, run_id)
        return status if status in FINISHED_STATUSES else None

    return _wait(f"run {run_id} to finish", finished, RUN_TIMEOUT_SECONDS, 0.25)


def _wait_first_commit(instance: DagsterInstance, run_id: str, root: Path) -> None:
    """Return as soon as the first partition file of the window exists (polled every ~2 ms)."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    polls = 0
    while _committed(root) == 0:
        polls += 1
        if polls % 250 == 0:
            assert _status(instance, run_id) not in FINISHED_STATUSES, f"run {run_id} ended before any commit"
            assert time.monotonic() < deadline, f"no commit of run {run_id} within {RUN_TIMEOUT_SECONDS:.0f} s"
        time.sleep(0.002)


def _worker_pid(instance: DagsterInstance, run_id: str) -> tuple[int, float]:
    """The run worker's pid and when it started, from the engine event the worker itself logs."""

    def find() -> tuple[int, float] | None:
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
            found = WORKER_PID.search(entry.message)
            if found:
                return int(found.group(1)), entry.timestamp
        return None

    return _wait(f"the worker of run {run_id}", find, RUN_TIMEOUT_SECONDS, 0.05)


def _step_started(instance: DagsterInstance, run_id: str) -> float:
    starts = [e for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START) if e.step_key == EXTRACT_STEP]
    assert len(starts) == 1, starts
    return starts[0].timestamp


def _crash_reported(instance: DagsterInstance, run_id: str) -> bool:
    """Whether the run was failed because its worker died of SIGKILL (not, say, an error inside the run)."""
    events = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    return any("signal 9" in entry.message for entry in events)


def _slot_holders(instance: DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def _kill(dev: DagsterDev, pid: int) -> None:
    """SIGKILL one run worker, after checking it belongs to our `dagster dev` (never anything else)."""
    assert dev.owns_process(pid), f"pid {pid} is not a run worker of our dagster dev"
    os.kill(pid, signal.SIGKILL)


def _committed(root: Path) -> int:
    return sum((root / relative).exists() for relative in WINDOW_FILES)


def _assert_every_visible_file_is_whole(root: Path) -> list[Path]:
    """Every file a reader can list is a complete Parquet file; anything else is a hidden temporary."""
    temporaries = []
    for path in root.rglob("*"):
        if not path.is_file() or path.parent == root:
            continue
        if path.name == PART_FILE or (path.parent.name == "_state" and path.suffix == ".parquet"):
            pq.read_table(path)  # a partition, or a state file (deletion log, sweeps), replaced the same way
        else:
            assert path.name.startswith(TEMP_PREFIX) and path.name.endswith(TEMP_SUFFIX), path
            temporaries.append(path)
    return temporaries


def _contents(root: Path) -> dict[str, list[str]]:
    """Every partition file's rows, `_extracted_at` aside, as sorted JSON lines keyed by its relative path
    (deleted_records aside: its rows say when each run detected the seeded deletions)."""
    out = {}
    for path in sorted(p for table in TABLE_NAMES for p in root.glob(f"{table}/date=*/{PART_FILE}")):
        rows = pq.read_table(path).drop_columns(["_extracted_at"]).to_pylist()
        out[str(path.relative_to(root))] = sorted(json.dumps(row, default=str, sort_keys=True) for row in rows)
    return out


def _clean_run(crashable: Crashable, root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The window extracted in-process into a fresh root, with no crash: what a repaired root must equal."""
    for name, value in {**crashable.env, "INTERCOM_PARQUET_ROOT": str(root)}.items():
        if name.startswith("INTERCOM_"):
            monkeypatch.setenv(name, value)
    crashable.server.set_latency_ms(0)
    with ephemeral_instance() as instance:
        result = build_definitions(load_settings()).resolve_job_def(INTERCOM_JOB).execute_in_process(
            instance=instance, tags=range_tags(FIRST, LAST)
        )
    assert result.success
    contents = _contents(root)
    assert len(contents) == len(WINDOW_FILES)
    assert sum(map(len, contents.values())) > 100, "the window must hold real data"
    return contents


def test_sigkilled_run_worker_leaves_no_broken_file_frees_the_slot_and_the_next_run_repairs(
    crashable: Crashable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill one run mid-commit on an empty root and another at a random moment over a complete one."""
    dev, instance, server = crashable.dev, crashable.instance, crashable.server
    root = dev.parquet_root
    clean = _clean_run(crashable, tmp_path / "clean", monkeypatch)
    server.set_latency_ms(LATENCY_MS)
    server.scroll_page_size = SCROLL_PAGE_SIZE
    tags = range_tags(FIRST, LAST)
    with explain_failure(dev), Reader(root) as reader:
        # 1. Killed while the IO manager commits: some but not all of the window's files exist.
        killed = launch_run(dev, INTERCOM_JOB, tags)
        pid, _ = _worker_pid(instance, killed)
        _wait_first_commit(instance, killed, root)
        _kill(dev, pid)
        committed = _committed(root)
        assert 0 < committed < len(WINDOW_FILES), f"the kill must land mid-commit ({committed} files)"
        print(f"killed run {killed} after {committed} of {len(WINDOW_FILES)} commits")
        left_over = _assert_every_visible_file_is_whole(root)
        assert _slot_holders(instance) == {killed}, "the dead run must still hold the pool slot"

        # 2. The next run waits until the dead run is failed (by the code server, which sees its worker gone) and
        # run monitoring frees the slot (free_slots_after_run_end_seconds), then it repairs the window.
        repair = launch_run(dev, INTERCOM_JOB, tags)
        assert _wait_finished(instance, killed) == DagsterRunStatus.FAILURE
        assert _crash_reported(instance, killed)
        _wait("the dead run's slot to be freed", lambda: killed not in _slot_holders(instance), SLOT_TIMEOUT_SECONDS)
        assert _wait_finished(instance, repair) == DagsterRunStatus.SUCCESS
        killed_end = instance.get_run_record_by_id(killed).end_time
        assert killed_end is not None and _step_started(instance, repair) >= killed_end
        assert _assert_every_visible_file_is_whole(root) == [], f"temporaries left after the repair: {left_over}"
        assert _contents(root) == clean

        # 3. Killed at a random moment (start-up, extraction, commits or checks) while rewriting every file.
        # a clean run's length, from its step's start: the repair's worker started earlier but waited for the slot
        # (run monitoring frees it up to 30 s after the dead run ends), and a random moment drawn over that wait
        # could land after a clean run's end
        repair_seconds = instance.get_run_record_by_id(repair).end_time - _step_started(instance, repair)
        delay = random.uniform(0.0, 0.7 * repair_seconds)
        killed = launch_run(dev, INTERCOM_JOB, tags)
        pid, _ = _worker_pid(instance, killed)
        time.sleep(delay)
        assert _status(instance, killed) not in FINISHED_STATUSES, f"the run ended before the kill at {delay:.2f} s"
        _kill(dev, pid)
        print(f"killed run {killed} {delay:.2f} s after its worker started (a clean run takes {repair_seconds:.1f} s)")
        _assert_every_visible_file_is_whole(root)
        repair = launch_run(dev, INTERCOM_JOB, tags)
        assert _wait_finished(instance, killed) == DagsterRunStatus.FAILURE
        assert _crash_reported(instance, killed)
        assert _wait_finished(instance, repair) == DagsterRunStatus.SUCCESS
        assert _assert_every_visible_file_is_whole(root) == []
        assert _contents(root) == clean
        assert killed not in _slot_holders(instance)
    assert reader.errors == [], reader.errors[:10]
    assert reader.reads >= len(TABLE_NAMES), "the reader must actually have read during the runs"
