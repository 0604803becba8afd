"""One declaration per Intercom table: where its rows come from, its key, its partition rule, its columns.

Everything else (assets, checks, extraction, the IO manager's layout, lineage) is generated from this registry:
adding a table means adding one entry here. Columns (types and descriptions) are declared by resource in
`intercom_assets/columns/`, following what the real API sends.

A table is one of three things:
- rows of an API pass (`source`), optionally filtered (`rows`: users and leads are contacts of one role);
- children of a parent table's records (`children`): the items of a list inside each parent record (a
  conversation's tags), or inside a per-parent request (a conversation's parts from GET /conversations/{id}), or
  inside the parent when complete and the per-parent request when the embedded list is truncated (a contact's
  tags); children land in their parent's partition;
- a snapshot (`partition_column=None`): a small list, taken whole on the day of extraction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
from intercom_assets.schemas import FieldType, RowConverter

# How a source's requests page, and how the run's window reaches them.
SEARCH = "search"  # POST …/search, cursor in the body; the window is a server-side updated_at filter
SCROLL = "scroll"  # GET /companies/scroll: every record; the window is applied here, on `window_field`
PAGES = "pages"  # GET with `pages.next` (a cursor or a page number), or a single page
BY_ID = "by_id"  # GET …/{id} per parent record
PAGING_METHODS = {SEARCH: "POST", SCROLL: "GET", PAGES: "GET", BY_ID: "GET"}
# How the window applies to a PAGES source: by request parameters (created_at_after/before), or here.
WINDOW_PARAMS = "params"
WINDOW_FIELD = "field"


@dataclass(frozen=True)
class Source:
    """One API request pattern: the path, the key of the record list, how it pages and how it is windowed.

    `list_key` may name alternatives ("data|companies") where the real API and its description disagree.
    """

    name: str
    paging: str
    path: str
    list_key: str
    params: Mapping[str, str] = field(default_factory=dict)
    window: str | None = None  # PAGES/SCROLL: WINDOW_PARAMS or WINDOW_FIELD; None: the whole list (snapshots)
    window_field: str = "updated_at"

    @property
    def request(self) -> str:
        """The request as Intercom documents it, e.g. `GET /data_attributes?model=contact`."""
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{PAGING_METHODS[self.paging]} {self.path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Children:
    """Rows that are the items of a list belonging to each record of a parent table.

    The items come from `embedded` (a dotted path inside the parent record) unless that list is missing or
    truncated (`has_more`, or `total_count` above the items given), then from `fetch` (a per-parent request) at
    `fetched` inside its answer. Each row carries `<prefix>_id` and `<prefix>_updated_at` (the parent's
    replication time, so children land in the parent's partition), and, for capped part lists, the parent's
    true count `<prefix>_total_parts` from `total` inside the fetched answer.
    """

    parent: str
    prefix: str
    embedded: str | None = None
    fetch: Source | None = None
    fetched: str = "data"
    total: str | None = None
    items_are: str | None = None  # the table whose records the items are (a contact's companies: companies)

    @property
    def id_column(self) -> str:
        return f"{self.prefix}_id"

    @property
    def version_column(self) -> str:
        return f"{self.prefix}_updated_at"

    @property
    def total_column(self) -> str | None:
        return f"{self.prefix}_total_parts" if self.total else None


@dataclass(frozen=True)
class TableSpec:
    """Everything the project knows about one table."""

    name: str
    source: Source
    # Column whose UTC day is the row's partition; None = snapshot table (partition = day of extraction).
    partition_column: str | None
    fields: Mapping[str, FieldType]
    description: str
    replaces: str
    key: tuple[str, ...] = ("id",)
    rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] = field(default=lambda record: (record,))
    children: Children | None = None
    # A table whose rows are some of another table's records (users and leads of contacts): its current state
    # follows that table's newest version of each record (a lead that became a user leaves the leads).
    subset_of: str | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.partition_column is None

    @property
    def parent(self) -> str | None:
        """The table whose records this one's rows belong to (children's parent, or the table it subsets)."""
        return self.children.parent if self.children else self.subset_of

    @property
    def parent_key(self) -> str | None:
        """Column naming the parent record, when one parent record yields many rows."""
        return self.children.id_column if self.children else None

    @property
    def part_total_column(self) -> str | None:
        """Column holding how many parts the parent really has (the API returns only the newest 500)."""
        return self.children.total_column if self.children else None

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every API pass this table's rows come from (lineage): its own, and a per-parent request."""
        fetch = self.children.fetch if self.children else None
        return (self.source, fetch) if fetch is not None and fetch != self.source else (self.source,)

    def columns_referring_to(self, table: str) -> tuple[str, ...]:
        """Columns of this table that hold ids of `table`'s records: its own key when it IS that table (or a
        subset of it), the parent column of children of it, the item column of links to it. A record of `table`
        deleted or erased takes every row with its id in one of these columns."""
        columns = []
        if self.name == table or self.subset_of == table:
            columns.append("id")
        if self.children is not None:
            if self.children.parent == table:
                columns.append(self.children.id_column)
            if self.children.items_are == table:
                columns.append("id")
        return tuple(dict.fromkeys(columns))

    def converter(self) -> RowConverter:
        """The record → Arrow converter for this table's declared schema."""
        return RowConverter(self.fields, non_null=self.key)


