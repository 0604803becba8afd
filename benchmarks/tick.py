"""Runs of the Intercom job, measured, in this (child) process: what one scheduled tick or a whole catch-up costs.

Run by benchmarks.run with the environment already pointing at the test server; prints one JSON line. Modes:
- `job`: the whole Intercom job over the trailing window (a full tick, every selected table);
- `schedule`: exactly the run requests the schedule makes at this moment (with INTERCOM_COMPANIES_REFRESH_MINUTES
  set and a scroll recorded in this instance, the window run leaves the companies tables out);
- `catchup`: the catch-up sensor evaluated again and again, each run it requests executed before the next
  evaluation, until it says history is complete.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import AssetKey, DagsterInstance, Definitions, JobDefinition, build_sensor_context

from benchmarks import split
from intercom_assets.automation.catchup import CATCHUP_SENSOR
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import SCROLL_TABLE, tick_requests
from intercom_assets.definitions import build_code_location, build_definitions
from intercom_assets.keys import CURRENT_SUFFIX, asset_key
from intercom_assets.partitions import trailing_window
from intercom_assets.reporting import CHAINS_TAG, RATE_LIMITED_TAG, REQUESTS_TAG, RETRIES_TAG, SECONDS_TAG
from intercom_assets.settings import load_settings

MAX_CATCHUP_RUNS = 60  # a guard: a year in 30-day chunks is 13 runs


def _execute(job: JobDefinition, instance: DagsterInstance, tags: Mapping[str, str],
             selection: Sequence[AssetKey] | None = None) -> dict[str, Any]:
    """One run, with its wall time, the run-level figures from its tags and the rows per table."""
    split.take(0.0, 0.0)  # nothing of an earlier run (or of loading) counts in this one
    split.current_tables()
    started, cpu = time.monotonic(), time.process_time()
    result = job.execute_in_process(instance=instance, tags=dict(tags), asset_selection=selection,
                                    raise_on_error=False)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    run_tags = instance.get_run_by_id(result.run_id).tags
    extraction = float(run_tags.get(SECONDS_TAG, 0))
    events = instance.get_records_for_run(result.run_id, limit=1_000_000).records
    rows: dict[str, int] = {}
    refreshed: dict[str, dict[str, float]] = {}
    seconds = split.current_tables()
    for event in result.get_asset_materialization_events():
        if event.partition is None:  # a current-state refresh: its rows are counted in its table
            table = event.asset_key.path[-1].removesuffix(CURRENT_SUFFIX)
            merged = event.materialization.metadata.get("partitions")
            refreshed[table] = {"seconds": seconds.get(table, 0.0), "partitions": merged.value if merged else -1}
            continue
        table = event.asset_key.path[-1]
        rows[table] = rows.get(table, 0) + int(event.materialization.metadata["dagster/row_count"].value)
    return {
        "success": result.success,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "split": split.take(wall, cpu),
        "events": len(events),
        "current_tables": refreshed,
        "rows": rows,
        "partitions": [tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")],
        # run-level figures are run tags (reporting.py), not per-partition metadata
        "extraction_seconds_run": extraction,
        "api_requests_run": int(run_tags.get(REQUESTS_TAG, 0)),
        "api_retries_run": int(run_tags.get(RETRIES_TAG, 0)),
        "api_rate_limited_run": int(run_tags.get(RATE_LIMITED_TAG, 0)),
        "chain_seconds": run_tags.get(CHAINS_TAG, ""),
    }


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs as one figure set: times, requests and rows summed; every run listed."""
    rows: dict[str, int] = {}
    for run in runs:
        for table, count in run["rows"].items():
            rows[table] = rows.get(table, 0) + count
    summed = {key: sum(run[key] for run in runs) for key in (
        "wall_seconds", "cpu_seconds", "events", "extraction_seconds_run", "api_requests_run", "api_retries_run",
        "api_rate_limited_run")}
    phases: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    for run in runs:
        for kind, split_of_run in run["split"].items():
            for phase, seconds in split_of_run.items():
                phases[kind][phase] = phases[kind].get(phase, 0.0) + seconds
    return {"success": all(run["success"] for run in runs), "rows": rows, "runs": runs, **summed, "split": phases,
            "chain_seconds": "; ".join(run["chain_seconds"] for run in runs if run["chain_seconds"])}


def _job_tick(defs: Definitions, instance: DagsterInstance, window: int, job: str = INTERCOM_JOB
              ) -> list[dict[str, Any]]:
    first, last = trailing_window(datetime.now(UTC).date(), window)
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return [_execute(defs.resolve_job_def(job), instance, tags)]


def _schedule_tick(defs: Definitions, instance: DagsterInstance) -> list[dict[str, Any]]:
    last = instance.get_latest_materialization_event(asset_key(SCROLL_TABLE))
    requests = tick_requests(datetime.now(UTC), load_settings(), last.timestamp if last is not None else None)
    job = defs.resolve_job_def(INTERCOM_JOB)
    return [_execute(job, instance, request.tags, request.asset_selection) for request in requests]


def _catchup(defs: Definitions, instance: DagsterInstance) -> list[dict[str, Any]]:
    sensor = defs.resolve_sensor_def(CATCHUP_SENSOR)
    job = defs.resolve_job_def(INTERCOM_JOB)
    cursor: str | None = None
    runs: list[dict[str, Any]] = []
    while len(runs) < MAX_CATCHUP_RUNS:
        data = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
        cursor = data.cursor if data.cursor is not None else cursor
        if not data.run_requests:
            reason = data.skip_message or ""
            if "History is complete" not in reason:
                raise SystemExit(f"catch-up stopped before history was complete: {reason}")
            return runs
        for request in data.run_requests:
            runs.append(_execute(job, instance, request.tags, request.asset_selection))
    raise SystemExit(f"catch-up did not finish in {MAX_CATCHUP_RUNS} runs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--mode", choices=["job", "schedule", "catchup"], default="job")
    parser.add_argument("--job", default=INTERCOM_JOB, help="with INTERCOM_WORKSPACES_DIR: one workspace's job")
    args = parser.parse_args()
    split.install()
    started = time.monotonic()
    # INTERCOM_WORKSPACES_DIR: the YAML workspaces (benchmarks.workspaces_bench), else the INTERCOM_* one
    defs = build_code_location() if os.environ.get("INTERCOM_WORKSPACES_DIR") else build_definitions(load_settings())
    load_seconds = time.monotonic() - started
    # the process's start (the interpreter, Dagster's and the product's imports), as a CLI run pays it
    start_seconds = time.time() - float(os.environ.get("BENCH_SPAWNED_AT", time.time())) - load_seconds
    with DagsterInstance.get() as instance:
        if args.mode == "job":
            runs = _job_tick(defs, instance, args.window, args.job)
        elif args.mode == "schedule":
            runs = _schedule_tick(defs, instance)
        else:
            runs = _catchup(defs, instance)
    print(json.dumps({**_combined(runs), "load_seconds": load_seconds, "start_seconds": start_seconds,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
