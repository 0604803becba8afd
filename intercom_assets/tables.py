"""One declaration per Intercom table: where its rows come from, its key, its partition rule, its columns, how its
records are found deleted and what an erasure takes with them.

Everything else (assets, checks, extraction, deletions, erasure, the IO manager's layout, lineage) is generated
from this registry: adding a table means adding one entry here. Columns (types and descriptions) are declared by
resource in `intercom_assets/columns/`, following what the real API sends; what an entry can state is
`intercom_assets/declarations.py`.

A table is one of four things:
- rows of an API pass (`source`), optionally filtered (`rows`: users and leads are contacts of one role);
- children of a parent table's records (`children`): the items of a list inside each parent record (a
  conversation's tags), or inside a per-parent request (a conversation's parts from GET /conversations/{id}), or
  inside the parent when complete and the per-parent request when the embedded list is truncated (a contact's
  tags); children land in their parent's partition;
- a snapshot (`partition_column=None`): a small list, taken whole on the day of extraction;
- the deletion log (`logs_deletions`): what the sources' deletion signals found, in the day of detection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from intercom_assets.columns.companies import COMPANY_FIELDS, COMPANY_SEGMENT_FIELDS
from intercom_assets.columns.contacts import CONTACT_COMPANY_FIELDS, CONTACT_FIELDS, CONTACT_TAG_FIELDS
from intercom_assets.columns.conversations import (
    CONVERSATION_ATTRIBUTE_FIELDS,
    CONVERSATION_CONTACT_FIELDS,
    CONVERSATION_FIELDS,
    CONVERSATION_PART_FIELDS,
    CONVERSATION_TAG_FIELDS,
)
from intercom_assets.columns.help_center import (
    ARTICLE_FIELDS,
    COLLECTION_FIELDS,
    HELP_CENTER_FIELDS,
    NEWS_ITEM_FIELDS,
    NEWSFEED_FIELDS,
)
from intercom_assets.columns.shared import SEGMENT_FIELDS
from intercom_assets.columns.tickets import TICKET_FIELDS, TICKET_PART_FIELDS, TICKET_STATE_FIELDS, TICKET_TYPE_FIELDS
from intercom_assets.columns.workspace import (
    ACTIVITY_LOG_FIELDS,
    ADMIN_FIELDS,
    AWAY_STATUS_REASON_FIELDS,
    DATA_ATTRIBUTE_FIELDS,
    SUBSCRIPTION_TYPE_FIELDS,
    TAG_FIELDS,
    TEAM_FIELDS,
)
from intercom_assets.declarations import (
    BY_ID,
    DELETED,
    MERGED,
    PAGES,
    PAGING_METHODS,
    SCROLL,
    SEARCH,
    WINDOW_FIELD,
    WINDOW_PARAMS,
    Children,
    DeletionSignal,
    MergeHistory,
    Owners,
    Probe,
    Source,
    TableSpec,
    child_rows,
    embedded_items,
    fetched_items,
)
from intercom_assets.schemas import STRING, TIME, FieldType, col

__all__ = [
    "BY_ID", "PAGES", "PAGING_METHODS", "SCROLL", "SEARCH", "TABLES", "TABLES_BY_NAME", "WINDOW_FIELD",
    "WINDOW_PARAMS", "Children", "Source", "TableSpec", "child_rows", "embedded_items", "fetched_items", "table_rows",
    "DELETIONS_TABLE", "PEOPLE_TABLE", "deletion_sources", "lineage_sources", "record_table",
]


def table_rows(spec: TableSpec, record: dict[str, Any], answer: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows a run derives for `spec` from one record of its source, as the extraction does.

    For a child table, `record` is the parent record and `answer` the per-parent request's answer (by default
    the record itself, e.g. a conversation as GET /conversations/{id} returns it, parts included).
    """
    if spec.children is None:
        return list(spec.rows(record))
    version = record.get(TABLES_BY_NAME[spec.children.parent].partition_column or "updated_at")
    items, total = embedded_items(record, spec.children), None
    if items is None:
        items, total = fetched_items(answer if answer is not None else record, spec.children)
    return list(child_rows(spec.children, str(record.get("id")), version, items, total))


