"""Growth of a SQLite Dagster instance per day of scheduled ticks: `python -m benchmarks.eventlog_growth`.

Each tick re-extracts the attribution window (30 days x 13 tables = 390 partition materializations, plus the
checks and the run's own events), so the event log grows with the number of ticks, not with the data. This runs a
few real ticks of `intercom_job` against the test server into a fresh SQLite DAGSTER_HOME (the repo's
dagster.yaml), measures what each adds (bytes on disk, events by type), and scales it to a day of the default
`*/30 * * * *` schedule (48 ticks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.server_process import TOKEN, ServerProcess

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _breakdown(home: Path) -> dict[str, int]:
    """Bytes per part of the instance: per-run event shards, the asset index, compute logs, the rest."""
    runs = home / "history" / "runs"
    parts = {
        "per-run event files": sum(f.stat().st_size for f in runs.glob("*") if f.is_file() and "index" not in f.name),
        "asset index (index.db)": sum(f.stat().st_size for f in runs.glob("index.db*")),
        "compute logs (storage/)": _size(home / "storage") if (home / "storage").exists() else 0,
    }
    parts["other"] = _size(home) - sum(parts.values())
    return parts


def _metadata_bytes(home: Path) -> int:
    """Bytes of serialized materialization events in the per-run files (metadata included)."""
    total = 0
    for db in (home / "history" / "runs").glob("*.db"):
        if db.name == "index.db":
            continue
        with sqlite3.connect(db) as con:
            row = con.execute("SELECT sum(length(event)) FROM event_logs "
                              "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'").fetchone()
            total += row[0] or 0
    return total


def _event_counts(home: Path) -> Counter[str]:
    """Event rows by type across the SQLite files of the instance (per-run files and the index)."""
    counts: Counter[str] = Counter()
    for db in sorted((home / "history" / "runs").glob("*.db")):
        if db.name == "index.db":
            continue
        with sqlite3.connect(db) as con:
            for event_type, count in con.execute(
                "SELECT coalesce(dagster_event_type, 'log message'), count(*) FROM event_logs GROUP BY 1"
            ):
                counts[event_type] += count
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--ticks-per-day", type=int, default=48, help="48 for the default */30 cron")
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="intercom-eventlog-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    today = datetime.now(UTC).date()
    os.environ.update({
        "DAGSTER_HOME": str(home),
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "INTERCOM_PARQUET_ROOT": str(work / "parquet"),
        "INTERCOM_START_DATE": (today - timedelta(days=args.window + 5)).isoformat(),
        "INTERCOM_AUTOMATION": "off",
    })
    try:
        with ServerProcess(scale=args.scale) as srv:
            os.environ["INTERCOM_BASE_URL"] = srv.base_url
            from dagster import DagsterInstance

            from intercom_assets.automation.jobs import INTERCOM_JOB
            from intercom_assets.automation.schedules import range_tags
            from intercom_assets.definitions import build_definitions
            from intercom_assets.partitions import trailing_window
            from intercom_assets.settings import load_settings

            job = build_definitions(load_settings()).resolve_job_def(INTERCOM_JOB)
            first, last = trailing_window(today, args.window)
            sizes, walls = [_size(home)], []
            with DagsterInstance.get() as instance:
                for tick in range(args.ticks):
                    started = time.monotonic()
                    assert job.execute_in_process(instance=instance, tags=range_tags(first, last)).success
                    walls.append(time.monotonic() - started)
                    sizes.append(_size(home))
                    print(f"tick {tick + 1}: {walls[-1]:.1f} s, instance {sizes[-1] / MIB:.2f} MiB", flush=True)
        counts = _event_counts(home)
        breakdown = _breakdown(home)
        materialization_bytes = _metadata_bytes(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # The first tick also creates the schema; the steady growth is what later ticks add.
    steady = [after - before for before, after in zip(sizes[1:], sizes[2:], strict=False)] or [sizes[1] - sizes[0]]
    per_tick = sum(steady) / len(steady)
    per_day = per_tick * args.ticks_per_day
    events_per_tick = sum(counts.values()) / args.ticks
    materializations = counts.get("ASSET_MATERIALIZATION", 0) / args.ticks
    print(f"\nSQLite event-log growth ({args.ticks} ticks of a {args.window}-day window at scale {args.scale}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"events per tick                 {events_per_tick:.0f} ({materializations:.0f} materializations)")
    print("events by type per tick         " + ", ".join(
        f"{name} {count / args.ticks:.0f}" for name, count in counts.most_common(8)))
    print(f"instance after schema + 1 tick  {sizes[1] / MIB:.2f} MiB")
    print(f"growth per tick                 {per_tick / MIB:.2f} MiB")
    print(f"growth per day ({args.ticks_per_day} ticks)        {per_day / MIB:.0f} MiB "
          f"({events_per_tick * args.ticks_per_day:,.0f} events)")
    print(f"growth per 30 days              {per_day * 30 / 1024 / MIB:.2f} GiB")
    print("instance by part after all ticks " + ", ".join(
        f"{name} {size / MIB:.1f} MiB" for name, size in breakdown.items()))
    print(f"materialization events          {materialization_bytes / MIB / args.ticks:.2f} MiB per tick in the "
          f"per-run files ({materialization_bytes / max(counts.get('ASSET_MATERIALIZATION', 1), 1):.0f} bytes each)")
    print(f"mean tick wall time             {sum(walls) / len(walls):.1f} s")


if __name__ == "__main__":
    main()