def _path(record: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def embedded_items(record: Mapping[str, Any], children: Children) -> list[dict[str, Any]] | None:
    """The parent's own list of children, or None when it is missing or truncated (then it must be fetched)."""
    if children.embedded is None:
        return None
    container_path, _, list_name = children.embedded.rpartition(".")
    container = _path(record, container_path) if container_path else record
    items = container.get(list_name) if isinstance(container, dict) else None
    if not isinstance(items, list):
        return None if children.fetch is not None else []
    total = container.get("total_count")
    truncated = container.get("has_more") is True or (isinstance(total, int) and total > len(items))
    return None if truncated and children.fetch is not None else items


def fetched_items(answer: Mapping[str, Any], children: Children) -> tuple[list[dict[str, Any]], int | None]:
    """The children in a per-parent answer, and the parent's true count of them when the answer gives one."""
    items = _path(answer, children.fetched)
    total = _path(answer, children.total) if children.total else None
    return (items if isinstance(items, list) else []), (total if isinstance(total, int) else None)


def child_rows(
    children: Children, parent_id: str, version: int | None, items: Iterable[dict[str, Any]], total: int | None
) -> Iterable[dict[str, Any]]:
    """Each item with its parent's id and replication time (and true count, for capped part lists)."""
    extra: dict[str, Any] = {children.id_column: parent_id, children.version_column: version}
    if children.total_column is not None:
        extra[children.total_column] = total
    for item in items:
        if isinstance(item, dict):
            yield {**item, **extra}


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
CONTACTS_SEARCH = Source("contacts_search", SEARCH, "/contacts/search", "data", {"include_merge_history": "true"})
COMPANIES_SCROLL = Source("companies_scroll", SCROLL, "/companies/scroll", "data", window=WINDOW_FIELD)
CONVERSATIONS_SEARCH = Source("conversations_search", SEARCH, "/conversations/search", "conversations")
TICKETS_SEARCH = Source("tickets_search", SEARCH, "/tickets/search", "tickets")
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
              rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None) -> TableSpec:
    return TableSpec(
        name=name,
        source=source,
        partition_column=None,
        fields=fields,
        description=f"Daily snapshot of the workspace's {what}.",
        replaces=replaces,
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
    )


def _children(name: str, children: Children, source: Source, fields: Mapping[str, FieldType], description: str,
              replaces: str = "none (new)", key: tuple[str, ...] | None = None) -> TableSpec:
    return TableSpec(
        name=name,
        source=source,
        partition_column=children.version_column,
        fields=fields,
        description=description,
        replaces=replaces,
        key=key or (children.id_column, "id"),
        children=children,
    )


def _data_attributes(model: str) -> TableSpec:
    """Daily snapshot of one model's data attributes; built-ins get a synthetic id."""
    return _snapshot(
        f"{model}_attributes",
        _snapshot_list(f"{model}_attributes", "/data_attributes", "data", {"model": model}),
        DATA_ATTRIBUTE_FIELDS,
        f"{model} data attributes (built-in and custom)",
        rows=data_attribute_rows,
    )


