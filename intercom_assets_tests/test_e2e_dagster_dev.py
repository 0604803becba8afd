"""End to end through the real `dagster dev`: the webserver, the daemons, a UI-style backfill, Parquet on disk.

Unit tests run assets in-process; only this test proves that the pieces an operator uses fit together: the
workspace loads, the backfill daemon turns `launchPartitionBackfill` into one single-run backfill, the run writes
every table's partitions, and the schedule and sensors are served by the code location.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest

from intercom_assets.keys import CURRENT_SUFFIX
from intercom_assets.tables import TABLES
from intercom_assets_tests.dagster_dev import (
    LOCATION,
    REPOSITORY,
    DagsterDev,
    dagster_dev_fixture,  # noqa: F401 (the `dagster_dev` fixture)
    launch_backfill,
    wait_for_backfill,
)
from intercom_assets_tests.dagster_dev import explain_failure as _explain_failure

pytestmark = pytest.mark.wall_seconds(105)  # measured in the suite; conftest.py orders and groups the modules

DAYS = 3
SCHEDULE = "intercom_attribution_window_schedule"
CATCHUP_SENSOR = "intercom_catchup_sensor"
SENSORS = (CATCHUP_SENSOR, "intercom_run_failure_sensor", "intercom_check_failure_sensor")
INSTIGATORS = """
query Instigators($selector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $selector) {
    __typename
    ... on Schedules { results { name cronSchedule scheduleState { status } } }
    ... on Error { message }
  }
  sensorsOrError(repositorySelector: $selector) {
    __typename
    ... on Sensors { results { name sensorState { status } } }
    ... on Error { message }
  }
}"""


def test_ui_backfill_of_every_table_through_dagster_dev(dagster_dev: DagsterDev) -> None:
    """Launch what the UI launches for 3 days of the `intercom` group (the history tables, deleted_records and the
    current states), then today's snapshots, read the backfills' status, and find every file the runs should
    write."""
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=offset)).isoformat() for offset in reversed(range(DAYS))]
    history = [spec.name for spec in TABLES if not spec.is_snapshot]
    snapshots = [spec.name for spec in TABLES if spec.is_snapshot]
    assert len(history) + len(snapshots) == len(TABLES) == 54 and "deleted_records" in history
    group = [*history, *(f"{spec.name}{CURRENT_SUFFIX}" for spec in TABLES if spec.has_current_state)]
    with _explain_failure(dagster_dev):
        started = time.monotonic()
        # launched together, as a user may: the backfill daemon (one pass every 30 s) serves both at once, and the
        # pool runs their extraction steps one at a time
        group_backfill = launch_backfill(dagster_dev, group, days, "e2e backfill of the intercom group")
        snapshot_backfill = launch_backfill(dagster_dev, snapshots, [today.isoformat()], "today's snapshots")
        backfill = wait_for_backfill(dagster_dev, group_backfill)
        print(f"backfill {backfill['status']} in {time.monotonic() - started:.0f} s")
        # every planned partition was materialized (deleted_records' days without detections too): Success
        assert backfill["status"] == "COMPLETED_SUCCESS", backfill
        # the tables over the whole range in ONE run; the (unpartitioned) current states, which a backfill runs
        # once their upstream partitions are done, in a second one
        assert len(backfill["runs"]) == 2, f"expected the range run and the current-state run: {backfill['runs']}"
        assert all(run["status"] == "SUCCESS" for run in backfill["runs"]), backfill["runs"]
        (run,) = [run for run in backfill["runs"]
                  if any(tag["key"] == "dagster/asset_partition_range_start" for tag in run["tags"])]
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert tags.get("dagster/asset_partition_range_start") == days[0], tags
        assert tags.get("dagster/asset_partition_range_end") == days[-1], tags
        assert tags.get("intercom/window") == f"{days[0]}...{days[-1]}", tags
        backfill = wait_for_backfill(dagster_dev, snapshot_backfill)
        assert backfill["status"] == "COMPLETED_SUCCESS", backfill

        root = dagster_dev.parquet_root
        for table in history + snapshots:
            expected_days = days if table in history else [today.isoformat()]
            for day in expected_days:
                path = root / table / f"date={day}" / "part-0.parquet"
                assert path.is_file(), f"missing {path}"
            glob = str(root / table / "*" / "*.parquet")
            stored_days = duckdb.sql(
                f"SELECT DISTINCT CAST(date AS VARCHAR) FROM read_parquet('{glob}', hive_partitioning=true)"
            ).fetchall()
            count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)").fetchall()[0]
            on_disk = sum(pq.ParquetFile(file).metadata.num_rows for file in (root / table).glob("*/*.parquet"))
            assert count == (on_disk,), (table, count, on_disk)
            assert {row[0] for row in stored_days} <= set(expected_days), (table, stored_days)
        admins = str(root / "admins" / f"date={today.isoformat()}" / "part-0.parquet")
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{admins}')").fetchall()[0][0] > 0

        selector = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
        data = dagster_dev.graphql(INSTIGATORS, {"selector": selector})
        schedules = data["schedulesOrError"]
        sensors = data["sensorsOrError"]
        assert schedules["__typename"] == "Schedules", schedules
        assert sensors["__typename"] == "Sensors", sensors
        schedule_names = {s["name"]: s for s in schedules["results"]}
        sensor_names = {s["name"]: s for s in sensors["results"]}
        assert SCHEDULE in schedule_names, sorted(schedule_names)
        for sensor in SENSORS:
            assert sensor in sensor_names, (sensor, sorted(sensor_names))
        # INTERCOM_AUTOMATION=off stops what launches runs; the alerting sensors stay on.
        assert schedule_names[SCHEDULE]["scheduleState"]["status"] == "STOPPED", schedule_names[SCHEDULE]
        assert sensor_names[CATCHUP_SENSOR]["sensorState"]["status"] == "STOPPED", sensor_names[CATCHUP_SENSOR]

        # The code server and the run worker loaded the code location: neither printed a warning nobody can act on.
        log = dagster_dev.log.read_text(errors="replace")
        for noise in ("PreviewWarning", "SupersessionWarning"):
            assert noise not in log, f"{noise} in the dagster dev log"
