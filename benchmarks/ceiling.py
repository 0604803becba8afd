"""The ceiling: the same pages fetched by a bare sequential loop that only parses JSON and writes Parquet.

No retries, no pacing, no schema, no partitioning: what one Python thread can pull through this server and
pyarrow at best, so the extractor's rows per second have something honest to be compared with.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import requests


def _search(session: requests.Session, url: str, list_key: str, start: int, end: int) -> list[dict[str, Any]]:
    body: dict[str, Any] = {
        "query": {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": start},
            {"field": "updated_at", "operator": "<", "value": end},
        ]},
        "pagination": {"per_page": 150},
    }
    out: list[dict[str, Any]] = []
    while True:
        page = session.post(url, json=body, timeout=60).json()
        out.extend(page[list_key])
        cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
        if not cursor:
            return out
        body["pagination"]["starting_after"] = cursor


def _write(rows: list[dict[str, Any]], path: Path) -> None:
    flat = [{k: (v if isinstance(v, str | int | float | bool) or v is None else str(v)) for k, v in r.items()}
            for r in rows]
    pq.write_table(pa.Table.from_pylist(flat), path)


def run_ceiling(base_url: str, token: str, start: datetime, end: datetime, out_dir: Path) -> dict[str, float]:
    """Fetch the window's contacts, companies, conversations and their parts sequentially; rows per second."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                            "Intercom-Version": "2.16"})
    out_dir.mkdir(parents=True, exist_ok=True)
    s, e = int(start.timestamp()), int(end.timestamp())
    began = time.monotonic()
    contacts = _search(session, f"{base_url}/contacts/search", "data", s, e)
    companies: list[dict[str, Any]] = []
    page = session.get(f"{base_url}/companies/scroll", timeout=60).json()
    while page.get("data"):
        companies.extend(c for c in page["data"] if s <= c["updated_at"] < e)
        page = session.get(f"{base_url}/companies/scroll", params={"scroll_param": page["scroll_param"]},
                           timeout=60).json()
    conversations = _search(session, f"{base_url}/conversations/search", "conversations", s, e)
    parts: list[dict[str, Any]] = []
    for conversation in conversations:
        detail = session.get(f"{base_url}/conversations/{conversation['id']}", timeout=60).json()
        parts.extend(detail["conversation_parts"]["conversation_parts"])
    for name, rows in (("contacts", contacts), ("companies", companies), ("conversations", conversations),
                       ("conversation_parts", parts)):
        _write(rows, out_dir / f"{name}.parquet")
    seconds = time.monotonic() - began
    total = len(contacts) + len(companies) + len(conversations) + len(parts)
    return {"rows": total, "seconds": seconds, "rows_per_second": total / seconds}