def _with_role(role: str) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    def rows(record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        return (record,) if record.get("role") == role else ()

    return rows


def _without(key: str) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    """The record without one nested list that a child table holds instead (a ticket's parts)."""

    def rows(record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        return ({k: v for k, v in record.items() if k != key},)

    return rows


def data_attribute_rows(attribute: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Built-in attributes have no id: `id` is the API id when present, else `<model>:<full_name>`."""
    api_id = attribute.get("id")
    row = {k: v for k, v in attribute.items() if k != "id"}
    row["api_id"] = api_id
    row["id"] = (
        str(api_id) if api_id is not None else f"{attribute.get('model')}:{attribute.get('full_name')}"
    )
    yield row


# ---- the API passes ---------------------------------------------------------------------------------------
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


def _snapshot_list(name: str, path: str, list_key: str, params: Mapping[str, str] | None = None) -> Source:
    return Source(name, PAGES, path, list_key, params or {})


def _snapshot(name: str, source: Source, fields: Mapping[str, FieldType], what: str, replaces: str = "none (new)",
              rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None,
              described_by: str | None = None) -> TableSpec:
    return TableSpec(
        name=name,
        source=source,
        partition_column=None,
        fields=fields,
        description=f"Daily snapshot of the workspace's {what}.",
        replaces=replaces,
        described_by=described_by,
        **({"rows": rows} if rows else {}),
    )


def _contacts_with_role(name: str, role: str, replaces: str) -> TableSpec:
    """Contacts of one role, derived from the same contact search pass (no extra API calls)."""
    return TableSpec(
        name=name,
        source=CONTACTS_SEARCH,
        partition_column="updated_at",
        fields=CONTACT_FIELDS,
        description=f"Contacts with role '{role}', derived from the contact search (no extra API calls).",
        replaces=replaces,
        rows=_with_role(role),
        subset_of="contacts",
        described_by="contact",
    )


def _children(name: str, children: Children, source: Source, fields: Mapping[str, FieldType], description: str,
              replaces: str = "none (new)", key: tuple[str, ...] | None = None,
              described_by: str | None = None) -> TableSpec:
    return TableSpec(
        name=name,
        source=source,
        partition_column=children.version_column,
        fields=fields,
        description=description,
        replaces=replaces,
        key=key or (children.id_column, "id"),
        children=children,
        described_by=described_by,
    )


def _data_attributes(model: str) -> TableSpec:
    """Daily snapshot of one model's data attributes; built-ins get a synthetic id."""
    return _snapshot(
        f"{model}_attributes",
        _snapshot_list(f"{model}_attributes", "/data_attributes", "data", {"model": model}),
        DATA_ATTRIBUTE_FIELDS,
        f"{model} data attributes (built-in and custom)",
        rows=data_attribute_rows,
        described_by="data_attribute",
    )


def _windowed_list(name: str, path: str, fields: Mapping[str, FieldType], what: str,
                   newest_first: bool = False, described_by: str | None = None) -> TableSpec:
    """A list whose records are kept when their updated_at falls in the run's range: read whole, or, when it
    comes newest first, down to the range's first day."""
    read = ("the list comes newest first and is read down to the run's first day"
            if newest_first else "the full list is read")
    return TableSpec(
        name=name,
        source=Source(name, PAGES, path, "data", window=WINDOW_FIELD, newest_first=newest_first),
        partition_column="updated_at",
        fields=fields,
        description=f"{what}: {read}; each record is kept in the day of its updated_at.",
        replaces="none (new)",
        described_by=described_by,
    )


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        name="contacts",
        source=CONTACTS_SEARCH,
        partition_column="updated_at",
        fields=CONTACT_FIELDS,
        description="Every contact, users and leads alike (`role` says which).",
        replaces="none: the replaced `contacts` held only leads (now `leads`)",
        person_email="email",
        described_by="contact",
    ),
    _contacts_with_role("users", "user", replaces="users"),
    _contacts_with_role("leads", "lead", replaces="contacts (the replaced `contacts` table held only leads)"),
    _children(
        "contact_tags",
        Children("contacts", "contact", embedded="tags.data", fetch=CONTACT_TAGS),
        CONTACTS_SEARCH,
        CONTACT_TAG_FIELDS,
        "One row per (contact, tag), from each contact's embedded tag list; from GET /contacts/{id}/tags when "
        "that list is truncated.",
        described_by="tag",
    ),
    _children(
        "contact_companies",
        Children("contacts", "contact", embedded="companies.data", fetch=CONTACT_COMPANIES, items_are="companies"),
        CONTACTS_SEARCH,
        CONTACT_COMPANY_FIELDS,
        "One row per (contact, company), from each contact's embedded company list; from "
        "GET /contacts/{id}/companies when that list is truncated.",
        described_by="company",
    ),
    TableSpec(
        name="companies",
        source=COMPANIES_SCROLL,
        partition_column="updated_at",
        fields=COMPANY_FIELDS,
        description="Companies from the scroll API, filtered to the run's window on updated_at.",
        replaces="companies",
        described_by="company",
    ),
    _children(
        "company_segments",
        Children("companies", "company", embedded="segments.segments"),
        COMPANIES_SCROLL,
        COMPANY_SEGMENT_FIELDS,
        "One row per (company, segment) membership, from each company's embedded segments.",
        replaces="company_segments",
        described_by="segment",
    ),
    TableSpec(
        name="conversations",
        source=CONVERSATIONS_SEARCH,
        partition_column="updated_at",
        fields=CONVERSATION_FIELDS,
        description="Conversations from the conversation search over the run's window.",
        replaces="conversations",
        owners=Owners("contacts", "contacts.contacts"),
        described_by="conversation",
    ),
    _children(
        "conversation_parts",
        Children("conversations", "conversation", fetch=CONVERSATION_DETAILS,
                 fetched="conversation_parts.conversation_parts", total="conversation_parts.total_count"),
        CONVERSATIONS_SEARCH,
        CONVERSATION_PART_FIELDS,
        "Parts of each conversation in the window (the API returns at most the 500 newest).",
        replaces="conversations__conversation_parts",
        key=("id",),
        described_by="conversation_part",
    ),
    _children(
        "conversation_tags",
        Children("conversations", "conversation", embedded="tags.tags"),
        CONVERSATIONS_SEARCH,
        CONVERSATION_TAG_FIELDS,
        "One row per (conversation, tag), from each conversation's embedded tags.",
        described_by="tag",
    ),
    _children(
        "conversation_contacts",
        Children("conversations", "conversation", embedded="contacts.contacts", items_are="contacts"),
        CONVERSATIONS_SEARCH,
        CONVERSATION_CONTACT_FIELDS,
        "One row per (conversation, contact), from each conversation's embedded contacts.",
        described_by="contact_reference",
    ),
    TableSpec(
        name="tickets",
        source=TICKETS_SEARCH,
        partition_column="updated_at",
        fields=TICKET_FIELDS,
        description="Tickets from the ticket search over the run's window (their parts are in ticket_parts).",
        replaces="none (new)",
        rows=_without("ticket_parts"),
        owners=Owners("contacts", "contacts.contacts"),
        described_by="ticket",
    ),
    _children(
        "ticket_parts",
        Children("tickets", "ticket", fetch=TICKET_DETAILS, fetched="ticket_parts.ticket_parts",
                 total="ticket_parts.total_count"),
        TICKETS_SEARCH,
        TICKET_PART_FIELDS,
        "Parts of each ticket in the window, from GET /tickets/{id} (at most the 500 newest).",
        key=("id",),
        described_by="ticket_part",
    ),
    TableSpec(
        name="activity_logs",
        source=ACTIVITY_LOGS,
        partition_column="created_at",
        fields=ACTIVITY_LOG_FIELDS,
        description="Admin activity (logins, changes, deletions) created in the run's window.",
        replaces="none (new)",
        described_by="activity_log",
    ),
    # "Articles will be returned in descending order on the updated_at attribute" (2.16); news items: no order said
    _windowed_list("articles", "/articles", ARTICLE_FIELDS, "Help center articles", newest_first=True,
                   described_by="article"),
    _windowed_list("news_items", "/news/news_items", NEWS_ITEM_FIELDS, "News items", described_by="news_item"),
    _snapshot("admins", _snapshot_list("admins", "/admins", "admins"), ADMIN_FIELDS, "admins", replaces="admins",
              described_by="admin"),
    _snapshot("teams", _snapshot_list("teams", "/teams", "teams"), TEAM_FIELDS, "teams", described_by="team"),
    _snapshot("tags", _snapshot_list("tags", "/tags", "data"), TAG_FIELDS, "tags", replaces="tags",
              described_by="tag"),
    _snapshot(
        "segments",
        _snapshot_list("segments", "/segments", "segments", {"include_count": "true"}),
        SEGMENT_FIELDS,
        "segments",
        replaces="segments",
        described_by="segment",
    ),
    _data_attributes("contact"),
    _data_attributes("company"),
    _snapshot(
        "conversation_attributes",
        _snapshot_list("conversation_attributes", "/conversations/attributes", "data", {"include_archived": "true"}),
        CONVERSATION_ATTRIBUTE_FIELDS,
        "conversation attributes (archived ones included)",
        described_by="conversation_attribute",
    ),
    _snapshot("ticket_types", _snapshot_list("ticket_types", "/ticket_types", "data"), TICKET_TYPE_FIELDS,
              "ticket types", described_by="ticket_type"),
    _snapshot("ticket_states", _snapshot_list("ticket_states", "/ticket_states", "data"), TICKET_STATE_FIELDS,
              "ticket states", described_by="ticket_state_detailed"),
    _snapshot("collections", _snapshot_list("collections", "/help_center/collections", "data"), COLLECTION_FIELDS,
              "help center collections", described_by="collection"),
    _snapshot("help_centers", _snapshot_list("help_centers", "/help_center/help_centers", "data"),
              HELP_CENTER_FIELDS, "help centers", described_by="help_center"),
    _snapshot("newsfeeds", _snapshot_list("newsfeeds", "/news/newsfeeds", "data"), NEWSFEED_FIELDS, "newsfeeds",
              described_by="newsfeed"),
    _snapshot("subscription_types", _snapshot_list("subscription_types", "/subscription_types", "data"),
              SUBSCRIPTION_TYPE_FIELDS, "subscription types", described_by="subscription_type"),
    _snapshot("away_status_reasons", _snapshot_list("away_status_reasons", "/away_status_reasons", "data"),
              AWAY_STATUS_REASON_FIELDS, "away status reasons (soft-deleted ones included)",
              described_by="away_status_reason"),
    TableSpec(
        name="deleted_records",
        source=CONVERSATIONS_DELETED,
        partition_column="detected_at",
        fields={
            "source_table": col(STRING, "The table the record belonged to: contacts, companies, conversations, "
                                "tickets."),
            "id": col(STRING, "The record's id."),
            "reason": col(STRING, "deleted (Intercom deleted it), merged (a lead merged into a user), erased (a "
                          "data-protection erasure run here)."),
            "merged_into_id": col(STRING, "For a merge: the contact the record was merged into."),
            "deleted_at": col(TIME, "When Intercom says it was deleted or merged (null when it does not say)."),
            "detected_at": col(TIME, "When this project detected it and removed its rows from the lake."),
        },
        description="One row per record deleted, merged away or erased: why, and when it was detected; its rows "
        "are gone from every other table.",
        replaces="none (new)",
        key=("source_table", "id"),
        logs_deletions=True,
    ),
)

TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
# The table of what the deletion signals found, and the table of the people an erasure names.
DELETIONS_TABLE: TableSpec = next(spec for spec in TABLES if spec.logs_deletions)
PEOPLE_TABLE: TableSpec = next(spec for spec in TABLES if spec.person_email)


def record_table(source: Source) -> TableSpec:
    """The table whose rows are the records of this source, one each (the contacts of the contact search)."""
    return next(spec for spec in TABLES if spec.source == source and spec.is_record_table)


def deletion_sources(tables: Iterable[TableSpec] = TABLES) -> list[Source]:
    """The sources of these tables that signal deletions, each once, in registry order."""
    found: dict[str, Source] = {}
    for spec in tables:
        if spec.is_record_table and spec.source.deletions is not None:
            found.setdefault(spec.source.name, spec.source)
    return list(found.values())


def deletion_lineage() -> tuple[Source, ...]:
    """The passes deleted_records is derived from: each deleted-records list, and each source with a signal."""
    found: dict[str, Source] = {}
    for source in deletion_sources():
        signal = source.deletions
        assert signal is not None
        if signal.deleted_list is not None:
            found.setdefault(signal.deleted_list.name, signal.deleted_list)
        found.setdefault(source.name, source)
    return tuple(found.values())


def lineage_sources(spec: TableSpec) -> tuple[Source, ...]:
    """The API passes a table's rows come from, for the asset graph (deleted_records: every deletion signal)."""
    return deletion_lineage() if spec.logs_deletions else spec.sources
