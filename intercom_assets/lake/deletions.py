"""Deletions in the lake: the log of every record Intercom deleted or merged away (or a person had erased), the
`deleted_records` table, and the rewrite of every partition that still holds a row of such a record.

A deleted record leaves no row in any partition of any table keyed by it or derived from it: the registry says
which columns of each table refer to records of which table (`TableSpec.columns_referring_to`), so a contact's
deletion reaches contacts, users, leads, its tag and company links and the conversation-contact links that name
it; a conversation's reaches its parts, tags and contact links. Every file is rewritten atomically; old
partitions outside a run's range included.

The log (`{root}/_state/deletion_log.parquet`) holds every deletion ever detected, so a deletion is propagated
once and later runs drop rows of deleted records that Intercom still returns for a while (a merged lead in an old
search page). `deleted_records` is its user-facing copy, one partition per day of detection, merged into its
partition, never rewritten from one run's view.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_assets.declarations import DELETED, ERASED, MERGED
from intercom_assets.lake.rewrite import Rewritten, rewrite_partition, rewrite_staged
from intercom_assets.lake.staging import PARENTS_KEY, StagedPartition, dedupe_newest
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.tables import DELETIONS_TABLE, PEOPLE_TABLE, TableSpec

__all__ = ["DELETED", "ERASED", "MERGED", "Deletion", "DeletionLog", "Rewritten", "drop_rows", "filter_staged",
           "merge_deleted_records", "rewrite_partitions", "scoped", "stored_ids", "suppress", "suppressed_ids"]

LOG_NAME = "deletion_log.parquet"
# Erased people's ids, and nothing else about them: later runs drop and scrub them on arrival.
SUPPRESSED = "_suppressed/contact_ids.parquet"
SUPPRESSED_SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False)])
SWEEPS_NAME = "deletion_sweeps.parquet"
LOG_SCHEMA = pa.schema([
    ("source_table", pa.string()), ("id", pa.string()), ("reason", pa.string()), ("merged_into_id", pa.string()),
    ("deleted_at", pa.int64()), ("detected_at", pa.int64()),
])


@dataclass(frozen=True)
class Deletion:
    """One record gone from Intercom (or erased here)."""

    source_table: str
    id: str
    reason: str
    merged_into_id: str | None = None
    deleted_at: int | None = None  # Unix seconds

    def row(self, detected_at: int) -> dict:
        return {
            "source_table": self.source_table, "id": self.id, "reason": self.reason,
            "merged_into_id": self.merged_into_id, "deleted_at": self.deleted_at, "detected_at": detected_at,
        }


@dataclass
class DeletionLog:
    """Every deletion detected so far: table -> ids; the newest deletion time Intercom reported, per table; and
    when each table's records were last swept (listed whole, to find deletions with no other signal)."""

    ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    latest_deleted_at: dict[str, int] = field(default_factory=dict)
    swept_at: dict[str, int] = field(default_factory=dict)
    suppressed: frozenset[str] = frozenset()  # erased people (also in the ids of the people table)

    @classmethod
    def load(cls, store: ParquetStore, detected_since: int | None = None) -> DeletionLog:
        """The stored log; with `detected_since` (Unix seconds), only deletions detected since then."""
        log = cls()
        try:
            table = store.read_state(LOG_NAME)
        except FileNotFoundError:
            table = None
        if table is not None and detected_since is not None:
            table = table.filter(pc.greater_equal(table.column("detected_at"), detected_since))
        if table is not None:
            for source_table, record_id, reason, deleted_at in zip(
                *(table.column(c).to_pylist() for c in ("source_table", "id", "reason", "deleted_at")), strict=True
            ):
                log.ids[source_table].add(record_id)
                if reason == DELETED and deleted_at is not None:
                    log.latest_deleted_at[source_table] = max(deleted_at, log.latest_deleted_at.get(source_table, 0))
        if detected_since is None:
            log.suppressed = frozenset(suppressed_ids(store))
            log.ids[PEOPLE_TABLE.name].update(log.suppressed)
        try:
            sweeps = store.read_state(SWEEPS_NAME)
            log.swept_at = dict(zip(sweeps.column("table").to_pylist(), sweeps.column("swept_at").to_pylist(),
                                    strict=True))
        except FileNotFoundError:
            pass
        return log

    def sweep_due(self, table: str, now: int, every_hours: int) -> bool:
        """Whether the table's last sweep is older than `every_hours` (0: sweep on every run)."""
        last = self.swept_at.get(table)
        return last is None or every_hours == 0 or now - last >= every_hours * 3600

    def mark_swept(self, store: ParquetStore, tables: Sequence[str], now: int, scratch: Path) -> None:
        self.swept_at.update(dict.fromkeys(tables, now))
        data = pa.table({"table": list(self.swept_at), "swept_at": list(self.swept_at.values())},
                        schema=pa.schema([("table", pa.string()), ("swept_at", pa.int64())]))
        store.write_state(SWEEPS_NAME, data, scratch)

    def new(self, deletions: Iterable[Deletion]) -> list[Deletion]:
        """The deletions not logged yet (the first of each record, if it comes twice)."""
        fresh: dict[tuple[str, str], Deletion] = {}
        for deletion in deletions:
            key = (deletion.source_table, deletion.id)
            if deletion.id not in self.ids.get(deletion.source_table, ()) and key not in fresh:
                fresh[key] = deletion
        return list(fresh.values())

    def append(self, store: ParquetStore, deletions: Sequence[Deletion], detected_at: int, scratch: Path) -> None:
        """Add deletions to the stored log (rewritten whole: it holds ids only, a few bytes a record)."""
        if not deletions:
            return
        added = pa.Table.from_pylist([deletion.row(detected_at) for deletion in deletions], schema=LOG_SCHEMA)
        try:
            table = pa.concat_tables([store.read_state(LOG_NAME).cast(LOG_SCHEMA), added])
        except FileNotFoundError:
            table = added
        store.write_state(LOG_NAME, table, scratch)
        for deletion in deletions:
            self.ids[deletion.source_table].add(deletion.id)

    def removals(self, spec: TableSpec) -> dict[str, set[str]]:
        """column -> ids whose rows must not be in `spec`'s files (empty when nothing it holds was deleted)."""
        found: dict[str, set[str]] = defaultdict(set)
        for source_table, ids in self.ids.items():
            if not ids:
                continue
            for column in spec.columns_referring_to(source_table):
                found[column] |= ids
        return dict(found)


