"""Files written before a column was declared are rewritten in the declared schema, so that every partition of a
table has one schema again.

Adding a column to a declaration changes the files a run writes from then on; the days outside the attribution
window keep the schema they were written with. Readers that take one file's schema for a whole glob (DuckDB's
`read_parquet` without `union_by_name`, `pandas.read_parquet` on a folder) would then silently miss the new
column. The daily maintenance job calls `upgrade_schemas`: it reads only each file's footer, and rewrites (through
the one atomic rewrite) the files whose schema is not the declared one, the new columns null, every value kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from intercom_assets.declarations import TableSpec
from intercom_assets.lake.rewrite import rewrite_partition
from intercom_assets.lake.storage import ParquetStore


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows in exactly `schema` (a column added to the registry since the file was written reads as nulls)."""
    if data.schema.equals(schema):
        return data.replace_schema_metadata(schema.metadata)
    arrays = [pc.cast(data[f.name], f.type) if f.name in data.column_names else pa.nulls(data.num_rows, f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class SchemaUpgrade:
    """What one pass found: files whose footer was read, and the files rewritten (`table/date`, current state
    files as `current/table/date`)."""

    files_checked: int = 0
    rewritten: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.rewritten:
            return f"All {self.files_checked} files already have their table's declared schema."
        return (f"Rewrote {len(self.rewritten)} of {self.files_checked} files in their table's declared schema "
                f"(written before a column was added), e.g. {', '.join(self.rewritten[:3])}.")


def upgrade_schemas(stores: Iterable[tuple[str, ParquetStore]], specs: Iterable[TableSpec],
                    scratch: Path) -> SchemaUpgrade:
    """Rewrite every file of these tables, in each (label, store), whose schema is not the table's declared one."""
    report = SchemaUpgrade()
    specs = list(specs)
    for label, store in stores:
        for spec in specs:
            declared = spec.converter().schema
            for key in sorted(store.stored_partitions(spec.name)):
                report.files_checked += 1
                if store.read_schema(spec.name, key).equals(declared):
                    continue
                rewrite_partition(store, spec.name, key, lambda data, s=declared: conform(data, s), scratch,
                                  keep_local=False)
                report.rewritten.append(f"{label}{spec.name}/{key}")
    return report
