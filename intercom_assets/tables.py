"""One declaration per Intercom table: where its rows come from, its key, its partition rule, its columns.

Everything else (assets, checks, extraction, the IO manager's layout) is generated from this registry, so adding
a table means adding one entry here. Column shapes follow Intercom's 2.16 description; open-ended maps
(custom attributes, polymorphic event details) are JSON text so no value is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intercom_assets.columns.companies import COMPANY_FIELDS, COMPANY_SEGMENT_FIELDS
from intercom_assets.columns.contacts import CONTACT_FIELDS
from intercom_assets.columns.conversations import CONVERSATION_FIELDS, CONVERSATION_PART_FIELDS
from intercom_assets.columns.shared import SEGMENT_FIELDS
from intercom_assets.columns.workspace import ADMIN_FIELDS, DATA_ATTRIBUTE_FIELDS, TAG_FIELDS, TEAM_FIELDS
from intercom_assets.schemas import FieldType, RowConverter

# How a table's rows are fetched. Several tables share one source so each API pass happens once per run.
SOURCE_CONTACTS = "contacts_search"
SOURCE_COMPANIES = "companies_scroll"
SOURCE_CONVERSATIONS = "conversations_search"
SOURCE_CONVERSATION_DETAILS = "conversation_details"
SOURCE_LIST = "list"


PAGING_METHODS = {"search": "POST", "scroll": "GET", "single": "GET", "by_id": "GET"}


@dataclass(frozen=True)
class Source:
    """One API request pattern: the path, the key of the record list, and how it pages."""

    name: str
    paging: str  # "search" | "scroll" | "single" | "by_id"
    path: str
    list_key: str
    params: Mapping[str, str] = field(default_factory=dict)
    after: Source | None = None  # by_id: the source whose records' ids this one fetches

    @property
    def request(self) -> str:
        """The request as Intercom documents it, e.g. `GET /data_attributes?model=contact`."""
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{PAGING_METHODS[self.paging]} {self.path}" + (f"?{query}" if query else "")

    @property
    def lineage(self) -> str:
        """A unique name for this pass (list sources share `name`, so theirs comes from the path)."""
        if self.name != SOURCE_LIST:
            return self.name
        words = [w for w in self.path.strip("/").split("/") if w] + [str(v) for v in self.params.values()]
        return "_".join(words).replace("-", "_")


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
    parent: str | None = None  # another table whose source records this one is derived from
    parent_key: str | None = None  # column naming the parent record, when one record yields many rows
    # Column holding how many parts the parent really has, for tables of capped parts (the API returns 500).
    part_total_column: str | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.partition_column is None

    def converter(self) -> RowConverter:
        """The record → Arrow converter for this table's declared schema."""
        return RowConverter(self.fields, non_null=self.key)


