"""Workspace-level lists: admins, teams, tags, segments, data attributes."""

from __future__ import annotations

from intercom_assets.columns.shared import ADDRESSABLE_LIST, ATTACHMENT, REFERENCE, SEGMENT_FIELDS, TAG_BASIC  # noqa: F401
from intercom_assets.schemas import BOOL, FLOAT, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct  # noqa: F401

DATA_ATTRIBUTE_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "api_id": INT,
    "model": STRING,
    "name": STRING,
    "full_name": STRING,
    "label": STRING,
    "description": STRING,
    "data_type": STRING,
    "options": list_of(STRING),
    "api_writable": BOOL,
    "messenger_writable": BOOL,
    "ui_writable": BOOL,
    "custom": BOOL,
    "archived": BOOL,
    "created_at": TIME,
    "updated_at": TIME,
    "admin_id": STRING,
}

ADMIN_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "name": STRING,
    "email": STRING,
    "job_title": STRING,
    "away_mode_enabled": BOOL,
    "away_mode_reassign": BOOL,
    "away_status_reason_id": INT,
    "has_inbox_seat": BOOL,
    "team_ids": list_of(INT),
    "avatar": JSON,
    "team_priority_level": JSON,
    "role": JSON,
}

TEAM_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "name": STRING,
    "admin_ids": list_of(INT),
    "admin_priority_level": JSON,
    "assignment_limit": INT,
    "distribution_method": STRING,
}

TAG_FIELDS: dict[str, FieldType] = {
    "type": STRING, "id": STRING, "name": STRING, "applied_at": TIME, "applied_by": JSON
}
