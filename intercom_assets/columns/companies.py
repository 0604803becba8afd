"""Companies as the companies scroll returns them, and their segment memberships."""

from __future__ import annotations

from intercom_assets.columns.shared import ADDRESSABLE_LIST, ATTACHMENT, REFERENCE, SEGMENT_FIELDS, TAG_BASIC  # noqa: F401
from intercom_assets.schemas import BOOL, FLOAT, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct  # noqa: F401

COMPANY_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "name": STRING,
    "app_id": STRING,
    "plan": struct(type=STRING, id=STRING, name=STRING),
    "company_id": STRING,
    "remote_created_at": TIME,
    "created_at": TIME,
    "updated_at": TIME,
    "last_request_at": TIME,
    "size": INT,
    "website": STRING,
    "industry": STRING,
    "monthly_spend": FLOAT,
    "session_count": INT,
    "user_count": INT,
    "custom_attributes": JSON,
    "tags": struct(type=STRING, tags=list_of(TAG_BASIC)),
    "segments": struct(type=STRING, segments=list_of(struct(**SEGMENT_FIELDS))),
    "notes": JSON,
}


COMPANY_SEGMENT_FIELDS: dict[str, FieldType] = {**SEGMENT_FIELDS, "company_id": STRING, "company_updated_at": TIME}
