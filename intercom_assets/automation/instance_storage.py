"""What the maintenance job needs beyond DagsterInstance's public methods, in one place.

A few statements on Dagster's own SQLAlchemy tables (the same tables on SQLite and PostgreSQL, reached through the
event log storage's own connection), the per-run files of a SQLite instance, and SQLite's VACUUM. Dagster's
`delete_run` leaves a run's check rows and the asset's `last_materialization` behind (checked on dagster 1.13.27,
see deploy/README.md), and has no call for either: this module is the whole surface that depends on Dagster's
storage layout, so an upgrade has one file to re-check.
"""

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any

import sqlalchemy as db
from dagster import AssetCheckKey, AssetKey, DagsterInstance
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.utils import RUNLESS_RUN_ID
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage, SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, AssetKeyTable
from dagster._record import copy
from dagster._serdes import deserialize_value, serialize_value

logger = logging.getLogger("intercom_assets.automation.maintenance")

CHUNK = 500
VACUUM_TIMEOUT_SECONDS = 60.0
INDEX_SHARD = "index"


def chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    """Slices of at most `size`: keeps IN (...) lists within SQLite's variable limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _connection(instance: DagsterInstance) -> Any:
    return instance.event_log_storage.index_connection()  # type: ignore[attr-defined]


def stored_check_keys(instance: DagsterInstance) -> list[AssetCheckKey]:
    """Every check with a stored execution, whatever code location defined it."""
    table = AssetCheckExecutionsTable
    with _connection(instance) as conn:
        rows = conn.execute(db.select(table.c.asset_key, table.c.check_name).distinct()).fetchall()
    return [AssetCheckKey(AssetKey.from_db_string(asset) or AssetKey([]), name) for asset, name in rows]


def retarget_check_rows(instance: DagsterInstance, moved: Mapping[int, int]) -> int:
    """Point check results that targeted a re-recorded materialization at its copy (row and stored event), so the
    result stays "current" for that partition; the rows themselves, and so their order, stay. Returns the count."""
    table = AssetCheckExecutionsTable
    changed = 0
    for chunk in chunks(sorted(moved)):
        with _connection(instance) as conn:
            rows = conn.execute(db.select(table.c.id, table.c.evaluation_event).where(
                table.c.materialization_event_storage_id.in_(list(chunk)))).fetchall()
            for row_id, serialized in rows:
                entry = deserialize_value(serialized, EventLogEntry)
                evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
                target = getattr(evaluation, "target_materialization_data", None)
                if target is None or target.storage_id not in moved:
                    continue
                new_target = AssetCheckEvaluationTargetMaterializationData(
                    storage_id=moved[target.storage_id], run_id=RUNLESS_RUN_ID, timestamp=target.timestamp)
                event = entry.dagster_event._replace(  # type: ignore[union-attr]
                    event_specific_data=copy(evaluation, target_materialization_data=new_target))
                conn.execute(table.update().where(table.c.id == row_id).values(
                    evaluation_event=serialize_value(entry._replace(dagster_event=event)),
                    materialization_event_storage_id=new_target.storage_id))
                changed += 1
    return changed


def check_row_run_ids(instance: DagsterInstance) -> list[str]:
    """Runs that own check-execution rows (runless rows excluded)."""
    table = AssetCheckExecutionsTable
    with _connection(instance) as conn:
        return [row[0] for row in conn.execute(db.select(table.c.run_id).distinct()).fetchall() if row[0]]


def delete_check_rows(instance: DagsterInstance, run_ids: Sequence[str]) -> int:
    """Delete these runs' check rows except the latest row of each (check, partition), which is what the UI and
    `get_asset_check_partition_info` read (same grouping and filter as Dagster's query)."""
    table = AssetCheckExecutionsTable
    latest = (db.select(db.func.max(table.c.id)).where(table.c.evaluation_event_storage_id.isnot(None))
              .group_by(table.c.asset_key, table.c.check_name, table.c.partition))
    deleted = 0
    for chunk in chunks(list(run_ids)):
        with _connection(instance) as conn:
            statement = table.delete().where(table.c.run_id.in_(list(chunk)),
                                             table.c.id.not_in(latest.scalar_subquery()))
            deleted += conn.execute(statement).rowcount
    return deleted


def asset_rows(instance: DagsterInstance, keys: Iterable[AssetKey]) -> dict[AssetKey, dict]:
    """The `asset_keys` rows (latest materialization, last run, status cache) of these assets."""
    table = AssetKeyTable
    with _connection(instance) as conn:
        rows = conn.execute(db.select(table).where(table.c.asset_key.in_([k.to_string() for k in keys]))).mappings()
        return {AssetKey.from_db_string(row["asset_key"]): dict(row) for row in rows}  # type: ignore[misc]


def restore_asset_row(instance: DagsterInstance, key: AssetKey, values: dict, only_if_last_run_id: str) -> bool:
    """Write `values` into the asset's row, only if its last event still came from `only_if_last_run_id` (a run's
    event stored meanwhile wins). Returns whether the row was written."""
    table = AssetKeyTable
    with _connection(instance) as conn:
        statement = table.update().where(table.c.asset_key == key.to_string(),
                                         table.c.last_run_id == only_if_last_run_id).values(**values)
        return conn.execute(statement).rowcount > 0


def delete_run_files(instance: DagsterInstance, run_id: str) -> None:
    """A deleted run's compute logs (through the compute log manager) and, on Dagster's default SQLite event log,
    its shard file (delete_run empties it but leaves the file)."""
    try:
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    except NotImplementedError:
        pass
    storage = instance.event_log_storage
    if isinstance(storage, SqliteEventLogStorage):
        for suffix in ("", "-wal", "-shm"):
            path = storage.path_for_shard(run_id) + suffix
            if os.path.exists(path):
                os.remove(path)


def sqlite_files(instance: DagsterInstance) -> list[str]:
    """The instance's SQLite databases (event log or its index, runs, schedules); empty when not SQLite."""
    paths = []
    storage = instance.event_log_storage
    if isinstance(storage, ConsolidatedSqliteEventLogStorage):
        paths.append(storage.get_db_path())
    elif isinstance(storage, SqliteEventLogStorage):
        paths.append(storage.path_for_shard(INDEX_SHARD))
    for other in (instance.run_storage, instance.schedule_storage):
        conn_string = getattr(other, "_conn_string", "")
        if conn_string.startswith("sqlite"):
            paths.append(db.engine.make_url(conn_string).database or "")
    return [path for path in paths if path and os.path.exists(path)]


def instance_bytes(instance: DagsterInstance) -> int | None:
    """Bytes of the instance's SQLite files (WAL included, plus per-run shards); None when not SQLite."""
    files = sqlite_files(instance)
    if not files:
        return None
    if isinstance(instance.event_log_storage, SqliteEventLogStorage):
        directory = os.path.dirname(files[0])
        files += [os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".db")]
    return sum(os.path.getsize(p + s) for p in set(files) for s in ("", "-wal") if os.path.exists(p + s))


def vacuum(paths: Sequence[str]) -> list[str]:
    """VACUUM each SQLite file and truncate its WAL: deleted rows only free pages, the file keeps its size."""
    done = []
    for path in paths:
        try:
            with closing(sqlite3.connect(path, timeout=VACUUM_TIMEOUT_SECONDS, isolation_level=None)) as conn:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            done.append(path)
        except sqlite3.OperationalError as error:  # busy past the timeout: the next pass does it
            logger.warning("VACUUM of %s skipped: %s", path, error)
    return done
