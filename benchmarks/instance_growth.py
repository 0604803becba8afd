"""Size of a SQLite Dagster instance over simulated days of ticks plus the daily maintenance.

    python -m benchmarks.instance_growth [--days 8] [--ticks-per-day 25] [--retention-days 2] [--tables a,b]

A fresh DAGSTER_HOME with the repo's dagster.yaml; the bundled test server (small scale) in its own process; each
simulated day runs in a child process under Debian's `faketime` (`apt-get install -y faketime`), so Dagster's
clock moves too: run timestamps, "today" and thus the window, SQLite's CURRENT_TIMESTAMP. A day is N real ticks of
`intercom_job` over the trailing window (INTERCOM_AUTOMATION=off), then the maintenance pass at the day's end
with INTERCOM_RUN_RETENTION_DAYS. Every table of the registry is selected (so each history table's current
state too) unless --tables names some. Per day it prints the instance size, its growth, and the bytes written per tick
and per materialized table-partition (materializations counted from the event log).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
HISTORY_DAYS = 60
BUMP_FRACTION = 0.02
# The test server's clock stays here, just before the first simulated midnight: at exactly midnight its activity
# log of "today" would be an empty range, which it answers with HTTP 500 (the run would fail on activity_logs).
SERVER_CLOCK_LEAD = timedelta(minutes=1)


def dir_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def breakdown(home: Path) -> dict[str, int]:
    """Bytes per part of the instance: event log, runs, schedules/ticks, compute logs."""
    parts = {
        "event_log": sum(f.stat().st_size for f in home.glob("event_log.db*")),
        "history": dir_bytes(home / "history") if (home / "history").exists() else 0,
        "schedules": dir_bytes(home / "schedules") if (home / "schedules").exists() else 0,
        "compute_logs": dir_bytes(home / "storage") if (home / "storage").exists() else 0,
    }
    parts["other"] = dir_bytes(home) - sum(parts.values())
    return parts


def simulate_day(ticks: int, retention_days: int, day_end: datetime, out: Path) -> None:
    """Child process (under faketime): the day's ticks, then maintenance as of the day's end."""
    from dagster import DagsterEventType, DagsterInstance

    from intercom_assets.automation.jobs import INTERCOM_JOB
    from intercom_assets.automation.maintenance import prune_instance
    from intercom_assets.automation.schedules import tick_requests
    from intercom_assets.definitions import build_definitions
    from intercom_assets.settings import load_settings

    settings = load_settings()
    home = Path(os.environ["DAGSTER_HOME"])
    job = build_definitions(settings).resolve_job_def(INTERCOM_JOB)
    stats: dict = {"runs": [], "failed": 0, "tick_seconds": []}
    with DagsterInstance.get() as instance:
        for _ in range(ticks):
            # what the schedule launches on a tick: the window run and today's snapshot run
            requests = tick_requests(datetime.now(UTC), settings)
            assert requests
            started = time.monotonic()
            for request in requests:
                result = job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False,
                                                asset_selection=request.asset_selection)
                stats["runs"].append(result.run_id)
                stats["failed"] += 0 if result.success else 1
            stats["tick_seconds"].append(time.monotonic() - started)
        window = requests[0].tags
        stats["window"] = [window["dagster/asset_partition_range_start"], window["dagster/asset_partition_range_end"]]
        stats["materializations"] = sum(
            len(instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records)
            for run_id in stats["runs"]
        )
        stats["bytes_before_maintenance"] = dir_bytes(home)
        report = prune_instance(instance, day_end, retention_days)
        stats["bytes_after_maintenance"] = dir_bytes(home)
        stats["breakdown"] = breakdown(home)
        stats["maintenance"] = {
            "runs_deleted": report.runs_deleted, "runs_kept": len(report.runs_kept),
            "materializations_copied": report.materializations_copied,
            "check_rows_retargeted": report.check_rows_retargeted, "check_rows_deleted": report.check_rows_deleted,
            "seconds": report.seconds,
        }
        stats["runs_in_instance"] = len(instance.get_run_records())
        stats["clock"] = datetime.now(UTC).isoformat()
    out.write_text(json.dumps(stats))


def run_day(day_start: datetime, args: argparse.Namespace, env: dict[str, str], work: Path) -> dict:
    out = work / f"day-{day_start:%Y%m%d}.json"
    day_end = day_start + timedelta(hours=23, minutes=59)
    command = ["faketime", "-f", f"@{day_start:%Y-%m-%d %H:%M:%S}", sys.executable, "-m", "benchmarks.instance_growth",
               "--child", str(out), "--ticks-per-day", str(args.ticks_per_day),
               "--retention-days", str(args.retention_days), "--day-end", day_end.isoformat()]
    with open(work / "runs.log", "ab") as log:
        completed = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise SystemExit(f"simulated day {day_start:%Y-%m-%d} failed (exit {completed.returncode}): {work}/runs.log")
    return json.loads(out.read_text())


def _row(day_start: datetime, stats: dict, written: int, growth: int, ticks: int) -> str:
    m = stats["maintenance"]
    cells = [
        f"{day_start:%Y-%m-%d}", f"{stats['runs_in_instance']:>4}", f"{stats['materializations']:>6}",
        f"{stats['bytes_before_maintenance'] / MIB:>9.2f} MiB",
        f"{stats['bytes_after_maintenance'] / MIB:>8.2f} MiB",
        f"{growth / MIB:>+6.2f} MiB", f"{written / ticks:>10,.0f}",
        f"{written / max(stats['materializations'], 1):>12,.0f}",
        f"{m['runs_deleted']:>7}", f"{m['runs_kept']:>4}", f"{m['materializations_copied']:>6}",
        f"{sum(stats['tick_seconds']) / len(stats['tick_seconds']):>6.1f}", f"{m['seconds']:>7.1f}",
    ]
    return " ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--ticks-per-day", type=int, default=25)
    parser.add_argument("--retention-days", type=int, default=2)
    parser.add_argument("--tables", default="", help="INTERCOM_TABLES for the ticks (default: every table of "
                        "intercom_assets.tables.TABLES)")
    parser.add_argument("--dagster-yaml", type=Path, default=REPO / "dagster.yaml",
                        help="instance configuration to measure (default: the repo's dagster.yaml)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day-end", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        simulate_day(args.ticks_per_day, args.retention_days, datetime.fromisoformat(args.day_end), args.child)
        return
    if shutil.which("faketime") is None:
        raise SystemExit("needs Debian's faketime: apt-get install -y faketime")

    from benchmarks.server_process import TOKEN, ServerProcess
    from intercom_assets.tables import TABLES

    tables = [name for name in args.tables.split(",") if name] or [spec.name for spec in TABLES]
    history = [spec.name for spec in TABLES if spec.name in tables and spec.has_current_state]
    work = Path(tempfile.mkdtemp(prefix="intercom-growth-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copyfile(args.dagster_yaml, home / "dagster.yaml")
    first_day = datetime.combine(date.today() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    env = {**os.environ, "DAGSTER_HOME": str(home), "INTERCOM_ACCESS_TOKEN": TOKEN,
           "INTERCOM_PARQUET_ROOT": str(work / "parquet"), "INTERCOM_AUTOMATION": "off",
           "INTERCOM_START_DATE": (first_day - timedelta(days=HISTORY_DAYS)).date().isoformat(),
           "INTERCOM_RUN_RETENTION_DAYS": str(args.retention_days), "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "INTERCOM_TABLES": ",".join(tables)}
    print(f"{args.days} simulated days from {first_day:%Y-%m-%d} x {args.ticks_per_day} ticks, maintenance each "
          f"day's end, retention {args.retention_days} days, {len(tables)} tables and {len(history)} current states, "
          f"instance {args.dagster_yaml}; work dir {work}", flush=True)
    print(f"{'day':<10} {'runs':>4} {'mats':>6} {'before maint':>13} {'after maint':>12} {'growth':>10} "
          f"{'B/tick':>10} {'B/table-part':>12} {'deleted':>7} {'kept':>4} {'copied':>6} {'s/tick':>6} {'maint s':>7}",
          flush=True)
    previous = 0
    results = []
    started = time.monotonic()
    try:
        with ServerProcess(scale="small", now=first_day - SERVER_CLOCK_LEAD) as server:
            env["INTERCOM_BASE_URL"] = server.base_url
            for day in range(args.days):
                day_start = first_day + timedelta(days=day)
                server.bump(BUMP_FRACTION, day_start + timedelta(minutes=5))
                stats = run_day(day_start, args, env, work)
                written = stats["bytes_before_maintenance"] - previous
                growth = stats["bytes_after_maintenance"] - previous
                previous = stats["bytes_after_maintenance"]
                results.append({"day": f"{day_start:%Y-%m-%d}", "written": written, "growth": growth, **stats})
                print(_row(day_start, stats, written, growth, args.ticks_per_day), flush=True)
    finally:
        (work / "results.json").write_text(json.dumps(results, indent=1))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    steady = [r["growth"] for r in results[3:]]
    print(f"\nfailed ticks: {sum(r['failed'] for r in results)}; wall {time.monotonic() - started:.0f} s")
    if results:
        parts = results[-1]["breakdown"].items()
        print("instance by part at the end: " +
              ", ".join(f"{name} {size / MIB:.2f} MiB" for name, size in parts))
    if steady:
        mean = sum(steady) / len(steady)
        print(f"growth from day 4 on: max {max(steady) / MIB:+.3f} MiB/day, mean {mean / MIB:+.3f} MiB/day (limit 0.5)")


if __name__ == "__main__":
    main()
