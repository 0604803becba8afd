"""ParquetStore: hive layout, atomic replacement, hidden temporaries, object-store roots."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intercom_assets.lake.staging import TableStager, dedupe_newest
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.run_step import fresh_staging_dir
from intercom_assets.tables import TABLES_BY_NAME, table_rows


def _table(ids):
    return pa.table({"id": pa.array(ids, pa.string()), "v": pa.array(range(len(ids)), pa.int64())})


def test_layout_and_atomic_replace(tmp_path):
    store = ParquetStore(tmp_path / "root")
    store.write_table("contacts", "2026-01-02", _table(["a", "b"]), tmp_path / "scratch")
    path = tmp_path / "root" / "contacts" / "date=2026-01-02" / "part-0.parquet"
    assert pq.read_table(path).column("id").to_pylist() == ["a", "b"]
    store.write_table("contacts", "2026-01-02", _table(["c"]), tmp_path / "scratch")
    assert store.read("contacts", "2026-01-02").column("id").to_pylist() == ["c"]
    assert store.row_count("contacts", "2026-01-02") == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["part-0.parquet"]


def test_stale_temporaries_are_removed_and_never_look_like_parquet(tmp_path):
    store = ParquetStore(tmp_path)
    directory = tmp_path / "tags" / "date=2026-01-01"
    directory.mkdir(parents=True)
    stale = directory / ".part-0.deadbeef.tmp"
    stale.write_bytes(b"PAR1 half written")
    assert not stale.name.endswith(".parquet") and stale.name.startswith(".")
    store.write_table("tags", "2026-01-01", _table(["t"]), tmp_path / "scratch")
    assert not stale.exists()


def test_missing_partition_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ParquetStore(tmp_path).read("contacts", "2026-01-01")


def test_memory_filesystem_root(tmp_path):
    store = ParquetStore("memory://intercom-test-root")
    store.write_table("admins", "2026-03-04", _table(["x", "y"]), tmp_path)
    assert store.exists("admins", "2026-03-04")
    assert store.read("admins", "2026-03-04").num_rows == 2
    assert store.row_count("admins", "2026-03-04") == 2


def test_dedupe_keeps_newest_version_sorted_by_key():
    data = pa.table(
        {"id": ["b", "a", "b", "a"], "updated_at": [1, 5, 9, 2], "v": ["b-old", "a-new", "b-new", "a-old"]}
    )
    out = dedupe_newest(data, ("id",), "updated_at")
    assert out.column("v").to_pylist() == ["a-new", "b-new"]


def test_stager_splits_by_day_and_drops_out_of_range(tmp_path):
    spec = TABLES_BY_NAME["company_segments"]
    stager = TableStager(spec, tmp_path, ["2026-01-01", "2026-01-02"], extracted_at=0)
    day1, day2, outside = 1767225600, 1767225600 + 86400, 1767225600 + 3 * 86400
    companies = [
        {"id": "c1", "updated_at": day1, "segments": {"segments": [{"id": "s1"}, {"id": "s2"}]}},
        {"id": "c2", "updated_at": day2 + 86399, "segments": {"segments": [{"id": "s1"}]}},
        {"id": "c3", "updated_at": outside, "segments": {"segments": [{"id": "s1"}]}},
        {"id": "c1", "updated_at": day1 + 5, "segments": {"segments": [{"id": "s1"}]}},
    ]
    stager.add_rows(row for company in companies for row in table_rows(spec, company))
    staged = stager.finish()
    first = pq.read_table(staged["2026-01-01"].path)
    # c1's newer version (day1 + 5) has left segment s2: only its newest membership list survives
    assert list(zip(first.column("company_id").to_pylist(), first.column("id").to_pylist(), strict=True)) == [
        ("c1", "s1"),
    ]
    assert staged["2026-01-02"].row_count == 1
    assert stager.counts.outside_range == 1


def test_a_record_that_moved_day_during_the_run_stays_only_in_its_newest_day(tmp_path):
    stager = TableStager(TABLES_BY_NAME["contacts"], tmp_path, ["2026-01-01", "2026-01-02"], extracted_at=0)
    day1 = 1767225600
    stager.add_records([{"id": "a", "updated_at": day1 + 10}, {"id": "b", "updated_at": day1 + 20}])
    stager.flush()
    stager.add_records([{"id": "a", "updated_at": day1 + 86400 + 5}])
    staged = stager.finish()
    assert pq.read_table(staged["2026-01-01"].path).column("id").to_pylist() == ["b"]
    assert pq.read_table(staged["2026-01-02"].path).column("id").to_pylist() == ["a"]


def test_staging_left_by_dead_runs_is_removed_and_live_runs_are_left_alone(tmp_path):
    """A killed run leaves its staging behind; the next run clears it without touching a live run's."""
    live_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        parent = tmp_path / "intercom-staging"
        live = parent / f"run-{live_process.pid}-abc"
        dead = parent / "run-999999999-xyz"
        live.mkdir(parents=True)
        dead.mkdir()
        fresh = fresh_staging_dir(str(tmp_path))
        assert live.exists() and not dead.exists() and fresh.parent == parent
    finally:
        live_process.kill()
        live_process.wait()