def _windowed_list(name: str, path: str, fields: Mapping[str, FieldType], what: str) -> TableSpec:
    """A full list whose records are kept when their updated_at falls in the run's range."""
    return TableSpec(
        name=name,
        source=Source(name, PAGES, path, "data", window=WINDOW_FIELD),
        partition_column="updated_at",
        fields=fields,
        description=f"{what}: the full list is read and each record kept in the day of its updated_at.",
        replaces="none (new)",
    )


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        name="contacts",
        source=CONTACTS_SEARCH,
        partition_column="updated_at",
        fields=CONTACT_FIELDS,
        description="Every contact, users and leads alike (`role` says which).",
        replaces="none: the replaced `contacts` held only leads (now `leads`)",
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
    ),
    _children(
        "contact_companies",
        Children("contacts", "contact", embedded="companies.data", fetch=CONTACT_COMPANIES, items_are="companies"),
        CONTACTS_SEARCH,
        CONTACT_COMPANY_FIELDS,
        "One row per (contact, company), from each contact's embedded company list; from "
        "GET /contacts/{id}/companies when that list is truncated.",
    ),
    TableSpec(
        name="companies",
        source=COMPANIES_SCROLL,
        partition_column="updated_at",
        fields=COMPANY_FIELDS,
        description="Companies from the scroll API, filtered to the run's window on updated_at.",
        replaces="companies",
    ),
    _children(
        "company_segments",
        Children("companies", "company", embedded="segments.segments"),
        COMPANIES_SCROLL,
        COMPANY_SEGMENT_FIELDS,
        "One row per (company, segment) membership, from each company's embedded segments.",
        replaces="company_segments",
    ),
    TableSpec(
        name="conversations",
        source=CONVERSATIONS_SEARCH,
        partition_column="updated_at",
        fields=CONVERSATION_FIELDS,
        description="Conversations from the conversation search over the run's window.",
        replaces="conversations",
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
    ),
    _children(
        "conversation_tags",
        Children("conversations", "conversation", embedded="tags.tags"),
        CONVERSATIONS_SEARCH,
        CONVERSATION_TAG_FIELDS,
        "One row per (conversation, tag), from each conversation's embedded tags.",
    ),
    _children(
        "conversation_contacts",
        Children("conversations", "conversation", embedded="contacts.contacts", items_are="contacts"),
        CONVERSATIONS_SEARCH,
        CONVERSATION_CONTACT_FIELDS,
        "One row per (conversation, contact), from each conversation's embedded contacts.",
    ),
    TableSpec(
        name="tickets",
        source=TICKETS_SEARCH,
        partition_column="updated_at",
        fields=TICKET_FIELDS,
        description="Tickets from the ticket search over the run's window (their parts are in ticket_parts).",
        replaces="none (new)",
        rows=_without("ticket_parts"),
    ),
    _children(
        "ticket_parts",
        Children("tickets", "ticket", fetch=TICKET_DETAILS, fetched="ticket_parts.ticket_parts",
                 total="ticket_parts.total_count"),
        TICKETS_SEARCH,
        TICKET_PART_FIELDS,
        "Parts of each ticket in the window, from GET /tickets/{id} (at most the 500 newest).",
        key=("id",),
    ),
    TableSpec(
        name="activity_logs",
        source=ACTIVITY_LOGS,
        partition_column="created_at",
        fields=ACTIVITY_LOG_FIELDS,
        description="Admin activity (logins, changes, deletions) created in the run's window.",
        replaces="none (new)",
    ),
    _windowed_list("articles", "/articles", ARTICLE_FIELDS, "Help center articles"),
    _windowed_list("news_items", "/news/news_items", NEWS_ITEM_FIELDS, "News items"),
    _snapshot("admins", _snapshot_list("admins", "/admins", "admins"), ADMIN_FIELDS, "admins", replaces="admins"),
    _snapshot("teams", _snapshot_list("teams", "/teams", "teams"), TEAM_FIELDS, "teams"),
    _snapshot("tags", _snapshot_list("tags", "/tags", "data"), TAG_FIELDS, "tags", replaces="tags"),
    _snapshot(
        "segments",
        _snapshot_list("segments", "/segments", "segments", {"include_count": "true"}),
        SEGMENT_FIELDS,
        "segments",
        replaces="segments",
    ),
    _data_attributes("contact"),
    _data_attributes("company"),
    _snapshot(
        "conversation_attributes",
        _snapshot_list("conversation_attributes", "/conversations/attributes", "data", {"include_archived": "true"}),
        CONVERSATION_ATTRIBUTE_FIELDS,
        "conversation attributes (archived ones included)",
    ),
    _snapshot("ticket_types", _snapshot_list("ticket_types", "/ticket_types", "data"), TICKET_TYPE_FIELDS,
              "ticket types"),
    _snapshot("ticket_states", _snapshot_list("ticket_states", "/ticket_states", "data"), TICKET_STATE_FIELDS,
              "ticket states"),
    _snapshot("collections", _snapshot_list("collections", "/help_center/collections", "data"), COLLECTION_FIELDS,
              "help center collections"),
    _snapshot("help_centers", _snapshot_list("help_centers", "/help_center/help_centers", "data"),
              HELP_CENTER_FIELDS, "help centers"),
    _snapshot("newsfeeds", _snapshot_list("newsfeeds", "/news/newsfeeds", "data"), NEWSFEED_FIELDS, "newsfeeds"),
    _snapshot("subscription_types", _snapshot_list("subscription_types", "/subscription_types", "data"),
              SUBSCRIPTION_TYPE_FIELDS, "subscription types"),
    _snapshot("away_status_reasons", _snapshot_list("away_status_reasons", "/away_status_reasons", "data"),
              AWAY_STATUS_REASON_FIELDS, "away status reasons (soft-deleted ones included)"),
)

TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
SOURCE_SEGMENT_FIELDS = SEGMENT_FIELDS  # kept for readers of the old name
