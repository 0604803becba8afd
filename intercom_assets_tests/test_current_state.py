"""The current-state engine: newest version per key, children following their parent, subsets, removals, and a
refresh that rewrites only the files whose rows changed. Lake files are built with the real converters from API
shaped records (`table_rows`, as the extraction derives them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dagster import AssetMaterialization, materialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intercom_assets.current_assets import build_current_assets
from intercom_assets.keys import asset_key
from intercom_assets.lake.current_size import StateSize, manifest_name, state_size
from intercom_assets.lake.current_state import (
    current_glob,
    current_store,
    read_current,
    rebuild,
    refresh,
    refresh_tables,
)
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import key_start
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.schemas import EXTRACTED_AT_COLUMN, Column, RowConverter, Struct
from intercom_assets.tables import TABLES_BY_NAME, TableSpec, table_rows
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(25)  # measured in the suite; it starts the longest files first

DAYS = [f"2026-03-{d:02d}" for d in range(1, 11)]
RUN = 1_770_000_000  # `_extracted_at` of the first run, in seconds
CONTACTS, CONVERSATIONS, PARTS = (TABLES_BY_NAME[n] for n in ("contacts", "conversations", "conversation_parts"))


def _ts(day: str, minute: int = 0) -> int:
    return int(key_start(day).timestamp()) + 3600 + minute * 60


def _write(store: ParquetStore, spec: TableSpec, day: str, records: list[dict], extracted: int = RUN) -> None:
    """A lake partition: the rows the extraction derives from these source records, through the real converter."""
    converter = spec.converter()
    rows = [converter.convert_row(row) for record in records for row in table_rows(spec, record)]
    data = pa.Table.from_batches([converter.to_batch(rows, extracted)], schema=converter.schema)
    store.write_table(spec.name, day, data, store.root.parent / "scratch")


def _contact(cid: str, day: str, minute: int = 0, role: str = "lead", name: str = "x", tags=(), companies=()):
    return {"id": cid, "type": "contact", "role": role, "name": name, "updated_at": _ts(day, minute),
            "tags": {"data": [{"id": t, "type": "tag"} for t in tags], "has_more": False, "total_count": len(tags)},
            "companies": {"data": [{"id": c, "type": "company"} for c in companies], "has_more": False,
                          "total_count": len(companies)}}


def _conversation(cid: str, day: str, parts=(), minute: int = 0) -> dict:
    return {"id": cid, "updated_at": _ts(day, minute), "tags": {"tags": []}, "contacts": {"contacts": []},
            "conversation_parts": {"conversation_parts": [{"id": p, "body": p} for p in parts],
                                   "total_count": len(parts)}}


def _current(store: ParquetStore, table: str, *columns: str) -> list[tuple]:
    data = read_current(store, table, list(columns))
    return sorted(zip(*(data[c].to_pylist() for c in columns), strict=True))


def _ids(store: ParquetStore, table: str) -> list[str]:
    return sorted(read_current(store, table, ["id"])["id"].to_pylist())


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    return ParquetStore(tmp_path / "lake")


def test_newest_version_per_key_across_days_and_ties(store):
    _write(store, CONTACTS, DAYS[0], [_contact("a", DAYS[0], name="a1"), _contact("b", DAYS[0], name="b1")])
    refresh(store, CONTACTS, [DAYS[0]])
    _write(store, CONTACTS, DAYS[3], [_contact("a", DAYS[3], name="a2")])
    report = refresh(store, CONTACTS, [DAYS[3]])
    assert _current(store, "contacts", "id", "name") == [("a", "a2"), ("b", "b1")]
    assert report.files_rewritten == 2  # a left day 0 and entered day 3
    # The same version re-extracted with another value (no updated_at bump): the later extraction wins.
    _write(store, CONTACTS, DAYS[3], [_contact("a", DAYS[3], name="a2-fixed")], extracted=RUN + 60)
    refresh(store, CONTACTS, [DAYS[3]])
    assert _current(store, "contacts", "id", "name") == [("a", "a2-fixed"), ("b", "b1")]
    # The same version stored on two days (a defect): the later day wins, whatever the order of refreshes.
    same = _contact("b", DAYS[0], name="b-late-day")
    _write(store, CONTACTS, DAYS[5], [same])
    refresh(store, CONTACTS, [DAYS[5]])
    refresh(store, CONTACTS, [DAYS[0]])
    assert _current(store, "contacts", "id", "name") == [("a", "a2-fixed"), ("b", "b-late-day")]
    assert sorted(current_store(store).stored_partitions("contacts")) == [DAYS[3], DAYS[5]]


def test_an_older_version_rematerialized_does_not_overwrite_newer_state(store):
    _write(store, CONTACTS, DAYS[5], [_contact("a", DAYS[5], name="new")])
    refresh(store, CONTACTS, [DAYS[5]])
    _write(store, CONTACTS, DAYS[1], [_contact("a", DAYS[1], name="old")], extracted=RUN + 3600)  # a backfill
    report = refresh(store, CONTACTS, [DAYS[1]])
    assert _current(store, "contacts", "id", "name") == [("a", "new")]
    assert report.files_rewritten == 0
    _write(store, PARTS, DAYS[5], [_conversation("c", DAYS[5], ["p2"])])
    _write(store, CONVERSATIONS, DAYS[5], [_conversation("c", DAYS[5])])
    refresh_tables(store, {"conversations": [DAYS[5]], "conversation_parts": [DAYS[5]]})
    _write(store, PARTS, DAYS[1], [_conversation("c", DAYS[1], ["p1", "p2"])], extracted=RUN + 3600)
    refresh(store, PARTS, [DAYS[1]])
    assert _ids(store, "conversation_parts") == ["p2"]


def test_children_follow_the_parents_newest_version(store):
    _write(store, CONVERSATIONS, DAYS[0], [_conversation("c1", DAYS[0]), _conversation("c2", DAYS[0])])
    _write(store, PARTS, DAYS[0], [_conversation("c1", DAYS[0], ["p1", "p2", "p3"]),
                                   _conversation("c2", DAYS[0], ["q1"])])
    refresh_tables(store, {"conversations": [DAYS[0]], "conversation_parts": [DAYS[0]]})
    assert _ids(store, "conversation_parts") == ["p1", "p2", "p3", "q1"]
    # c1's new version dropped p3; c2's new version has no parts at all: only the parent table says so.
    _write(store, CONVERSATIONS, DAYS[2], [_conversation("c1", DAYS[2]), _conversation("c2", DAYS[2])])
    _write(store, PARTS, DAYS[2], [_conversation("c1", DAYS[2], ["p1", "p2"])])
    reports = refresh_tables(store, {"conversations": [DAYS[2]], "conversation_parts": [DAYS[2]]})
    assert _current(store, "conversation_parts", "conversation_id", "id") == [("c1", "p1"), ("c1", "p2")]
    assert reports["conversation_parts"].files_deleted == 1 and reports["conversation_parts"].files_rewritten == 1
    rows = read_current(store, "conversation_parts")
    assert set(rows["conversation_updated_at"].to_pylist()) == {key_start(DAYS[2]).replace(hour=1)}


def test_company_segments_keep_the_companys_newest_memberships(store):
    companies, segments = TABLES_BY_NAME["companies"], TABLES_BY_NAME["company_segments"]

    def company(cid, day, segs):
        return {"id": cid, "updated_at": _ts(day), "segments": {"segments": [{"id": s, "type": "segment"}
                                                                             for s in segs]}}

    _write(store, companies, DAYS[0], [company("co1", DAYS[0], ["s1", "s2"]), company("co2", DAYS[0], ["s1"])])
    _write(store, segments, DAYS[0], [company("co1", DAYS[0], ["s1", "s2"]), company("co2", DAYS[0], ["s1"])])
    _write(store, companies, DAYS[1], [company("co1", DAYS[1], ["s2"]), company("co2", DAYS[1], [])])
    _write(store, segments, DAYS[1], [company("co1", DAYS[1], ["s2"]), company("co2", DAYS[1], [])])
    refresh_tables(store, {"companies": DAYS[:2], "company_segments": DAYS[:2]})
    assert _current(store, "company_segments", "company_id", "id") == [("co1", "s2")]
    assert _current(store, "companies", "id") == [("co1",), ("co2",)]


def test_a_lead_that_became_a_user_leaves_leads(store):
    _write(store, CONTACTS, DAYS[0], [_contact("a", DAYS[0], role="lead"), _contact("b", DAYS[0], role="user")])
    refresh(store, CONTACTS, [DAYS[0]])
    assert (_ids(store, "users"), _ids(store, "leads")) == (["b"], ["a"])
    _write(store, CONTACTS, DAYS[1], [_contact("a", DAYS[1], role="user")])
    report = refresh(store, CONTACTS, [DAYS[1]])
    assert (_ids(store, "users"), _ids(store, "leads")) == (["a", "b"], [])
    subsets = {sub.table: sub for sub in report.subsets}
    assert subsets["leads"].files_deleted == 1 and subsets["users"].files_rewritten == 1
    with pytest.raises(ValueError, match="refresh contacts"):
        refresh(store, TABLES_BY_NAME["leads"], [DAYS[1]])
    shutil.rmtree(current_store(store).table_dir("users").path)  # a subset added to the registry later
    assert rebuild(store, TABLES_BY_NAME["users"]).files_rewritten == 2 and _ids(store, "users") == ["a", "b"]


def test_removals_by_key_and_by_another_column(store):
    links = TABLES_BY_NAME["contact_companies"]
    records = [_contact("a", DAYS[0], companies=["co1", "co2"]), _contact("b", DAYS[0], companies=["co1"])]
    _write(store, CONTACTS, DAYS[0], records)
    _write(store, links, DAYS[0], records)
    refresh_tables(store, {"contacts": [DAYS[0]], "contact_companies": [DAYS[0]]})
    assert refresh(store, links, [], {"id": set()}).files_touched == 0  # nothing to do, nothing read
    deleted = {"contacts": {"id": {"a"}}, "contact_companies": {"contact_id": {"a"}, "id": {"co1"}}}
    reports = refresh_tables(store, {"contacts": [], "contact_companies": []}, deleted)
    assert _ids(store, "contacts") == ["b"] and _ids(store, "leads") == ["b"]
    assert read_current(store, "contact_companies").num_rows == 0
    assert reports["contacts"].rows_removed == 1 and reports["contact_companies"].rows_removed == 3
    # The old partitions still hold them: refreshing those again with the deletion log keeps them out.
    reports = refresh_tables(store, {"contacts": [DAYS[0]], "contact_companies": [DAYS[0]]}, deleted)
    assert _ids(store, "contacts") == ["b"] and read_current(store, "contact_companies").num_rows == 0
    assert reports["contacts"].files_rewritten == 0
    rebuild(store, CONTACTS, deleted["contacts"])
    assert _ids(store, "contacts") == ["b"] and _ids(store, "users") == []
    reports = refresh_tables(store, {"users": []}, {"leads": {"id": {"b"}}})  # a subset's removals: its base's
    assert _ids(store, "contacts") == [] and reports["contacts"].rows_removed == 1
    with pytest.raises(ValueError, match="no column"):
        refresh(store, CONTACTS, [], {"contact_id": {"a"}})


def test_unchanged_files_are_not_rewritten(store):
    for day in DAYS[:3]:
        _write(store, CONTACTS, day, [_contact(f"{day}-{i}", day, i, role="user") for i in range(5)])
    refresh(store, CONTACTS, DAYS[:3])
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in Path(store.root.path, "current").rglob("*.parquet")}
    for day in DAYS[:3]:  # a tick re-writes the window: the same versions, a later extraction
        _write(store, CONTACTS, day, [_contact(f"{day}-{i}", day, i, role="user") for i in range(5)], RUN + 1800)
    report = refresh(store, CONTACTS, DAYS[:3])
    assert (report.files_touched, report.files_rewritten) == (3, 0)
    assert all(s.files_rewritten == 0 for s in report.subsets)
    records = [_contact(f"{DAYS[1]}-{i}", DAYS[1], i, role="user") for i in range(5)]
    records[2]["name"] = "changed"  # one record of one day changed (without a new version)
    _write(store, CONTACTS, DAYS[1], records, RUN + 3600)
    report = refresh(store, CONTACTS, DAYS[:3])
    assert (report.files_rewritten, report.rows_out) == (1, 5)
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}
    assert [p.parent.name for p in files if after[p] != files[p]] == ["date=2026-03-02"] * 2  # contacts, users


def test_duckdb_reads_the_current_state_as_one_dataset(store):
    _write(store, CONTACTS, DAYS[0], [_contact("a", DAYS[0]), _contact("b", DAYS[0])])
    _write(store, CONTACTS, DAYS[1], [_contact("a", DAYS[1]), _contact("c", DAYS[1])])
    rebuild(store, CONTACTS)
    leftover = Path(store.root.path, "current", "contacts", f"date={DAYS[0]}", ".part-0.deadbeef.tmp")
    leftover.write_bytes(b"half a file")  # a killed writer's temporary is never read
    glob = current_glob(str(store.root), "contacts")
    rows = duckdb.sql(f"SELECT id, date, updated_at FROM read_parquet('{glob}') ORDER BY id").fetchall()
    assert [(r[0], str(r[1])) for r in rows] == [("a", DAYS[1]), ("b", DAYS[0]), ("c", DAYS[1])]


# ---- refresh == rebuild on random histories --------------------------------------------------------------
EVENT = st.tuples(st.integers(0, 5), st.sampled_from(["lead", "user", None]), st.sets(st.sampled_from("xyz")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.lists(EVENT, max_size=4), st.integers(0, 3), st.booleans(),
                                st.sets(st.integers(0, 5), max_size=1)), min_size=1, max_size=7))
def test_refresh_equals_rebuild(tmp_path_factory, steps):
    """Each step: some contacts change (today), some are deleted, maybe one run re-extracts [today - back, today]
    (each record in the day of its latest version, its tags beside it), maybe a refresh of what runs wrote."""
    root = tmp_path_factory.mktemp("history")
    store, tags = ParquetStore(root / "lake"), TABLES_BY_NAME["contact_tags"]
    world: dict[str, dict] = {}
    deleted: set[str] = set()
    pending: set[str] = set()
    for step, (events, back, run_now, deletions) in enumerate(steps):
        today = DAYS[step]
        for minute, (cid, role, tag_ids) in enumerate(events):
            world[f"c{cid}"] = _contact(f"c{cid}", today, minute, role=role or "lead", tags=sorted(tag_ids))
        for cid in deletions:
            world.pop(f"c{cid}", None)
            deleted.add(f"c{cid}")
        if run_now:
            for day in DAYS[max(0, step - back):step + 1]:
                records = [r for r in world.values() if key_start(day).timestamp() <= r["updated_at"]
                           < key_start(day).timestamp() + 86400]
                _write(store, CONTACTS, day, records, RUN + step)
                _write(store, tags, day, records, RUN + step)
                pending.add(day)
        removals = {"contacts": {"id": deleted}, "contact_tags": {"contact_id": deleted}}
        if pending and step % 2:
            refresh_tables(store, {"contacts": pending, "contact_tags": pending}, removals)
            pending = set()
    refresh_tables(store, {"contacts": pending, "contact_tags": pending}, removals)
    refreshed = {t: read_current(store, t) for t in ("contacts", "users", "leads", "contact_tags")}
    shutil.rmtree(Path(store.root.path, "current"), ignore_errors=True)
    rebuild(store, CONTACTS, removals["contacts"])
    rebuild(store, tags, removals["contact_tags"])
    for table, data in refreshed.items():
        rebuilt = read_current(store, table)
        key = TABLES_BY_NAME[table].key
        assert _comparable(data, key) == _comparable(rebuilt, key), table
    assert not set(read_current(store, "contacts", ["id"])["id"].to_pylist()) & deleted


def _comparable(data: pa.Table, key: tuple[str, ...]) -> list[dict]:
    return data.drop_columns([EXTRACTED_AT_COLUMN]).sort_by([(k, "ascending") for k in key]).to_pylist()


# ---- the state's size: manifest and recorded materializations ------------------------------------------------
def test_state_size_reads_only_the_footers_of_files_replaced_since(store, tmp_path):
    scratch = tmp_path / "scratch"
    for day in DAYS[:4]:
        _write(store, CONTACTS, day, [_contact(f"{day}-{i}", day, i) for i in range(3)])
    refresh(store, CONTACTS, DAYS[:4])
    assert state_size(store, "contacts", scratch) == StateSize(files=4, rows=12, footers_read=4)
    assert state_size(store, "contacts", scratch) == StateSize(files=4, rows=12, footers_read=0)  # the manifest
    _write(store, CONTACTS, DAYS[5], [_contact(f"{DAYS[0]}-0", DAYS[5]), _contact("new", DAYS[5])])
    refresh(store, CONTACTS, [DAYS[5]])  # one record moves from day 0 to day 5, one is new
    assert state_size(store, "contacts", scratch) == StateSize(files=5, rows=13, footers_read=2)
    # a file replaced by another writer (an erasure) is counted again, and a deleted one is no longer counted
    cur = current_store(store)
    cur.write_table("contacts", DAYS[1], cur.read("contacts", DAYS[1]).slice(0, 1), scratch)
    Path(cur.partition_path("contacts", DAYS[2]).path).unlink()
    assert state_size(store, "contacts", scratch) == StateSize(files=4, rows=8, footers_read=1)
    assert read_current(store, "contacts").num_rows == 8
    cur.remove_state(manifest_name("contacts"))  # a lost manifest: every footer once
    assert state_size(store, "contacts", scratch) == StateSize(files=4, rows=8, footers_read=4)
    assert state_size(store, "users", scratch) == StateSize(files=0, rows=0, footers_read=0)
    # readers of the state never see the manifest
    glob = current_glob(str(store.root), "contacts")
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall() == [(8,)]


def test_current_materializations_record_the_whole_states_size(store, tmp_path):
    _write(store, CONTACTS, DAYS[0], [_contact("a", DAYS[0]), _contact("b", DAYS[0], role="user")])
    _write(store, CONTACTS, DAYS[1], [_contact("c", DAYS[1])])
    step = build_current_assets([CONTACTS, TABLES_BY_NAME["users"]])
    resources = {"parquet_storage": ParquetStorageResource(root=str(store.root), staging_dir=str(tmp_path / "tmp"))}

    def recorded(result) -> dict[str, dict]:
        return {event.asset_key.path[-1]: {name: value.value for name, value in
                                           event.materialization.metadata.items()}
                for event in result.get_asset_materialization_events()}

    with ephemeral_instance() as instance:
        first = recorded(materialize([step], instance=instance, resources=resources))
        assert first["contacts_current"]["dagster/row_count"] == 3 and first["contacts_current"]["files"] == 2
        assert first["users_current"]["dagster/row_count"] == 1 and first["users_current"]["files"] == 1
        # a refresh that moves one record: the row count is still the whole state's, beside what changed
        _write(store, CONTACTS, DAYS[2], [_contact("a", DAYS[2])], extracted=RUN + 60)
        instance.report_runless_asset_event(AssetMaterialization(asset_key("contacts"), partition=DAYS[2]))
        second = recorded(materialize([step], instance=instance, resources=resources))["contacts_current"]
        assert (second["partitions"], second["rows_in"], second["files_rewritten"], second["rows_out"]) == (1, 1, 2, 2)
        assert (second["dagster/row_count"], second["files"]) == (3, 3)
        assert second["dagster/uri"] == f"{store.root}/current/contacts"


def test_state_size_on_an_object_store(tmp_path):
    """The same counting through fsspec's listing details where there are no local stats (memory://)."""
    store = ParquetStore(f"memory://size-{tmp_path.name}")
    cur, scratch = current_store(store), tmp_path / "scratch"
    rows = pa.table({"id": ["a", "b", "c"]})
    for day in DAYS[:2]:
        cur.write_table("contacts", day, rows, scratch)
    assert state_size(store, "contacts", scratch) == StateSize(files=2, rows=6, footers_read=2)
    assert state_size(store, "contacts", scratch) == StateSize(files=2, rows=6, footers_read=0)
    cur.write_table("contacts", DAYS[1], rows.slice(0, 1), scratch)
    assert state_size(store, "contacts", scratch) == StateSize(files=2, rows=4, footers_read=1)


