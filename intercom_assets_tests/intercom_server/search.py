"""Search query semantics of POST /contacts/search, POST /conversations/search and POST /tickets/search.

Contacts compare timestamp fields by whole day in the workspace time zone (2.16 description,
"Searching for Timestamp Fields"): `>` starts at the next workspace day, `<` ends before the
value's workspace day, `=` is that day, and `!=`, `>=`, `<=`, IN, NIN are errors on dates.

Conversations compare timestamps on exact seconds. The description calls `>` "greater (or equal)"
and `<` "lower (or equal)"; this server implements `>` as `>=` (as documented and as the facts file
says) and `<` as strictly lower, so `(> start) AND (< end)` is the half-open range [start, end).
That pairing is the one a client cannot get wrong by accident: it must widen its query and filter
exact seconds on its side either way. `>=` and `<=` are not in the conversation operator table and
answer 400.

Tickets compare timestamps as conversations do, except that `>=` and `<=` are allowed on `created_at` (the
description says so). Their searchable fields are partly synthetic (`state` is the ticket state's category,
`category` compares against the search terms `request`/`task`/`tracker`, `ticket_attribute.{id}` names an
attribute by id): see `ticket_field`.

This module says what matches; search_plan.py finds the matches (from the `updated_at` index when it can).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .build_tickets import CATEGORY_TERMS
from .errors import ApiError
from .workspace import Workspace

MAX_GROUP_FILTERS = 15
MAX_COMPOUND_DEPTH = 3
CONTACT_DATE_FIELDS = frozenset({
    "created_at", "signed_up_at", "updated_at", "last_seen_at", "last_contacted_at", "last_replied_at",
    "last_email_opened_at", "last_email_clicked_at",
})
CONVERSATION_DATE_FIELDS = frozenset({
    "created_at", "updated_at", "waiting_since", "snoozed_until", "statistics.first_contact_reply_at",
    "statistics.first_admin_reply_at", "statistics.last_contact_reply_at",
})
TICKET_DATE_FIELDS = frozenset({"created_at", "updated_at", "snoozed_until"})
STRING_OPERATORS = frozenset({"~", "!~", "^", "$"})
ALL_OPERATORS = frozenset({"=", "!=", "IN", "NIN", "<", "<=", ">", ">="}) | STRING_OPERATORS
UNBOUNDED = 2**62

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class Sort:
    """A validated sort specification."""

    field: str
    descending: bool


def get_path(record: Record, path: str) -> Any:
    """Value at a dotted path ("custom_attributes.seats", "source.author.id"); None when absent."""
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _conversation_lists(record: Record, path: str) -> list[str] | None:
    """The id lists conversation search exposes under synthetic field names."""
    if path == "contact_ids":
        return [c["id"] for c in record["contacts"]["contacts"]]
    if path == "teammate_ids":
        teammates = record.get("teammates") or {}
        return [t["id"] for t in teammates.get("admins", teammates.get("teammates", []))]
    if path == "tag_ids":
        return [t["id"] for t in record["tags"]["tags"]]
    return None


def ticket_field(record: Record, path: str) -> Any:
    """Value of a ticket search field (several are not plain paths into the ticket object)."""
    if path == "contact_ids":
        return [c["id"] for c in record["contacts"]["contacts"]]
    if path == "teammate_ids":
        return [str(record["admin_assignee_id"])] if record["admin_assignee_id"] else []
    if path in ("admin_assignee_id", "team_assignee_id"):
        return str(record[path])
    if path == "ticket_type_id":
        return record["ticket_type"]["id"]
    if path == "state":
        return record["ticket_state"]["category"]
    if path == "category":
        return CATEGORY_TERMS.get(record["category"])
    if path in ("title", "description"):
        return record["ticket_attributes"].get(f"_default_{path}_")
    if path.startswith("ticket_attribute."):
        wanted = path.split(".", 1)[1]
        for attr in record["ticket_type"]["ticket_type_attributes"]["data"]:
            if attr["id"] == wanted:
                return record["ticket_attributes"].get(attr["name"])
        return None
    return get_path(record, path)


def _as_timestamp(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ApiError(f"{field} accepts a date (UNIX timestamp), not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ApiError(f"{field} accepts a date (UNIX timestamp), not {value!r}") from None


def _comparable(value: Any, like: Any) -> Any:
    """Coerce a query value to the record value's type so "123" matches 123 and "true" matches True."""
    if isinstance(like, bool):
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(like, (int, float)) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(like, str) and not isinstance(value, str) and value is not None:
        return str(value)
    return value


