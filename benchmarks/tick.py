"""One scheduled tick, measured: the Intercom job over the trailing window, in this (child) process.

Run by benchmarks.run with the environment already pointing at the test server; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime

from dagster import DagsterInstance

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.partitions import trailing_window
from intercom_assets.reporting import CHAINS_TAG, RATE_LIMITED_TAG, REQUESTS_TAG, RETRIES_TAG, SECONDS_TAG
from intercom_assets.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=30)
    args = parser.parse_args()
    first, last = trailing_window(datetime.now(UTC).date(), args.window)
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    started = time.monotonic()
    defs = build_definitions(load_settings())
    job = defs.resolve_job_def(INTERCOM_JOB)
    with DagsterInstance.get() as instance:
        run_started = time.monotonic()
        result = job.execute_in_process(instance=instance, tags=tags)
        wall = time.monotonic() - run_started
        run_tags = instance.get_run_by_id(result.run_id).tags
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        if event.partition is None:  # a current-state refresh: its rows are counted in its table
            continue
        table = event.asset_key.path[-1]
        rows[table] = rows.get(table, 0) + int(event.materialization.metadata["dagster/row_count"].value)
    # run-level figures are run tags (reporting.py), not per-partition metadata
    run_meta = {
        "extraction_seconds_run": float(run_tags[SECONDS_TAG]),
        "api_requests_run": int(run_tags[REQUESTS_TAG]),
        "api_retries_run": int(run_tags[RETRIES_TAG]),
        "api_rate_limited_run": int(run_tags[RATE_LIMITED_TAG]),
        "chain_seconds": run_tags.get(CHAINS_TAG, ""),
    }
    print(json.dumps({
        "success": result.success,
        "load_seconds": run_started - started,
        "wall_seconds": wall,
        "partitions": [first, last],
        "rows": rows,
        **run_meta,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