def suppressed_ids(store: ParquetStore) -> set[str]:
    """Every contact id ever erased here."""
    try:
        return set(store.read_path(store.root / SUPPRESSED).column("id").to_pylist())
    except FileNotFoundError:
        return set()


def suppress(store: ParquetStore, ids: Iterable[str], scratch: Path) -> None:
    """Add ids to the suppression list (rewritten whole, atomically)."""
    every = sorted(suppressed_ids(store) | set(ids))
    local = scratch / "suppressed.parquet"
    local.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": every}, schema=SUPPRESSED_SCHEMA), local)
    store.replace_file(SUPPRESSED, local)
    local.unlink(missing_ok=True)


def stored_ids(store: ParquetStore, table: str) -> set[str]:
    """Every id of a table's records stored in any partition (the `id` column of each file)."""
    ids: set[str] = set()
    for key in store.stored_partitions(table):
        ids.update(v for v in store.read(table, key, columns=["id"]).column("id").to_pylist() if v is not None)
    return ids


def drop_rows(data: pa.Table, removals: Mapping[str, set[str]]) -> tuple[pa.Table, int]:
    """The table without rows whose value in a removal column is one of its ids; and how many went."""
    if not removals or data.num_rows == 0:
        return data, 0
    keep = None
    for column, ids in removals.items():
        if column not in data.column_names or not ids:
            continue
        hit = pc.fill_null(pc.is_in(data.column(column), value_set=pa.array(sorted(ids), pa.string())), False)
        keep = pc.invert(hit) if keep is None else pc.and_(keep, pc.invert(hit))
    if keep is None:
        return data, 0
    kept = data.filter(keep)
    return kept, data.num_rows - kept.num_rows


