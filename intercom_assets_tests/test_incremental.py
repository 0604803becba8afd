"""Incremental reuse of stored conversation parts: a steady-state tick fetches only changed conversations,
and its output is identical to a full re-fetch (`_extracted_at` aside)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.automation.schedules import TRIGGER_CATCHUP, TRIGGER_SCHEDULE, TRIGGER_TAG, range_tags
from intercom_assets.definitions import build_definitions
from intercom_assets.keys import asset_key
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(30)  # measured in the suite; it starts the longest files first

FIRST, LAST = "2026-11-14", "2026-11-20"
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}


def _run(root: Path, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_PARQUET_ROOT", str(root))
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=RANGE_TAGS).success


def _rows(root: Path) -> dict[str, list[str]]:
    out = {}
    for spec in TABLES:
        if spec.is_snapshot or spec.logs_deletions:
            continue  # the range ends before today: no snapshot is taken; detections carry each run's own time
        table = ds.dataset(root / spec.name, format="parquet", partitioning="hive").to_table()
        out[spec.name] = sorted(
            json.dumps(row, default=str, sort_keys=True) for row in table.drop_columns(["_extracted_at"]).to_pylist()
        )
    return out


def test_steady_state_reuses_unchanged_parts_and_equals_a_full_refetch(
    intercom_env, intercom_server, tmp_path, monkeypatch
):
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    _run(incremental, monkeypatch)

    in_window = [
        c for c in intercom_server.workspace.snapshot("conversations") if FIRST <= day_key(c["updated_at"]) <= LAST
    ]
    assert len(in_window) > 10
    changed = in_window[:3]
    intercom_server.add_parts(changed[0]["id"], 2, datetime(2026, 11, 19, 8, 0, tzinfo=UTC))
    intercom_server.touch("conversations", changed[1]["id"], datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    intercom_server.add_parts(changed[2]["id"], 1, datetime(2026, 11, 16, 23, 59, 59, tzinfo=UTC))

    intercom_server.reset_counts()
    _run(incremental, monkeypatch)
    fetched = intercom_server.request_counts().get("GET /conversations/{id}", 0)
    assert fetched == len(changed), "a steady-state tick fetches only the changed conversations"

    _run(full, monkeypatch)
    assert _rows(incremental) == _rows(full)


def test_with_a_refresh_period_one_scroll_feeds_the_catch_up_chunks(intercom_env, intercom_server, tmp_path,
                                                                    monkeypatch):
    """A complete scroll is stored; catch-up chunks within the period reuse it (no scroll request) and write the
    same companies as a scroll would; other runs scroll."""
    monkeypatch.setenv("INTERCOM_COMPANIES_REFRESH_MINUTES", "60")
    root, fresh = tmp_path / "cached", tmp_path / "fresh"
    scroll_tables = [asset_key("companies"), asset_key("company_segments")]

    def run(where: Path, first: str, last: str, trigger: str) -> int:
        monkeypatch.setenv("INTERCOM_PARQUET_ROOT", str(where))
        defs = build_definitions(load_settings())
        intercom_server.reset_counts()
        tags = {**range_tags(first, last), TRIGGER_TAG: trigger}
        with ephemeral_instance() as instance:
            assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(
                instance=instance, tags=tags, asset_selection=scroll_tables).success
        return intercom_server.request_counts().get("GET /companies/scroll", 0)

    assert run(root, "2026-11-14", "2026-11-20", TRIGGER_SCHEDULE) > 0
    assert (root / "_state" / "companies_scroll.parquet").is_file()
    assert run(root, "2026-10-01", "2026-10-30", TRIGGER_CATCHUP) == 0
    assert run(root, "2026-09-01", "2026-09-30", TRIGGER_CATCHUP) == 0
    assert run(fresh, "2026-10-01", "2026-10-30", "manual") > 0
    for table in ("companies", "company_segments"):
        for day in keys_between("2026-10-01", "2026-10-30"):
            cached = pq.read_table(root / table / f"date={day}" / "part-0.parquet").drop_columns(["_extracted_at"])
            scrolled = pq.read_table(fresh / table / f"date={day}" / "part-0.parquet").drop_columns(["_extracted_at"])
            assert cached.to_pylist() == scrolled.to_pylist(), (table, day)


def test_a_newest_first_list_is_read_down_to_the_window_only(intercom_env, intercom_server, tmp_path, monkeypatch):
    """GET /articles comes newest first (the 2.16 description): a run over recent days stops paging below its
    window, and still writes exactly the window's articles."""
    monkeypatch.setenv("INTERCOM_PARQUET_ROOT", str(tmp_path / "lake"))
    articles = sorted(intercom_server.workspace.snapshot("articles"), key=lambda a: a["updated_at"], reverse=True)
    assert len(articles) > 25, "the list must have more than one page (25 a page)"
    first, last = day_key(articles[3]["updated_at"]), day_key(articles[0]["updated_at"])
    assert day_key(articles[24]["updated_at"]) < first, "the window must end inside the first page"
    intercom_server.reset_counts()
    with ephemeral_instance() as instance:
        assert build_definitions(load_settings()).resolve_job_def(INTERCOM_JOB).execute_in_process(
            instance=instance, tags=range_tags(first, last), asset_selection=[asset_key("articles")]).success
    assert intercom_server.request_counts().get("GET /articles", 0) == 1
    stored = ds.dataset(tmp_path / "lake" / "articles", format="parquet", partitioning="hive").to_table()
    assert sorted(stored.column("id").to_pylist()) == sorted(
        a["id"] for a in articles if first <= day_key(a["updated_at"]) <= last)
