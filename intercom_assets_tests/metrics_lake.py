"""Hand-built lakes for the support-metrics tests: current-state files written through the tables' own converters
(the schema the product writes), and the office hours tables in the 2.16 description's shape."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.tables import TABLES_BY_NAME

INTERVAL = pa.struct([("start_minute", pa.int64()), ("end_minute", pa.int64()), ("day_of_week", pa.int64())])


def epoch(text: str) -> int:
    """Unix seconds of an ISO time in UTC ("2026-03-06T21:00")."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def write_current(root: Path, table: str, records: Iterable[dict[str, Any]], extracted_at: int,
                  day: str = "2026-03-12") -> None:
    """`records` (API-shaped) as the current state of `table`, in one day's file."""
    converter = TABLES_BY_NAME[table].converter()
    batch = converter.to_batch([converter.convert_row(r) for r in records], extracted_at)
    folder = root / "current" / table / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_batches([batch], converter.schema), folder / "part-0.parquet")


def write_snapshot(root: Path, table: str, rows: list[dict[str, Any]], schema: pa.Schema, day: str) -> None:
    """A snapshot table's day (rows already in column form)."""
    folder = root / table / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema), folder / "part-0.parquet")


def write_declared_snapshot(root: Path, table: str, records: list[dict[str, Any]], extracted_at: int, day: str
                            ) -> None:
    """A declared snapshot table's day (admins, teams), through its converter."""
    converter = TABLES_BY_NAME[table].converter()
    batch = converter.to_batch([converter.convert_row(r) for r in records], extracted_at)
    folder = root / table / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_batches([batch], converter.schema), folder / "part-0.parquet")


SCHEDULE_SCHEMA = pa.schema([
    ("type", pa.string()), ("id", pa.string()), ("name", pa.string()), ("time_zone_name", pa.string()),
    ("time_intervals", pa.list_(INTERVAL)), ("twenty_four_seven", pa.bool_()),
    ("created_at", pa.timestamp("ms", tz="UTC")), ("updated_at", pa.timestamp("ms", tz="UTC")),
])

EXCEPTION_SCHEMA = pa.schema([
    ("type", pa.string()), ("id", pa.string()), ("office_hours_schedule_id", pa.string()),
    ("exception_date", pa.string()), ("exception_type", pa.string()), ("name", pa.string()),
    ("time_intervals", pa.list_(INTERVAL)), ("recurring_annually", pa.bool_()),
    ("created_at", pa.timestamp("ms", tz="UTC")), ("updated_at", pa.timestamp("ms", tz="UTC")),
])


def weekdays(start_hour: int, end_hour: int) -> list[dict[str, int]]:
    """Monday to Friday, start_hour to end_hour, as minutes from Monday 00:00."""
    return [{"start_minute": d * 1440 + start_hour * 60, "end_minute": d * 1440 + end_hour * 60, "day_of_week": d}
            for d in range(5)]


def part(part_id: str, part_type: str, at: str, author: dict[str, Any], body: str | None = None,
         assigned_to: dict[str, Any] | None = None) -> dict[str, Any]:
    """One conversation part in the 2.16 shape."""
    return {"type": "conversation_part", "id": part_id, "part_type": part_type, "body": body,
            "created_at": epoch(at), "updated_at": epoch(at), "assigned_to": assigned_to, "author": author,
            "redacted": False, "state": "closed" if part_type == "close" else "open"}


def conversation(conv_id: str, created: str, contact: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A conversation in the 2.16 shape, opened by `contact` unless `source` says otherwise."""
    record = {
        "type": "conversation", "id": conv_id, "created_at": epoch(created), "updated_at": epoch(created),
        "state": "open", "open": True, "admin_assignee_id": None, "team_assignee_id": None,
        "source": {"type": "conversation", "id": f"src-{conv_id}", "delivered_as": "customer_initiated",
                   "body": "<p>Hello</p>", "author": {"type": contact["role"], "id": contact["id"]}},
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact["id"]}]},
        "tags": {"type": "tag.list", "tags": []},
        "ai_agent_participated": False,
    }
    record.update(fields)
    return record
