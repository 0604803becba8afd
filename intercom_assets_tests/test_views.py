"""Current-state views: one row per record, its newest version, derived rows following their parent's version."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.settings import load_settings
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec
from intercom_assets.views import create_views, incremental_tables, view_name, view_sql

REPO = Path(__file__).resolve().parents[1]
D1, D2, D3 = "2026-03-01", "2026-03-02", "2026-03-03"


def _ts(day: str, hour: int = 12) -> int:
    return int(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp())


def _write(store: ParquetStore, scratch: Path, table: str, day: str, records: list[dict[str, Any]],
           extracted_at: int | None = None) -> None:
    converter = TABLES_BY_NAME[table].converter()
    batch = converter.to_batch([converter.convert_row(r) for r in records], extracted_at or _ts(day, 23))
    store.write_table(table, day, pa.Table.from_batches([batch], schema=converter.schema), scratch)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root holding records that changed after their first day left the window (so they are stored twice)."""
    root = tmp_path / "parquet"
    store, scratch = ParquetStore(root), tmp_path / "scratch"
    # c1: a lead on D1, a user by D3; c2 once.
    lead_c1 = {"id": "c1", "role": "lead", "updated_at": _ts(D1), "name": "old"}
    user_c1 = {"id": "c1", "role": "user", "updated_at": _ts(D3), "name": "new"}
    c2 = {"id": "c2", "role": "lead", "updated_at": _ts(D2)}
    _write(store, scratch, "contacts", D1, [lead_c1])
    _write(store, scratch, "contacts", D2, [c2])
    _write(store, scratch, "contacts", D3, [user_c1])
    _write(store, scratch, "leads", D1, [lead_c1])
    _write(store, scratch, "leads", D2, [c2])
    _write(store, scratch, "users", D3, [user_c1])
    # co1 lost segment s1 between D1 and D3; co2 lost its only segment.
    _write(store, scratch, "companies", D1, [{"id": c, "updated_at": _ts(D1)} for c in ("co1", "co2")])
    _write(store, scratch, "companies", D3, [{"id": c, "updated_at": _ts(D3)} for c in ("co1", "co2")])
    _write(store, scratch, "company_segments", D1, [
        {"company_id": "co1", "id": "s1", "company_updated_at": _ts(D1)},
        {"company_id": "co1", "id": "s2", "company_updated_at": _ts(D1)},
        {"company_id": "co2", "id": "s1", "company_updated_at": _ts(D1)},
    ])
    _write(store, scratch, "company_segments", D3, [{"company_id": "co1", "id": "s2", "company_updated_at": _ts(D3),
                                                     "name": "newest"}])
    # cv1 got a reply on D2: parts p1 (edited), p2 and the new p3 come with the new version.
    _write(store, scratch, "conversations", D1, [{"id": "cv1", "updated_at": _ts(D1)}])
    _write(store, scratch, "conversations", D2, [{"id": "cv1", "updated_at": _ts(D2)}])
    old_parts = [{"id": p, "conversation_id": "cv1", "conversation_updated_at": _ts(D1), "body": "old"}
                 for p in ("p1", "p2")]
    new_parts = [{"id": p, "conversation_id": "cv1", "conversation_updated_at": _ts(D2), "body": "new"}
                 for p in ("p1", "p2", "p3")]
    _write(store, scratch, "conversation_parts", D1, old_parts)
    _write(store, scratch, "conversation_parts", D2, new_parts)
    return root


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall())


def test_one_view_per_incremental_table_from_the_registry(root: Path) -> None:
    con = duckdb.connect()
    results = create_views(con, str(root))
    expected = {spec.name for spec in TABLES if not spec.is_snapshot}
    assert {r.table for r in results} == expected == {s.name for s in incremental_tables()}
    created = {r.view for r in results if r.view}
    stored = {name for name in expected if (root / name).exists()}
    assert stored and created == {view_name(name) for name in stored}
    assert all("no files" in r.note for r in results if r.table not in stored)
    listed = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert created <= listed


def test_newest_version_per_key(root: Path) -> None:
    con = duckdb.connect()
    create_views(con, str(root))
    assert _rows(con, "SELECT id, role, name, CAST(date AS VARCHAR) FROM contacts_current") == [
        ("c1", "user", "new", D3), ("c2", "lead", None, D2)]
    assert _rows(con, "SELECT id, CAST(date AS VARCHAR) FROM companies_current") == [("co1", D3), ("co2", D3)]
    assert _rows(con, "SELECT id FROM conversations_current") == [("cv1",)]


def test_derived_rows_follow_the_parent_version(root: Path) -> None:
    con = duckdb.connect()
    create_views(con, str(root))
    # c1 is a user now: it leaves leads_current although its lead row is still stored on D1.
    assert _rows(con, "SELECT id FROM leads_current") == [("c2",)]
    assert _rows(con, "SELECT id, name FROM users_current") == [("c1", "new")]
    # co1 lost s1 and co2 lost everything: only the memberships of each company's newest version remain.
    assert _rows(con, "SELECT company_id, id, name FROM company_segments_current") == [("co1", "s2", "newest")]
    assert _rows(con, "SELECT id, body FROM conversation_parts_current") == [
        ("p1", "new"), ("p2", "new"), ("p3", "new")]


