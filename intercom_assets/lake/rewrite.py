"""The one way a file of the lake is rewritten in place: read it, change it, write the result atomically.

Deletions, erasure and the deletion log's own table all change stored partitions after they were committed; each
says only what changes (a function from the file's table to the new table, or None when nothing does), and this
module reads, writes to local scratch, and replaces the stored file through ParquetStore (a hidden temporary
renamed into place, so a reader never sees half a file). Staged files (not committed yet) go the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.lake.staging import StagedPartition, with_content_hash
from intercom_assets.lake.storage import ParquetStore

# What changes in a file: the new table, or None when the file stays as it is. Given None for a missing file.
Change = Callable[[pa.Table | None], pa.Table | None]


@dataclass(frozen=True)
class Rewritten:
    """One partition rewritten: how many rows it had and has, and the local copy that was committed."""

    table: str
    partition: str
    rows_before: int
    staged: StagedPartition

    @property
    def rows_removed(self) -> int:
        return self.rows_before - self.staged.row_count


def rewrite_partition(store: ParquetStore, table: str, key: str, change: Change, scratch: Path,
                      keep_local: bool = True, missing_ok: bool = False) -> Rewritten | None:
    """Apply `change` to a stored partition and commit the result (None when nothing changed).

    The file's Parquet metadata (fetched parents, PII fingerprint) is kept unless `change` sets its own.
    `missing_ok` passes None to `change` for a partition with no file (to create it). The local copy is kept for
    the caller's partition facts unless `keep_local` is False.
    """
    try:
        data: pa.Table | None = store.read(table, key)
    except FileNotFoundError:
        if not missing_ok:
            raise
        data = None
    new = change(data)
    if new is None:
        return None
    if data is not None and not new.schema.metadata and data.schema.metadata:
        new = new.replace_schema_metadata(data.schema.metadata)
    local = scratch / table / f"rewrite-{key}.parquet"
    local.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(with_content_hash(new), local)  # not the fingerprint copied with the old metadata
    store.write_file(table, key, local)
    staged = StagedPartition(local, new.num_rows)
    if not keep_local:
        local.unlink(missing_ok=True)
    return Rewritten(table, key, 0 if data is None else data.num_rows, staged)


def rewrite_staged(partition: StagedPartition, change: Change) -> StagedPartition | None:
    """Apply `change` to a staged (not yet committed) file in place (None when nothing changed)."""
    new = change(pq.read_table(partition.path))
    if new is None:
        return None
    pq.write_table(with_content_hash(new), partition.path)
    return StagedPartition(partition.path, new.num_rows)
