"""Erasure of people from the lake (a data-protection request): no Dagster here; the job is automation/erase_job.py.

For the contacts named (by id, or by an email a stored contact has):
- their rows leave the contact tables and the tables keyed by them (tags, companies, conversation links);
- conversations and tickets whose only contact they were leave with their parts, tags and links;
- in every other row, a value equal to an erased id or email (at any path: nested fields, JSON text such as
  `custom_attributes` and `_extra`, part authors) becomes null, an object naming an erased id loses its email,
  name and phone too, and their occurrences inside text become `[erased]`;
in every partition of every table, in the current-state tables, in the deletion log and in deleted_records
(which keeps one row per erased id: reason `erased`, nothing else about them). The companies scroll cache is
deleted. Erased ids, and nothing else about them, go to `{root}/_suppressed/contact_ids.parquet`: later runs drop
and scrub them on arrival (lake/staging.py), while Intercom still holds them.

A file is read only in the columns that could hold a value and rewritten only when one does: a regular
expression over every string leaf of the file (Arrow, vectorized) decides.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from intercom_assets.declarations import ERASED, TableSpec, value_at
from intercom_assets.lake.current_state import CURRENT_DIR
from intercom_assets.lake.deletions import (
    LOG_NAME,
    LOG_SCHEMA,
    Deletion,
    DeletionLog,
    drop_rows,
    merge_deleted_records,
    suppress,
)
from intercom_assets.lake.rewrite import rewrite_partition
from intercom_assets.lake.scroll_cache import ScrollCache
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.schemas import to_json
from intercom_assets.tables import DELETIONS_TABLE, PEOPLE_TABLE, TABLES

MARKER = "[erased]"
PERSONAL_KEYS = ("email", "name", "phone")  # of an object whose `id` is an erased contact (a part's author)


class Scrubber:
    """Finds and removes the values of erased people: ids (exact, or as a whole word in text) and emails
    (case-insensitive)."""

    def __init__(self, ids: Iterable[str], emails: Iterable[str] = ()):
        self.ids = {str(i) for i in ids if str(i)}
        self.emails = {e.strip().lower() for e in emails if e.strip()}
        words = [rf"(?<![\w.@-]){re.escape(i)}(?![\w@-])" for i in sorted(self.ids)]
        words += [re.escape(e) for e in sorted(self.emails)]
        self._regex = re.compile("|".join(words), re.IGNORECASE) if words else None
        # Arrow's regular expressions (RE2) have no look-behind: a plain alternation finds candidate files, which
        # may over-match (an id inside a longer number); the rows then tell
        self.pattern = "|".join(re.escape(n) for n in sorted(self.ids | self.emails))

    def __bool__(self) -> bool:
        return self._regex is not None

    def hits(self, data: pa.Table) -> bool:
        """Whether any string in the table (nested ones included) holds an erased id or email."""
        if self._regex is None or data.num_rows == 0:
            return False
        for column in data.columns:
            for leaf in _string_leaves(column):
                found = pc.any(pc.match_substring_regex(leaf, self.pattern, ignore_case=True)).as_py()
                if found:
                    return True
        return False

    def value(self, value: Any) -> Any:
        """The value without erased ids or emails (a new object; the input is not modified)."""
        if isinstance(value, str):
            if value in self.ids or value.strip().lower() in self.emails:
                return None
            if self._regex is None or not self._regex.search(value):
                return value
            if value[:1] in "{[":
                try:
                    return to_json(self.value(json.loads(value)))
                except ValueError:
                    pass
            return self._regex.sub(MARKER, value)
        if isinstance(value, dict):
            out = {key: self.value(item) for key, item in value.items()}
            if str(value.get("id")) in self.ids:
                out.update({key: None for key in PERSONAL_KEYS if key in out})
            return out
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def rows(self, data: pa.Table) -> pa.Table | None:
        """The table with every row scrubbed (None when nothing changed); a required column that would be null
        keeps the marker."""
        required = [f.name for f in data.schema if not f.nullable and pa.types.is_string(f.type)]
        rows, changed = [], False
        for row in data.to_pylist():
            clean = {key: self.value(item) for key, item in row.items()}
            clean.update({name: MARKER for name in required if clean.get(name) is None})
            changed = changed or clean != row
            rows.append(clean)
        return pa.Table.from_pylist(rows, schema=data.schema) if changed else None

    def table(self, data: pa.Table) -> pa.Table | None:
        """`rows`, for a table that holds a candidate value at all (None when nothing changed)."""
        return self.rows(data) if self.hits(data) else None


def _string_leaves(array: pa.ChunkedArray | pa.Array) -> Iterator[pa.Array]:
    """Every string array inside an Arrow column (through structs, lists and maps)."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        kind = chunk.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            yield chunk
        elif pa.types.is_struct(kind):
            for index in range(kind.num_fields):
                yield from _string_leaves(chunk.field(index))
        elif pa.types.is_map(kind):
            yield from _string_leaves(chunk.keys)
            yield from _string_leaves(chunk.items)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            yield from _string_leaves(chunk.flatten())


