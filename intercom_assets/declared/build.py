"""Builders of the usual kinds of registry entry: snapshots of a small list, contacts of one role, child tables,
lists windowed on a field, and the row rules (a role filter, a record without a list another table holds)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from intercom_assets.columns.contacts import CONTACT_FIELDS
from intercom_assets.columns.workspace import DATA_ATTRIBUTE_FIELDS
from intercom_assets.declarations import PAGES, WINDOW_FIELD, Children, Cost, Source, TableSpec
from intercom_assets.declared.sources import CONTACTS_SEARCH
from intercom_assets.schemas import FieldType


def with_role(role: str) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    def rows(record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        return (record,) if record.get("role") == role else ()

    return rows


def without(key: str) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
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


def snapshot_list(name: str, path: str, list_key: str, params: Mapping[str, str] | None = None) -> Source:
    """A small list read whole."""
    return Source(name, PAGES, path, list_key, params or {})


def snapshot_table(name: str, source: Source, fields: Mapping[str, FieldType], what: str, replaces: str = "none (new)",
                   rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None,
                   described_by: str | None = None) -> TableSpec:
    """A small list taken whole on the day of extraction."""
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


def contacts_with_role(name: str, role: str, replaces: str) -> TableSpec:
    """Contacts of one role, derived from the same contact search pass (no extra API calls)."""
    return TableSpec(
        name=name,
        source=CONTACTS_SEARCH,
        partition_column="updated_at",
        fields=CONTACT_FIELDS,
        description=f"Contacts with role '{role}', derived from the contact search (no extra API calls).",
        replaces=replaces,
        rows=with_role(role),
        subset_of="contacts",
        described_by="contact",
    )


def child_table(name: str, children: Children, source: Source, fields: Mapping[str, FieldType], description: str,
                replaces: str = "none (new)", key: tuple[str, ...] | None = None, cost: Cost | None = None,
                described_by: str | None = None, snapshot: bool = False,
                rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None,
                partition_column: str | None = None) -> TableSpec:
    """Rows that are a list of each parent record, beside the parent (or, for a snapshot parent's per-record
    list, `snapshot`: in the day of extraction; for records of their own, their own `partition_column`)."""
    return TableSpec(
        name=name,
        source=source,
        partition_column=None if snapshot else partition_column or children.version_column,
        fields=fields,
        description=description,
        replaces=replaces,
        key=key or (children.id_column, "id"),
        children=children,
        described_by=described_by,
        **({"cost": cost} if cost else {}),
        **({"rows": rows} if rows else {}),
    )


def data_attributes(model: str) -> TableSpec:
    """Daily snapshot of one model's data attributes; built-ins get a synthetic id."""
    return snapshot_table(
        f"{model}_attributes",
        snapshot_list(f"{model}_attributes", "/data_attributes", "data", {"model": model}),
        DATA_ATTRIBUTE_FIELDS,
        f"{model} data attributes (built-in and custom)",
        rows=data_attribute_rows,
        described_by="data_attribute",
    )


def windowed_table(name: str, path: str, fields: Mapping[str, FieldType], what: str, newest_first: bool = False,
                   described_by: str | None = None, since_param: str | None = None,
                   params: Mapping[str, str] | None = None) -> TableSpec:
    """A list whose records are kept when their updated_at falls in the run's range: read whole, or, when it
    comes newest first, down to the range's first day (from it, when the list takes the window's start)."""
    read = ("the list comes newest first and is read down to the run's first day"
            if newest_first else "the full list is read")
    if since_param:
        read = f"the list is asked for records updated since the run's first day ({since_param}), newest first"
    return TableSpec(
        name=name,
        source=Source(name, PAGES, path, "data", params or {}, window=WINDOW_FIELD, newest_first=newest_first,
                      since_param=since_param),
        partition_column="updated_at",
        fields=fields,
        description=f"{what}: {read}; each record is kept in the day of its updated_at.",
        replaces="none (new)",
        described_by=described_by,
    )


