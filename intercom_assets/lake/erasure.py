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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_assets.lake.current_state import CURRENT_DIR
from intercom_assets.lake.deletions import (
    DELETED_RECORDS,
    ERASED,
    LOG_NAME,
    LOG_SCHEMA,
    Deletion,
    DeletionLog,
    drop_rows,
    merge_deleted_records,
    suppress,
)
from intercom_assets.lake.scroll_cache import ScrollCache
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.schemas import to_json
from intercom_assets.tables import TABLES, TableSpec

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

    contacts: int = 0
    conversations_removed: int = 0
    tickets_removed: int = 0
    rows_removed: int = 0
    files_rewritten: int = 0
    files_scanned: int = 0
    seconds: float = 0.0
    rewritten: dict[str, set[str]] = field(default_factory=dict)  # table -> partitions (not the current state)


def contacts_with_emails(store: ParquetStore, emails: Iterable[str]) -> set[str]:
    """Ids of stored contacts (any partition, the current state too) whose email is one of these."""
    wanted = pa.array(sorted({e.strip().lower() for e in emails if e.strip()}), pa.string())
    found: set[str] = set()
    if len(wanted) == 0:
        return found
    for source in (store, ParquetStore(store.root / CURRENT_DIR)):
        for key in source.stored_partitions("contacts"):
            data = source.read("contacts", key, columns=["id", "email"])
            hit = pc.fill_null(pc.is_in(pc.utf8_lower(data.column("email")), value_set=wanted), False)
            found.update(data.filter(hit).column("id").to_pylist())
    return found


def erase(store: ParquetStore, contact_ids: Iterable[str], emails: Iterable[str], now: int, scratch: Path
          ) -> ErasureReport:
    """Erase these contacts (and the contacts stored with these emails) from every file; see the module."""
    started = time.monotonic()
    emails = list(emails)
    ids = {str(i) for i in contact_ids} | contacts_with_emails(store, emails)
    report = ErasureReport(contacts=len(ids))
    if not ids and not emails:
        return report
    scrubber = Scrubber(ids, emails)
    removed = {"contacts": ids}
    for table in ("conversations", "tickets"):
        removed[table] = _only_theirs(store, table, ids)
    report.conversations_removed, report.tickets_removed = len(removed["conversations"]), len(removed["tickets"])
    current = ParquetStore(store.root / CURRENT_DIR)
    for spec in TABLES:
        removals = _removals(spec, removed)
        for source in (store, current):
            for key in sorted(source.stored_partitions(spec.name)):
                if _rewrite(source, spec.name, key, removals, scrubber, scratch, report) and source is store:
                    report.rewritten.setdefault(spec.name, set()).add(key)
    _erase_deleted_records(store, ids, scrubber, scratch, report)
    _erase_log(store, ids, scrubber, scratch)
    ScrollCache(store).discard()
    erased = [Deletion("contacts", i, ERASED) for i in sorted(ids)]
    erased += [Deletion(t, i, ERASED) for t in ("conversations", "tickets") for i in sorted(removed[t])]
    DeletionLog().append(store, [d for d in erased if d.source_table != "contacts"], now, scratch)
    for key in merge_deleted_records(store, erased, now, now, scratch / "deleted_records"):
        report.rewritten.setdefault(DELETED_RECORDS.name, set()).add(key)
    suppress(store, ids, scratch)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _only_theirs(store: ParquetStore, table: str, ids: set[str]) -> set[str]:
    """Records whose every contact (`contacts.contacts[].id`) is erased."""
    theirs: set[str] = set()
    sources = (store, ParquetStore(store.root / CURRENT_DIR))
    for source in sources:
        for key in source.stored_partitions(table):
            data = source.read(table, key, columns=["id", "contacts"])
            for record_id, contacts in zip(data.column("id").to_pylist(), data.column("contacts").to_pylist(),
                                           strict=True):
                refs = {str(c.get("id")) for c in ((contacts or {}).get("contacts") or []) if c}
                if refs and refs <= ids:
                    theirs.add(record_id)
    return theirs


def _removals(spec: TableSpec, removed: dict[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for source_table, ids in removed.items():
        for column in spec.columns_referring_to(source_table):
            found.setdefault(column, set()).update(ids)
    return {column: ids for column, ids in found.items() if ids}


def _rewrite(source: ParquetStore, table: str, key: str, removals: dict[str, set[str]], scrubber: Scrubber,
             scratch: Path, report: ErasureReport) -> bool:
    """Remove and scrub one file; write it back only when something changed."""
    report.files_scanned += 1
    data = source.read(table, key)
    kept, dropped = drop_rows(data, removals)
    scrubbed = scrubber.table(kept)
    if not dropped and scrubbed is None:
        return False
    kept = kept if scrubbed is None else scrubbed
    local = scratch / "erase" / table / f"{key}.parquet"
    local.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(kept.replace_schema_metadata(data.schema.metadata), local)
    source.write_file(table, key, local)
    local.unlink(missing_ok=True)
    report.rows_removed += dropped
    report.files_rewritten += 1
    return True


def _erase_deleted_records(store: ParquetStore, ids: set[str], scrubber: Scrubber, scratch: Path,
                           report: ErasureReport) -> None:
    """Earlier rows of the erased contacts go (their `erased` row replaces them); other rows are scrubbed."""
    for key in sorted(store.stored_partitions(DELETED_RECORDS.name)):
        data = store.read(DELETED_RECORDS.name, key)
        theirs = pc.and_(pc.equal(data.column("source_table"), "contacts"),
                         pc.fill_null(pc.is_in(data.column("id"), value_set=pa.array(sorted(ids))), False))
        kept = data.filter(pc.invert(theirs))
        scrubbed = scrubber.table(kept)
        if kept.num_rows == data.num_rows and scrubbed is None:
            continue
        kept = kept if scrubbed is None else scrubbed
        local = scratch / "erase" / DELETED_RECORDS.name / f"{key}.parquet"
        local.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(kept, local)
        store.write_file(DELETED_RECORDS.name, key, local)
        report.files_rewritten += 1
        report.rewritten.setdefault(DELETED_RECORDS.name, set()).add(key)


def _erase_log(store: ParquetStore, ids: set[str], scrubber: Scrubber, scratch: Path) -> None:
    """The deletion log keeps no row of an erased contact (the suppression list stands for them)."""
    try:
        log = store.read_state(LOG_NAME).cast(LOG_SCHEMA)
    except FileNotFoundError:
        return
    theirs = pc.and_(pc.equal(log.column("source_table"), "contacts"),
                     pc.fill_null(pc.is_in(log.column("id"), value_set=pa.array(sorted(ids))), False))
    kept = log.filter(pc.invert(theirs))
    scrubbed = scrubber.table(kept)
    kept = kept if scrubbed is None else scrubbed
    store.write_state(LOG_NAME, kept, scratch)