# ---- row derivations --------------------------------------------------------------------------------------
def _with_role(role: str) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    def rows(record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        return (record,) if record.get("role") == role else ()

    return rows


def company_segment_rows(company: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """One row per (company, segment) membership from the company's embedded segment list."""
    segments = (company.get("segments") or {}).get("segments") or []
    for segment in segments:
        yield {**segment, "company_id": company.get("id"), "company_updated_at": company.get("updated_at")}


def conversation_part_rows(conversation: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Each part of a fetched conversation, carrying its parent's id and the parent's replication time.

    `conversation_updated_at` is the time the conversation search reported (stored by the extractor under
    `_search_updated_at`), so parts land in the same day partition as their conversation row.
    """
    container = conversation.get("conversation_parts") or {}
    parts = container.get("conversation_parts") or []
    total = container.get("total_count")
    parent_updated = conversation.get("_search_updated_at", conversation.get("updated_at"))
    for part in parts:
        yield {
            **part,
            "conversation_id": conversation.get("id"),
            "conversation_updated_at": parent_updated,
            "conversation_total_parts": total,
        }


def data_attribute_rows(attribute: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Built-in attributes have no id: `id` is the API id when present, else `<model>:<full_name>`."""
    api_id = attribute.get("id")
    row = {k: v for k, v in attribute.items() if k != "id"}
    row["api_id"] = api_id
    row["id"] = (
        str(api_id) if api_id is not None else f"{attribute.get('model')}:{attribute.get('full_name')}"
    )
    yield row


# ---- the registry -----------------------------------------------------------------------------------------
CONTACTS_SEARCH = Source(SOURCE_CONTACTS, "search", "/contacts/search", "data")
COMPANIES_SCROLL = Source(SOURCE_COMPANIES, "scroll", "/companies/scroll", "data")
CONVERSATIONS_SEARCH = Source(SOURCE_CONVERSATIONS, "search", "/conversations/search", "conversations")
CONVERSATION_DETAILS = Source(
    SOURCE_CONVERSATION_DETAILS, "by_id", "/conversations/{id}", "conversation_parts", after=CONVERSATIONS_SEARCH
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
        parent="contacts",
    )


def _data_attributes(model: str) -> TableSpec:
    """Daily snapshot of one model's data attributes; built-ins get a synthetic id."""
    return TableSpec(
        name=f"{model}_attributes",
        source=Source(SOURCE_LIST, "single", "/data_attributes", "data", {"model": model}),
        partition_column=None,
        fields=DATA_ATTRIBUTE_FIELDS,
        description=f"Daily snapshot of {model} data attributes (built-in and custom).",
        replaces="none (new)",
        rows=data_attribute_rows,
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
    TableSpec(
        name="companies",
        source=COMPANIES_SCROLL,
        partition_column="updated_at",
        fields=COMPANY_FIELDS,
        description="Companies from the scroll API, filtered to the run's window on updated_at.",
        replaces="companies",
    ),
    TableSpec(
        name="company_segments",
        source=COMPANIES_SCROLL,
        key=("company_id", "id"),
        partition_column="company_updated_at",
        fields=COMPANY_SEGMENT_FIELDS,
        description="One row per (company, segment) membership, from each company's embedded segments.",
        replaces="company_segments",
        rows=company_segment_rows,
        parent="companies",
        parent_key="company_id",
    ),
    TableSpec(
        name="conversations",
        source=CONVERSATIONS_SEARCH,
        partition_column="updated_at",
        fields=CONVERSATION_FIELDS,
        description="Conversations from the conversation search over the run's window.",
        replaces="conversations",
    ),
    TableSpec(
        name="conversation_parts",
        source=CONVERSATION_DETAILS,
        partition_column="conversation_updated_at",
        fields=CONVERSATION_PART_FIELDS,
        description="Parts of each conversation in the window (the API returns at most the 500 newest).",
        replaces="conversations__conversation_parts",
        rows=conversation_part_rows,
        parent="conversations",
        parent_key="conversation_id",
        part_total_column="conversation_total_parts",
    ),
    TableSpec(
        name="admins",
        source=Source(SOURCE_LIST, "single", "/admins", "admins"),
        partition_column=None,
        fields=ADMIN_FIELDS,
        description="Daily snapshot of the workspace's admins.",
        replaces="admins",
    ),
    TableSpec(
        name="teams",
        source=Source(SOURCE_LIST, "single", "/teams", "teams"),
        partition_column=None,
        fields=TEAM_FIELDS,
        description="Daily snapshot of the workspace's teams.",
        replaces="none (new)",
    ),
    TableSpec(
        name="tags",
        source=Source(SOURCE_LIST, "single", "/tags", "data"),
        partition_column=None,
        fields=TAG_FIELDS,
        description="Daily snapshot of the workspace's tags.",
        replaces="tags",
    ),
    TableSpec(
        name="segments",
        source=Source(SOURCE_LIST, "single", "/segments", "segments", {"include_count": "true"}),
        partition_column=None,
        fields=SEGMENT_FIELDS,
        description="Daily snapshot of the workspace's segments.",
        replaces="segments",
    ),
    _data_attributes("contact"),
    _data_attributes("company"),
)

TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
