"""Which partition contents a table's current state has merged, so a refresh skips what a run rewrote unchanged.

A window run rewrites every partition of its range (30 per table), nearly all with the same rows: only
`_extracted_at` differs. Merging them again cannot change the state (a refresh keeps the newest version ever
merged, and rewrites no file whose rows are the same), but it reads every one of them. Each partition's
materialization carries the fingerprint of its content (`content_hash`, lake/staging.py), and this manifest,
`{root}/current/_state/<table>.merged.parquet` (day, content, parent), remembers the fingerprint of each day merged
into the state, with that of the parent table's partition of the same day for a child table (whose state also
follows its parent's versions in those partitions). A day is merged again only when either fingerprint differs or
is unknown (an event without one, a day never recorded); a rebuild forgets the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from intercom_assets.lake.current_state import current_store
from intercom_assets.lake.storage import ParquetStore

_MANIFEST = pa.schema([("day", pa.string()), ("content", pa.string()), ("parent", pa.string())])
Fingerprints = tuple[str | None, str | None]  # (the day's content, its parent partition's content)


@dataclass(frozen=True)
class MergePlan:
    """The days a refresh must merge, and the manifest to record once it has."""

    days: list[str]
    manifest: dict[str, Fingerprints]
    changed: bool  # whether `manifest` differs from the stored one


def manifest_name(table: str) -> str:
    return f"{table}.merged.parquet"


def plan_merge(store: ParquetStore, table: str, materialized: Mapping[str, str | None],
               parent_materialized: Mapping[str, str | None] | None) -> MergePlan:
    """The days of `materialized` (day -> content fingerprint, None when unknown) to merge into the state.

    `parent_materialized` holds the parent table's partitions materialized since the last refresh (a child
    table; None for a table without a parent): a parent day not among them is as it was at the last merge.
    """
    merged = _read(store, table)
    manifest = dict(merged)
    days = []
    for day, content in sorted(materialized.items()):
        before = merged.get(day, (None, None))
        parent = None
        if parent_materialized is not None:
            parent = parent_materialized[day] if day in parent_materialized else before[1]
        now: Fingerprints = (content, parent)
        known = content is not None and (parent_materialized is None or parent is not None)
        if not known or before != now:
            days.append(day)
        if known:
            manifest[day] = now
        else:
            manifest.pop(day, None)
    return MergePlan(days, manifest, manifest != merged)


def record_merge(store: ParquetStore, table: str, plan: MergePlan, scratch: Path) -> None:
    """Store the plan's manifest, after its days were merged."""
    if not plan.changed:
        return
    days = sorted(plan.manifest)
    data = pa.table({"day": days, "content": [plan.manifest[d][0] for d in days],
                     "parent": [plan.manifest[d][1] for d in days]}, schema=_MANIFEST)
    current_store(store).write_state(manifest_name(table), data, scratch)


def forget_merges(store: ParquetStore, table: str) -> None:
    """After a rebuild: nothing is known to be merged any more."""
    current_store(store).remove_state(manifest_name(table))


def _read(store: ParquetStore, table: str) -> dict[str, Fingerprints]:
    try:
        data = current_store(store).read_state(manifest_name(table))
    except (OSError, pa.ArrowException):
        return {}
    if not set(_MANIFEST.names) <= set(data.column_names):
        return {}
    return {day: (content, parent) for day, content, parent in zip(
        data["day"].to_pylist(), data["content"].to_pylist(), data["parent"].to_pylist(), strict=True)}
