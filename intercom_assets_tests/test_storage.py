"""ParquetStore: hive layout, atomic replacement, hidden temporaries, object-store roots; and the instance's event
log storage (page size, the run-log watcher under `dagster dev`)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import websockets
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage

from intercom_assets.automation.event_log_storage import PAGE_SIZE, CompactSqliteEventLogStorage
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import range_tags
from intercom_assets.lake.staging import TableStager, dedupe_newest
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.run_step import fresh_staging_dir
from intercom_assets.tables import TABLES_BY_NAME, table_rows
from intercom_assets_tests.dagster_dev import launch_run, running_dagster_dev, wait_for_run
from intercom_assets_tests.demo import DEMO_TOKEN, REPO_ROOT, bundled_server

pytestmark = pytest.mark.wall_seconds(35)  # measured in the suite; it starts the longest files first

RUN_ID = "0b5e55ed-0000-4000-8000-000000000000"


def _table(ids):
    return pa.table({"id": pa.array(ids, pa.string()), "v": pa.array(range(len(ids)), pa.int64())})


def test_layout_and_atomic_replace(tmp_path):
    store = ParquetStore(tmp_path / "root")
    store.write_table("contacts", "2026-01-02", _table(["a", "b"]), tmp_path / "scratch")
    path = tmp_path / "root" / "contacts" / "date=2026-01-02" / "part-0.parquet"
    assert pq.read_table(path).column("id").to_pylist() == ["a", "b"]
    store.write_table("contacts", "2026-01-02", _table(["c"]), tmp_path / "scratch")
    assert store.read("contacts", "2026-01-02").column("id").to_pylist() == ["c"]
    assert store.row_count("contacts", "2026-01-02") == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["part-0.parquet"]


def test_stale_temporaries_are_removed_and_never_look_like_parquet(tmp_path):
    store = ParquetStore(tmp_path)
    directory = tmp_path / "tags" / "date=2026-01-01"
    directory.mkdir(parents=True)
    stale = directory / ".part-0.deadbeef.tmp"
    stale.write_bytes(b"PAR1 half written")
    assert not stale.name.endswith(".parquet") and stale.name.startswith(".")
    store.write_table("tags", "2026-01-01", _table(["t"]), tmp_path / "scratch")
    assert not stale.exists()


def test_missing_partition_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ParquetStore(tmp_path).read("contacts", "2026-01-01")


def test_memory_filesystem_root(tmp_path):
    store = ParquetStore("memory://intercom-test-root")
    store.write_table("admins", "2026-03-04", _table(["x", "y"]), tmp_path)
    assert store.exists("admins", "2026-03-04")
    assert store.read("admins", "2026-03-04").num_rows == 2
    assert store.row_count("admins", "2026-03-04") == 2


def test_dedupe_keeps_newest_version_sorted_by_key():
    data = pa.table(
        {"id": ["b", "a", "b", "a"], "updated_at": [1, 5, 9, 2], "v": ["b-old", "a-new", "b-new", "a-old"]}
    )
    out = dedupe_newest(data, ("id",), "updated_at")
    assert out.column("v").to_pylist() == ["a-new", "b-new"]


def test_stager_splits_by_day_and_drops_out_of_range(tmp_path):
    spec = TABLES_BY_NAME["company_segments"]
    stager = TableStager(spec, tmp_path, ["2026-01-01", "2026-01-02"], extracted_at=0)
    day1, day2, outside = 1767225600, 1767225600 + 86400, 1767225600 + 3 * 86400
    companies = [
        {"id": "c1", "updated_at": day1, "segments": {"segments": [{"id": "s1"}, {"id": "s2"}]}},
        {"id": "c2", "updated_at": day2 + 86399, "segments": {"segments": [{"id": "s1"}]}},
        {"id": "c3", "updated_at": outside, "segments": {"segments": [{"id": "s1"}]}},
        {"id": "c1", "updated_at": day1 + 5, "segments": {"segments": [{"id": "s1"}]}},
    ]
    stager.add_rows(row for company in companies for row in table_rows(spec, company))
    staged = stager.finish()
    first = pq.read_table(staged["2026-01-01"].path)
    # c1's newer version (day1 + 5) has left segment s2: only its newest membership list survives
    assert list(zip(first.column("company_id").to_pylist(), first.column("id").to_pylist(), strict=True)) == [
        ("c1", "s1"),
    ]
    assert staged["2026-01-02"].row_count == 1
    assert stager.counts.outside_range == 1


def test_a_record_that_moved_day_during_the_run_stays_only_in_its_newest_day(tmp_path):
    stager = TableStager(TABLES_BY_NAME["contacts"], tmp_path, ["2026-01-01", "2026-01-02"], extracted_at=0)
    day1 = 1767225600
    stager.add_records([{"id": "a", "updated_at": day1 + 10}, {"id": "b", "updated_at": day1 + 20}])
    stager.flush()
    stager.add_records([{"id": "a", "updated_at": day1 + 86400 + 5}])
    staged = stager.finish()
    assert pq.read_table(staged["2026-01-01"].path).column("id").to_pylist() == ["b"]
    assert pq.read_table(staged["2026-01-02"].path).column("id").to_pylist() == ["a"]


def test_staging_left_by_dead_runs_is_removed_and_live_runs_are_left_alone(tmp_path):
    """A killed run leaves its staging behind; the next run clears it without touching a live run's."""
    live_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        parent = tmp_path / "intercom-staging"
        live = parent / f"run-{live_process.pid}-abc"
        dead = parent / "run-999999999-xyz"
        live.mkdir(parents=True)
        dead.mkdir()
        fresh = fresh_staging_dir(str(tmp_path))
        assert live.exists() and not dead.exists() and fresh.parent == parent
    finally:
        live_process.kill()
        live_process.wait()


