"""`make bench`'s two-workspace mode: two large workspaces at once against each one alone.

Two test servers (other seeds, each its own rate limit and latency: two Intercom workspaces) and one code location
holding both as IntercomWorkspace YAML files (INTERCOM_WORKSPACES_DIR). Each window tick runs in its own process
(benchmarks.tick, one workspace's job), as a run launcher runs them: first workspace A alone, then B alone, then A
and B at once (both processes started together, one shared instance). The figure: the wall time of the pair
against the slower of the two alone; runs of different workspaces are independent (own pool, own rate budget), so
on the 2-core machine the pair should finish within 1.3 x the slower one alone.

`python -m benchmarks.workspaces_bench --scale large` (or `make bench BENCH_ARGS=--workspaces`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.server_process import TOKEN, ServerProcess

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.3
WORKSPACES = ("wa", "wb")


def _yaml(name: str, base_url: str, root: Path, window: int) -> str:
    start = (datetime.now(UTC).date() - timedelta(days=window + 5)).isoformat()
    return "\n".join([
        "type: intercom_assets.IntercomWorkspace", "attributes:", f"  name: {name}",
        f"  access_token_env: BENCH_{name.upper()}_TOKEN", f"  base_url: {base_url}", f"  parquet_root: {root}",
        f"  start_date: '{start}'", f"  attribution_window_days: {window}", "  automation: 'off'", "",
    ])


def _start(name: str, home: Path, folder: Path, scratch: Path, window: int) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home), "INTERCOM_WORKSPACES_DIR": str(folder),
           "INTERCOM_STAGING_DIR": str(scratch), **{f"BENCH_{ws.upper()}_TOKEN": TOKEN for ws in WORKSPACES}}
    return subprocess.Popen([sys.executable, "-m", "benchmarks.tick", "--window", str(window), "--mode", "job",
                             "--job", f"intercom_{name}_job"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(name: str, process: subprocess.Popen, started: float) -> dict[str, Any]:
    stdout, stderr = process.communicate()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"the {name} tick failed:\n{stderr[-4000:]}")
    assert TOKEN not in stdout + stderr, "the token leaked into the tick's output"
    result = json.loads(stdout.strip().splitlines()[-1])
    if not result["success"]:
        raise SystemExit(f"a run of the {name} tick failed:\n{stderr[-4000:]}")
    return {**result, "process_seconds": wall}


def _ticks(names: tuple[str, ...], home: Path, folder: Path, scratch: Path, window: int) -> dict[str, Any]:
    """Start one tick process per workspace at once; returns each one's figures and the pair's wall time."""
    started = time.monotonic()
    processes = {name: _start(name, home, folder, scratch, window) for name in names}
    results = {name: _finish(name, process, started) for name, process in processes.items()}
    return {"wall": time.monotonic() - started, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large", "xlarge"])
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per minute, per workspace")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-workspaces-"))
    options = {"scale": args.scale, "latency_ms": args.latency_ms, "rate_limit_per_minute": args.rate_limit}
    try:
        with ServerProcess(seed=1, **options) as wa, ServerProcess(seed=2, **options) as wb:
            folder = scratch / "workspaces"
            for name, srv in zip(WORKSPACES, (wa, wb), strict=True):
                (folder / name).mkdir(parents=True)
                (folder / name / "defs.yaml").write_text(_yaml(name, srv.base_url, scratch / f"lake-{name}",
                                                               args.window))
            homes = {}
            for phase in ("alone", "together"):
                homes[phase] = Path(tempfile.mkdtemp(prefix=f"home-{phase}-", dir=scratch))
                shutil.copy(REPO / "dagster.yaml", homes[phase] / "dagster.yaml")
            alone = {name: _ticks((name,), homes["alone"], folder, scratch, args.window) for name in WORKSPACES}
            for name in WORKSPACES:  # the pair rewrites the same window: start from the same (empty) lakes
                shutil.rmtree(scratch / f"lake-{name}", ignore_errors=True)
            together = _ticks(WORKSPACES, homes["together"], folder, scratch, args.window)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    slower = max(alone[name]["wall"] for name in WORKSPACES)
    ratio = together["wall"] / slower
    print(f"two workspaces, scale {args.scale}, {args.window}-day window, {args.latency_ms} ms latency, "
          f"{args.rate_limit} requests/min each")
    print("| figure | wa | wb |\n|---|---|---|")
    for label, key in (("alone: run wall (s)", "wall_seconds"), ("alone: extraction (s)", "extraction_seconds_run"),
                       ("alone: requests", "api_requests_run")):
        print(f"| {label} | " + " | ".join(f"{alone[n][n][key]:,.1f}" if isinstance(alone[n][n][key], float)
                                             else f"{alone[n][n][key]:,}" for n in WORKSPACES) + " |")
    for label, key in (("together: run wall (s)", "wall_seconds"),
                       ("together: extraction (s)", "extraction_seconds_run")):
        print(f"| {label} | " + " | ".join(f"{together[n][key]:,.1f}" for n in WORKSPACES) + " |")
    print(f"alone (process walls): wa {alone['wa']['wall']:.1f} s, wb {alone['wb']['wall']:.1f} s; together "
          f"{together['wall']:.1f} s = {ratio:.2f} x the slower alone (target <= {TARGET})")
    if ratio > TARGET:
        raise SystemExit(f"two workspaces at once took {ratio:.2f} x the slower one alone (> {TARGET})")


if __name__ == "__main__":
    main()
