"""Properties of the 2.16 description that a table deliberately holds no column for, each with the reason.

Keyed by the described schema (`TableSpec.described_by`), then by the property's path inside it (`a.b[].c`: `[]`
is an array's item); a path excludes everything below it. test_field_coverage fails on a described property that
no column covers and no entry here names, and on an entry that excludes nothing (the column exists after all, or
the description has no such property), so this list stays exactly the set of deliberate gaps.
"""

from __future__ import annotations

from collections.abc import Mapping

UNDECLARED: Mapping[str, Mapping[str, str]] = {
    "side_conversation_summary": {
        "conversation_parts": (
            "The parts are the rows of side_conversation_parts, read from the same answer of GET "
            "/conversations/{id}/side_conversations: a side_conversations row keeps its id and total_count."
        ),
    },
    "activity_log_event_type_list": {
        "type": "The list's constant type (activity_log_event_type.list), not a property of any row.",
        "event_types": (
            "The list itself: the description gives bare names, and each name is one row of "
            "activity_log_event_types, held in its `id` column."
        ),
    },
    "call": {
        ".*": (
            "call_transcripts: a transcript line is an open object in the description (POST /calls/search: "
            "items with additionalProperties, no properties): the keys a line is known to carry (speaker, text, "
            "start_time, end_time) are typed columns and any other key lands in _extra under its name."
        ),
    },
    "conversation": {
        "conversation_parts.conversation_parts": (
            "The parts are the rows of conversation_parts, read from GET /conversations/{id} (newest 500, with the "
            "true count): a conversations row keeps only the list's type and total_count. The search that "
            "conversations rows come from gives no parts (conversation_list_item); parts it ever sent would be "
            "kept whole in _extra."
        ),
    },
}