def _log_line(storage, message: str) -> None:
    storage.store_event(EventLogEntry(error_info=None, level=20, user_message=message, run_id=RUN_ID,
                                      timestamp=time.time()))


def test_the_event_log_is_created_with_large_pages(tmp_path):
    storage = CompactSqliteEventLogStorage(str(tmp_path))
    _log_line(storage, "first")
    with closing(sqlite3.connect(storage.get_db_path())) as connection:
        assert connection.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    storage.dispose()


class _NoObserver:
    """Stands in for watchdog's observer thread: the test calls the dispatch itself, at a known moment."""

    def stop(self) -> None:
        return None

    def join(self, timeout: float | None = None) -> None:
        return None


@pytest.mark.parametrize("storage_class", [ConsolidatedSqliteEventLogStorage, CompactSqliteEventLogStorage])
def test_a_log_subscription_may_close_while_run_logs_are_dispatched(tmp_path, storage_class):
    """The UI leaving a run page ends that page's watch from the webserver's thread, at any moment of a dispatch
    in the watcher's thread: here the first watcher's callback ends the second's watch. Dagster's own dispatch then
    reads the ended watch's cursor (KeyError, which ends the watcher's thread); ours skips it."""
    storage = storage_class(str(tmp_path))
    received: dict[str, list[str]] = {"first": [], "second": []}

    def second(event: EventLogEntry, cursor: str) -> None:
        received["second"].append(event.user_message)

    def first(event: EventLogEntry, cursor: str) -> None:
        received["first"].append(event.user_message)
        storage.end_watch(RUN_ID, second)

    storage._obs = _NoObserver()  # type: ignore[assignment]
    try:
        storage.watch(RUN_ID, None, first)
        storage.watch(RUN_ID, None, second)
        _log_line(storage, "one")
        if storage_class is ConsolidatedSqliteEventLogStorage:
            with pytest.raises(KeyError):
                storage.on_modified()
            return
        storage.on_modified()
        _log_line(storage, "two")
        storage.on_modified()
        assert received["first"][-2:] == ["one", "two"] and "two" not in received["second"]
    finally:
        storage.dispose()


