"""`make bench`: scheduled ticks against the Intercom test server at benchmark scale, one table of figures.

Each tick runs in its own process (the server in another), so wall times, peak memory and the GIL are the
extractor's own. Phases: a full-window tick under latency and a rate limit; a steady tick as the schedule makes
it after 1% of the records changed, with the companies scroll on its own cadence; the same two without latency
or limit (their CPU floors); the four base tables alone against a bare sequential loop over the same pages; the
full tick at concurrency 1 (the sequential baseline); a full and a steady tick with the opt-in tables switched
on (their requests per endpoint). `--catchup` measures a 365-day catch-up instead.

A rate floor counts a run's requests at the rate the product may use: the server's limit ×
INTERCOM_RATE_LIMIT_SHARE.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import split, workspaces_bench
from benchmarks.ceiling import run_ceiling
from benchmarks.peer_tap import run_peer_tap, summary_line
from benchmarks.server_process import TOKEN, ServerProcess
from intercom_assets.declared.configuration import CONFIGURATION_TABLES
from intercom_assets.declared.engagement import ENGAGEMENT_TABLES
from intercom_assets.partitions import key_start, trailing_window
from intercom_assets.resources import DEFAULT_RATE_LIMIT_SHARE
from intercom_assets.tables import TABLES

REPO = Path(__file__).resolve().parents[1]
BASE_TABLES = ("contacts", "companies", "conversations", "conversation_parts")
SCROLL_PAGES = "GET /companies/scroll"
CADENCE_MINUTES = 120  # INTERCOM_COMPANIES_REFRESH_MINUTES of the steady ticks and the catch-up
# the tables of the newer 2.16 resources in the default selection (their requests are reported on their own)
NEWER_DEFAULT = {spec.name for spec in (*ENGAGEMENT_TABLES, *CONFIGURATION_TABLES) if spec.in_default_selection}


class Bench:
    """One benchmark session: the server, a scratch directory, the options; runs ticks in child processes."""

    def __init__(self, srv: ServerProcess, args: argparse.Namespace, scratch: Path):
        self.srv, self.args, self.scratch = srv, args, scratch
        self.share = float(os.environ.get("INTERCOM_RATE_LIMIT_SHARE", DEFAULT_RATE_LIMIT_SHARE))

    def new_home(self) -> Path:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.scratch))
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        return home

    def tick(self, root: str, home: Path, mode: str = "job", start_days: int | None = None,
             **env: str) -> dict[str, Any]:
        """One measured child process (benchmarks.tick), with the server's request counts of exactly it."""
        days = start_days if start_days is not None else self.args.window + 5
        environment = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "INTERCOM_ACCESS_TOKEN": TOKEN,
            "INTERCOM_BASE_URL": self.srv.base_url,
            "INTERCOM_PARQUET_ROOT": str(self.scratch / root),
            "INTERCOM_START_DATE": (datetime.now(UTC).date() - timedelta(days=days)).isoformat(),
            "INTERCOM_AUTOMATION": "off",
            "INTERCOM_STAGING_DIR": str(self.scratch),
            "INTERCOM_ATTRIBUTION_WINDOW_DAYS": str(self.args.window),
            **env,
        }
        self.srv.call("reset_counts")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        spawned = time.time()
        environment["BENCH_SPAWNED_AT"] = repr(spawned)
        completed = subprocess.run([sys.executable, "-m", "benchmarks.tick", "--window", str(self.args.window),
                                    "--mode", mode], cwd=REPO, env=environment, capture_output=True, text=True)
        process_wall = time.time() - spawned
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if completed.returncode != 0:
            raise SystemExit(f"tick failed:\n{completed.stderr[-4000:]}")
        assert TOKEN not in completed.stdout + completed.stderr, "the token leaked into the tick's output"
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        if not result["success"]:
            raise SystemExit(f"a run of the {mode} tick failed:\n{completed.stderr[-4000:]}")
        result["process_wall_seconds"] = process_wall
        result["process_cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        result["server_counts"] = self.srv.call("request_counts")
        result["requests"] = sum(result["server_counts"].values())
        return result

    def rate_floor(self, requests: int) -> float:
        """Seconds for `requests` at the share of the server's limit the product allows itself."""
        return requests / (self.args.rate_limit * self.share / 60)

    def floor_row(self, name: str, requests: int) -> tuple[str, str]:
        return (f"{name}: rate floor", f"{self.rate_floor(requests):.1f} s ({requests} requests at "
                f"{self.share:g} x {self.args.rate_limit}/min)")

    def steady_tick(self, root: str, home: Path) -> dict[str, Any]:
        """A tick exactly as the schedule makes it, with the companies scroll on its cadence."""
        return self.tick(root, home, mode="schedule", INTERCOM_COMPANIES_REFRESH_MINUTES=str(CADENCE_MINUTES))

    def steady_cpu_floor(self, root: str, home: Path) -> float:
        """The steady tick's extraction without latency or limit, after another 1% changed (leaves them off)."""
        self.latency(False)
        self.srv.bump(0.01, datetime.now(UTC) - timedelta(minutes=5))
        return self.steady_tick(root, home)["extraction_seconds_run"]

    def steady_target_row(self, steady: dict[str, Any], cpu_floor: float) -> tuple[str, str]:
        bound = max(self.rate_floor(steady["requests"]), cpu_floor)
        return ("steady tick: extraction vs 1.2 x max(rate floor, CPU floor) + 10 s",
                f"{steady['extraction_seconds_run']:.1f} s vs {1.2 * bound + 10:.1f} s")

    def latency(self, on: bool) -> None:
        self.srv.call("set_latency_ms", self.args.latency_ms if on else 0)
        self.srv.call("set_rate_limit", self.args.rate_limit if on else None)


def _fmt_counts(counts: dict[str, int]) -> str:
    short = {k.split(" ", 1)[1]: v for k, v in sorted(counts.items())}
    return ", ".join(f"{k} {v}" for k, v in short.items())


def _chain(tick: dict[str, Any], latency_ms: int) -> tuple[int, float]:
    pages = tick["server_counts"].get(SCROLL_PAGES, 0)
    return pages, pages * latency_ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large", "xlarge"])
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per minute")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the concurrency-1 tick (slowest)")
    parser.add_argument("--skip-opt-in", action="store_true",
                        help="skip the ticks with the opt-in tables switched on (their requests per endpoint)")
    parser.add_argument("--skip-peer", action="store_true", help="skip Singer's tap-intercom (own venv, capped)")
    parser.add_argument("--skip-cpu", action="store_true",
                        help="skip the phases without latency (CPU floors, rows/s against the bare loop)")
    parser.add_argument("--cpu-floor", type=float, nargs=2, metavar=("FULL", "STEADY"),
                        help="CPU floors (s) measured earlier, used with --skip-cpu")
    parser.add_argument("--steady-only", action="store_true",
                        help="fill the lake by a full tick without latency, then measure only the steady tick")
    parser.add_argument("--catchup", action="store_true",
                        help="only measure a 365-day catch-up: the catch-up sensor's chunks, one after another")
    parser.add_argument("--range-memory", action="store_true",
                        help="only compare peak RSS of one run over 30 days and one over 365 days (no latency)")
    parser.add_argument("--workspaces", action="store_true",
                        help="only the two-workspace mode: two workspaces' ticks at once against each one alone")
    args = parser.parse_args()
    if args.workspaces:
        sys.argv = [sys.argv[0], "--scale", args.scale, "--window", str(args.window), "--latency-ms",
                    str(args.latency_ms), "--rate-limit", str(args.rate_limit)]
        workspaces_bench.main()
        return
    if args.range_memory:
        _range_memory(args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    rows = _Report()
    try:
        with ServerProcess(scale=args.scale, latency_ms=args.latency_ms,
                           rate_limit_per_minute=args.rate_limit) as srv:
            bench = Bench(srv, args, scratch)
            first, last = trailing_window(datetime.now(UTC).date(), args.window)
            start, end = key_start(first), key_start(last) + timedelta(days=1)
            in_window = srv.call("window_counts", int(start.timestamp()), int(end.timestamp()))
            rows.append(("workspace", f"{srv.counts} at scale {args.scale} (built in {srv.build_seconds:.0f} s); "
                                      f"in the window: {in_window}"))
            if args.catchup:
                _catchup(bench, rows)
            else:
                _ticks(bench, rows, in_window, start, end)
            rows.append(("test server RSS now / peak", "{rss_mib:.0f} / {peak_rss_mib:.0f} MiB".format(
                **srv.call("rss"))))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    width = max(len(name) for name, _ in rows)
    print(f"\nintercom-assets benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, scale {args.scale}, window "
          f"{args.window} days, latency {args.latency_ms} ms, limit {args.rate_limit}/min)")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def _ticks(bench: Bench, rows: _Report, in_window: dict[str, int], start: datetime, end: datetime) -> None:
    args, srv = bench.args, bench.srv
    home = bench.new_home()
    if args.steady_only:  # the lake the steady tick starts from, filled without latency
        bench.latency(False)
        full = bench.tick("root-full", home)
        bench.latency(True)
        rows.append(("full tick without latency (fills the lake)", f"{full['extraction_seconds_run']:.1f} s"))
        steady = _steady(bench, rows, in_window, home)
        cpu_floor = bench.steady_cpu_floor("root-full", home)
        rows += [("no latency, no limit: steady tick (CPU floor)", f"{cpu_floor:.1f} s"),
                 bench.steady_target_row(steady, cpu_floor)]
        return
    full = bench.tick("root-full", home)
    pages, chain = _chain(full, args.latency_ms)
    rows += [
        ("full tick: requests per endpoint", _fmt_counts(full["server_counts"])),
        ("full tick: 429s / retries", f"{full['api_rate_limited_run']} / {full['api_retries_run']} "
         f"({100 * full['api_rate_limited_run'] / max(full['requests'], 1):.2f}% of requests)"),
        ("full tick: extraction time", f"{full['extraction_seconds_run']:.1f} s"),
        bench.floor_row("full tick", full["requests"]),
        ("full tick: scroll chain", f"{chain:.1f} s ({pages} pages x {args.latency_ms} ms)"),
        ("full tick: chains per source", full["chain_seconds"]),
        ("full tick: Dagster's own time (run wall - extraction)",
         f"{full['wall_seconds'] - full['extraction_seconds_run']:.1f} s"),
        ("full tick: whole run wall time", f"{full['wall_seconds']:.1f} s "
         f"(+ {full['load_seconds']:.1f} s to load definitions)"),
        ("full tick: peak RSS", f"{full['max_rss_mb']:.0f} MiB"),
        *split.rows("full tick", full),
    ]
    steady = _steady(bench, rows, in_window, home)
    floors = (args.cpu_floor[0], args.cpu_floor[1]) if args.cpu_floor else None
    if not args.skip_cpu:
        bench.latency(False)
        fast_home = bench.new_home()
        fast = bench.tick("root-fast", fast_home)
        floors = (fast["extraction_seconds_run"], bench.steady_cpu_floor("root-fast", fast_home))
        base = bench.tick("root-base", bench.new_home(), INTERCOM_TABLES=",".join(BASE_TABLES))
        base_rows = sum(base["rows"].get(t, 0) for t in BASE_TABLES)
        ceiling = run_ceiling(srv.base_url, TOKEN, start, end, bench.scratch / "ceiling")
        extractor_rate = base_rows / base["extraction_seconds_run"]
        rows += [
            ("no latency, no limit: full tick (CPU floor)", f"{fast['extraction_seconds_run']:.1f} s, peak RSS "
             f"{fast['max_rss_mb']:.0f} MiB"),
            ("no latency, no limit: steady tick (CPU floor)", f"{floors[1]:.1f} s"),
            ("no latency, no limit: extractor, base tables only", f"{extractor_rate:.0f} rows/s "
             f"({base_rows} rows of {', '.join(BASE_TABLES)} in {base['extraction_seconds_run']:.1f} s)"),
            ("no latency, no limit: bare sequential loop, same pages", f"{ceiling['rows_per_second']:.0f} rows/s "
             f"({ceiling['rows']} rows in {ceiling['seconds']:.1f} s)"),
            ("no latency, no limit: extractor / bare loop", f"{extractor_rate / ceiling['rows_per_second']:.0%}"),
        ]
        bench.latency(True)
    if floors is not None:
        full_bound = max(bench.rate_floor(full["requests"]), floors[0], chain)
        rows += [
            ("full tick: extraction / max(rate floor, CPU floor, scroll chain)",
             f"{full['extraction_seconds_run'] / full_bound:.2f} (target <= 1.3)"),
            bench.steady_target_row(steady, floors[1]),
        ]
    else:
        rows.append(("full tick: extraction / max(rate floor, scroll chain)",
                     f"{full['extraction_seconds_run'] / max(bench.rate_floor(full['requests']), chain):.2f} "
                     "(no CPU floor measured)"))
    if not args.skip_baseline:
        seq = bench.tick("root-seq", bench.new_home(), INTERCOM_MAX_CONCURRENCY="1")
        rows += [
            ("baseline (concurrency 1): extraction time", f"{seq['extraction_seconds_run']:.1f} s"),
            ("speed-up over the baseline", f"{seq['extraction_seconds_run'] / full['extraction_seconds_run']:.1f} x"),
        ]
    if not args.skip_opt_in:
        _opt_in(bench, rows, full, steady)
    if not args.skip_peer:
        peer = run_peer_tap(srv.base_url, TOKEN, start, bench.scratch / "peer",
                            request_counts=lambda: srv.call("request_counts"))
        rows.append(("peer: Singer tap-intercom, same window", summary_line(peer)))


def _per_endpoint(counts: dict[str, int], endpoints: dict[str, str]) -> str:
    """Requests of each table's own endpoint: `table (endpoint): n`."""
    return ", ".join(f"{table} ({endpoint}): {counts.get(endpoint, 0)}" for table, endpoint in endpoints.items())


def _opt_in(bench: Bench, rows: _Report, full: dict[str, Any], steady: dict[str, Any]) -> None:
    """The opt-in tables' cost: a full and a steady tick with every table switched on, their requests per
    opt-in table's endpoint, against the default selection's ticks measured before."""
    opt_in = {spec.name: f"GET {spec.children.fetch.path}" for spec in TABLES
              if not spec.in_default_selection and spec.children is not None and spec.children.fetch is not None}
    newer = {spec.name: spec.source.request.split("?")[0] for spec in TABLES
             if spec.name in NEWER_DEFAULT and spec.children is None}
    selection = "default," + ",".join(opt_in)
    home = bench.new_home()
    every = bench.tick("root-opt-in", home, INTERCOM_TABLES=selection)
    changed = bench.srv.bump(0.01, datetime.now(UTC) - timedelta(minutes=5))
    every_steady = bench.tick("root-opt-in", home, mode="schedule", INTERCOM_TABLES=selection,
                              INTERCOM_COMPANIES_REFRESH_MINUTES=str(CADENCE_MINUTES))
    rows += [
        ("full tick: requests of the newer default tables", _per_endpoint(full["server_counts"], newer)),
        ("opt-in, full tick: requests per opt-in table", _per_endpoint(every["server_counts"], opt_in)),
        ("opt-in, full tick: requests / extraction vs default selection",
         f"{every['requests']} / {every['extraction_seconds_run']:.1f} s vs {full['requests']} / "
         f"{full['extraction_seconds_run']:.1f} s"),
        ("opt-in, steady tick: records changed (1%)", json.dumps(changed)),
        ("opt-in, steady tick: requests per opt-in table", _per_endpoint(every_steady["server_counts"], opt_in)),
        ("opt-in, steady tick: requests / extraction vs default selection",
         f"{every_steady['requests']} / {every_steady['extraction_seconds_run']:.1f} s vs {steady['requests']} / "
         f"{steady['extraction_seconds_run']:.1f} s"),
    ]


def _steady(bench: Bench, rows: _Report, in_window: dict[str, int], home: Path) -> dict[str, Any]:
    """The steady tick as the schedule makes it after 1% changed, the scroll on its cadence."""
    changed = bench.srv.bump(0.01, datetime.now(UTC) - timedelta(minutes=5))
    steady = bench.steady_tick("root-full", home)
    fetched = steady["server_counts"].get("GET /conversations/{id}", 0)
    rows += [
        ("steady tick: records changed (1%)", json.dumps(changed)),
        ("steady tick: runs (as the schedule makes them)",
         "; ".join(f"{len(run['rows'])} tables, {run['wall_seconds']:.1f} s" for run in steady["runs"])),
        ("steady tick: requests per endpoint", _fmt_counts(steady["server_counts"])),
        ("steady tick: conversation fetches vs changed + 1% of window",
         f"{fetched} vs {changed['conversations']} + {in_window['conversations'] // 100}"),
        ("steady tick: extraction / whole runs", f"{steady['extraction_seconds_run']:.1f} s / "
         f"{steady['wall_seconds']:.1f} s"),
        ("steady tick: chains per source", steady["chain_seconds"]),
        bench.floor_row("steady tick", steady["requests"]),
        *split.rows("steady tick", steady),
    ]
    return steady


def _catchup(bench: Bench, rows: _Report) -> None:
    """365 days before the window, filled by the catch-up sensor's runs one after another, scroll on cadence."""
    args = bench.args
    caught = bench.tick("root-catchup", bench.new_home(), mode="catchup", start_days=365 + args.window,
                        INTERCOM_COMPANIES_REFRESH_MINUTES=str(CADENCE_MINUTES))
    pages, chains = _chain(caught, args.latency_ms)
    floor = bench.rate_floor(caught["requests"])
    dagster = caught["wall_seconds"] - caught["extraction_seconds_run"]
    rows += [
        ("catch-up: runs (first..last, extraction s)", "; ".join(
            f"{run['partitions'][0]}..{run['partitions'][1]} {run['extraction_seconds_run']:.1f}"
            for run in caught["runs"])),
        ("catch-up: requests per endpoint", _fmt_counts(caught["server_counts"])),
        ("catch-up: rows", json.dumps(caught["rows"])),
        ("catch-up: 429s / retries", f"{caught['api_rate_limited_run']} / {caught['api_retries_run']}"),
        ("catch-up: extraction, summed over runs", f"{caught['extraction_seconds_run']:.1f} s"),
        bench.floor_row("catch-up", caught["requests"]),
        ("catch-up: scroll chains, summed", f"{chains:.1f} s ({pages} pages x {args.latency_ms} ms)"),
        ("catch-up: extraction / max(rate floor, scroll chains)",
         f"{caught['extraction_seconds_run'] / max(floor, chains):.2f} (target <= 1.2)"),
        ("catch-up: Dagster's own time (run walls - extraction)", f"{dagster:.1f} s"),
        ("catch-up: whole, run walls summed", f"{caught['wall_seconds']:.1f} s"),
        ("catch-up: peak RSS", f"{caught['max_rss_mb']:.0f} MiB"),
    ]


def _range_memory(args: argparse.Namespace) -> None:
    """Peak memory must not grow with the range: one run over 30 days, one over 365, same workspace."""
    scratch = Path(tempfile.mkdtemp(prefix="intercom-bench-"))
    try:
        with ServerProcess(scale=args.scale) as srv:
            for days in (30, 365):
                args.window = days
                bench = Bench(srv, args, scratch)
                tick = bench.tick(f"root-{days}", bench.new_home())
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
