"""Current state of the incremental tables: one row per key, its newest version, deleted and erased records removed.

Layout: `{root}/current/<table>/date=YYYY-MM-DD/part-0.parquet`, the table's own schema. A row lives in the
file of its *home day*, the day of the partition its version came from (the UTC day of that version). Every
row of one parent record (a conversation's parts, a company's segments) shares the parent's home, and users
and leads share their contact's home. Readers glob `current/<table>/*/*.parquet` as one dataset (DuckDB's hive
detection adds `date`, as the old views did); every file is replaced atomically through ParquetStore.

Why days and not buckets of a key hash: the records that really changed in a tick are scattered across the key
space, so they hit every hash bucket. Measured with 1,000,000 contacts over 365 days, a tick re-writing the 30
window days with 1% of their rows changed (1,519 records) hits 128 of 128 buckets: the whole state rewritten.
With day homes the same tick rewrites the 30 window files (150k rows, what the tick wrote to the lake anyway)
in 2.5 s. Its weak case is long-quiet records coming back: each rewrites its old day's file (500 of them over
335 old days: 286 files, 800k rows, 11 s), still no more than every bucket.

Caller: pass the partitions materialized since the last successful refresh (re-running a refresh, or one that
died half way, is harmless: every file is recomputed from the same inputs) and the whole deletion log as
`removals` on every call. First run or schema change: `rebuild`. A subset added to the registry later:
`rebuild(store, subset)` once (a refresh recomputes a subset's file only when its base table's file changes).

Rules of a refresh (merge the changed partitions into the stored state):
- Candidates for a record: its stored row and its rows in the changed partitions. The winner has the highest
  version, then the later day, then the later `_extracted_at`; a stored row and an incoming row that tie on
  all three are the same extraction and the incoming one is taken. So a re-extraction of the same version
  replaces the stored row, and an older version (a backfill of an old range) never replaces a newer one.
- The state keeps the newest version ever merged: a record missing from a re-materialized partition keeps its
  row; only a newer version or a removal takes it out (`rebuild` re-derives everything from the lake).
- Children follow the parent's newest version, taken from their own rows, the parent table's partitions of the
  same days and the parent's current state: the rows of that version replace all the parent's rows (a part or
  segment dropped from it is gone); a parent whose newest version has no rows keeps none. Refresh a parent table
  before its children (`refresh_tables` does).
- Subsets (users, leads) are not merged on their own: every contacts file a refresh recomputes is filtered by
  role into theirs, so a lead that became a user leaves `leads_current` in the same pass.
- `removals` ({column: ids}) drop every row whose value in that column is listed, on every refresh (pass the
  whole deletion log: an old partition still holding a deleted record cannot bring it back). Only the columns
  named are read from the stored files to find the rows; nothing is read for an empty mapping.
- A file is rewritten only when its rows differ other than in `_extracted_at`; a file left empty is deleted.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from intercom_assets.lake.schema_upgrade import conform
from intercom_assets.lake.staging import dedupe_newest
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.schemas import EXTRACTED_AT_COLUMN
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec

CURRENT_DIR = "current"
SUBSET_COLUMN = "role"  # the column a subset's `rows` rule decides on (users and leads: the contact's role)
_INCOMING, _STORED = 0, 1
_CANDIDATE = pa.schema([("g", pa.string()), ("v", pa.int64()), ("rows", pa.bool_()), ("day", pa.string()),
                        ("x", pa.int64()), ("src", pa.int8())])
_ORDER = [("g", "ascending"), ("v", "descending"), ("rows", "descending"), ("day", "descending"),
          ("x", "descending"), ("src", "ascending")]
READ_AHEAD = 8  # narrow reads in flight (one stored file after another; object stores answer in parallel)
_NO_VERSION = -(2**63)  # a null version (sorted last: the default null placement) compares equal to itself


@dataclass
class RefreshReport:
    """What one refresh or rebuild did to one table's current state."""

    table: str
    partitions: int = 0  # changed partitions read (plus `unchanged`)
    unchanged: int = 0  # changed partitions left out: their content was merged before (lake/current_inputs.py)
    rows_in: int = 0  # rows in them
    files_touched: int = 0  # current files whose rows were recomputed
    files_rewritten: int = 0
    files_deleted: int = 0
    rows_out: int = 0  # rows in the rewritten files
    rows_removed: int = 0  # rows dropped by `removals`
    seconds: float = 0.0
    subsets: list[RefreshReport] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("table", "subsets")}