def test_run_logs_keep_flowing_while_subscriptions_come_and_go(tmp_path):
    """The watcher's own thread (watchdog's observer) against subscriptions opened and closed in another thread
    while a run writes events: no exception in any thread, and a watcher opened afterwards still gets new events."""
    storage = CompactSqliteEventLogStorage(str(tmp_path))
    thread_errors: list[str] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")
    stop = threading.Event()

    def write() -> None:
        count = 0
        while not stop.is_set():
            _log_line(storage, f"line {count}")
            count += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for _ in range(300):
            def callback(event: EventLogEntry, cursor: str) -> None:
                return None
            storage.watch(RUN_ID, None, callback)
            time.sleep(0.003)
            storage.end_watch(RUN_ID, callback)
        stop.set()
        writer.join()
        live: list[str] = []
        storage.watch(RUN_ID, None, lambda event, cursor: live.append(event.user_message))
        _log_line(storage, "after the churn")
        deadline = time.monotonic() + 30
        while "after the churn" not in live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "after the churn" in live
        assert thread_errors == []
    finally:
        stop.set()
        threading.excepthook = previous_hook
        storage.dispose()


SUBSCRIBE = """subscription Logs($runId: ID!) {
  pipelineRunLogs(runId: $runId, cursor: "HEAD") { __typename }
}"""


async def _subscribe_and_leave(url: str, run_id: str, running: asyncio.Event) -> int:
    """What the UI does when a user opens a run page and leaves it, again and again: a `pipelineRunLogs`
    subscription over the graphql-ws protocol, closed after the first live messages or a short wait."""
    opened = 0
    while running.is_set():
        async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            await socket.send(json.dumps({"id": "1", "type": "start",
                                          "payload": {"query": SUBSCRIBE, "variables": {"runId": run_id}}}))
            try:
                await asyncio.wait_for(socket.recv(), timeout=0.3)
                await asyncio.wait_for(socket.recv(), timeout=0.3)
            except TimeoutError:
                pass
            opened += 1
    return opened


def churn_during_a_run(workdir: Path, dagster_yaml: str) -> tuple[str, int, str]:
    """A 6-day run of every table in `dagster dev`, with 6 clients subscribing to its logs and leaving until it
    ends. Returns the run's status, the subscriptions opened and the `dagster dev` log."""
    today = datetime.now(UTC).date()
    with bundled_server(workdir / "server.log") as api_url:
        env = {"INTERCOM_ACCESS_TOKEN": DEMO_TOKEN, "INTERCOM_BASE_URL": api_url, "INTERCOM_AUTOMATION": "off",
               "INTERCOM_START_DATE": (today - timedelta(days=10)).isoformat()}
        with running_dagster_dev(workdir, env, workdir / "server.log", dagster_yaml=dagster_yaml) as dev:
            run_id = launch_run(dev, INTERCOM_JOB, range_tags((today - timedelta(days=6)).isoformat(),
                                                              (today - timedelta(days=1)).isoformat()))
            url = dev.url.replace("http://", "ws://") + "/graphql"

            async def churn() -> tuple[str, int]:
                running = asyncio.Event()
                running.set()
                clients = [asyncio.create_task(_subscribe_and_leave(url, run_id, running)) for _ in range(6)]
                status = await asyncio.to_thread(wait_for_run, dev, run_id)
                running.clear()
                return status, sum(await asyncio.gather(*clients))

            status, opened = asyncio.run(churn())
            return status, opened, Path(dev.log).read_text(errors="replace")


def test_dagster_dev_survives_run_log_subscriptions_closing_during_a_run(tmp_path):
    """The issue's symptom, end to end: UI log subscriptions coming and going while a run writes its events. With
    Dagster's consolidated storage this logged a KeyError traceback from the watcher thread of `dagster dev`."""
    status, opened, log = churn_during_a_run(tmp_path, (REPO_ROOT / "dagster.yaml").read_text())
    assert status == "SUCCESS", log[-3000:]
    assert opened > 50
    assert "Exception in thread" not in log and "KeyError" not in log, log[-5000:]
