"""The vocabulary of a table declaration: API sources, how they page and signal deletions, child lists, tables.

`tables.py` holds the entries (one per Intercom table); this module only says what an entry can state, and how
the rows of a child table are read out of a parent record. Nothing here names a table, a path or a source: every
module that needs one asks the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intercom_assets.schemas import FieldType, RowConverter

# How a source's requests page, and how the run's window reaches them.
SEARCH = "search"  # POST …/search, cursor in the body; the window is a server-side updated_at filter
SCROLL = "scroll"  # GET /companies/scroll: every record; the window is applied here, on `window_field`
PAGES = "pages"  # GET with `pages.next` (a cursor or a page number), or a single page
BY_ID = "by_id"  # GET …/{id} per parent record
BATCH = "batch"  # POST with many parents' values in the body (`batch_field`, `batch_size` at most)
PAGING_METHODS = {SEARCH: "POST", SCROLL: "GET", PAGES: "GET", BY_ID: "GET", BATCH: "POST"}
# How the window applies to a PAGES source: by request parameters (created_at_after/before), or here.
WINDOW_PARAMS = "params"
WINDOW_FIELD = "field"
# Why a record left Intercom (or the lake): the `reason` of deleted_records.
DELETED, MERGED, ERASED = "deleted", "merged", "erased"


@dataclass(frozen=True)
class Probe:
    """A per-record request that confirms a record missing from a complete listing is really gone: the answer's
    status says why (404: deleted, 410: merged away); any other answer keeps the record (archived, lagging)."""

    path: str
    gone: Mapping[int, str]


@dataclass(frozen=True)
class MergeHistory:
    """A list inside each record naming the records merged into it (a user's merged leads)."""

    field: str
    source_id: str
    merged_at: str


@dataclass(frozen=True)
class DeletionSignal:
    """How Intercom tells that a record of a source is gone; a source may give several signals.

    - `deleted_list`: a list of deleted records, newest first (`id`, `deleted_at`): read down to the newest
      deletion already logged;
    - `merges`: the surviving record names the merged ones;
    - `sweep`: no list exists: on the sweep cadence the source is read over all time, and a stored record it did
      not list is confirmed gone by `probe`;
    - `complete`: every pass of the source lists every record (a scroll), so a stored record a complete pass did
      not list is confirmed gone by `probe`.
    """

    deleted_list: Source | None = None
    deleted_at: str = "deleted_at"
    merges: MergeHistory | None = None
    sweep: bool = False
    complete: bool = False
    probe: Probe | None = None


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
    # A WINDOW_FIELD list that comes sorted by `window_field`, newest first (the description says so of GET
    # /articles): it is read only down to the run's window, the rest being older still.
    newest_first: bool = False
    # A WINDOW_FIELD list that takes the window's start as a parameter (GET /macros?updated_since=): the server
    # leaves older records out, so a run reads only the window's pages.
    since_param: str | None = None
    # BATCH: the body's list of values, and how many one request takes
    batch_field: str | None = None
    batch_size: int = 0
    # A per-parent request windowed by parameters of its own, (start, end) in Unix seconds (a data connector's
    # runs: start_ts, end_ts; without them the API answers the last hour only)
    window_params: tuple[str, str] | None = None
    deletions: DeletionSignal | None = None

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
    # Rows are the items of this list inside each item (a side conversation's parts), each carrying its item's
    # `within_id` (the side conversation's id).
    within: str | None = None
    within_id: str = "id"
    within_keep: tuple[str, ...] = ()  # other fields of the item each inner row carries (a transcript's status)
    within_index: str | None = None  # column numbering the inner rows from 0 (a transcript's line order)
    # BATCH fetch: the parent field whose values the request takes (a call's conversation_id; parents without
    # one are not asked), and the answer items' field naming the parent (the call's id)
    batch_by: str | None = None
    match_on: str = "id"
    # Each item is a record of its own (a data connector's runs): keyed by its id and partitioned by its own time,
    # not a list replaced whole with its parent's next version
    records: bool = False
    # Columns copied out of each item, (column, dotted path): a key column nested in an object (teammate.id).
    lift: tuple[tuple[str, str], ...] = ()

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
class Owners:
    """The records of another table a record belongs to, listed inside it (a conversation's contacts at
    `contacts.contacts`): a record whose every owner is erased is erased with them."""

    table: str
    path: str


@dataclass(frozen=True)
class Cost:
    """What a table costs beyond the pass it shares: requests per parent record the pass reads (a contact's notes:
    one per changed contact), and whether the default selection takes it. A table that costs a request per
    contact, company or conversation is `opt_in`: INTERCOM_TABLES switches it on by name."""

    requests_per_parent: int = 0
    opt_in: bool = False


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
    # Erasure: the column holding a person's email when this table's records are the people an erasure names;
    # and the records this table's records belong to (they leave with the last of them).
    person_email: str | None = None
    owners: Owners | None = None
    # The table of what the deletion signals found (deleted_records): written by the run from its detections.
    logs_deletions: bool = False
    # The 2.16 description's component schema one row is (for a child table: the item's; where a list and a
    # retrieve answer differ, the fuller one). test_field_coverage walks it: every property it gives is a
    # declared column, or excluded with a reason in columns/undeclared.py. None only for the deletion log.
    described_by: str | None = None
    cost: Cost = field(default_factory=Cost)

    @property
    def in_default_selection(self) -> bool:
        """Whether the default selection (INTERCOM_TABLES unset) takes this table."""
        return not self.cost.opt_in

    @property
    def is_snapshot(self) -> bool:
        return self.partition_column is None

    @property
    def has_current_state(self) -> bool:
        """Whether the table keeps a current state (one row per record): tables with history, not the log."""
        return not self.is_snapshot and not self.logs_deletions

    @property
    def is_record_table(self) -> bool:
        """Whether each row is one record of its source (not a child list, a subset or the deletion log)."""
        return self.children is None and self.subset_of is None and not self.logs_deletions

    @property
    def parent(self) -> str | None:
        """The table whose records this one's rows belong to (children's parent, or the table it subsets)."""
        return self.children.parent if self.children else self.subset_of

    @property
    def parent_key(self) -> str | None:
        """Column naming the parent record, when one parent record yields many rows (a list replaced whole)."""
        return self.children.id_column if self.children and not self.children.records else None

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


def value_at(record: Any, dotted: str) -> Any:
    """The value at a dotted path inside a record (None where a step is missing)."""
    for part in dotted.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def embedded_items(record: Mapping[str, Any], children: Children) -> list[dict[str, Any]] | None:
    """The parent's own list of children, or None when it is missing or truncated (then it must be fetched)."""
    if children.embedded is None:
        return None
    container_path, _, list_name = children.embedded.rpartition(".")
    container = value_at(record, container_path) if container_path else record
    items = container.get(list_name) if isinstance(container, dict) else None
    if not isinstance(items, list):
        return None if children.fetch is not None else []
    total = container.get("total_count")
    truncated = container.get("has_more") is True or (isinstance(total, int) and total > len(items))
    return None if truncated and children.fetch is not None else items


def fetched_items(answer: Mapping[str, Any], children: Children) -> tuple[list[dict[str, Any]], int | None]:
    """The children in a per-parent answer, and the parent's true count of them when the answer gives one."""
    items = value_at(answer, children.fetched)
    total = value_at(answer, children.total) if children.total else None
    return (items if isinstance(items, list) else []), (total if isinstance(total, int) else None)


def child_rows(
    children: Children, parent_id: str, version: int | None, items: Iterable[dict[str, Any]], total: int | None
) -> Iterable[dict[str, Any]]:
    """Each item with its parent's id and replication time (and true count, for capped part lists)."""
    extra: dict[str, Any] = {children.id_column: parent_id, children.version_column: version}
    if children.total_column is not None:
        extra[children.total_column] = total
    for item in items:
        if not isinstance(item, dict):
            continue
        if children.within is None:
            yield {**item, **{column: value_at(item, path) for column, path in children.lift}, **extra}
            continue
        inner = value_at(item, children.within)
        kept = {name: item.get(name) for name in (children.within_id, *children.within_keep)}
        for index, sub in enumerate(inner if isinstance(inner, list) else ()):
            if isinstance(sub, dict):
                numbered = {children.within_index: index} if children.within_index else {}
                yield {**sub, **kept, **numbered, **extra}
