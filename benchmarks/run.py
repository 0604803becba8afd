"""`make bench`: scheduled ticks against the Intercom test server at benchmark scale, one table of figures.

Each tick runs in its own process (the server in another), so wall times, peak memory and the GIL are the
extractor's own. Phases: a full-window tick under latency and a rate limit; a steady-state tick after 1% of
the records changed; a tick with neither, against a bare sequential ceiling; the same full tick at
concurrency 1 (the sequential baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ceiling import run_ceiling
from benchmarks.peer_tap import run_peer_tap, summary_line
from benchmarks.server_process import TOKEN, ServerProcess
from intercom_assets.partitions import key_start, trailing_window

REPO = Path(__file__).resolve().parents[1]
BASE_TABLES = ("contacts", "companies", "conversations", "conversation_parts")


def _tick(base_url: str, root: Path, window: int, concurrency: int | None, scratch: Path) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "INTERCOM_BASE_URL": base_url,
        "INTERCOM_PARQUET_ROOT": str(root),
        "INTERCOM_START_DATE": (datetime.now(UTC).date() - timedelta(days=window + 5)).isoformat(),
        "INTERCOM_AUTOMATION": "off",
        "INTERCOM_STAGING_DIR": str(scratch),
    }
    if concurrency is not None:
        env["INTERCOM_MAX_CONCURRENCY"] = str(concurrency)
    completed = subprocess.run([sys.executable, "-m", "benchmarks.tick", "--window", str(window)],
                               cwd=REPO, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"tick failed:\n{completed.stderr[-4000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert TOKEN not in completed.stdout + completed.stderr, "the token leaked into the tick's output"
    return result


def _requests(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _phase(srv: ServerProcess, root: Path, args: argparse.Namespace, scratch: Path,
           concurrency: int | None = None) -> dict[str, Any]:
    srv.call("reset_counts")
    tick = _tick(srv.base_url, root, args.window, concurrency, scratch)
    tick["server_counts"] = srv.call("request_counts")
    return tick


def _fmt_counts(counts: dict[str, int]) -> str:
    short = {k.split(" ", 1)[1]: v for k, v in sorted(counts.items())}
    return ", ".join(f"{k} {v}" for k, v in short.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large", "xlarge"])
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per minute")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the concurrency-1 tick (slowest)")
    parser.add_argument("--skip-peer", action="store_true", help="skip Singer's tap-intercom (own venv, capped)")
    parser.add_argument("--range-memory", action="store_true",
                        help="only compare peak RSS of one run over 30 days and one over 365 days (no latency)")
    args = parser.parse_args()
    if args.range_memory:
        _range_memory(args)
        return

    scratch = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    rows = _Report()
    try:
        with ServerProcess(scale=args.scale, latency_ms=args.latency_ms,
                           rate_limit_per_minute=args.rate_limit) as srv:
            first, last = trailing_window(datetime.now(UTC).date(), args.window)
            start, end = key_start(first), key_start(last) + timedelta(days=1)
            in_window = srv.call("window_counts", int(start.timestamp()), int(end.timestamp()))
            rows.append(("workspace", f"{srv.counts} at scale {args.scale}; in the window: {in_window}"))

            full = _phase(srv, scratch / "root-full", args, scratch)
            requests = _requests(full["server_counts"])
            floor = requests / (args.rate_limit / 60)
            scroll_pages = full["server_counts"].get("GET /companies/scroll", 0)
            chain = scroll_pages * args.latency_ms / 1000
            bound = max(floor, chain)
            rows += [
                ("full tick: requests per endpoint", _fmt_counts(full["server_counts"])),
                ("full tick: 429s / retries", f"{full['api_rate_limited_run']} / {full['api_retries_run']} "
                 f"({100 * full['api_rate_limited_run'] / max(requests, 1):.2f}% of requests)"),
                ("full tick: extraction time", f"{full['extraction_seconds_run']:.1f} s"),
                ("full tick: rate-limit floor", f"{floor:.1f} s ({requests} requests at {args.rate_limit}/min)"),
                ("full tick: scroll chain", f"{chain:.1f} s ({scroll_pages} pages x {args.latency_ms} ms)"),
                ("full tick: extraction / max(floor, chain)", f"{full['extraction_seconds_run'] / bound:.2f}"),
                ("full tick: Dagster's own time (run wall - extraction)",
                 f"{full['wall_seconds'] - full['extraction_seconds_run']:.1f} s"),
                ("full tick: whole run wall time", f"{full['wall_seconds']:.1f} s "
                 f"(+ {full['load_seconds']:.1f} s to load definitions)"),
                ("full tick: peak RSS", f"{full['max_rss_mb']:.0f} MiB"),
            ]

            changed = srv.bump(0.01, datetime.now(UTC) - timedelta(minutes=5))
            steady = _phase(srv, scratch / "root-full", args, scratch)
            fetched = steady["server_counts"].get("GET /conversations/{id}", 0)
            rows += [
                ("steady tick: records changed (1%)", json.dumps(changed)),
                ("steady tick: requests per endpoint", _fmt_counts(steady["server_counts"])),
                ("steady tick: conversation fetches vs changed + 1% of window",
                 f"{fetched} vs {changed['conversations']} + {in_window['conversations'] // 100}"),
                ("steady tick: extraction / whole run", f"{steady['extraction_seconds_run']:.1f} s / "
                 f"{steady['wall_seconds']:.1f} s"),
            ]

            srv.call("set_latency_ms", 0)
            srv.call("set_rate_limit", None)
            fast = _phase(srv, scratch / "root-fast", args, scratch)
            base_rows = sum(fast["rows"].get(t, 0) for t in BASE_TABLES)
            ceiling = run_ceiling(srv.base_url, TOKEN, start, end, scratch / "ceiling")
            rows += [
                ("no latency, no limit: extractor", f"{base_rows / fast['extraction_seconds_run']:.0f} rows/s "
                 f"({base_rows} rows of {', '.join(BASE_TABLES)} in {fast['extraction_seconds_run']:.1f} s)"),
                ("no latency, no limit: bare sequential ceiling", f"{ceiling['rows_per_second']:.0f} rows/s "
                 f"({ceiling['rows']} rows in {ceiling['seconds']:.1f} s)"),
                ("no latency, no limit: peak RSS", f"{fast['max_rss_mb']:.0f} MiB"),
            ]

            if not args.skip_baseline:
                srv.call("set_latency_ms", args.latency_ms)
                srv.call("set_rate_limit", args.rate_limit)
                base = _phase(srv, scratch / "root-seq", args, scratch, concurrency=1)
                rows += [
                    ("baseline (concurrency 1): extraction time", f"{base['extraction_seconds_run']:.1f} s"),
                    ("speed-up over the baseline",
                     f"{base['extraction_seconds_run'] / full['extraction_seconds_run']:.1f} x"),
                ]
            if not args.skip_peer:
                srv.call("set_latency_ms", args.latency_ms)
                srv.call("set_rate_limit", args.rate_limit)
                peer = run_peer_tap(srv.base_url, TOKEN, start, scratch / "peer",
                                    request_counts=lambda: srv.call("request_counts"))
                rows.append(("peer: Singer tap-intercom, same window", summary_line(peer)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    width = max(len(name) for name, _ in rows)
    print(f"\nintercom-assets benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, window {args.window} days, "
          f"latency {args.latency_ms} ms, limit {args.rate_limit}/min)")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def _range_memory(args: argparse.Namespace) -> None:
    """Peak memory must not grow with the range: one run over 30 days, one over 365, same workspace."""
    scratch = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    try:
        with ServerProcess(scale=args.scale) as srv:
            for days in (30, 365):
                args.window = days
                tick = _phase(srv, scratch / f"root-{days}", args, scratch)
                rows = sum(tick["rows"].values())
                print(f"{days:>3}-day range: peak RSS {tick['max_rss_mb']:.0f} MiB, {rows} rows, "
                      f"extraction {tick['extraction_seconds_run']:.1f} s, run {tick['wall_seconds']:.1f} s",
                      flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Report(list):
    """Rows of the final table, also echoed as they are measured so a late failure loses nothing."""

    def append(self, row: tuple[str, str]) -> None:
        print(f"# {row[0]}: {row[1]}", flush=True)
        super().append(row)

    def __iadd__(self, rows: list[tuple[str, str]]) -> _Report:
        for row in rows:
            self.append(row)
        return self


if __name__ == "__main__":
    main()
