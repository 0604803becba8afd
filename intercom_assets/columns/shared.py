"""Nested shapes several resources share."""

from __future__ import annotations

from intercom_assets.schemas import BOOL, FLOAT, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct  # noqa: F401

ADDRESSABLE_LIST = struct(
    type=STRING,
    data=list_of(struct(type=STRING, id=STRING, url=STRING)),
    url=STRING,
    total_count=INT,
    has_more=BOOL,
)
TAG_BASIC = struct(type=STRING, id=STRING, name=STRING)
SEGMENT_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "name": STRING,
    "created_at": TIME,
    "updated_at": TIME,
    "person_type": STRING,
    "count": INT,
}
REFERENCE = struct(type=STRING, id=STRING)
ATTACHMENT = struct(
    type=STRING, name=STRING, url=STRING, content_type=STRING, filesize=INT, width=INT, height=INT
)
