"""The tests' in-memory Dagster instance: `DagsterInstance.ephemeral()` with pooled SQLite connections.

Dagster's in-memory run and event-log storages open a new SQLite connection, and run two PRAGMAs on it, for every
transaction (their engines use `NullPool`): half of the CPU that storing an event costs, and a test run over a 30-day
range stores a thousand events or more. These subclasses keep the same schema, SQL and in-memory database, but take
their connections from a pool, and set `foreign_keys` once per connection (journal_mode has no effect on a database
in memory). The product's own instances are untouched: `dagster.yaml` and `deploy/` configure them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.instance import InstanceType
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.run_coordinator import DefaultRunCoordinator
from dagster._core.storage.event_log import InMemoryEventLogStorage
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.root import TemporaryLocalArtifactStorage
from dagster._core.storage.runs import InMemoryRunStorage
from sqlalchemy.pool import QueuePool


def _pooled(url: db.URL) -> db.Engine:
    engine = db.create_engine(url, poolclass=QueuePool, pool_size=4, connect_args={"check_same_thread": False})

    @db.event.listens_for(engine, "connect")
    def _foreign_keys(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA foreign_keys=ON;")

    return engine


class _Pooled:
    """Replaces the storage's engine (NullPool) by a pooled one on the same in-memory database."""

    _engine: db.Engine

    def __init__(self) -> None:
        super().__init__()  # type: ignore[call-arg]
        self._engine = _pooled(self._engine.url)


class PooledInMemoryRunStorage(_Pooled, InMemoryRunStorage):
    """Dagster's in-memory run storage, on pooled connections."""

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn


class PooledInMemoryEventLogStorage(_Pooled, InMemoryEventLogStorage):
    """Dagster's in-memory event log, on pooled connections (still one transaction at a time, as Dagster's)."""

    @contextmanager
    def _connect(self) -> Iterator[db.Connection]:
        with self._db_lock, self._engine.connect() as conn, conn.begin():
            yield conn


def ephemeral_instance() -> DagsterInstance:
    """What `DagsterInstance.ephemeral()` builds, with the pooled storages above."""
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=PooledInMemoryRunStorage(),
        event_storage=PooledInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
