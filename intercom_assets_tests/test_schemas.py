"""Record → Arrow conversion: declared schemas hold, drift is kept in `_extra`, nothing crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from intercom_assets.partitions import day_key
from intercom_assets.schemas import EXTRA_COLUMN, TIMESTAMP
from intercom_assets.tables import TABLES, TABLES_BY_NAME

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


def test_every_schema_has_non_null_string_id_and_utc_timestamps():
    for spec in TABLES:
        schema = spec.converter().schema
        # a table without an `id` of its own (a conversation's handling events) is keyed by non-null columns
        for name in spec.key if "id" not in spec.key else ("id",):
            assert not schema.field(name).nullable, (spec.name, name)
        if "id" in spec.key:
            assert schema.field("id").type == pa.string(), spec.name
        assert schema.field("_extracted_at").type == TIMESTAMP
        for f in schema:
            if pa.types.is_timestamp(f.type):
                assert f.type.tz == "UTC", (spec.name, f.name)


def test_unknown_and_ill_typed_fields_go_to_extra():
    converter = TABLES_BY_NAME["contacts"].converter()
    row = converter.convert_row(
        {
            "id": "c1",
            "updated_at": 1_700_000_000,
            "brand_new_field": {"a": 1},
            "has_hard_bounced": "yes",
            "avatar": {"type": "avatar", "image_url": None, "width": 40},
            "custom_attributes": {"plan": "pro", "seats": 3, "vip": True, "score": 1.5, "none": None},
        }
    )
    extra = json.loads(row[EXTRA_COLUMN])
    assert extra == {"brand_new_field": {"a": 1}, "has_hard_bounced": "yes", "avatar.width": 40}
    assert row["has_hard_bounced"] is None
    assert json.loads(row["custom_attributes"]) == {
        "plan": "pro",
        "seats": 3,
        "vip": True,
        "score": 1.5,
        "none": None,
    }
    batch = converter.to_batch([row], extracted_at=1_700_000_100)
    assert batch.schema == converter.schema
    assert batch.column("updated_at")[0].as_py() == datetime.fromtimestamp(1_700_000_000, UTC)


def test_missing_fields_are_null_not_errors():
    converter = TABLES_BY_NAME["conversations"].converter()
    batch = converter.to_batch([converter.convert_row({"id": "9"})], extracted_at=0)
    assert batch.num_rows == 1 and batch.column("updated_at")[0].as_py() is None
    assert batch.column(EXTRA_COLUMN)[0].as_py() is None


@settings(max_examples=150, deadline=None)
@given(
    table=st.sampled_from([spec.name for spec in TABLES]),
    record=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "updated_at",
                "created_at",
                "name",
                "tags",
                "custom_attributes",
                "segments",
                "role",
                "new_thing",
                "author",
                "team_ids",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_any_json_record_converts_to_the_declared_schema(table, record):
    """Whatever shape a record has, conversion yields the declared schema and loses no top-level value."""
    record = {**record, "id": "x"}
    converter = TABLES_BY_NAME[table].converter()
    row = converter.convert_row(record)
    batch = converter.to_batch([row], extracted_at=0)
    assert batch.schema == converter.schema
    extra = json.loads(row[EXTRA_COLUMN]) if row[EXTRA_COLUMN] else {}
    for name, value in record.items():
        if value is None:
            continue
        kept_in_column = name in converter.fields and row[name] is not None
        kept_in_extra = any(path == name or path.startswith((f"{name}.", f"{name}[")) for path in extra)
        assert kept_in_column or kept_in_extra, (name, value)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_partition_is_the_utc_day(ts):
    key = day_key(ts)
    start = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    assert start <= ts < start + 86400
