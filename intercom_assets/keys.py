"""Names the code location gives its assets, steps and pool, shared by assets, checks, jobs and sensors."""

from __future__ import annotations

from dagster import AssetKey

GROUP = "intercom"  # tables with history: a row lands in the day of its replication timestamp
SNAPSHOT_GROUP = "intercom_snapshots"  # small lists: one snapshot on the day of extraction, no history
KEY_PREFIX = "intercom"
SOURCE_GROUP = "intercom_api"
EXTRACT_STEP = "intercom_extract"
CURRENT_SUFFIX = "_current"  # intercom/<table>_current: the current state of an incremental table
IO_MANAGER_KEY = "intercom_parquet_io_manager"
# One slot (dagster.yaml): two runs never scroll companies at once nor write the same partition at the same time.
POOL = "intercom_api"


def asset_key(table: str) -> AssetKey:
    """`intercom/<table>`."""
    return AssetKey([KEY_PREFIX, table])


def source_key(source: str) -> AssetKey:
    """`intercom_api/<source>`: the API pass a table's rows come from (an external asset, for lineage)."""
    return AssetKey([SOURCE_GROUP, source])
# Which automation launched a run (a run tag): the schedule's window runs and the catch-up sensor's chunks.
TRIGGER_TAG = "intercom/trigger"
TRIGGER_SCHEDULE = "schedule"
TRIGGER_CATCHUP = "catchup"
