"""What the UI shows about checks and snapshots, read through the real `dagster dev`'s GraphQL, and the alerts its
daemon sends.

A window run records a WARN on the partition of the seeded over-500-parts conversation; a backfill of older
days must leave that WARN shown (each check result belongs to its partition) and named by the latest execution
the Checks tab shows, the check-failure sensor (run by the daemon, every 10 s here through
INTERCOM_ALERT_INTERVAL_SECONDS) must alert it once, and a snapshot table must show only the day of its snapshot.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intercom_assets.automation.checks import CHECK_VALID
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import TRIGGER_TAG, range_tags
from intercom_assets.tables import TABLES
from intercom_assets_tests.dagster_dev import (
    DagsterDev,
    backfill,
    bundled_dagster_dev,
    explain_failure,
    launch_run,
    wait_for_run,
)
from intercom_assets_tests.webhook import Webhook

pytestmark = pytest.mark.wall_seconds(105)  # measured in the suite; conftest.py orders and groups the modules

ALERT_WAIT_SECONDS = 180
CHECK_SENSOR = "intercom_check_failure_sensor"
# the alert sensors look every 10 s instead of 60: two of their ticks are waited for below
ALERT_EVERY = {"INTERCOM_ALERT_INTERVAL_SECONDS": "10"}
ASSET = """
query Asset($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      partitionStats { numMaterialized numFailed numMaterializing }
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              __typename
              ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            }
          }
        }
      }
    }
  }
}"""
LATEST_EXECUTION = """
query Latest($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization {
              status
              evaluation {
                partition description severity
                metadataEntries { label __typename ... on IntMetadataEntry { intValue } }
              }
            }
          }
        }
      }
    }
  }
}"""
SENSOR_TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 20) { timestamp status } } }
  }
}"""


def _asset(dev: DagsterDev, table: str) -> dict[str, Any]:
    node = dev.graphql(ASSET, {"key": {"path": ["intercom", table]}})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    return node


def _check_status_by_day(dev: DagsterDev, table: str) -> dict[str, str]:
    """day -> the partition status the Checks tab shows for partition_valid."""
    checks = _asset(dev, table)["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks", checks
    (check,) = [c for c in checks["checks"] if c["name"] == CHECK_VALID]
    statuses = check["partitionStatuses"]
    assert statuses["__typename"] == "AssetCheckTimePartitionStatuses", statuses
    by_day: dict[str, str] = {}
    for status_range in statuses["ranges"]:
        day = datetime.fromisoformat(status_range["startKey"]).date()
        while day.isoformat() <= status_range["endKey"]:
            by_day[day.isoformat()] = status_range["status"]
            day += timedelta(days=1)
    return by_day


def _latest_execution(dev: DagsterDev, table: str) -> dict[str, Any]:
    """What the Checks tab's "Latest execution" panel shows for partition_valid (the list shows the aggregate)."""
    node = dev.graphql(LATEST_EXECUTION, {"key": {"path": ["intercom", table]}})["assetNodeOrError"]
    (check,) = [c for c in node["assetChecksOrError"]["checks"] if c["name"] == CHECK_VALID]
    return check["executionForLatestMaterialization"]


def _wait_for_sensor_tick_after(dev: DagsterDev, moment: float) -> None:
    selector = {"repositoryLocationName": "intercom_assets", "repositoryName": "__repository__",
                "sensorName": CHECK_SENSOR}
    deadline = time.monotonic() + ALERT_WAIT_SECONDS
    while time.monotonic() < deadline:
        sensor = dev.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
        assert sensor["__typename"] == "Sensor", sensor
        if any(tick["timestamp"] > moment and tick["status"] != "STARTED" for tick in sensor["sensorState"]["ticks"]):
            return
        time.sleep(3)
    raise AssertionError(f"{CHECK_SENSOR} did not tick within {ALERT_WAIT_SECONDS} s after {moment}")


def test_a_recent_warn_survives_a_backfill_of_older_days_and_is_alerted_once(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    window = [(today - timedelta(days=offset)).isoformat() for offset in reversed(range(7))]
    older = [(today - timedelta(days=offset)).isoformat() for offset in (10, 9, 8)]
    history = [spec.name for spec in TABLES if not spec.is_snapshot]
    hook = Webhook()
    try:
        settings = {"INTERCOM_ALERT_WEBHOOK_URL": hook.url, **ALERT_EVERY}
        with bundled_dagster_dev(tmp_path, settings) as dev, explain_failure(dev):
            # the schedule's window run: every table, today's snapshots included
            run_id = launch_run(dev, INTERCOM_JOB, {**range_tags(window[0], window[-1]), TRIGGER_TAG: "schedule"})
            assert wait_for_run(dev, run_id) == "SUCCESS"
            after_window = _check_status_by_day(dev, "conversation_parts")
            warned = [day for day, status in after_window.items() if status == "FAILED"]
            assert warned == [today.isoformat()], after_window  # the over-500-parts conversation: today's WARN
            assert all(after_window[day] == "SUCCEEDED" for day in window if day != warned[0]), after_window

            run = backfill(dev, history, older, "older days")  # what a user backfills: history
            assert run["runs"][0]["status"] == "SUCCESS", run
            finished = time.time()
            after_older = _check_status_by_day(dev, "conversation_parts")
            assert after_older[warned[0]] == "FAILED", "a run over older days hid the WARN of a recent day"
            assert all(after_older[day] == "SUCCEEDED" for day in older), after_older
            # the panel shows the newest execution, a passing older day: it names the failing day, and its
            # severity (the list's icon colour) is that day's; its figures are numbers the Checks tab plots
            latest = _latest_execution(dev, "conversation_parts")
            evaluation = latest["evaluation"]
            assert latest["status"] == "SUCCEEDED" and evaluation["partition"] in older, latest
            assert evaluation["description"] == (
                f"This partition passed; 1 other partition of this check failing: {warned[0]}"), evaluation
            assert evaluation["severity"] == "WARN", evaluation
            numbers = {e["label"]: e["intValue"] for e in evaluation["metadataEntries"]
                       if e["__typename"] == "IntMetadataEntry"}
            assert set(numbers) == {"rows", "null_keys", "duplicate_keys", "rows_outside_day", "parents_over_cap",
                                    "failing_partitions"}, evaluation
            assert numbers["failing_partitions"] == 1 and numbers["parents_over_cap"] == 0, numbers

            # snapshot tables: only today's partition is materialized and checked
            admins = _asset(dev, "admins")["partitionStats"]
            assert admins == {"numMaterialized": 1, "numFailed": 0, "numMaterializing": 0}, admins
            admin_checks = _check_status_by_day(dev, "admins")
            assert {day for day, status in admin_checks.items() if status == "SUCCEEDED"} == {today.isoformat()}

            _wait_for_sensor_tick_after(dev, finished)
            _wait_for_sensor_tick_after(dev, time.time())
        alerts = [
            a for a in hook.received if a["kind"] == "check_failure" and a["asset"] == "intercom/conversation_parts"
        ]
        assert len(alerts) == 1, hook.received
        (alert,) = alerts
        assert alert["check"] == CHECK_VALID and alert["severity"] == "WARN" and alert["failing_partitions"] == warned
    finally:
        hook.close()
