"""Nested shapes several resources share (references, list wrappers, tags, attachments, admins)."""

from __future__ import annotations

from intercom_assets.schemas import BOOL, INT, STRING, TIME, FieldType, col, list_of, struct

REFERENCE = struct(type=col(STRING, "The type of the referenced object."), id=col(STRING, "Its id."))
CONTACT_REFERENCE = struct(
    type=col(STRING, "Always contact."),
    id=col(STRING, "The contact's id, given by Intercom."),
    external_id=col(STRING, "The contact's id, provided by the client."),
)

# A contact's embedded tags, notes, companies and subscription types: up to 10 items and a url for the rest.
ADDRESSABLE_LIST = struct(
    type=col(STRING, "Always list."),
    data=list_of(
        struct(
            type=col(STRING, "The addressable object's type."),
            id=col(STRING, "The addressable object's id."),
            url=col(STRING, "The url to fetch the object."),
        )
    ),
    url=col(STRING, "The url to fetch every item when has_more is true."),
    total_count=col(INT, "How many items exist in all."),
    has_more=col(BOOL, "Whether more items exist than are listed here."),
)

TAG_BASIC = struct(
    type=col(STRING, "Always tag."), id=col(STRING, "The tag's id."), name=col(STRING, "The tag's name.")
)
# A tag as applied to a conversation, contact or ticket.
TAG_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always tag."),
    "id": col(STRING, "The id of the tag."),
    "name": col(STRING, "The name of the tag."),
    "applied_at": col(TIME, "When the tag was applied (only when returned as part of a tagging)."),
    "applied_by": col(REFERENCE, "The admin who applied the tag (only when returned as part of a tagging)."),
}
TAG = struct(**TAG_FIELDS)

SEGMENT_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always segment."),
    "id": col(STRING, "The unique identifier of the segment."),
    "name": col(STRING, "The name of the segment."),
    "created_at": col(TIME, "When the segment was created."),
    "updated_at": col(TIME, "When the segment was last updated."),
    "person_type": col(STRING, "Type of the contacts it holds: contact (lead) or user."),
    "count": col(INT, "How many items the segment holds (only with include_count=true)."),
}

ATTACHMENT = struct(
    type=col(STRING, "The type of attachment."),
    name=col(STRING, "The attachment's file name."),
    url=col(STRING, "The attachment's URL."),
    content_type=col(STRING, "The attachment's content type."),
    filesize=col(INT, "The attachment's size in bytes."),
    width=col(INT, "The attachment's width in pixels, if an image."),
    height=col(INT, "The attachment's height in pixels, if an image."),
)

LINKED_OBJECTS = struct(
    type=col(STRING, "Always list."),
    total_count=col(INT, "How many objects are linked."),
    has_more=col(BOOL, "Whether more linked objects exist than are listed."),
    data=list_of(
        struct(
            type=col(STRING, "ticket or conversation."),
            id=col(STRING, "The id of the linked object."),
            category=col(STRING, "The category of a linked ticket."),
        )
    ),
)

# Who wrote a conversation's source message, a conversation part or a ticket part. The 2.16 description gives
# `from_ai_agent` and `is_ai_answer` only on a conversation part's author; they are declared on every author so
# that an AI Agent's message is typed wherever the API says so, not left in `_extra`.
AUTHOR = struct(
    type=col(STRING, "The type of the author (e.g. user, lead, admin, team, bot)."),
    id=col(STRING, "The id of the author."),
    name=col(STRING, "The name of the author."),
    email=col(STRING, "The email of the author."),
    from_ai_agent=col(BOOL, "Whether the AI Agent sent the message."),
    is_ai_answer=col(BOOL, "Whether the AI Agent generated the message's body."),
)

EMAIL_ADDRESS_HEADER = struct(
    type=col(STRING, "The header: from, to, cc, bcc or reply_to."),
    email_address=col(STRING, "The email address."),
    name=col(STRING, "The name that goes with the address."),
)

# An image sent either as {type, image_url} or, by older records, as the bare URL.
AVATAR = struct(
    _scalar_into="image_url",
    type=col(STRING, "Always avatar."),
    image_url=col(STRING, "The avatar's image URL."),
)

ADMIN_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always admin."),
    "id": col(STRING, "The id of the admin."),
    "name": col(STRING, "The name of the admin."),
    "email": col(STRING, "The email of the admin."),
    "email_verified": col(BOOL, "Whether the admin's email is verified."),
    "job_title": col(STRING, "The job title of the admin."),
    "away_mode_enabled": col(BOOL, "Whether the admin is in away mode."),
    "away_mode_reassign": col(BOOL, "Whether new conversations are reassigned to the default inbox while away."),
    "away_status_reason_id": col(INT, "The id of the away status reason."),
    "has_inbox_seat": col(BOOL, "Whether the admin has a paid inbox seat."),
    "team_ids": col(list_of(INT), "The ids of the teams the admin is part of."),
    "avatar": col(AVATAR, "The admin's avatar image (a URL, or an avatar object)."),
    "team_priority_level": col(
        struct(
            primary_team_ids=col(list_of(INT), "The admin's primary team ids."),
            secondary_team_ids=col(list_of(INT), "The admin's secondary team ids."),
        ),
        "The admin's priority levels across teams.",
    ),
    "role": col(
        struct(type=col(STRING, "Always role."), id=col(STRING, "The role's id."), name=col(STRING, "Its name.")),
        "The role assigned to the admin, if any.",
    ),
}

