"""The API passes the core tables share (and the newer per-record tables hang off): contact and conversation
searches, the companies scroll, the ticket search, and the per-record requests their child tables make."""

from __future__ import annotations

from intercom_assets.declarations import (
    BY_ID,
    DELETED,
    MERGED,
    PAGES,
    SCROLL,
    SEARCH,
    WINDOW_FIELD,
    WINDOW_PARAMS,
    DeletionSignal,
    MergeHistory,
    Probe,
    Source,
)

# merge_history on the surviving users names the leads merged into them (deletions are detected from it)
# The contact search names merged leads in each surviving user's merge_history; deleted contacts have no list: the
# sweep reads every contact id, and a stored one it did not list is gone once GET /contacts/{id} says 404 (410:
# merged), so an archived or lagging contact is not.
CONTACTS_SEARCH = Source(
    "contacts_search", SEARCH, "/contacts/search", "data", {"include_merge_history": "true"},
    deletions=DeletionSignal(
        merges=MergeHistory("merge_history", "source_contact_id", "merged_at"), sweep=True,
        probe=Probe("/contacts/{id}", {404: DELETED, 410: MERGED}),
    ),
)
# A company stored here but missing from a complete scroll is gone once GET /companies/{id} says 404.
COMPANIES_SCROLL = Source(
    "companies_scroll", SCROLL, "/companies/scroll", "data", window=WINDOW_FIELD,
    deletions=DeletionSignal(complete=True, probe=Probe("/companies/{id}", {404: DELETED})),
)
# GET /conversations/deleted lists deleted conversations, newest first (60 a page at most).
CONVERSATIONS_DELETED = Source("conversations_deleted", PAGES, "/conversations/deleted", "conversations",
                               {"order": "desc", "per_page": "60"})
CONVERSATIONS_SEARCH = Source("conversations_search", SEARCH, "/conversations/search", "conversations",
                              deletions=DeletionSignal(deleted_list=CONVERSATIONS_DELETED))
# Deleted tickets (DELETE /tickets/{id}, since 2.13) have no list: the sweep reads every ticket id, and a stored
# one it did not list is gone once GET /tickets/{id} says 404.
TICKETS_SEARCH = Source("tickets_search", SEARCH, "/tickets/search", "tickets",
                        deletions=DeletionSignal(sweep=True, probe=Probe("/tickets/{id}", {404: DELETED})))
CONVERSATION_DETAILS = Source("conversation_details", BY_ID, "/conversations/{id}", "conversation_parts")
TICKET_DETAILS = Source("ticket_details", BY_ID, "/tickets/{id}", "ticket_parts")
CONTACT_TAGS = Source("contact_tags_by_id", BY_ID, "/contacts/{id}/tags", "data")
CONTACT_COMPANIES = Source("contact_companies_by_id", BY_ID, "/contacts/{id}/companies", "data|companies")
ACTIVITY_LOGS = Source(
    "activity_logs", PAGES, "/admins/activity_logs", "activity_logs", window=WINDOW_PARAMS, window_field="created_at"
)


