"""Query time of the current-state views at the benchmark's large scale: `python -m benchmarks.views_query`.

Builds a real Parquet root with the pipeline itself (no hand-made files): one run over the whole history of the
large-scale test server (400 days: 100,000 contacts, 20,000 companies, 30,000 conversations and their parts),
then 5% of the records change and a one-day tick stores their new versions while the old ones stay in their old
days, as happens in production once a day leaves the attribution window. Then it times creating the views and
querying each one, against a plain scan of the same files.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from benchmarks.run import _tick
from benchmarks.server_process import ServerProcess
from intercom_assets.views import create_views, incremental_tables, table_glob, view_name

HISTORY_WINDOW_DAYS = 401


def _timed(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> tuple[float, float, int]:
    """(first, median of the rest) seconds, and the first result's value."""
    times, value = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        value = con.execute(sql).fetchone()[0]
        times.append(time.perf_counter() - started)
    return times[0], statistics.median(times[1:] or times), value


def build_root(root: Path, scratch: Path, scale: str, changed: float) -> dict[str, int]:
    with ServerProcess(scale=scale) as srv:
        started = time.monotonic()
        _tick(srv.base_url, root, HISTORY_WINDOW_DAYS, None, scratch)
        print(f"history run ({HISTORY_WINDOW_DAYS} days) in {time.monotonic() - started:.0f} s", flush=True)
        bumped = srv.bump(changed, datetime.now(UTC) - timedelta(minutes=5))
        _tick(srv.base_url, root, 1, None, scratch)
        return {"changed_" + kind: count for kind, count in bumped.items()} | srv.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--changed", type=float, default=0.05, help="share of records changed after the history")
    parser.add_argument("--root", help="reuse an existing Parquet root instead of building one")
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="intercom-views-bench-"))
    try:
        root = Path(args.root) if args.root else scratch / "parquet"
        if not args.root:
            counts = build_root(root, scratch, args.scale, args.changed)
            print(f"workspace and changes: {counts}", flush=True)
        con = duckdb.connect(str(scratch / "views.duckdb"))
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        started = time.perf_counter()
        create_views(con, str(root))
        created = time.perf_counter() - started
        rows = []
        for spec in incremental_tables():
            raw = f"read_parquet('{table_glob(str(root), spec.name)}', hive_partitioning=true)"
            files = len(list(root.glob(f"{spec.name}/*/*.parquet")))
            _, scan, stored = _timed(con, f"SELECT count(*) FROM {raw}", args.repeat)
            first, warm, current = _timed(con, f"SELECT count(*) FROM {view_name(spec.name)}", args.repeat)
            _, full, _ = _timed(con, f"SELECT sum(hash(COLUMNS(*))) FROM {view_name(spec.name)}", args.repeat)
            rows.append((spec.name, files, stored, current, scan, first, warm, full))
        print(f"\ncurrent-state views at scale {args.scale} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, DuckDB "
              f"{duckdb.__version__}, {threads} threads); views created in {created:.2f} s")
        header = ("table", "files", "stored rows", "current rows", "scan count(*)", "view count(*) first",
                  "view count(*) median", "view all columns")
        print("  ".join(header))
        for name, files, stored, current, scan, first, warm, full in rows:
            print(f"{name}  {files}  {stored}  {current}  {scan:.3f} s  {first:.3f} s  {warm:.3f} s  {full:.3f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
