"""Which partition contents a table's current state has merged, so a refresh skips what a run rewrote unchanged.

A window run rewrites every partition of its range (30 per table), nearly all with the same rows: only
`_extracted_at` differs. Merging them again cannot change the state (a refresh keeps the newest version ever
merged, and rewrites no file whose rows are the same), but it reads every one of them. Every writer of a partition
stores the fingerprint of its content in the file's Parquet metadata (`content_hash`, lake/staging.py), and this
manifest, `{root}/current/_state/<table>.merged.parquet` (day, content, parent), remembers the fingerprint of
each day merged into the state, with that of the parent table's partition of the same day for a child table (whose
state also follows its parent's versions in those partitions). A day is merged again only when either fingerprint
differs or is unknown (a file written before fingerprints, a day never recorded). A plan reads the footers of the
days it is asked about, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.lake.current_state import READ_AHEAD, current_store
from intercom_assets.lake.staging import stored_content_hash
from intercom_assets.lake.storage import ParquetStore

_MANIFEST = pa.schema([("day", pa.string()), ("content", pa.string()), ("parent", pa.string())])
Fingerprints = tuple[str | None, str | None]  # (the day's content, its parent partition's content)
Footers = dict[tuple[str, str], str | None]  # (table, day) -> fingerprint, read once per step


@dataclass(frozen=True)
class MergePlan:
    """The days a refresh must merge, and the manifest to record once it has."""

    days: list[str]
    manifest: dict[str, Fingerprints]
    changed: bool  # whether `manifest` differs from the stored one


def manifest_name(table: str) -> str:
    return f"{table}.merged.parquet"


def plan_merge(store: ParquetStore, table: str, days: Iterable[str], parent: str | None,
               footers: Footers | None = None, forget: bool = False) -> MergePlan:
    """Which of `days` (materialized since the last refresh) to merge into `table`'s state: those whose file's
    fingerprint, or its parent's (`parent`: the parent table of a child table), is not the one last merged.
    `footers` caches fingerprints across the tables of one step; `forget` plans as if nothing was merged (a
    rebuild, which merges every day)."""
    footers = {} if footers is None else footers
    days = sorted(set(days))
    stored = _read(store, table)
    merged = {} if forget else stored
    manifest = {} if forget else dict(stored)
    content = _fingerprints(store, table, days, footers)
    parents = _fingerprints(store, parent, days, footers) if parent else {}
    todo = []
    for day in days:
        now: Fingerprints = (content[day], parents.get(day))
        known = now[0] is not None and (parent is None or now[1] is not None)
        if not known or merged.get(day) != now:
            todo.append(day)
        if known:
            manifest[day] = now
        else:
            manifest.pop(day, None)
    return MergePlan(todo, manifest, manifest != stored)


def record_merge(store: ParquetStore, table: str, plan: MergePlan, scratch: Path) -> None:
    """Store the plan's manifest, after its days were merged."""
    if not plan.changed:
        return
    days = sorted(plan.manifest)
    data = pa.table({"day": days, "content": [plan.manifest[d][0] for d in days],
                     "parent": [plan.manifest[d][1] for d in days]}, schema=_MANIFEST)
    current_store(store).write_state(manifest_name(table), data, scratch)


def _fingerprints(store: ParquetStore, table: str, days: list[str], footers: Footers) -> dict[str, str | None]:
    """day -> the fingerprint in the footer of `table`'s stored partition (None: no file, or none recorded)."""
    missing = [day for day in days if (table, day) not in footers]

    def read(day: str) -> str | None:
        path = store.partition_path(table, day)
        try:
            with path.open("rb") as handle:
                return stored_content_hash(pq.read_schema(handle))
        except (OSError, pa.ArrowException):
            return None

    with ThreadPoolExecutor(READ_AHEAD) as pool:
        footers.update(zip([(table, day) for day in missing], pool.map(read, missing), strict=True))
    return {day: footers[(table, day)] for day in days}


def _read(store: ParquetStore, table: str) -> dict[str, Fingerprints]:
    try:
        data = current_store(store).read_state(manifest_name(table))
    except (OSError, pa.ArrowException):
        return {}
    if not set(_MANIFEST.names) <= set(data.column_names):
        return {}
    return {day: (content, parent) for day, content, parent in zip(
        data["day"].to_pylist(), data["content"].to_pylist(), data["parent"].to_pylist(), strict=True)}