def _before_members_were_added(fields: dict, column: str, member_path: tuple[str, ...], names: set[str]) -> dict:
    """A declaration as it was before `names` were added to the struct at `column`.`member_path`."""
    def strip(ftype, path):
        inner = ftype.type if isinstance(ftype, Column) else ftype
        if not path:
            inner = Struct(tuple(m for m in inner.fields if m[0] not in names), inner.aliases, inner.scalar_into)
        else:
            inner = Struct(tuple((n, strip(t, path[1:]) if n == path[0] else t) for n, t in inner.fields),
                           inner.aliases, inner.scalar_into)
        return Column(inner, ftype.description) if isinstance(ftype, Column) else inner

    return {name: strip(ftype, member_path) if name == column else ftype for name, ftype in fields.items()}


def test_files_written_before_a_declaration_gained_a_column_and_struct_members_still_read(store):
    """Columns are only ever added: a stored file without them (conversations before `conversation_parts` and the
    source author's `from_ai_agent`/`is_ai_answer` were declared) reads into today's schema, its values kept and
    the new fields null, beside files written after."""
    old_fields = _before_members_were_added(
        {k: v for k, v in CONVERSATIONS.fields.items() if k != "conversation_parts"}, "source", ("author",),
        {"from_ai_agent", "is_ai_answer"})
    old = RowConverter(old_fields, non_null=CONVERSATIONS.key)
    record = {**_conversation("c1", DAYS[0]), "source": {"author": {"type": "admin", "id": "7", "name": "Ann"}}}
    rows = [old.convert_row(row) for row in table_rows(CONVERSATIONS, record)]
    store.write_table("conversations", DAYS[0], pa.Table.from_batches([old.to_batch(rows, RUN)]),
                      store.root.parent / "scratch")
    assert "conversation_parts" not in store.read("conversations", DAYS[0]).column_names
    newer = {**_conversation("c2", DAYS[1], parts=["p1", "p2"]),
             "source": {"author": {"type": "bot", "id": "8", "from_ai_agent": True, "is_ai_answer": True}}}
    _write(store, CONVERSATIONS, DAYS[1], [newer])
    rebuild(store, CONVERSATIONS)
    state = read_current(store, "conversations")
    assert state.schema == CONVERSATIONS.converter().schema
    by_id = {row["id"]: row for row in state.to_pylist()}
    assert by_id["c1"]["source"]["author"] == {"type": "admin", "id": "7", "name": "Ann", "email": None,
                                               "from_ai_agent": None, "is_ai_answer": None}
    assert by_id["c1"]["conversation_parts"] is None
    assert by_id["c2"]["source"]["author"]["from_ai_agent"] is True
    assert by_id["c2"]["conversation_parts"] == {"type": None, "total_count": 2}