def current_store(store: ParquetStore) -> ParquetStore:
    """The current state's files, `{root}/current/<table>/date=…/part-0.parquet`, through the same atomic writes."""
    return ParquetStore(store.root / CURRENT_DIR)


def current_glob(root: str, table: str) -> str:
    """Every current-state file of a table, for DuckDB's read_parquet."""
    return f"{root.rstrip('/')}/{CURRENT_DIR}/{table}/*/*.parquet"


def current_tables(tables: Iterable[TableSpec] = TABLES) -> list[TableSpec]:
    """Tables with a current state: the incremental ones (deleted_records is a log: every row stays)."""
    return [spec for spec in tables if spec.has_current_state]


def read_current(store: ParquetStore, table: str, columns: list[str] | None = None) -> pa.Table:
    """A table's whole current state as one Arrow table (tests and small callers; readers at scale use the glob)."""
    spec, cur = TABLES_BY_NAME[table], current_store(store)
    schema = spec.converter().schema
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    pieces = [conform(cur.read(table, day, columns), schema) for day in sorted(cur.stored_partitions(table))]
    return pa.concat_tables(pieces) if pieces else schema.empty_table()


def refresh(store: ParquetStore, spec: TableSpec, partitions: Iterable[str],
            removals: Mapping[str, Iterable[str]] | None = None, scratch: Path | None = None) -> RefreshReport:
    """Merge the changed `partitions` of `spec` into its current state (and its subsets', in the same pass)."""
    return _merge(store, spec, sorted(set(partitions)), removals or {}, scratch, from_scratch=False)


def rebuild(store: ParquetStore, spec: TableSpec, removals: Mapping[str, Iterable[str]] | None = None,
            scratch: Path | None = None) -> RefreshReport:
    """The current state from every stored partition (first run, schema change); unchanged files are kept."""
    if spec.subset_of is not None:  # only its contacts' files: derive every one of them again
        report, started = RefreshReport(spec.name), time.monotonic()
        base, cur = TABLES_BY_NAME[spec.subset_of], current_store(store)
        homes = cur.stored_partitions(base.name)
        for day in sorted(homes | cur.stored_partitions(spec.name)):
            content = conform(cur.read(base.name, day), base.converter().schema) if day in homes else None
            _store_home(cur, spec, day, _subset_rows(spec, content), _scratch(scratch), report)
        report.seconds = time.monotonic() - started
        return report
    return _merge(store, spec, sorted(store.stored_partitions(spec.name)), removals or {}, scratch,
                  from_scratch=True)


def refresh_tables(store: ParquetStore, changed: Mapping[str, Iterable[str]],
                   removals: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
                   scratch: Path | None = None) -> dict[str, RefreshReport]:
    """Refresh every table of `changed` (table -> changed partitions), parents before their children.

    A subset named in `changed` or `removals` (table -> {column: ids}) is refreshed through its base table: users
    and leads through contacts, their removals with the contacts' (the same records).
    """
    def base(name: str) -> str:
        return TABLES_BY_NAME[name].subset_of or name

    wanted = {base(name) for name in changed}
    reports: dict[str, RefreshReport] = {}
    for spec in current_tables():  # the registry lists parents before their children
        if spec.name in wanted:
            parts = [p for name in changed if base(name) == spec.name for p in changed[name]]
            removed: dict[str, set[str]] = {}
            for name, columns in (removals or {}).items():
                for column, ids in columns.items() if base(name) == spec.name else ():
                    removed.setdefault(column, set()).update(ids)
            report = refresh(store, spec, parts, removed, scratch)
            reports.update({spec.name: report, **{sub.table: sub for sub in report.subsets}})
    return reports


