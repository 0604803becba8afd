"""The range-aware Parquet IO manager: one run over many day partitions commits one file per day.

Dagster's stock UPathIOManager refuses an output that covers several partitions (dagster-io/dagster#14332);
this subclass takes `dict[partition_key, PartitionOutput]` from a range run and commits each partition
atomically through ParquetStore, and loads one partition or a dict of them for downstream assets.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from dagster import InputContext, OutputContext
from dagster._core.storage.upath_io_manager import UPathIOManager
from upath import UPath

from intercom_assets.lake.staging import StagedPartition
from intercom_assets.lake.storage import PART_FILE, ParquetStore, partition_dir_name


def partition_facts(store: ParquetStore, table: str, partition_key: str, staged: StagedPartition) -> dict[str, Any]:
    """What a partition's materialization records: its rows, where its file is, and the file's size.

    Computed from the staged file, which is committed byte for byte, so no committed file is read again.
    """
    return {
        "dagster/row_count": staged.row_count,
        "dagster/uri": str(store.partition_path(table, partition_key)),
        "size_bytes": staged.path.stat().st_size,
    }


def commit_partition(store: ParquetStore, table: str, partition_key: str, output: StagedPartition | pa.Table,
                     scratch: Path) -> UPath:
    """Atomically replace one partition's file with a staged file or an in-memory table."""
    if isinstance(output, StagedPartition):
        return store.write_file(table, partition_key, output.path)
    if isinstance(output, pa.Table):
        return store.write_table(table, partition_key, output, scratch)
    raise TypeError(f"{table}: cannot store a {type(output).__name__} as partition {partition_key}")


class RangeParquetIOManager(UPathIOManager):
    """Writes `{root}/{table}/date=YYYY-MM-DD/part-0.parquet`, one file per partition of the output."""

    extension: str = ".parquet"

    def __init__(self, store: ParquetStore):
        super().__init__(base_path=store.root)
        self.store = store

    def get_asset_relative_path(self, context: InputContext | OutputContext) -> UPath:
        return UPath(context.asset_key.path[-1])

    def get_path_for_partition(
        self, context: InputContext | OutputContext, path: UPath, partition: str
    ) -> UPath:
        return path / partition_dir_name(partition) / Path(PART_FILE).stem

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        raise NotImplementedError("RangeParquetIOManager writes through handle_output")

    def load_from_path(self, context: InputContext, path: UPath) -> pa.Table:
        return self.store.read_path(path)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Commit each partition of a (range) output.

        No output metadata here: Dagster copies it onto every partition's event. The asset body records each
        partition's own facts (`partition_facts`) instead.
        """
        if obj is None:
            return
        table = context.asset_key.path[-1]
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        if not keys:
            raise ValueError(f"{table}: this IO manager stores daily partitions only")
        outputs = obj if isinstance(obj, dict) else {keys[0]: obj}
        missing = [key for key in keys if key not in outputs]
        if missing:
            raise ValueError(f"{table}: the output has no data for partitions {missing[:5]}")
        with tempfile.TemporaryDirectory(prefix="intercom-io-") as scratch:
            for key in keys:
                commit_partition(self.store, table, key, outputs[key], Path(scratch))
