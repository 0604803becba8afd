"""Tables of the 2.16 resources around conversations and people: calls (and their transcripts), a conversation's
handling events and side conversations, notes on contacts and companies, a contact's segments and subscriptions.

All but `calls` cost a request per parent record the pass reads (`Cost`): they are opt-in. Each is reused for a
parent whose version is unchanged since its list was fetched (as conversation parts are), so a steady tick asks
only for the parents that changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intercom_assets.columns.engagement import (
    CALL_FIELDS,
    CALL_TRANSCRIPT_FIELDS,
    COMPANY_NOTE_FIELDS,
    CONTACT_NOTE_FIELDS,
    CONTACT_SEGMENT_FIELDS,
    CONTACT_SUBSCRIPTION_FIELDS,
    HANDLING_EVENT_FIELDS,
    SIDE_CONVERSATION_FIELDS,
    SIDE_CONVERSATION_PART_FIELDS,
)
from intercom_assets.declarations import BATCH, BY_ID, Children, Cost, Source, TableSpec
from intercom_assets.declared.build import child_table, windowed_table, without
from intercom_assets.declared.sources import COMPANIES_SCROLL, CONTACTS_SEARCH, CONVERSATIONS_SEARCH

# One request per changed parent, and left out of the default selection (INTERCOM_TABLES switches it on).
PER_PARENT = Cost(requests_per_parent=1, opt_in=True)

CONTACT_NOTES = Source("contact_notes_by_id", BY_ID, "/contacts/{id}/notes", "data")
COMPANY_NOTES = Source("company_notes_by_id", BY_ID, "/companies/{id}/notes", "data")
CONTACT_SEGMENTS = Source("contact_segments_by_id", BY_ID, "/contacts/{id}/segments", "data")
CONTACT_SUBSCRIPTIONS = Source("contact_subscriptions_by_id", BY_ID, "/contacts/{id}/subscriptions", "data")
HANDLING_EVENTS = Source("handling_events_by_id", BY_ID, "/conversations/{id}/handling_events", "handling_events")
# 50 a page at most; one request serves both side_conversations and side_conversation_parts.
SIDE_CONVERSATIONS = Source("side_conversations_by_id", BY_ID, "/conversations/{id}/side_conversations",
                            "side_conversations", {"per_page": "50"})


def handling_event_rows(event: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """An event with its key as one text in `id` (the API gives events none)."""
    yield {**event, "id": f"{event.get('timestamp')}:{event.get('type')}:{event.get('teammate_id')}"}


def _per_contact(name: str, fetch: Source, fields: dict, described_by: str, what: str,
                 key: tuple[str, ...] | None = None) -> TableSpec:
    return child_table(
        name, Children("contacts", "contact", fetch=fetch), CONTACTS_SEARCH, fields,
        f"{what}, from {fetch.request} for each contact the run reads (reused while the contact's updated_at "
        "does not move).", key=key, cost=PER_PARENT, described_by=described_by,
    )


# GET /calls states no order and takes no time parameter (page/per_page, 25 at most): read whole every run.
CALLS = windowed_table("calls", "/calls", CALL_FIELDS, "Calls (phone and Messenger)", described_by="call",
                       params={"per_page": "25"})
# Transcripts come only from POST /calls/search, by conversation ids (20 a request at most).
CALLS_SEARCH = Source("calls_search", BATCH, "/calls/search", "data", batch_field="conversation_ids", batch_size=20)


def transcript_line_rows(line: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """A transcript line with its key as one text in `id` (lines have none)."""
    yield {**line, "id": f"{line.get('call_id')}:{line.get('line')}"}


ENGAGEMENT_TABLES: tuple[TableSpec, ...] = (
    CALLS,
    child_table(
        "call_transcripts",
        Children("calls", "call", fetch=CALLS_SEARCH, fetched="data", within="transcript", within_id="id",
                 within_keep=("transcript_status",), within_index="line", batch_by="conversation_id"),
        CALLS.source, CALL_TRANSCRIPT_FIELDS,
        "One row per line of the transcript of each call of the run's range that has a conversation, from POST "
        "/calls/search (20 conversations a request; reused while the call's updated_at does not move).",
        key=("call_id", "line"), described_by="call", rows=transcript_line_rows,
    ),
    _per_contact("contact_notes", CONTACT_NOTES, CONTACT_NOTE_FIELDS, "note", "Notes teammates wrote on contacts",
                 key=("id",)),
    child_table(
        "company_notes", Children("companies", "company", fetch=COMPANY_NOTES), COMPANIES_SCROLL, COMPANY_NOTE_FIELDS,
        "Notes teammates wrote on companies, from GET /companies/{id}/notes for each company the run reads (reused "
        "while the company's updated_at does not move).", key=("id",), cost=PER_PARENT, described_by="note",
    ),
    _per_contact("contact_segments", CONTACT_SEGMENTS, CONTACT_SEGMENT_FIELDS, "segment",
                 "One row per (contact, segment) membership"),
    _per_contact("contact_subscriptions", CONTACT_SUBSCRIPTIONS, CONTACT_SUBSCRIPTION_FIELDS, "subscription_type",
                 "One row per (contact, subscription type) the contact opted into or out of"),
    child_table(
        "conversation_handling_events",
        Children("conversations", "conversation", fetch=HANDLING_EVENTS, fetched="handling_events",
                 lift=(("teammate_id", "teammate.id"),)),
        CONVERSATIONS_SEARCH, HANDLING_EVENT_FIELDS,
        "When teammates paused and resumed handling each conversation the run reads, from GET "
        "/conversations/{id}/handling_events (reused while the conversation's updated_at does not move).",
        key=("conversation_id", "timestamp", "type", "teammate_id"), cost=PER_PARENT, described_by="handling_event",
        rows=handling_event_rows,
    ),
    child_table(
        "side_conversations",
        Children("conversations", "conversation", fetch=SIDE_CONVERSATIONS, fetched="side_conversations",
                 lift=(("id", "side_conversation_id"),)),
        CONVERSATIONS_SEARCH, SIDE_CONVERSATION_FIELDS,
        "Side conversations (internal threads) of each conversation the run reads, from GET "
        "/conversations/{id}/side_conversations; their parts are in side_conversation_parts.",
        key=("conversation_id", "side_conversation_id"), cost=PER_PARENT, described_by="side_conversation_summary",
        rows=without("conversation_parts"),
    ),
    child_table(
        "side_conversation_parts",
        Children("conversations", "conversation", fetch=SIDE_CONVERSATIONS, fetched="side_conversations",
                 within="conversation_parts", within_id="side_conversation_id"),
        CONVERSATIONS_SEARCH, SIDE_CONVERSATION_PART_FIELDS,
        "Parts of each side conversation, from the same request as side_conversations (no request of its own).",
        key=("conversation_id", "side_conversation_id", "id"), cost=PER_PARENT, described_by="conversation_part",
    ),
)