def _without_parents(data: pa.Table, removals: Mapping[str, set[str]], parent_column: str | None) -> pa.Table:
    """Drop removed parents from a child partition's fetched-parents record, so they are not reused either."""
    metadata = dict(data.schema.metadata or {})
    if parent_column is None or PARENTS_KEY not in metadata or parent_column not in removals:
        return data
    parents = json.loads(metadata[PARENTS_KEY])
    gone = removals[parent_column]
    metadata[PARENTS_KEY] = json.dumps({p: v for p, v in parents.items() if p not in gone}, sort_keys=True).encode()
    return data.replace_schema_metadata(metadata)


def rewrite_partitions(
    store: ParquetStore, specs: Sequence[TableSpec], log: DeletionLog, scratch: Path,
    only: Mapping[str, set[str]] | None = None, skip: Mapping[str, Iterable[str]] | None = None,
) -> list[Rewritten]:
    """Rewrite every stored partition of these tables that holds a row of a logged deletion.

    `only` (table -> ids) limits the scan to the ids of new deletions: each partition's referring columns are
    read first, and a file is read whole and rewritten only when one of its rows must go. `skip` (table ->
    partitions) names partitions that were just written without those rows (see filter_staged).
    """
    rewrites: list[Rewritten] = []
    scope = log if only is None else scoped(only)
    for spec in specs:
        removals = scope.removals(spec)
        if not removals:
            continue
        columns = sorted(removals)
        done = set((skip or {}).get(spec.name, ()))
        for key in sorted(store.stored_partitions(spec.name)):
            if key in done or drop_rows(store.read(spec.name, key, columns=columns), removals)[1] == 0:
                continue
            rewritten = rewrite_partition(store, spec.name, key, without(spec, removals), scratch)
            if rewritten is not None:
                rewrites.append(rewritten)
    return rewrites


def without(spec: TableSpec, removals: Mapping[str, set[str]]) -> Callable[[pa.Table | None], pa.Table | None]:
    """The change that drops a table's rows of these records (and forgets them as fetched parents)."""

    def change(data: pa.Table | None) -> pa.Table | None:
        if data is None:
            return None
        kept, removed = drop_rows(data, removals)
        return _without_parents(kept, removals, spec.parent_key) if removed else None

    return change


def scoped(ids: Mapping[str, set[str]]) -> DeletionLog:
    """A log holding only these ids (table -> ids), to remove just them."""
    return DeletionLog(defaultdict(set, {table: set(found) for table, found in ids.items()}))


def filter_staged(spec: TableSpec, partitions: dict[str, StagedPartition], log: DeletionLog) -> int:
    """Drop rows of the log's records from a run's staged files before they are committed (one write per
    partition); returns the rows removed. The stager already skips records logged before the run started; this
    catches those detected during it."""
    removals = log.removals(spec)
    if not removals:
        return 0
    removed_total = 0
    for key, partition in partitions.items():
        staged = rewrite_staged(partition, without(spec, removals))
        if staged is not None:
            removed_total += partition.row_count - staged.row_count
            partitions[key] = staged
    return removed_total


def merge_deleted_records(
    store: ParquetStore, deletions: Sequence[Deletion], detected_at: int, extracted_at: int, scratch: Path,
    days: Iterable[str] = (),
) -> dict[str, StagedPartition]:
    """Add deletions to their day's deleted_records partition, keeping every row already there (`days`: also
    these days, each written empty when it has no file yet)."""
    converter = DELETIONS_TABLE.converter()
    by_day: dict[str, list[dict]] = defaultdict(list, {day: [] for day in days})
    for deletion in deletions:
        by_day[day_key(detected_at)].append(converter.convert_row(deletion.row(detected_at)))

    def adding(rows: list[dict]) -> Callable[[pa.Table | None], pa.Table]:
        def change(stored: pa.Table | None) -> pa.Table:
            added = pa.Table.from_batches([converter.to_batch(rows, extracted_at)])
            merged = added if stored is None else pa.concat_tables([stored.cast(converter.schema), added])
            # the first detection of a record wins: a later run never rewrites what an erasure wrote
            return dedupe_newest(merged, DELETIONS_TABLE.key, None)

        return change

    written: dict[str, StagedPartition] = {}
    for key, rows in by_day.items():
        rewritten = rewrite_partition(store, DELETIONS_TABLE.name, key, adding(rows), scratch, missing_ok=True)
        assert rewritten is not None
        written[key] = rewritten.staged
    return written
