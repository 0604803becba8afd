"""Conversation parts (GET /conversations/{id}), and the part shapes tickets share."""

from __future__ import annotations

from intercom_assets.columns.shared import ATTACHMENT, AUTHOR, EMAIL_ADDRESS_HEADER, REFERENCE, TAG_BASIC
from intercom_assets.schemas import BOOL, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct

EMAIL_MESSAGE_METADATA = struct(
    subject=col(STRING, "The subject of the email."),
    email_address_headers=col(list_of(EMAIL_ADDRESS_HEADER), "The email's address headers."),
    message_id=col(STRING, "The email's Message-ID header."),
)

PART_METADATA = struct(
    quick_reply_options=col(
        list_of(
            struct(
                text=col(STRING, "The text shown for the option."),
                uuid=col(STRING, "The option's unique identifier."),
                translations=col(MAP, "The option's text by locale (JSON object)."),
            )
        ),
        "The quick reply options offered in this part.",
    ),
    quick_reply_uuid=col(STRING, "The uuid of the quick reply option the end user clicked."),
)

# The description's event details are one of six objects; together they use these five keys.
_NAMED = struct(name=col(STRING, "The name."))
EVENT_DETAILS = struct(
    workflow=col(_NAMED, "The workflow that updated an attribute or triggered an event."),
    attribute=col(_NAMED, "The conversation attribute that was updated."),
    value=col(
        struct(name=col(STRING, "The attribute's new value."), previous=col(STRING, "Its previous value.")),
        "The value the attribute was set to.",
    ),
    action=col(
        struct(name=col(STRING, "The action's name."), result=col(STRING, "The action's status.")),
        "The custom action that started or finished.",
    ),
    event=col(
        struct(type=col(STRING, "The workflow event's type."), result=col(STRING, "Its result.")),
        "The workflow event that was initiated.",
    ),
)

CONVERSATION_PART_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always conversation_part."),
    "id": col(STRING, "The id of the conversation part."),
    "conversation_id": col(STRING, "The id of the conversation the part belongs to."),
    "conversation_updated_at": col(TIME, "The conversation's updated_at in the search: the part's partition day."),
    "conversation_total_parts": col(INT, "How many parts the conversation has (the API returns the newest 500)."),
    "part_type": col(STRING, "The type of conversation part."),
    "body": col(STRING, "The message body, which may contain HTML."),
    "created_at": col(TIME, "When the part was created."),
    "updated_at": col(TIME, "When the part was last updated."),
    "notified_at": col(TIME, "When the user was notified of the part."),
    "assigned_to": col(REFERENCE, "The admin the conversation was assigned to by this part, if any."),
    "author": col(AUTHOR, "Who wrote or triggered the part: a contact, admin, team or bot."),
    "attachments": col(list_of(ATTACHMENT), "The part's attachments."),
    "external_id": col(STRING, "The external id of the part."),
    "redacted": col(BOOL, "Whether the part has been redacted."),
    "email_message_metadata": col(EMAIL_MESSAGE_METADATA, "Email metadata, if the part was sent as an email."),
    "metadata": col(PART_METADATA, "Quick reply metadata of the part."),
    "state": col(STRING, "The state of the conversation when the part was created."),
    "tags": col(list_of(TAG_BASIC), "The tags on the part."),
    "event_details": col(EVENT_DETAILS, "Details of the workflow or action event the part records."),
    "app_package_code": col(STRING, "The app package code, if the part was created via API."),
    "translations": col(JSON, "The part translated to the conversation's language (real API; shape unrecorded)."),
}
