"""Measure the current-state engine on a synthetic contacts table (1,000,000 contacts over 365 days).

  gen      lake: 1M contacts (15% with their newest version in the last 30 days, the rest over the 335 before),
           25% also with an older version in an earlier day; rows are real contacts of the test server's workspace
           converted by the real converter, re-keyed.
  rebuild  current state from every partition (fresh process: its peak RSS is the rebuild's)
  tick     re-write the 30 window partitions (new _extracted_at), 1% of their rows with a new version today;
           optionally --cold N contacts from outside the window also come back; then refresh those partitions
  hash     what the 128-hash-bucket layout would do on the same tick: buckets the changed keys hit, and the time
           to read and rewrite those buckets (the state re-split into 128 files first)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_assets.lake.current_state import current_store, read_current, rebuild, refresh
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import key_start
from intercom_assets.tables import TABLES_BY_NAME

CONTACTS = TABLES_BY_NAME["contacts"]
LAST = datetime(2026, 11, 20, tzinfo=UTC).date()
DAYS = [(LAST - timedelta(days=i)).isoformat() for i in range(364, -1, -1)]  # 365 days, oldest first
WINDOW = DAYS[-30:]
RUN = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp())


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def templates(n: int = 2000) -> pa.Table:
    from intercom_assets_tests.intercom_server.workspace import Workspace

    ws = Workspace(seed=1, scale="medium")
    converter = CONTACTS.converter()
    records = list(ws.contacts.values())[:n]
    rows = [converter.convert_row(r) for r in records]
    return pa.Table.from_batches([converter.to_batch(rows, RUN)], schema=converter.schema)


def day_table(tpl: pa.Table, ids: np.ndarray, stamps: np.ndarray, rng: np.random.Generator, extracted: int):
    data = tpl.take(pa.array(rng.integers(0, tpl.num_rows, len(ids))))
    schema = data.schema
    def put(data, name, array):
        return data.set_column(schema.get_field_index(name), schema.field(name), array)
    data = put(data, "id", pa.array([f"c{i:07d}" for i in ids], pa.string()))
    data = put(data, "updated_at", pa.array(stamps * 1000, pa.int64()).cast(schema.field("updated_at").type))
    data = put(data, "role", pa.array(np.where(ids % 3 == 0, "user", "lead")))
    data = put(data, "_extracted_at", pa.array(np.full(len(ids), extracted * 1000), pa.int64()).cast(
        schema.field("_extracted_at").type))
    order = pc.sort_indices(data, sort_keys=[("id", "ascending")])
    return data.take(order)


def day_seconds(day: str) -> int:
    return int(key_start(day).timestamp())


def gen(root: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    tpl = templates()
    store = ParquetStore(root)
    recent = rng.random(n) < 0.15
    newest = np.where(recent, rng.integers(335, 365, n), rng.integers(0, 335, n))
    older = rng.random(n) < 0.25
    older_day = np.where(older & (newest > 0), rng.integers(0, np.maximum(newest, 1)), -1)
    started = time.monotonic()
    rows = 0
    for d, day in enumerate(DAYS):
        ids = np.concatenate([np.nonzero(newest == d)[0], np.nonzero(older_day == d)[0]])
        stamps = day_seconds(day) + rng.integers(0, 86400, len(ids))
        store.write_table("contacts", day, day_table(tpl, ids, stamps, rng, RUN - 86400 * (364 - d)), root / "_s")
        rows += len(ids)
    print(json.dumps({"gen_rows": rows, "contacts": n, "window_contacts": int(recent.sum()),
                      "seconds": round(time.monotonic() - started, 1)}))


def do_rebuild(root: Path) -> None:
    store = ParquetStore(root)
    started = time.monotonic()
    report = rebuild(store, CONTACTS, scratch=root / "_s")
    print(json.dumps({"rebuild_seconds": round(time.monotonic() - started, 1), "peak_rss_mib": round(rss_mib()),
                      "files_written": report.files_rewritten, "rows_out": report.rows_out,
                      "subsets": {s.table: s.rows_out for s in report.subsets}}))


def tick(root: Path, share: float, cold: int) -> None:
    """Re-write the window: every row again with a later _extracted_at; `share` of them with a new version today
    (they leave their day); `cold` contacts from before the window come back today too."""
    rng = np.random.default_rng(11)
    tpl = templates()
    store = ParquetStore(root)
    extracted = RUN + 1800
    window = {day: store.read("contacts", day) for day in WINDOW}
    all_ids = np.concatenate([np.array([int(i[1:]) for i in t["id"].to_pylist()]) for t in window.values()])
    changed = set(rng.choice(all_ids, int(len(all_ids) * share), replace=False).tolist())
    cold_ids: set[int] = set()
    if cold:
        old = read_current(store, "contacts", ["id", "updated_at"])
        old = old.filter(pc.less(old["updated_at"], pa.scalar(key_start(WINDOW[0]))))
        cold_ids = {int(i[1:]) for i in rng.choice(old["id"].to_pylist(), cold, replace=False)}
    moved_names = {f"c{i:07d}" for i in changed | cold_ids}
    for day, data in window.items():
        keep = np.array([i not in moved_names for i in data["id"].to_pylist()], dtype=bool)
        data = data.filter(pa.array(keep))
        field = data.schema.field("_extracted_at")
        data = data.set_column(data.schema.get_field_index("_extracted_at"), field,
                               pa.array(np.full(data.num_rows, extracted * 1000), pa.int64()).cast(field.type))
        if day == WINDOW[-1]:
            moved = np.array(sorted(changed | cold_ids))
            stamps = np.full(len(moved), day_seconds(day) + 86399)
            data = pa.concat_tables([data, day_table(tpl, moved, stamps, rng, extracted)])
        store.write_table("contacts", day, data, root / "_s")
    (root / "_changed.json").write_text(json.dumps(sorted(moved_names)))
    print(json.dumps({"window_rows": int(len(all_ids)), "changed": len(changed), "cold_back": len(cold_ids)}))


def do_refresh(root: Path) -> None:
    store = ParquetStore(root)
    started = time.monotonic()
    report = refresh(store, CONTACTS, WINDOW, scratch=root / "_s")
    print(json.dumps({"tick_refresh_seconds": round(time.monotonic() - started, 2), "peak_rss_mib": round(rss_mib()),
                      "current_files": len(current_store(store).stored_partitions("contacts")),
                      "report": report.metadata(), "subsets": {s.table: s.metadata() for s in report.subsets}}))


def baseline() -> None:
    print(json.dumps({"rss_after_imports_mib": round(rss_mib())}))


def bucket_of(key: str, buckets: int = 128) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % buckets


def hash_layout(root: Path, buckets: int = 128) -> None:
    """Split the current state into hash buckets, then time what a tick does there: read and rewrite every bucket
    the changed keys hit (the merge work itself left out: this is the I/O floor of that layout)."""
    state = read_current(ParquetStore(root), "contacts")
    which = np.array([bucket_of(k, buckets) for k in state["id"].to_pylist()])
    out = root / "_hash"
    shutil.rmtree(out, ignore_errors=True)
    for b in range(buckets):
        path = out / f"bucket={b:03d}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(state.filter(pa.array(which == b)), path)
    del state
    changed = json.loads((root / "_changed.json").read_text())
    hit = sorted({bucket_of(k, buckets) for k in changed})
    started = time.monotonic()
    rows = 0
    for b in hit:
        path = out / f"bucket={b:03d}" / "part-0.parquet"
        data = pq.read_table(path)
        rows += data.num_rows
        pq.write_table(data, path.with_name("part-0.new"))
        path.with_name("part-0.new").replace(path)
    print(json.dumps({"hash_buckets": buckets, "changed_keys": len(changed), "buckets_hit": len(hit),
                      "rows_rewritten": rows, "read_write_seconds": round(time.monotonic() - started, 1),
                      "peak_rss_mib": round(rss_mib())}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["gen", "rebuild", "tick", "refresh", "hash", "baseline"])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--cold", type=int, default=0)
    args = parser.parse_args()
    {"gen": lambda: gen(args.root, args.contacts), "rebuild": lambda: do_rebuild(args.root),
     "tick": lambda: tick(args.root, args.share, args.cold), "refresh": lambda: do_refresh(args.root),
     "baseline": baseline, "hash": lambda: hash_layout(args.root)}[args.step]()


if __name__ == "__main__":
    sys.exit(main())
