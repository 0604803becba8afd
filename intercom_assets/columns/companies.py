"""Companies as the companies scroll returns them, and their segment memberships."""

from __future__ import annotations

from intercom_assets.columns.shared import ADMIN_FIELDS, REFERENCE, SEGMENT_FIELDS, TAG_BASIC
from intercom_assets.schemas import BOOL, FLOAT, INT, MAP, STRING, TIME, FieldType, col, list_of, struct

# A company note: the real API embeds addressable references ({type, id, url}), the description full notes.
COMPANY_NOTE = struct(
    type=col(STRING, "Always note."),
    id=col(STRING, "The id of the note."),
    url=col(STRING, "The url to fetch the note."),
    created_at=col(TIME, "When the note was created."),
    company=col(REFERENCE, "The company the note is about."),
    author=col(struct(**ADMIN_FIELDS), "The admin who wrote the note."),
    body=col(STRING, "The body text of the note."),
)

COMPANY_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always company."),
    "id": col(STRING, "The Intercom defined id of the company."),
    "name": col(STRING, "The name of the company."),
    "app_id": col(STRING, "The Intercom defined code of the workspace the company belongs to."),
    "plan": col(
        struct(type=col(STRING, "Always plan."), id=col(STRING, "The plan's id."), name=col(STRING, "Its name.")),
        "The company's plan.",
    ),
    "company_id": col(STRING, "The company id you have defined for the company."),
    "remote_created_at": col(TIME, "When the company was created by you."),
    "created_at": col(TIME, "When the company was added in Intercom."),
    "updated_at": col(TIME, "When the company was last updated."),
    "last_request_at": col(TIME, "When the company last recorded making a request."),
    "size": col(INT, "The number of employees in the company."),
    "website": col(STRING, "The URL of the company's website."),
    "industry": col(STRING, "The industry the company operates in."),
    "monthly_spend": col(FLOAT, "How much revenue the company generates for your business."),
    "session_count": col(INT, "How many sessions the company has recorded."),
    "user_count": col(INT, "The number of users in the company."),
    "custom_attributes": col(MAP, "The custom attributes you have set on the company (JSON object)."),
    "tags": col(
        struct(type=col(STRING, "Always tag.list."), tags=col(list_of(TAG_BASIC), "The company's tags.")),
        "The tags attached to the company.",
    ),
    "segments": col(
        struct(
            type=col(STRING, "Always segment.list."),
            segments=col(list_of(struct(**SEGMENT_FIELDS)), "The company's segments."),
        ),
        "The segments the company belongs to.",
    ),
    "notes": col(
        struct(
            _aliases={"notes": "data"},
            type=col(STRING, "note.list (the real API) or list."),
            data=col(list_of(COMPANY_NOTE), "The notes (the description's `notes` list lands here too)."),
            url=col(STRING, "The url to fetch every note."),
            total_count=col(INT, "How many notes the company has."),
            has_more=col(BOOL, "Whether more notes exist than are listed."),
        ),
        "The notes about the company.",
    ),
}

COMPANY_SEGMENT_FIELDS: dict[str, FieldType] = {
    **SEGMENT_FIELDS,
    "company_id": col(STRING, "The Intercom id of the company that belongs to the segment."),
    "company_updated_at": col(TIME, "The company's updated_at: the version this membership was read from."),
}
