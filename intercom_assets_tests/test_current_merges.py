"""A current-state refresh merges only the partitions whose content changed since it last merged them: a window run
that rewrites its range unchanged costs the refresh no read, and a change still reaches the state exactly as a
rebuild from every partition would have it. Runs against the Intercom test server."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import DagsterInstance

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.lake.current_inputs import plan_merge, record_merge
from intercom_assets.lake.current_state import current_tables, read_current, rebuild
from intercom_assets.lake.deletions import DeletionLog
from intercom_assets.lake.staging import content_hash, with_content_hash
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.schemas import EXTRACTED_AT_COLUMN
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(45)  # measured in the suite; it starts the longest files first

FIRST, LAST = "2026-11-10", "2026-11-20"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _run(defs, instance: DagsterInstance) -> dict[str, dict]:
    """One window run; the metadata of each current-state materialization, by table."""
    tags = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}
    result = defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags)
    assert result.success
    return {e.asset_key.path[-1].removesuffix("_current"): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events() if e.partition is None}


def _rows(store: ParquetStore, table: str) -> list[dict]:
    data = read_current(store, table).drop_columns([EXTRACTED_AT_COLUMN])
    return sorted(data.to_pylist(), key=repr)


def test_a_run_that_changed_nothing_costs_the_refresh_no_read_and_a_change_still_arrives(
        intercom_env, intercom_server, tmp_path):
    root = Path(intercom_env["INTERCOM_PARQUET_ROOT"])
    store = ParquetStore(root)
    defs = build_definitions(load_settings())
    tables = [spec.name for spec in current_tables(DEFAULT_TABLES)]
    with ephemeral_instance() as instance:
        built = _run(defs, instance)
        assert set(built) == set(tables)
        before = {table: _rows(store, table) for table in tables}

        unchanged = _run(defs, instance)  # every partition of the range rewritten, with the same rows
        for table in tables:
            figures = unchanged[table]
            assert figures["unchanged"] == figures["partitions"] == built[table]["partitions"], table
            assert (figures["rows_in"], figures["files_touched"]) == (0, 0), table
            assert unchanged[table]["dagster/row_count"] == built[table]["dagster/row_count"], table
            assert _rows(store, table) == before[table], table

        ws = intercom_server.workspace
        contact = next(c for c in ws.snapshot("contacts") if FIRST <= day_key(c["updated_at"]) < "2026-11-15")
        conversation = next(c for c in ws.snapshot("conversations")
                            if FIRST <= day_key(c["updated_at"]) < "2026-11-15" and c["id"] in
                            set(read_current(store, "conversation_parts", ["conversation_id"])
                                ["conversation_id"].to_pylist()))
        intercom_server.touch("contacts", contact["id"], AT)  # moves to the last day
        intercom_server.add_parts(conversation["id"], 2, AT)  # new parts, the conversation moves too
        changed = _run(defs, instance)
        for table in ("contacts", "conversation_parts"):
            assert 0 < changed[table]["partitions"] - changed[table]["unchanged"] < 11, table
        parts = read_current(store, "conversation_parts", ["conversation_id", "id"])
        stored = [i for c, i in zip(parts["conversation_id"].to_pylist(), parts["id"].to_pylist(), strict=True)
                  if c == conversation["id"]]
        assert len(stored) == len(ws.conversation_parts(conversation["id"]))

    # the refreshed state is the one a rebuild from every stored partition makes
    copy = tmp_path / "rebuilt"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("current"))
    rebuilt_store = ParquetStore(copy)
    removals = DeletionLog.load(rebuilt_store)
    for spec in current_tables(DEFAULT_TABLES):
        if spec.subset_of is None:
            rebuild(rebuilt_store, spec, removals.removals(spec), tmp_path / "scratch")
    for table in tables:
        assert _rows(store, table) == _rows(rebuilt_store, table), table


def _partition(store: ParquetStore, table: str, day: str, value: str, scratch: Path) -> None:
    rows = pa.table({"id": ["a"], "name": [value], EXTRACTED_AT_COLUMN: [1]})
    store.write_table(table, day, with_content_hash(rows), scratch)


def test_the_plan_merges_days_whose_content_or_parent_changed_or_is_unknown(tmp_path):
    store, scratch = ParquetStore(tmp_path / "lake"), tmp_path / "scratch"
    for day in ("d1", "d2"):
        _partition(store, "conversation_parts", day, "x", scratch)
        _partition(store, "conversations", day, "p", scratch)
    store.write_table("conversation_parts", "d3", pa.table({"id": ["a"]}), scratch)  # written without fingerprint
    first = plan_merge(store, "conversation_parts", ["d1", "d2", "d3"], "conversations")
    assert first.days == ["d1", "d2", "d3"]  # nothing recorded yet
    record_merge(store, "conversation_parts", first, scratch)
    assert plan_merge(store, "conversation_parts", ["d1", "d2", "d3"], "conversations").days == ["d3"]  # unknown
    _partition(store, "conversations", "d2", "p2", scratch)  # the parent's day changed, the child's did not
    _partition(store, "conversation_parts", "d1", "y", scratch)
    footers: dict = {}
    again = plan_merge(store, "conversation_parts", ["d1", "d2"], "conversations", footers)
    assert again.days == ["d1", "d2"] and footers[("conversations", "d2")] is not None  # read once per step
    record_merge(store, "conversation_parts", again, scratch)
    assert plan_merge(store, "conversation_parts", ["d1", "d2"], "conversations").days == []
    _partition(store, "conversation_parts", "d1", "x", scratch)  # back to an earlier content: merged again
    assert plan_merge(store, "conversation_parts", ["d1", "d2"], "conversations").days == ["d1"]
    assert plan_merge(store, "conversations", ["d1"], None).days == ["d1"]  # another table's manifest
    # a rebuild merged every day: its plan records them all, whatever was recorded before
    rebuilt = plan_merge(store, "conversation_parts", ["d1", "d2"], "conversations", forget=True)
    assert rebuilt.days == ["d1", "d2"] and set(rebuilt.manifest) == {"d1", "d2"}


def test_the_content_hash_ignores_only_the_extraction_time():
    rows = pa.table({"id": ["a", "b"], "name": ["x", "y"], EXTRACTED_AT_COLUMN: [1, 2]})
    same = rows.set_column(2, EXTRACTED_AT_COLUMN, pa.array([5, 6]))
    assert content_hash(rows) == content_hash(same)
    assert content_hash(rows) != content_hash(rows.set_column(1, "name", pa.array(["x", "z"])))
    assert content_hash(rows) != content_hash(rows.replace_schema_metadata({b"intercom.fetched_parents": b"{}"}))
    assert content_hash(with_content_hash(rows)) == content_hash(rows)  # the stored fingerprint is left out
    assert content_hash(rows) == content_hash(pa.concat_tables([rows.slice(0, 1), rows.slice(1)]))
