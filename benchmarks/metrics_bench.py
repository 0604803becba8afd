"""The support-metrics refresh (`dbt build` of intercom_assets/metrics/) over a current state at benchmark scale.

`python -m benchmarks.metrics_bench --scale large` writes a current state shaped like the one a window tick leaves
(the test server's conversation, part and ticket shapes, through the tables' own converters, in 30 daily files;
the test server's scale: conversations, parts per conversation, tickets), then times the refresh in a child
process exactly as the erasure job runs it (`build_metrics`), and prints wall seconds and the peak RSS of the dbt
process (DuckDB runs inside it) and its CPU time (user + system: on a shared machine the wall time is mostly
waiting). The refresh is a full rebuild, so its cost follows the size of the current state: every conversation of
the scale here, more than a window tick leaves in a fresh lake (15% of them), as much as a lake caught up.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.tables import TABLES_BY_NAME
from intercom_assets_tests.intercom_server.build_conversations import make_part
from intercom_assets_tests.intercom_server.vocab import SCALES

DAY = 86_400
START = 1_767_225_600  # 2026-01-01
ADMINS = [{"type": "admin", "id": str(900 + i), "name": f"Admin {i}", "email": f"a{i}@example.com"} for i in range(40)]
PART_TYPES = ["comment", "comment", "comment", "note", "assignment", "open", "close", "snoozed"]


def _write(root: Path, table: str, rows: list[dict], day_of: str) -> None:
    converter = TABLES_BY_NAME[table].converter()
    by_day: dict[int, list[dict]] = {}
    for row in rows:
        by_day.setdefault((row[day_of] // DAY) % 30, []).append(converter.convert_row(row))
    for day, chunk in by_day.items():
        folder = root / "current" / table / f"date=2026-11-{day + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_batches([converter.to_batch(chunk, START)], converter.schema),
                       folder / "part-0.parquet")


def build_lake(root: Path, scale: str, seed: int = 1) -> dict[str, int]:
    """A current state of `scale`'s conversations, parts and tickets; returns the row counts."""
    size = SCALES[scale]
    rng = random.Random(seed)
    conversations, parts = [], []
    for n in range(size.conversations):
        conv_id, created = str(200_000_000 + n), START + rng.randrange(300 * DAY)
        contact = {"type": "user", "id": f"c{rng.randrange(size.contacts)}"}
        count = rng.randint(size.min_parts, size.max_parts)
        at, mine = created, []
        for k in range(count):
            at += rng.randrange(1, 8 * 3600)
            kind = PART_TYPES[rng.randrange(len(PART_TYPES))] if k else "comment"
            admin = ADMINS[rng.randrange(len(ADMINS))]
            author = contact if kind == "comment" and rng.random() < 0.4 else admin
            part = make_part(f"{conv_id}{k:04d}", kind, "<p>text</p>" if kind in ("comment", "note") else None, at,
                             author, {"type": "admin", "id": admin["id"]} if kind == "assignment" else None)
            mine.append(part)
        parts += [dict(p, conversation_id=conv_id, conversation_updated_at=at, conversation_total_parts=count)
                  for p in mine]
        conversations.append({
            "type": "conversation", "id": conv_id, "created_at": created, "updated_at": at,
            "state": "closed" if rng.random() < 0.6 else "open", "admin_assignee_id": ADMINS[n % 40]["id"],
            "source": {"type": "conversation", "delivered_as": "customer_initiated", "author": contact},
            "contacts": {"type": "contact.list", "contacts": [contact]},
            "statistics": {"count_conversation_parts": count},
        })
    _write(root, "conversations", conversations, "updated_at")
    _write(root, "conversation_parts", parts, "conversation_updated_at")
    tickets = [{"type": "ticket", "id": f"t{n}", "created_at": START + n * 60, "updated_at": START + n * 60 + 600,
                "ticket_state": {"type": "ticket_state", "category": "resolved"}} for n in range(size.tickets)]
    _write(root, "tickets", tickets, "updated_at")
    return {"conversations": len(conversations), "conversation_parts": len(parts), "tickets": len(tickets)}


CHILD = """
import json, resource, sys, time
from intercom_assets.metrics.assets import build_metrics
started = time.monotonic()
build_metrics(sys.argv[1], sys.argv[2])
seconds = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "dbt_cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "dbt_peak_rss_mib": usage.ru_maxrss / 1024}))
"""


def measure(root: Path, staging: Path) -> dict[str, float]:
    """One metrics refresh in a child process: wall seconds and the dbt process's peak RSS."""
    completed = subprocess.run([sys.executable, "-c", CHILD, str(root), str(staging)], capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=sorted(SCALES))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as scratch:
        root = Path(scratch) / "intercom"
        started = time.monotonic()
        counts = build_lake(root, args.scale)
        print(f"current state at {args.scale}: {counts} (written in {time.monotonic() - started:.0f} s)", flush=True)
        for attempt in range(args.repeat):
            figures = measure(root, Path(scratch) / "staging")
            print(f"refresh {attempt + 1}: {figures['seconds']:.1f} s (dbt process CPU "
                  f"{figures['dbt_cpu_seconds']:.1f} s), dbt peak RSS {figures['dbt_peak_rss_mib']:.0f} MiB",
                  flush=True)
    print(f"(this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
