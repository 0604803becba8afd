"""Per-partition staging on local disk, so memory stays bounded however long the run's range is.

Rows are converted to Arrow as pages arrive, buffered per day, and flushed as chunk files. Finishing a table
merges each day's chunks (one day in memory at a time), keeps the newest version of each key, sorts by key for
deterministic files, and leaves one staged Parquet file per partition for the IO manager to commit.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from intercom_assets.partitions import day_key
from intercom_assets.schemas import EXTRACTED_AT_COLUMN, unix_seconds
from intercom_assets.tables import TableSpec

if TYPE_CHECKING:
    from intercom_assets.lake.pii_policy import PiiPolicy

FLUSH_ROWS = 5_000
# Parquet key-value metadata of a child table's partition: {parent id: version in Unix seconds} of every parent
# whose children were fetched (or reused) into it, so a parent without children is known to have none.
PARENTS_KEY = b"intercom.fetched_parents"
PII_KEY = b"intercom.pii_policy"
CONTENT_KEY = b"intercom.content_hash"  # content_hash() of the partition, set by every writer of one


def fetched_parents(table: pa.Table, id_column: str, version_column: str) -> dict[str, int]:
    """Parents whose children a stored partition holds, at the version they were fetched at.

    From the file's metadata; a file written before that metadata existed yields the parents its rows name
    (parents without children are then fetched once more, and recorded from then on).
    """
    metadata = table.schema.metadata or {}
    if PARENTS_KEY in metadata:
        return {str(k): int(v) for k, v in json.loads(metadata[PARENTS_KEY]).items()}
    ids = table.column(id_column).to_pylist()
    stamps = pc.cast(table.column(version_column), pa.int64()).to_pylist()
    return {str(i): stamp // 1000 for i, stamp in zip(ids, stamps, strict=True) if stamp is not None}


def pii_fingerprint_of(table: pa.Table) -> str:
    """The PII policy fingerprint a stored partition was written under ('' for none)."""
    return (table.schema.metadata or {}).get(PII_KEY, b"").decode()


def content_hash(data: pa.Table) -> str:
    """A fingerprint of a partition's rows and Parquet metadata, `_extracted_at` and the fingerprint itself aside:
    the same for a re-extraction of unchanged records, so a current-state refresh can tell a partition a run
    rewrote unchanged (lake/current_inputs.py)."""
    body = data.drop_columns([EXTRACTED_AT_COLUMN]) if EXTRACTED_AT_COLUMN in data.column_names else data
    metadata = {k: v for k, v in (body.schema.metadata or {}).items() if k != CONTENT_KEY}
    body = body.replace_schema_metadata(metadata or None)
    # Parquet, not Arrow IPC: equal rows read back from a file and freshly converted differ in their Arrow buffers
    # (validity bitmaps, values under nulls), while Parquet encodes only the logical values
    sink = pa.BufferOutputStream()
    pq.write_table(body, sink, compression="none", use_dictionary=False, write_statistics=False)
    return hashlib.blake2b(sink.getvalue().to_pybytes(), digest_size=16).hexdigest()


def with_content_hash(data: pa.Table) -> pa.Table:
    """The partition with its fingerprint in its Parquet metadata (what every writer of a partition stores)."""
    return data.replace_schema_metadata({**(data.schema.metadata or {}), CONTENT_KEY: content_hash(data).encode()})


def stored_content_hash(schema: pa.Schema) -> str | None:
    """The fingerprint a stored partition was written with (None for a file written before there was one)."""
    value = (schema.metadata or {}).get(CONTENT_KEY)
    return value.decode() if value else None


@dataclass(frozen=True)
class StagedPartition:
    """A finished partition file waiting to be committed by the IO manager."""

    path: Path
    row_count: int


@dataclass
class StageCounts:
    """What happened to the rows offered to a table (for metadata and logs)."""

    rows_in: int = 0
    outside_range: int = 0
    missing_timestamp: int = 0
    removed: int = 0  # rows of deleted or erased records


def dedupe_newest(
    table: pa.Table, key: tuple[str, ...], version_column: str | None, parent_key: str | None = None
) -> pa.Table:
    """Keep one row per key, the newest by the version column; the result is sorted by key.

    For rows derived from a parent record (a company's segments, a conversation's parts), only the rows of the
    parent's newest version survive first, so a membership removed in a later version does not linger.
    """
    if table.num_rows == 0:
        return table
    if parent_key is not None and version_column is not None:
        newest = table.group_by(parent_key).aggregate([(version_column, "max")])
        latest = dict(
            zip(
                newest.column(parent_key).to_pylist(),
                newest.column(f"{version_column}_max").to_pylist(),
                strict=True,
            )
        )
        parents = table.column(parent_key).to_pylist()
        versions = table.column(version_column).to_pylist()
        table = table.filter(pa.array([latest[p] == v for p, v in zip(parents, versions, strict=True)]))
    sort_keys = [(name, "ascending") for name in key]
    if version_column is not None:
        sort_keys.append((version_column, "descending"))
    ordered = table.take(pc.sort_indices(table, sort_keys=sort_keys))
    keep = np.ones(ordered.num_rows, dtype=bool)
    same_as_previous = np.ones(ordered.num_rows - 1, dtype=bool)
    for name in key:
        values = ordered.column(name).to_numpy(zero_copy_only=False)
        same_as_previous &= values[1:] == values[:-1]
    keep[1:] = ~same_as_previous
    return ordered.filter(pa.array(keep))


class TableStager:
    """Collects one table's rows for a run, split by the partition their replication day names."""

    def __init__(self, spec: TableSpec, directory: Path, partition_keys: Iterable[str], extracted_at: int,
                 removals: Mapping[str, set[str]] | None = None, pii: PiiPolicy | None = None,
                 scrub: Callable[[Any], Any] | None = None):
        self.spec = spec
        self.directory = directory
        self.partition_keys = list(partition_keys)
        self._in_range = set(self.partition_keys)
        self.extracted_at = extracted_at
        self.converter = spec.converter()
        self.counts = StageCounts()
        # column -> ids of deleted or erased records: their rows are never staged (Intercom may still return them)
        self.removals = {column: ids for column, ids in (removals or {}).items() if ids}
        # erased people's ids inside rows of other records become null (lake/erasure.py), before anything else
        self.scrub = scrub
        # the PII policy, applied to each row before it is converted or written (None: nothing to apply)
        self.pii = pii if pii is not None and pii.has_rules(spec.name) else None
        self.pii_fingerprint = pii.fingerprint(spec.name) if pii is not None else ""
        self._buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._buffered = 0
        self._chunks: dict[str, list[Path]] = defaultdict(list)
        self._chunk_ids = itertools.count()
        # Newest version seen per record (or per parent record) across the whole run: a record that moved to a
        # later day while the run paged must not stay behind in its older day's partition.
        self._newest: dict[Any, Any] = {}
        self._parents: dict[str, dict[str, int]] = defaultdict(dict)  # day -> fetched parent -> version (s)
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def group_columns(self) -> tuple[str, ...]:
        return (self.spec.parent_key,) if self.spec.parent_key else self.spec.key

    def _note_version(self, group: Any, version: Any) -> None:
        if version is not None and (group not in self._newest or version > self._newest[group]):
            self._newest[group] = version

    @property
    def version_column(self) -> str | None:
        if self.spec.parent_key is None and "updated_at" in self.spec.fields:
            return "updated_at"
        return self.spec.partition_column

    def add_records(self, records: Iterable[dict[str, Any]], snapshot_key: str | None = None) -> None:
        """Derive this table's rows from source records (its `rows` rule) and stage them."""
        self.add_rows((row for record in records for row in self.spec.rows(record)), snapshot_key)

    def add_rows(self, rows: Iterable[dict[str, Any]], snapshot_key: str | None = None) -> None:
        """Stage rows already derived for this table, each in its day's buffer."""
        for row in rows:
            self._add_row(row, snapshot_key)
        if self._buffered >= FLUSH_ROWS:
            self.flush()

    def _add_row(self, row: dict[str, Any], snapshot_key: str | None) -> None:
        self.counts.rows_in += 1
        if self.removals and any(str(row.get(column)) in ids for column, ids in self.removals.items()):
            self.counts.removed += 1
            return
        if self.scrub is not None:
            row = self.scrub(row)
        if self.pii is not None:
            row = self.pii.apply(self.spec.name, row)
        if snapshot_key is not None:
            key = snapshot_key
        else:
            stamp = unix_seconds(row.get(self.spec.partition_column))
            if stamp is None:
                self.counts.missing_timestamp += 1
                return
            key = day_key(int(stamp))
        if key not in self._in_range:
            self.counts.outside_range += 1
            return
        converted = self.converter.convert_row(row)
        if any(converted.get(name) is None for name in self.spec.key):
            raise ValueError(
                f"{self.spec.name}: a record has no {'/'.join(self.spec.key)}; refusing to store a row "
                "that cannot be keyed"
            )
        if self.version_column is not None and snapshot_key is None:
            self._note_version(
                tuple(converted[c] for c in self.group_columns), converted[self.version_column]
            )
        self._buffers[key].append(converted)
        self._buffered += 1

    def add_arrow(self, partition_key: str, rows: pa.Table) -> None:
        """Stage rows already in this table's schema (reused from a stored partition)."""
        if rows.num_rows == 0:
            return
        if self.version_column is not None:
            groups = zip(*(rows.column(c).to_pylist() for c in self.group_columns), strict=True)
            versions = pc.cast(rows.column(self.version_column), pa.int64()).to_pylist()
            for group, version in zip(groups, versions, strict=True):
                self._note_version(group, version)
        self._write_chunk(partition_key, rows.select(self.converter.schema.names).cast(self.converter.schema))

    def note_parents(self, partition_key: str, parents: dict[str, int]) -> None:
        """Record that these parents' children (maybe none) are in this partition, fetched at these versions."""
        self._parents[partition_key].update(parents)
        for parent_id, version in parents.items():
            self._note_version((parent_id,), version * 1000)

    def flush(self) -> None:
        for key, rows in self._buffers.items():
            if rows:
                batch = self.converter.to_batch(rows, self.extracted_at)
                self._write_chunk(key, pa.Table.from_batches([batch]))
        self._buffers.clear()
        self._buffered = 0

    def _write_chunk(self, key: str, data: pa.Table) -> None:
        # Arrow IPC, uncompressed: a chunk is read back once by this run, so encoding it as Parquet only costs CPU
        path = self.directory / f"chunk-{key}-{next(self._chunk_ids):06d}.arrow"
        feather.write_feather(data, path, compression="uncompressed")
        self._chunks[key].append(path)

    def _drop_superseded(self, data: pa.Table) -> pa.Table:
        """Rows whose record has a newer version elsewhere in this run (another day) are dropped."""
        if self.version_column is None or not self._newest or data.num_rows == 0:
            return data
        groups = zip(*(data.column(c).to_pylist() for c in self.group_columns), strict=True)
        versions = pc.cast(data.column(self.version_column), pa.int64()).to_pylist()
        keep = [self._newest.get(g, v) == v or v is None for g, v in zip(groups, versions, strict=True)]
        return data if all(keep) else data.filter(pa.array(keep))

    def finish(self, keys: Iterable[str] | None = None) -> dict[str, StagedPartition]:
        """One de-duplicated, key-sorted staged file per partition (an empty file for a day with no rows).

        Rows still buffered in memory join the day's chunk files directly; days without rows share one
        empty file, so a long quiet range costs one write, not one per day.
        """
        staged: dict[str, StagedPartition] = {}
        empty: StagedPartition | None = None
        for key in self.partition_keys if keys is None else keys:
            chunks = self._chunks.pop(key, [])
            pieces = [feather.read_table(path, memory_map=False) for path in chunks]
            buffered = self._buffers.pop(key, [])
            if buffered:
                pieces.append(pa.Table.from_batches([self.converter.to_batch(buffered, self.extracted_at)]))
            if not pieces:
                if key in self._parents:  # parents without children: an empty file that says so
                    staged[key] = self._write_final(key, self._with_parents(key, self.converter.empty_table()))
                    continue
                if empty is None:
                    empty = self._write_final("empty", self.converter.empty_table())
                staged[key] = empty
                continue
            data = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
            data = self._drop_superseded(dedupe_newest(data, self.spec.key, self.version_column, self.spec.parent_key))
            staged[key] = self._write_final(key, self._with_parents(key, data))
            for path in chunks:
                path.unlink(missing_ok=True)
        return staged

    def finished(self, keys: Iterable[str] | None = None) -> StagedTable:
        """`finish` with the table's counters: what the run hands to the IO manager for this table."""
        return StagedTable(self.finish(keys), self.counts)

    def _with_parents(self, key: str, data: pa.Table) -> pa.Table:
        """The partition with its fetched-parents record, minus parents whose newest version is another day."""
        parents = self._parents.pop(key, None)
        if parents is None:
            return data
        current = {pid: v for pid, v in parents.items() if self._newest.get((pid,), v * 1000) == v * 1000}
        metadata = {**(data.schema.metadata or {}), PARENTS_KEY: json.dumps(current, sort_keys=True).encode()}
        return data.replace_schema_metadata(metadata)

    def _write_final(self, name: str, data: pa.Table) -> StagedPartition:
        if self.pii_fingerprint:  # which policy the rows were written under (stored children are reused only
            # when it is today's)
            data = data.replace_schema_metadata({**(data.schema.metadata or {}),
                                                 PII_KEY: self.pii_fingerprint.encode()})
        final = self.directory / f"final-{name}.parquet"
        pq.write_table(with_content_hash(data), final)
        return StagedPartition(final, data.num_rows)


@dataclass
class StagedTable:
    """A table's outcome for the run: the staged file of each partition it writes, and counters.

    An incremental table stages every partition of the run's range (an empty file for a quiet day); a snapshot
    table only the day of extraction, and nothing when the range does not include today.
    """

    partitions: dict[str, StagedPartition]
    counts: StageCounts = field(default_factory=StageCounts)


def fresh_staging_dir(configured: str | None) -> Path:
    """A new staging directory for this run, after removing those that killed runs left behind.

    Each directory is named after the process that made it, and only directories whose process is gone are
    removed, so runs of other Dagster instances (or parallel test workers) sharing the directory are left alone.
    """
    parent = Path(configured or tempfile.gettempdir()) / "intercom-staging"
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.iterdir():
        owner = stale.name.split("-")[1] if stale.name.startswith("run-") else ""
        if owner.isdigit() and not _process_alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=parent))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
