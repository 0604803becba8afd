"""The SQLite event log of a single-machine instance: every event stored once, in pages that fit its rows.

Dagster's default SQLite event log writes each asset event twice (a per-run shard plus index.db), and a check
result three times. Its consolidated storage writes it once, but with SQLite's default 4 KiB pages a
materialization or check row of 2-2.5 KB takes a page of its own. This subclass creates the database with 8 KiB
pages (they hold three such rows); the daily maintenance VACUUM keeps the page size. Measured figures, and why
this is kept although Dagster documents its consolidated storage as meant for tests: deploy/README.md ("SQLite
event log"). Production deployments use PostgreSQL (deploy/dagster.yaml).

It also makes the run-log watcher thread-safe. Dagster's `on_modified` (watchdog's observer thread) lists the
watchers, then reads each one's cursor by key; `end_watch` is called from the webserver's thread when a run's log
subscription closes (the UI leaves the run page). A subscription closing in between raised `KeyError` in the
observer thread, which ended that thread: no live run logs for any run until `dagster dev` restarted.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from typing import Any

from dagster import DagsterRunStatus
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor

logger = logging.getLogger(__name__)

PAGE_SIZE = 8192
RUN_ENDED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


class CompactSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """`ConsolidatedSqliteEventLogStorage` with 8 KiB pages and watchers that may end while events are dispatched."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._watch_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    def _init_db(self) -> None:
        os.makedirs(self._base_dir, exist_ok=True)
        path = self.get_db_path()
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            # The page size of a SQLite file is fixed by its first write: set it before Dagster creates tables.
            with closing(sqlite3.connect(path)) as connection:
                connection.execute(f"PRAGMA page_size={PAGE_SIZE}")
                connection.execute("VACUUM")
        super()._init_db()

    def watch(self, run_id: str, cursor: str | None, callback: Callable[..., Any]) -> None:
        with self._watch_lock:
            super().watch(run_id, cursor, callback)

    def end_watch(self, run_id: str, handler: Callable[..., Any]) -> None:
        with self._watch_lock:
            super().end_watch(run_id, handler)
            if run_id in self._watchers and not self._watchers[run_id]:
                del self._watchers[run_id]

    def on_modified(self) -> None:
        """Dagster's dispatch (new events to each watcher, its cursor advanced, its watch ended with the run), over
        the watchers still registered when their turn comes."""
        with self._watch_lock:
            keys = [(run_id, callback) for run_id, callbacks in self._watchers.items() for callback in callbacks]
        for run_id, callback in keys:
            with self._watch_lock:
                if callback not in self._watchers.get(run_id, {}):
                    continue  # its subscription closed since the list was taken
                cursor = self._watchers[run_id][callback]
            connection = self.get_records_for_run(run_id, cursor)
            with self._watch_lock:
                if connection.cursor and callback in self._watchers.get(run_id, {}):
                    self._watchers[run_id][callback] = connection.cursor
            for record in connection.records:
                status = None
                try:
                    status = callback(record.event_log_entry, str(EventLogCursor.from_storage_id(record.storage_id)))
                except Exception:
                    logger.exception("Exception in callback for event watch on run %s.", run_id)
                if status in RUN_ENDED:
                    self.end_watch(run_id, callback)
