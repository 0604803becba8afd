"""Which records a search answers, in order: read from the `updated_at` index when the query bounds it.

A scan renders every record of the kind (a second per search at a million contacts); the window queries an
extractor sends (`updated_at > A AND updated_at < B`, sorted by `updated_at`) only need the records in
[A, B). So: the top-level filters on `updated_at` give a range, the index gives the records in it, and the
FULL predicate is still applied to each of them, so the answer is exactly what the scan answers. A query
that reads only `updated_at` (and `id`) is evaluated on partial records {"id", "updated_at"}, nothing
rendered; sorted by `updated_at`, the index order is already the answer's order.
"""

from __future__ import annotations

from typing import Any

from .search import UNBOUNDED, Predicate, QueryCompiler, Sort, sort_records
from .store import SEQ
from .workspace import Workspace

LIGHT_FIELDS = frozenset({"id", "updated_at"})


def updated_bounds(compiler: QueryCompiler, query: dict[str, Any]) -> tuple[int, int] | None:
    """[low, high) every match's `updated_at` lies in, from a top-level filter on it or the filters on it among a
    top-level AND's children; None when they do not bound it. The query must have compiled already."""
    nodes = query["value"] if query.get("operator") == "AND" and "field" not in query else [query]
    low, high, bounded = -UNBOUNDED, UNBOUNDED, False
    for node in nodes:
        if node.get("field") != "updated_at":
            continue
        span = compiler.updated_span(node.get("operator"), node.get("value"))
        if span is not None:
            low, high, bounded = max(low, span[0]), min(high, span[1]), True
    return (low, high) if bounded else None


def find_ids(ws: Workspace, kind: str, compiler: QueryCompiler, predicate: Predicate, query: dict[str, Any],
             sort: Sort | None, use_index: bool = True) -> list[str]:
    """Ids of the records matching the query, in the order the scan of every record would give them."""
    store = ws.records(kind)
    light = compiler.fields <= LIGHT_FIELDS and (sort is None or sort.field in LIGHT_FIELDS)
    bounds = updated_bounds(compiler, query) if use_index else None
    with ws.lock:  # the candidates as of one moment; evaluated outside the lock, as the scan always was
        if bounds is None:
            keys = [(row[0], record_id) for record_id, row in store.rows()]  # creation order
        else:
            keys = store.updated_between(*bounds)  # (updated_at, id) order
            if sort is None:
                keys.sort(key=lambda key: store.row(key[1])[SEQ])  # back to creation order
    if light:
        records = [r for r in ({"id": i, "updated_at": ts} for ts, i in keys) if predicate(r)]
    else:  # a record removed meanwhile is left out (the result is for a generation that has ended anyway)
        records = [r for r in (store.get(i) for _, i in keys) if r is not None and predicate(r)]
    if bounds is not None and sort is not None and sort.field == "updated_at":
        # the index order is (updated_at, id): sort_records' order, or its exact reverse (ids are unique)
        return [r["id"] for r in (reversed(records) if sort.descending else records)]
    return [r["id"] for r in sort_records(records, sort)]
