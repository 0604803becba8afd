"""Contacts (users and leads) as contact search returns them."""

from __future__ import annotations

from intercom_assets.columns.shared import ADDRESSABLE_LIST, ATTACHMENT, REFERENCE, SEGMENT_FIELDS, TAG_BASIC  # noqa: F401
from intercom_assets.schemas import BOOL, FLOAT, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct  # noqa: F401

CONTACT_FIELDS: dict[str, FieldType] = {
    "type": STRING,
    "id": STRING,
    "external_id": STRING,
    "workspace_id": STRING,
    "role": STRING,
    "email": STRING,
    "email_domain": STRING,
    "phone": STRING,
    "name": STRING,
    "owner_id": STRING,
    "has_hard_bounced": BOOL,
    "marked_email_as_spam": BOOL,
    "unsubscribed_from_emails": BOOL,
    "created_at": TIME,
    "updated_at": TIME,
    "signed_up_at": TIME,
    "last_seen_at": TIME,
    "last_replied_at": TIME,
    "last_contacted_at": TIME,
    "last_email_opened_at": TIME,
    "last_email_clicked_at": TIME,
    "language_override": STRING,
    "browser": STRING,
    "browser_version": STRING,
    "browser_language": STRING,
    "os": STRING,
    "android_app_name": STRING,
    "android_app_version": STRING,
    "android_device": STRING,
    "android_os_version": STRING,
    "android_sdk_version": STRING,
    "android_last_seen_at": TIME,
    "ios_app_name": STRING,
    "ios_app_version": STRING,
    "ios_device": STRING,
    "ios_os_version": STRING,
    "ios_sdk_version": STRING,
    "ios_last_seen_at": TIME,
    "custom_attributes": JSON,
    "avatar": struct(type=STRING, image_url=STRING),
    "tags": ADDRESSABLE_LIST,
    "notes": ADDRESSABLE_LIST,
    "companies": ADDRESSABLE_LIST,
    "location": struct(
        type=STRING, country=STRING, region=STRING, city=STRING, country_code=STRING, continent_code=STRING
    ),
    "social_profiles": struct(type=STRING, data=list_of(struct(type=STRING, name=STRING, url=STRING))),
    "merge_history": JSON,
}