class QueryCompiler:
    """Turns a search `query` into a predicate for one kind of record."""

    def __init__(self, kind: str, workspace: Workspace) -> None:
        self.kind = kind
        self.workspace = workspace
        self.date_fields = {"contacts": CONTACT_DATE_FIELDS, "tickets": TICKET_DATE_FIELDS}.get(
            kind, CONVERSATION_DATE_FIELDS)
        self.fields: set[str] = set()
        """Every field the compiled query reads (search_plan evaluates some queries on partial records)."""

    def compile(self, query: Any) -> Predicate:
        if not isinstance(query, dict):
            raise ApiError("query must be an object", code="parameter_invalid")
        return self._node(query, 0)

    def _node(self, node: Any, depth: int) -> Predicate:
        if not isinstance(node, dict):
            raise ApiError("each filter must be an object")
        operator = node.get("operator")
        if operator in ("AND", "OR") and "field" not in node:
            return self._compound(operator, node.get("value"), depth + 1)
        return self._single(node)

    def _compound(self, operator: str, value: Any, depth: int) -> Predicate:
        if depth > MAX_COMPOUND_DEPTH:
            raise ApiError("There's a limit of max 2 nested filters")
        if not isinstance(value, list) or not value:
            raise ApiError(f"{operator} needs a non-empty list of filters")
        if len(value) > MAX_GROUP_FILTERS:
            raise ApiError(f"There's a limit of max {MAX_GROUP_FILTERS} filters for each AND or OR group")
        children = [self._node(child, depth) for child in value]
        if operator == "AND":
            return lambda r: all(child(r) for child in children)
        return lambda r: any(child(r) for child in children)

    def _single(self, node: dict[str, Any]) -> Predicate:
        field, operator = node.get("field"), node.get("operator")
        if not isinstance(field, str) or not field:
            raise ApiError("a filter needs a field")
        if operator not in ALL_OPERATORS:
            raise ApiError(f"operator {operator!r} is not supported")
        if "value" not in node:
            raise ApiError(f"filter on {field} needs a value")
        if field in self.workspace.unsearchable.get(self.kind, ()):
            raise ApiError(f"{field} is not a searchable field", code="parameter_invalid")
        self.fields.add(field)
        value = node["value"]
        if operator in ("IN", "NIN") and not isinstance(value, list):
            raise ApiError(f"{operator} needs an array value")
        if field in self.date_fields:
            return self._date(field, operator, value)
        return self._plain(field, operator, value)

    def _date(self, field: str, operator: str, value: Any) -> Predicate:
        if operator in STRING_OPERATORS:
            raise ApiError(f"operator {operator} is not supported on date field {field}")
        if self.kind == "contacts":
            if operator not in ("=", ">", "<"):
                raise ApiError(f"operator {operator} is not supported on date field {field}")
            ts = _as_timestamp(field, value)
            day = self.workspace.local_day(ts)
            start = self.workspace.day_start(day)
            end = self.workspace.day_start(day + timedelta(days=1))
            if operator == ">":
                return lambda r: (v := get_path(r, field)) is not None and v >= end
            if operator == "<":
                return lambda r: (v := get_path(r, field)) is not None and v < start
            return lambda r: (v := get_path(r, field)) is not None and start <= v < end
        if operator in (">=", "<="):
            if self.kind != "tickets" or field != "created_at":
                raise ApiError(f"operator {operator} is not supported on date field {field}")
            ts = _as_timestamp(field, value)
            if operator == ">=":
                return lambda r: (v := get_path(r, field)) is not None and v >= ts
            return lambda r: (v := get_path(r, field)) is not None and v <= ts
        if operator in ("IN", "NIN"):
            wanted = {_as_timestamp(field, v) for v in value}
            if operator == "IN":
                return lambda r: get_path(r, field) in wanted
            return lambda r: get_path(r, field) not in wanted
        if value is None and operator in ("=", "!="):
            return (lambda r: get_path(r, field) is None) if operator == "=" else (
                lambda r: get_path(r, field) is not None)
        ts = _as_timestamp(field, value)
        if operator == ">":
            return lambda r: (v := get_path(r, field)) is not None and v >= ts
        if operator == "<":
            return lambda r: (v := get_path(r, field)) is not None and v < ts
        if operator == "=":
            return lambda r: get_path(r, field) == ts
        return lambda r: get_path(r, field) != ts

    def updated_span(self, operator: Any, value: Any) -> tuple[int, int] | None:
        """[low, high) holding every `updated_at` a compiled filter on it accepts (same day arithmetic as `_date`);
        None when the filter is not one range (`!=`, IN, NIN, null)."""
        if operator not in (">", "<", "=") or value is None:
            return None
        ts = _as_timestamp("updated_at", value)
        if self.kind == "contacts":
            day = self.workspace.local_day(ts)
            start, end = self.workspace.day_start(day), self.workspace.day_start(day + timedelta(days=1))
            return {">": (end, UNBOUNDED), "<": (-UNBOUNDED, start), "=": (start, end)}[operator]
        return {">": (ts, UNBOUNDED), "<": (-UNBOUNDED, ts), "=": (ts, ts + 1)}[operator]

    def _plain(self, field: str, operator: str, value: Any) -> Predicate:
        id_list = self.kind == "conversations" and field in ("contact_ids", "teammate_ids", "tag_ids")
        tickets = self.kind == "tickets"

        def getter(record: Record) -> Any:
            if tickets:
                return ticket_field(record, field)
            return _conversation_lists(record, field) if id_list else get_path(record, field)

        def test(record: Record) -> bool:
            actual = getter(record)
            if isinstance(actual, list):
                if operator in ("=", "IN"):
                    wanted = value if isinstance(value, list) else [value]
                    return any(str(w) in actual for w in wanted)
                if operator in ("!=", "NIN"):
                    wanted = value if isinstance(value, list) else [value]
                    return not any(str(w) in actual for w in wanted)
                return False
            if operator == "=":
                return actual == _comparable(value, actual)
            if operator == "!=":
                return actual != _comparable(value, actual)
            if operator == "IN":
                return any(actual == _comparable(v, actual) for v in value)
            if operator == "NIN":
                return all(actual != _comparable(v, actual) for v in value)
            if operator in STRING_OPERATORS:
                if not isinstance(actual, str):
                    return False
                text, needle = actual.lower(), str(value).lower()
                if operator == "~":
                    return needle in text
                if operator == "!~":
                    return needle not in text
                if operator == "^":
                    return text.startswith(needle)
                return text.endswith(needle)
            if actual is None or isinstance(actual, (str, bool)):
                return False
            other = _comparable(value, actual)
            if not isinstance(other, (int, float)) or isinstance(other, bool):
                raise ApiError(f"operator {operator} needs a number for {field}")
            return {"<": actual < other, ">": actual > other, "<=": actual <= other, ">=": actual >= other}[operator]

        return test


def parse_sort(raw: Any) -> Sort | None:
    """Validate a body `sort` object; the error matches the description's invalid_sort_order example."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("field"), str):
        raise ApiError("sort needs a field", code="parameter_invalid")
    order = raw.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise ApiError(f"Invalid sort order '{order}'. Must be one of: ascending, descending",
                          code="invalid_sort_order")
    return Sort(raw["field"], order == "descending")


def sort_records(records: list[Record], sort: Sort | None) -> list[Record]:
    """Order results; nulls first when ascending, ties broken by id so paging is stable."""
    if sort is None:
        return records

    def key(record: Record) -> tuple[int, Any, str]:
        value = get_path(record, sort.field)
        if value is None:
            return (0, 0, record["id"])
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        return (1, value, record["id"])

    try:
        return sorted(records, key=key, reverse=sort.descending)
    except TypeError:
        return sorted(records, key=lambda r: (key(r)[0], str(key(r)[1]), r["id"]), reverse=sort.descending)