# ---- the merge ------------------------------------------------------------------------------------------
def _merge(store: ParquetStore, spec: TableSpec, partitions: list[str], removals: Mapping[str, Iterable[str]],
           scratch: Path | None, from_scratch: bool) -> RefreshReport:
    if spec.is_snapshot or spec.partition_column is None:
        raise ValueError(f"{spec.name} is a snapshot table: its latest day is its current state")
    if spec.subset_of is not None:
        raise ValueError(f"{spec.name} follows {spec.subset_of}: refresh {spec.subset_of}, which writes both")
    if spec.parent_key is None and len(spec.key) != 1:
        raise ValueError(f"{spec.name}: a current state needs one key column or a parent column")
    started, report, cur = time.monotonic(), RefreshReport(spec.name), current_store(store)
    schema = spec.converter().schema
    group, version = spec.parent_key or spec.key[0], spec.partition_column
    unknown = [name for name in removals if name not in schema.names]
    if unknown:
        raise ValueError(f"{spec.name} has no column {unknown}: cannot remove rows by it")
    removed = {name: set(map(str, ids)) for name, ids in removals.items() if ids}
    subsets = [s for s in TABLES if s.subset_of == spec.name]
    if not partitions and not removed and not from_scratch:  # nothing to merge or remove: nothing to read
        report.subsets = [RefreshReport(s.name) for s in subsets]
        report.seconds = time.monotonic() - started
        return report
    homes = cur.stored_partitions(spec.name)

    candidates, read = [], []  # the changed partitions' keys decide which groups the stored state must show
    for day, keys in _read_many(store, spec.name, partitions, [group, version, EXTRACTED_AT_COLUMN]):
        report.partitions, report.rows_in = report.partitions + 1, report.rows_in + keys.num_rows
        candidates.append(_candidates(keys, group, version, day, _INCOMING, spec.parent_key is not None))
        read.append(day)
    groups: set[str] = set()  # the records in play, for finding them in the stored files and the parent's state
    if candidates and (not from_scratch or spec.parent_key is not None):
        groups = set(pc.unique(pa.concat_tables(candidates)["g"]).to_pylist())
    if spec.children is not None and spec.parent_key is not None:  # a list that follows its parent's version
        candidates += _parent_versions(store, TABLES_BY_NAME[spec.children.parent], read, groups)

    touched = set(homes).union(*(cur.stored_partitions(s.name) for s in subsets)) if from_scratch else set()
    if not from_scratch and (groups or removed):
        columns = list(dict.fromkeys([group, version, EXTRACTED_AT_COLUMN, *removed]))
        for day, stored in _read_many(cur, spec.name, sorted(homes), columns):  # narrow columns, file by file
            if any(_hits(stored[name], ids).any() for name, ids in removed.items()):
                touched.add(day)
            mask = _hits(stored[group], groups)
            if mask.any():
                candidates.append(_candidates(stored.filter(mask), group, version, day, _STORED, True))

    candidates = pa.concat_tables(candidates) if candidates else _CANDIDATE.empty_table()
    winners = _winners(candidates)
    by_day = _split_days(winners.filter(pc.and_(winners["rows"], pc.equal(winners["src"], _INCOMING))))
    losers = _stored_losers(candidates, winners)
    del candidates

    report.subsets = [RefreshReport(s.name) for s in subsets]
    scratch_dir = _scratch(scratch)
    for day in sorted(touched | set(by_day) | set(losers)):
        old = conform(cur.read(spec.name, day), schema) if day in homes else None
        pieces = []
        if old is not None and not from_scratch:
            drop = losers.get(day)
            pieces.append(old.filter(pc.invert(pa.array(_hits(old[group], drop)))) if drop else old)
        if day in by_day:
            rows = conform(store.read(spec.name, day), schema)
            pieces.append(rows.filter(_is_winner(rows, by_day[day], group, version)))
        content = pa.concat_tables(pieces) if pieces else schema.empty_table()
        for name, ids in removed.items():
            mask = _hits(content[name], ids)
            report.rows_removed += int(mask.sum())
            content = content.filter(pc.invert(pa.array(mask)))
        content = dedupe_newest(content, spec.key, None)
        if from_scratch or old is None or not _same(old, content):  # subsets first: an unchanged base file means
            for subset, sub_report in zip(subsets, report.subsets, strict=True):  # theirs are in step with it
                _store_home(cur, subset, day, _subset_rows(subset, content), scratch_dir, sub_report)
        _store_home(cur, spec, day, content, scratch_dir, report, old)
    report.seconds = time.monotonic() - started
    return report