@dataclass
class ErasureReport:
    """What an erasure did (counts only: never the ids or emails)."""

    people: int = 0
    records_removed: dict[str, int] = field(default_factory=dict)  # table -> records that left with their owners
    rows_removed: int = 0
    files_rewritten: int = 0
    files_scanned: int = 0
    seconds: float = 0.0
    rewritten: dict[str, set[str]] = field(default_factory=dict)  # table -> partitions (not the current state)

    def summary(self) -> str:
        """One line for the run log (counts only)."""
        owned = "".join(f", {count} {table}" for table, count in sorted(self.records_removed.items()))
        return (f"Erasure: {self.people} {PEOPLE_TABLE.name}{owned} removed, {self.rows_removed} rows removed, "
                f"{self.files_rewritten} of {self.files_scanned} files rewritten in {self.seconds} s")


def _stores(store: ParquetStore) -> tuple[ParquetStore, ParquetStore]:
    """The lake's partitions and its current-state tables."""
    return store, ParquetStore(store.root / CURRENT_DIR)


def people_with_emails(store: ParquetStore, emails: Iterable[str]) -> set[str]:
    """Ids of stored people (any partition, the current state too) whose email is one of these."""
    wanted = pa.array(sorted({e.strip().lower() for e in emails if e.strip()}), pa.string())
    found: set[str] = set()
    column = PEOPLE_TABLE.person_email
    if len(wanted) == 0 or column is None:
        return found
    for source in _stores(store):
        for key in source.stored_partitions(PEOPLE_TABLE.name):
            data = source.read(PEOPLE_TABLE.name, key, columns=["id", column])
            hit = pc.fill_null(pc.is_in(pc.utf8_lower(data.column(column)), value_set=wanted), False)
            found.update(data.filter(hit).column("id").to_pylist())
    return found