def test_a_derived_table_stored_alone_uses_its_own_versions(tmp_path: Path) -> None:
    store, scratch = ParquetStore(tmp_path / "parquet"), tmp_path / "scratch"
    _write(store, scratch, "conversation_parts", D1,
           [{"id": "p1", "conversation_id": "cv1", "conversation_updated_at": _ts(D1)}])
    _write(store, scratch, "conversation_parts", D2,
           [{"id": "p2", "conversation_id": "cv1", "conversation_updated_at": _ts(D2)}])
    con = duckdb.connect()
    results = {r.table: r for r in create_views(con, str(tmp_path / "parquet"))}
    assert results["conversation_parts"].view == "conversation_parts_current"
    assert results["contacts"].view is None and "no files" in results["contacts"].note
    assert _rows(con, "SELECT id FROM conversation_parts_current") == [("p2",)]


def test_same_version_twice_keeps_the_latest_extraction(tmp_path: Path) -> None:
    store, scratch = ParquetStore(tmp_path / "parquet"), tmp_path / "scratch"
    record = {"id": "c1", "updated_at": _ts(D2)}
    _write(store, scratch, "contacts", D1, [{**record, "name": "first copy"}], extracted_at=_ts(D2, 13))
    _write(store, scratch, "contacts", D2, [{**record, "name": "second copy"}], extracted_at=_ts(D2, 14))
    con = duckdb.connect()
    create_views(con, str(tmp_path / "parquet"))
    assert _rows(con, "SELECT id, name FROM contacts_current") == [("c1", "second copy")]


def test_snapshot_tables_have_no_view_sql() -> None:
    with pytest.raises(ValueError, match="snapshot"):
        view_sql(TABLES_BY_NAME["admins"], "/tmp/x")


def test_a_new_registry_entry_gets_its_view(tmp_path: Path) -> None:
    """Nothing per table is hard-coded: a table added to the registry gets a view with its own key and version."""
    base = TABLES_BY_NAME["conversations"]
    spec = TableSpec(name="tickets", source=base.source, partition_column="updated_at", fields=base.fields,
                     description="test", replaces="none", key=("id",))
    converter = spec.converter()
    store, scratch = ParquetStore(tmp_path / "parquet"), tmp_path / "scratch"
    for day in (D1, D2):
        batch = converter.to_batch([converter.convert_row({"id": "t1", "updated_at": _ts(day), "title": day})],
                                   _ts(day, 23))
        store.write_table("tickets", day, pa.Table.from_batches([batch]), scratch)
    con = duckdb.connect()
    results = create_views(con, str(tmp_path / "parquet"), tables=[spec])
    assert [r.view for r in results] == ["tickets_current"]
    assert _rows(con, "SELECT id, title FROM tickets_current") == [("t1", D2)]


def test_command_line_creates_a_database_file(root: Path, tmp_path: Path) -> None:
    db = tmp_path / "current.duckdb"
    completed = subprocess.run([sys.executable, "-m", "intercom_assets.views", "--root", str(root), "--db", str(db)],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "7 views" in completed.stdout, completed.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert _rows(con, "SELECT id FROM contacts_current") == [("c1",), ("c2",)]


def test_command_line_fails_on_an_empty_root(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "intercom_assets.views", "--root", str(tmp_path / "nothing"), "--db",
         str(tmp_path / "x.duckdb")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert "skipped, no files" in completed.stdout


def test_views_over_a_real_run_where_a_record_moved_out_of_the_window(intercom_env, intercom_server) -> None:
    """Two real runs: the second covers only the record's new day, so its old version stays on disk too."""
    root = intercom_env["INTERCOM_PARQUET_ROOT"]
    defs = build_definitions(load_settings())
    job = defs.resolve_job_def(INTERCOM_JOB)

    def run(first: str, last: str) -> None:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        assert job.execute_in_process(instance=instance, tags=tags).success

    with DagsterInstance.ephemeral() as instance:
        run("2026-11-10", "2026-11-20")
        mover = next(c for c in intercom_server.workspace.snapshot("contacts")
                     if "2026-11-10" <= day_key(c["updated_at"]) < "2026-11-15")
        intercom_server.touch("contacts", mover["id"], datetime(2026, 11, 19, 9, 30, tzinfo=UTC))
        run("2026-11-19", "2026-11-19")
    con = duckdb.connect()
    create_views(con, root)
    raw = f"read_parquet('{root}/contacts/*/*.parquet', hive_partitioning=true)"
    assert con.execute(f"SELECT count(*) FROM {raw} WHERE id = ?", [mover["id"]]).fetchone()[0] == 2
    assert _rows(con, f"SELECT CAST(date AS VARCHAR) FROM contacts_current WHERE id = '{mover['id']}'") == [
        ("2026-11-19",)]
    distinct = con.execute(f"SELECT count(DISTINCT id) FROM {raw}").fetchone()[0]
    assert con.execute("SELECT count(*) FROM contacts_current").fetchone()[0] == distinct
    expected_parts = con.execute(
        "SELECT count(*) FROM conversation_parts_current p JOIN conversations_current c "
        "ON p.conversation_id = c.id AND p.conversation_updated_at = c.updated_at").fetchone()[0]
    assert con.execute("SELECT count(*) FROM conversation_parts_current").fetchone()[0] == expected_parts > 0