def _split_days(winners: pa.Table) -> dict[str, pa.Table]:
    """The winners of each day (one sort, then slices)."""
    if winners.num_rows == 0:
        return {}
    ordered = winners.sort_by("day")
    out, offset = {}, 0
    for entry in pc.value_counts(ordered["day"]).to_pylist():
        out[entry["values"]] = ordered.slice(offset, entry["counts"])
        offset += entry["counts"]
    return out


def _candidates(keys: pa.Table, group: str, version: str, day: str, src: int, per_group: bool) -> pa.Table:
    """(group, version, has rows, day, extracted, source) of each row, or of each group for a parent's rows."""
    data = pa.table({
        "g": pc.cast(keys[group], pa.string()),
        "v": pc.cast(keys[version], pa.int64()),
        "x": pc.cast(keys[EXTRACTED_AT_COLUMN], pa.int64()),
    })
    if per_group:
        data = data.group_by(["g", "v", "x"], use_threads=False).aggregate([])
    n = data.num_rows
    return pa.table({"g": data["g"], "v": data["v"], "rows": pa.repeat(True, n), "day": pa.repeat(day, n),
                     "x": data["x"], "src": pa.repeat(pa.scalar(src, pa.int8()), n)}, schema=_CANDIDATE)


def _parent_versions(store: ParquetStore, parent: TableSpec, days: list[str], groups: set[str]) -> list[pa.Table]:
    """The parent's versions (no rows of their own), so a parent whose newest version has no children keeps none.

    From the parent's partitions of the same days (every parent there: it may have lost all its children, then
    the children's partition does not name it; `groups` grows by these) and from the parent's current state for
    the groups in play (an old partition re-materialized cannot bring back children of an older version).
    """
    columns, found, cur = [parent.key[0], parent.partition_column or ""], [], current_store(store)
    for source, homes, only_known in ((store, days, False), (cur, sorted(cur.stored_partitions(parent.name)), True)):
        for day, keys in _read_many(source, parent.name, homes, columns):
            if only_known:
                keys = keys.filter(pa.array(_hits(keys[columns[0]], groups)))
            n = keys.num_rows
            found.append(pa.table({
                "g": pc.cast(keys[columns[0]], pa.string()), "v": pc.cast(keys[columns[1]], pa.int64()),
                "rows": pa.repeat(False, n), "day": pa.repeat(day, n), "x": pa.repeat(pa.scalar(0, pa.int64()), n),
                "src": pa.repeat(pa.scalar(_INCOMING, pa.int8()), n)}, schema=_CANDIDATE))
            if not only_known:
                groups.update(found[-1]["g"].to_pylist())
    return found


def _winners(candidates: pa.Table) -> pa.Table:
    """The first candidate of each group in `_ORDER`: newest version, rows over none, later day, later extraction."""
    if candidates.num_rows == 0:
        return candidates
    ordered = candidates.take(pc.sort_indices(candidates, sort_keys=_ORDER))
    g = ordered["g"].combine_chunks()
    first = pa.concat_arrays([pa.array([True]), pc.not_equal(g.slice(1), g.slice(0, len(g) - 1))])
    return ordered.filter(first)


def _stored_losers(candidates: pa.Table, winners: pa.Table) -> dict[str, set[str]]:
    """Per home day, the groups whose stored rows there lost to another candidate (or to a parent without rows)."""
    stored = candidates.filter(pc.equal(candidates["src"], _STORED))
    if stored.num_rows == 0:
        return {}
    at = pc.index_in(stored["g"], value_set=winners["g"])
    kept = pc.and_(pc.and_(pc.equal(pc.take(winners["src"], at), _STORED), pc.take(winners["rows"], at)),
                   pc.equal(pc.take(winners["day"], at), stored["day"]))
    lost = stored.filter(pc.invert(kept))
    out: dict[str, set[str]] = {}
    for g, day in zip(lost["g"].to_pylist(), lost["day"].to_pylist(), strict=True):
        out.setdefault(day, set()).add(g)
    return out