def erase(store: ParquetStore, person_ids: Iterable[str], emails: Iterable[str], now: int, scratch: Path
          ) -> ErasureReport:
    """Erase these people (and the people stored with these emails) from every file; see the module."""
    started = time.monotonic()
    emails = list(emails)
    ids = {str(i) for i in person_ids} | people_with_emails(store, emails)
    report = ErasureReport(people=len(ids))
    if not ids and not emails:
        return report
    scrubber = Scrubber(ids, emails)
    removed = {PEOPLE_TABLE.name: ids}
    for spec in TABLES:
        if spec.owners is not None and spec.owners.table == PEOPLE_TABLE.name and spec.is_record_table:
            removed[spec.name] = _only_theirs(store, spec, ids)
            report.records_removed[spec.name] = len(removed[spec.name])
    for spec in TABLES:
        if spec.logs_deletions:
            continue
        removals = _removals(spec, removed)
        for source in _stores(store):
            for key in sorted(source.stored_partitions(spec.name)):
                report.files_scanned += 1
                rewritten = rewrite_partition(source, spec.name, key, _cleaning(removals, scrubber, report),
                                              scratch / "erase", keep_local=False)
                if rewritten is not None:
                    report.files_rewritten += 1
                    if source is store:
                        report.rewritten.setdefault(spec.name, set()).add(key)
    _erase_deleted_records(store, ids, scrubber, scratch, report)
    _erase_log(store, ids, scrubber, scratch)
    ScrollCache(store).discard()
    erased = [Deletion(table, i, ERASED) for table, found in removed.items() for i in sorted(found)]
    DeletionLog().append(store, [d for d in erased if d.source_table != PEOPLE_TABLE.name], now, scratch)
    for key in merge_deleted_records(store, erased, now, now, scratch / DELETIONS_TABLE.name):
        report.rewritten.setdefault(DELETIONS_TABLE.name, set()).add(key)
    suppress(store, ids, scratch)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _only_theirs(store: ParquetStore, spec: TableSpec, ids: set[str]) -> set[str]:
    """Records whose every owner (e.g. `contacts.contacts[].id` of a conversation) is erased."""
    assert spec.owners is not None
    column, _, inner = spec.owners.path.partition(".")
    theirs: set[str] = set()
    for source in _stores(store):
        for key in source.stored_partitions(spec.name):
            data = source.read(spec.name, key, columns=["id", column])
            for record_id, owners in zip(data.column("id").to_pylist(), data.column(column).to_pylist(),
                                         strict=True):
                listed = value_at(owners, inner) if inner else owners
                refs = {str(o.get("id")) for o in (listed or []) if isinstance(o, dict)}
                if refs and refs <= ids:
                    theirs.add(record_id)
    return theirs


def _removals(spec: TableSpec, removed: dict[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for source_table, ids in removed.items():
        for column in spec.columns_referring_to(source_table):
            found.setdefault(column, set()).update(ids)
    return {column: ids for column, ids in found.items() if ids}


def _cleaning(removals: dict[str, set[str]], scrubber: Scrubber, report: ErasureReport
              ) -> Callable[[pa.Table | None], pa.Table | None]:
    """The change that removes the erased records' rows and scrubs the others (None when nothing changes)."""

    def change(data: pa.Table | None) -> pa.Table | None:
        if data is None:
            return None
        kept, dropped = drop_rows(data, removals)
        scrubbed = scrubber.table(kept)
        if not dropped and scrubbed is None:
            return None
        report.rows_removed += dropped
        return kept if scrubbed is None else scrubbed

    return change


def _theirs(data: pa.Table, ids: set[str]) -> pa.Array:
    """Rows of a deletion log or deleted_records that name one of these people."""
    return pc.and_(pc.equal(data.column("source_table"), PEOPLE_TABLE.name),
                   pc.fill_null(pc.is_in(data.column("id"), value_set=pa.array(sorted(ids), pa.string())), False))


def _erase_deleted_records(store: ParquetStore, ids: set[str], scrubber: Scrubber, scratch: Path,
                           report: ErasureReport) -> None:
    """Earlier rows of the erased people go (their `erased` row replaces them); other rows are scrubbed."""

    def change(data: pa.Table | None) -> pa.Table | None:
        if data is None:
            return None
        kept = data.filter(pc.invert(_theirs(data, ids)))
        scrubbed = scrubber.table(kept)
        if kept.num_rows == data.num_rows and scrubbed is None:
            return None
        return kept if scrubbed is None else scrubbed

    for key in sorted(store.stored_partitions(DELETIONS_TABLE.name)):
        if rewrite_partition(store, DELETIONS_TABLE.name, key, change, scratch / "erase", keep_local=False):
            report.files_rewritten += 1
            report.rewritten.setdefault(DELETIONS_TABLE.name, set()).add(key)


def _erase_log(store: ParquetStore, ids: set[str], scrubber: Scrubber, scratch: Path) -> None:
    """The deletion log keeps no row of an erased person (the suppression list stands for them)."""
    try:
        log = store.read_state(LOG_NAME).cast(LOG_SCHEMA)
    except FileNotFoundError:
        return
    kept = log.filter(pc.invert(_theirs(log, ids)))
    scrubbed = scrubber.table(kept)
    kept = kept if scrubbed is None else scrubbed
    store.write_state(LOG_NAME, kept, scratch)
