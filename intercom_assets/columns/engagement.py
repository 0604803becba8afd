"""Records around conversations and people that the 2.16 API lists per record or on their own: calls, a
conversation's handling events and side conversations, notes on contacts and companies, a contact's segments and
subscriptions. Property names are the 2.16 description's; the parent columns say which record a row belongs to.
"""

from __future__ import annotations

from intercom_assets.columns.conversation_parts import CONVERSATION_PART_FIELDS
from intercom_assets.columns.shared import ADMIN_FIELDS, REFERENCE, SEGMENT_FIELDS
from intercom_assets.columns.workspace import SUBSCRIPTION_TYPE_FIELDS
from intercom_assets.schemas import FLOAT, INT, STRING, TIME, FieldType, col, struct

__all__ = [
    "CALL_FIELDS", "CALL_TRANSCRIPT_FIELDS", "COMPANY_NOTE_FIELDS", "CONTACT_NOTE_FIELDS", "CONTACT_SEGMENT_FIELDS",
    "CONTACT_SUBSCRIPTION_FIELDS", "HANDLING_EVENT_FIELDS", "SIDE_CONVERSATION_FIELDS", "SIDE_CONVERSATION_PART_FIELDS",
]


def _link(prefix: str, what: str) -> dict[str, FieldType]:
    return {
        f"{prefix}_id": col(STRING, f"The id of the {what}."),
        f"{prefix}_updated_at": col(TIME, f"The {what}'s updated_at: the version this row was read with (its "
                                          "partition day)."),
    }


CALL_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always call."),
    "id": col(STRING, "The id of the call."),
    "conversation_id": col(STRING, "The conversation the call belongs to, if any."),
    "admin_id": col(STRING, "The teammate on the call, if any."),
    "contact_id": col(STRING, "The contact on the call, if any."),
    "state": col(STRING, "The state of the call (e.g. completed)."),
    "initiated_at": col(TIME, "When the call was initiated."),
    "answered_at": col(TIME, "When the call was answered."),
    "ended_at": col(TIME, "When the call ended."),
    "created_at": col(TIME, "When the call was created."),
    "updated_at": col(TIME, "When the call was last updated: its partition day."),
    "recording_url": col(STRING, "API URL of the recording, if any."),
    "transcription_url": col(STRING, "API URL of the transcript, if any."),
    "call_type": col(STRING, "The kind of call (e.g. phone)."),
    "direction": col(STRING, "inbound or outbound."),
    "ended_reason": col(STRING, "Why the call ended, if known."),
    "phone": col(STRING, "The phone number in E.164, if any."),
    "fin_recording_url": col(STRING, "API URL of Fin's recording, if any."),
    "fin_transcription_url": col(STRING, "API URL of Fin's transcript, if any."),
}

# One row per line of a call's transcript (POST /calls/search answers each call with `transcript`, a list of open
# objects the description does not shape: the fields named here are typed, any other goes to `_extra`).
CALL_TRANSCRIPT_FIELDS: dict[str, FieldType] = {
    "id": col(STRING, "The key as one text, `<call_id>:<line>` (lines have no id)."),
    **_link("call", "call"),
    "line": col(INT, "The line's position in the transcript, from 0."),
    "transcript_status": col(STRING, "The status of the call's transcript."),
    "speaker": col(STRING, "Who spoke the line, when the line says."),
    "text": col(STRING, "What was said, when the line says."),
    "start_time": col(FLOAT, "When the line starts, in seconds from the call's start, when the line says."),
    "end_time": col(FLOAT, "When the line ends, in seconds from the call's start, when the line says."),
}

_TEAMMATE = struct(
    type=col(STRING, "admin, team or bot."),
    id=col(STRING, "The teammate's id."),
    name=col(STRING, "The teammate's display name."),
    email=col(STRING, "The teammate's email (admins)."),
)

HANDLING_EVENT_FIELDS: dict[str, FieldType] = {
    "id": col(STRING, "The key as one text, `<timestamp>:<type>:<teammate_id>` (the API gives events no id)."),
    **_link("conversation", "conversation"),
    "teammate": col(_TEAMMATE, "The teammate who paused or resumed handling the conversation."),
    "teammate_id": col(STRING, "The teammate's id (`teammate.id`, part of the key)."),
    "type": col(STRING, "The event: paused or resumed."),
    "timestamp": col(TIME, "When it happened."),
    "reason": col(STRING, "Why handling was paused, if said."),
}

SIDE_CONVERSATION_FIELDS: dict[str, FieldType] = {
    **_link("conversation", "conversation"),
    "side_conversation_id": col(STRING, "The id of the side conversation."),
    "id": col(STRING, "The same id (`side_conversation_id`), as every table has one."),
    "total_count": col(INT, "How many parts the side conversation has (its parts are in side_conversation_parts)."),
}

SIDE_CONVERSATION_PART_FIELDS: dict[str, FieldType] = {
    **{name: ftype for name, ftype in CONVERSATION_PART_FIELDS.items() if name != "conversation_total_parts"},
    "side_conversation_id": col(STRING, "The side conversation the part belongs to."),
}

_NOTE: dict[str, FieldType] = {
    "type": col(STRING, "Always note."),
    "id": col(STRING, "The id of the note."),
    "created_at": col(TIME, "When the note was created."),
    "contact": col(REFERENCE, "The contact the note is about, if any."),
    "company": col(REFERENCE, "The company the note is about, if any."),
    "author": col(struct(**ADMIN_FIELDS), "The admin who wrote the note."),
    "body": col(STRING, "The note's text, as HTML."),
}
CONTACT_NOTE_FIELDS: dict[str, FieldType] = {**_NOTE, **_link("contact", "contact")}
COMPANY_NOTE_FIELDS: dict[str, FieldType] = {**_NOTE, **_link("company", "company")}
CONTACT_SEGMENT_FIELDS: dict[str, FieldType] = {**SEGMENT_FIELDS, **_link("contact", "contact")}
CONTACT_SUBSCRIPTION_FIELDS: dict[str, FieldType] = {**SUBSCRIPTION_TYPE_FIELDS, **_link("contact", "contact")}
