"""The Parquet layout on disk or object storage, and the one code path that reads and writes it.

Layout: `{root}/{table}/date=YYYY-MM-DD/part-0.parquet` (hive style). A reader must never see a half-written
file, so a local write goes to a hidden temporary in the same directory (a name that starts with `.` and does
not end in `.parquet`, which DuckDB's glob would read) and is renamed into place; an object store's single PUT
is already all-or-nothing, so there the file is uploaded straight to its final key.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

PART_FILE = "part-0.parquet"
TEMP_PREFIX = ".part-0."
TEMP_SUFFIX = ".tmp"


def partition_dir_name(partition_key: str) -> str:
    """Hive-style directory of a day partition."""
    return f"date={partition_key}"


def _is_local(path: UPath) -> bool:
    return getattr(path, "protocol", "") in ("", "file", "local")


class StorageError(OSError):
    """The Parquet root cannot be used; says which root and why."""


class ParquetStore:
    """Reads and atomically replaces table partitions under one root (local path or fsspec URL)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = UPath(root)

    def __repr__(self) -> str:
        return f"ParquetStore({str(self.root)!r})"

    def check_writable(self) -> None:
        """Fail before any API call when the root cannot take files (a run must not fetch, then fail to write)."""
        probe = self.root / f".write-probe-{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            if _is_local(self.root):
                Path(self.root.path).mkdir(parents=True, exist_ok=True)
                Path(probe.path).write_bytes(b"")
                Path(probe.path).unlink()
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                probe.write_bytes(b"")
                probe.unlink()
        except OSError as error:
            raise StorageError(
                f"INTERCOM_PARQUET_ROOT={self.root} is not writable: {type(error).__name__}: {error}"
            ) from error

    def table_dir(self, table: str) -> UPath:
        return self.root / table

    def partition_path(self, table: str, partition_key: str) -> UPath:
        return self.table_dir(table) / partition_dir_name(partition_key) / PART_FILE

    def state_path(self, name: str) -> UPath:
        """A file of the extractor's own state (not a table): `{root}/_state/<name>`; readers skip `_` folders."""
        return self.root / "_state" / name

    def read_state(self, name: str) -> pa.Table:
        """A state file; FileNotFoundError when none was written."""
        return self.read_path(self.state_path(name))

    def remove_state(self, name: str) -> None:
        """Delete a state file, if there is one."""
        path = self.state_path(name)
        if path.exists():
            path.unlink()

    def write_state(self, name: str, data: pa.Table, scratch_dir: Path) -> UPath:
        """Replace a state file atomically, as a partition is replaced."""
        scratch_dir.mkdir(parents=True, exist_ok=True)
        local = scratch_dir / f"state-{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            pq.write_table(data, local)
            return self._replace(self.state_path(name), local)
        finally:
            local.unlink(missing_ok=True)

    def stored_partitions(self, table: str) -> set[str]:
        """Partition keys that have a file, from one directory listing (one request on an object store)."""
        directory = self.table_dir(table)
        if not directory.exists():
            return set()
        prefix = partition_dir_name("")
        return {
            path.parent.name[len(prefix):]
            for path in directory.glob(f"{prefix}*/{PART_FILE}")
            if path.parent.name.startswith(prefix)
        }

    def exists(self, table: str, partition_key: str) -> bool:
        return self.partition_path(table, partition_key).exists()

    def read(self, table: str, partition_key: str, columns: list[str] | None = None) -> pa.Table:
        """One partition as an Arrow table; FileNotFoundError when it was never written."""
        return self.read_path(self.partition_path(table, partition_key), columns)

    def read_path(self, path: UPath, columns: list[str] | None = None) -> pa.Table:
        if _is_local(path):
            return pq.read_table(str(path.path), columns=columns)
        if not path.exists():
            raise FileNotFoundError(str(path))
        with path.open("rb") as handle:
            return pq.read_table(handle, columns=columns)

    def row_count(self, table: str, partition_key: str) -> int:
        """Rows in a stored partition, from the Parquet footer only."""
        path = self.partition_path(table, partition_key)
        if _is_local(path):
            return pq.ParquetFile(str(path.path)).metadata.num_rows
        with path.open("rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    def read_schema(self, table: str, partition_key: str) -> pa.Schema:
        """The schema of a stored partition, from the Parquet footer only."""
        path = self.partition_path(table, partition_key)
        if _is_local(path):
            return pq.read_schema(str(path.path))
        with path.open("rb") as handle:
            return pq.read_schema(handle)

    def write_file(self, table: str, partition_key: str, local_file: Path) -> UPath:
        """Replace a partition with an already written local Parquet file, atomically."""
        return self._replace(self.partition_path(table, partition_key), local_file)

    def replace_file(self, relative: str, local_file: Path) -> UPath:
        """Atomically replace `{root}/<relative>` (a file outside the tables, e.g. the suppression list)."""
        return self._replace(self.root / relative, local_file)

    def _replace(self, target: UPath, local_file: Path) -> UPath:
        """Atomically replace `target` with a local file: hidden temporary + rename, or one PUT."""
        if _is_local(target):
            directory = Path(target.path).parent
            directory.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries(directory)
            temporary = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"
            try:
                shutil.copyfile(local_file, temporary)
                with open(temporary, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(temporary, directory / Path(target.path).name)
            finally:
                temporary.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.fs.put_file(str(local_file), target.path)
        return target

    def write_table(self, table: str, partition_key: str, data: pa.Table, scratch_dir: Path) -> UPath:
        """Replace a partition with an in-memory table (small tables, placeholders)."""
        scratch_dir.mkdir(parents=True, exist_ok=True)
        local = scratch_dir / f"{table}-{partition_key}-{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            pq.write_table(data, local)
            return self.write_file(table, partition_key, local)
        finally:
            local.unlink(missing_ok=True)

    @staticmethod
    def _remove_stale_temporaries(directory: Path) -> None:
        """Temporaries left by a killed writer; the concurrency pool guarantees no live writer here."""
        for entry in directory.iterdir():
            if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX):
                entry.unlink(missing_ok=True)
