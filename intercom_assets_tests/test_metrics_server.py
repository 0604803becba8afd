"""The support metrics of a real run against the test server equal Intercom's own `statistics` (which the test
server derives from each conversation's parts), for every conversation whose parts are all stored."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key
from intercom_assets.settings import load_settings
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(40)  # measured in the suite; it starts the longest files first

FIRST, LAST = "2026-11-01", "2026-11-20"  # the test server's data ends on TEST_NOW's day, 2026-11-20
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}
# metric column -> the statistics field it must equal
SAME = {
    "first_contact_reply_at": "first_contact_reply_at",
    "first_assignment_at": "first_assignment_at",
    "last_assignment_at": "last_assignment_at",
    "first_admin_reply_at": "first_admin_reply_at",
    "first_close_at": "first_close_at",
    "last_close_at": "last_close_at",
    "last_closed_by_id": "last_closed_by_id",
    "count_reopens": "count_reopens",
    "count_assignments": "count_assignments",
    "time_to_admin_reply": "time_to_admin_reply",
    "time_to_first_close": "time_to_first_close",
    "time_to_last_close": "time_to_last_close",
    "parts_total": "count_conversation_parts",
}


def test_metrics_equal_intercoms_statistics(intercom_env, intercom_server, monkeypatch):
    monkeypatch.setenv("INTERCOM_SUPPORT_METRICS", "on")
    root = Path(intercom_env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=RANGE_TAGS)
        assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert asset_key("conversation_metrics") in materialized and asset_key("ticket_metrics") in materialized

    con = duckdb.connect()
    columns = ", ".join(f"m.{metric} as m_{metric}, c.statistics.{field} as s_{metric}"
                        for metric, field in SAME.items())
    cursor = con.execute(f"""
        select m.conversation_id, m.parts_capped, m.metrics_source, {columns}
        from read_parquet('{root}/metrics/conversation_metrics/*.parquet') as m
        join read_parquet('{root}/current/conversations/*/*.parquet') as c on c.id = m.conversation_id
    """)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    stored = con.execute(f"select count(*) from read_parquet('{root}/current/conversations/*/*.parquet')").fetchone()
    assert len(rows) == stored[0] > 30
    complete = [r for r in rows if not r["parts_capped"]]
    capped = [r for r in rows if r["parts_capped"]]
    assert [r["conversation_id"] for r in capped] == [intercom_server.workspace.big_conversation_id]
    mismatches = [(r["conversation_id"], metric, r[f"m_{metric}"], r[f"s_{metric}"])
                  for r in complete for metric in SAME if r[f"m_{metric}"] != r[f"s_{metric}"]]
    assert mismatches == []
    # the comparison is not vacuous: the test window holds closes, reopens, assignments and admin replies
    for metric in ("last_closed_by_id", "time_to_admin_reply", "time_to_last_close"):
        assert sum(r[f"m_{metric}"] is not None for r in complete) > 10, metric
    assert sum(r["m_count_reopens"] > 0 for r in complete) > 5
    assert sum(r["m_count_assignments"] > 0 for r in complete) > 5
    # over the cap, the first events and counts are Intercom's (the earliest parts are not stored)
    big = capped[0]
    assert big["metrics_source"] == "statistics"
    for metric in ("first_contact_reply_at", "first_admin_reply_at", "count_reopens", "count_assignments",
                   "parts_total"):
        assert big[f"m_{metric}"] == big[f"s_{metric}"], metric