def _is_winner(rows: pa.Table, winners: pa.Table, group: str, version: str) -> pa.Array:
    """Rows of a partition that are their group's winning (version, extraction)."""
    at = pc.index_in(pc.cast(rows[group], pa.string()), value_set=winners["g"])
    same_v = pc.equal(pc.fill_null(pc.cast(rows[version], pa.int64()), _NO_VERSION),
                      pc.fill_null(pc.take(winners["v"], at), _NO_VERSION))
    same_x = pc.equal(pc.cast(rows[EXTRACTED_AT_COLUMN], pa.int64()), pc.take(winners["x"], at))
    return pc.fill_null(pc.and_(same_v, same_x), False)


def _hits(column: pa.ChunkedArray | pa.Array, values: set[str] | None) -> Any:
    """numpy mask of the values of `column` in `values` (a Python set: built once, probed by every file)."""
    if not values:
        return np.zeros(len(column), dtype=bool)
    return np.fromiter((v in values for v in pc.cast(column, pa.string()).to_pylist()), bool, len(column))


def _subset_rows(subset: TableSpec, content: pa.Table | None) -> pa.Table | None:
    """The base table's rows that the subset's `rows` rule keeps, decided on `SUBSET_COLUMN`."""
    if content is None:
        return None
    roles = content[SUBSET_COLUMN]
    keep = [v for v in pc.unique(roles).to_pylist() if v is not None and list(subset.rows({SUBSET_COLUMN: v}))]
    return content.filter(pc.is_in(roles, value_set=pa.array(keep, roles.type)))


def _store_home(cur: ParquetStore, spec: TableSpec, day: str, content: pa.Table | None, scratch: Path,
                report: RefreshReport, old: pa.Table | None = None) -> None:
    """Write a home day's new rows unless only `_extracted_at` differs; delete it when no row is left."""
    report.files_touched += 1
    exists = cur.exists(spec.name, day)
    if content is None or content.num_rows == 0:
        if exists:
            _delete(cur, spec.name, day)
            report.files_deleted += 1
        return
    if exists and _same(old if old is not None else conform(cur.read(spec.name, day), content.schema), content):
        return
    cur.write_table(spec.name, day, content, scratch)
    report.files_rewritten += 1
    report.rows_out += content.num_rows


def _same(old: pa.Table, new: pa.Table) -> bool:
    """The same rows in the same order, `_extracted_at` aside (a re-extraction of unchanged records)."""
    return old.drop_columns([EXTRACTED_AT_COLUMN]).equals(new.drop_columns([EXTRACTED_AT_COLUMN]))


def _read_many(source: ParquetStore, table: str, days: list[str], columns: list[str]) -> Iterator[tuple[str, pa.Table]]:
    """(day, columns) of each stored file in order, a few reads ahead; days without a file are skipped."""
    def read(day: str) -> pa.Table | None:
        try:
            return source.read(table, day, columns)
        except FileNotFoundError:
            return None

    with ThreadPoolExecutor(READ_AHEAD) as pool:
        pending: deque = deque()
        for position, day in enumerate([*days, *[None] * READ_AHEAD]):
            if day is not None:
                pending.append((day, pool.submit(read, day)))
            if pending and (len(pending) > READ_AHEAD or position >= len(days)):
                done, future = pending.popleft()
                if (data := future.result()) is not None:
                    yield done, data


def _delete(cur: ParquetStore, table: str, day: str) -> None:
    path = cur.partition_path(table, day)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    if getattr(path, "protocol", "") in ("", "file", "local"):
        try:
            Path(path.parent.path).rmdir()
        except OSError:
            pass


def _scratch(scratch: Path | None) -> Path:
    if scratch is not None:
        return scratch
    return Path(tempfile.gettempdir()) / "intercom-current"

