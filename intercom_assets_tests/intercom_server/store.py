"""Compact record storage: one short row per record, the API-shaped dict rendered on each read.

A million contacts held as API dicts take about 4 KiB each; as a row of the values their generator drew
they take a few hundred bytes. A row is a list whose first two items are the record's `updated_at` and its
creation number (its place in list order); the rest is private to the kind's renderer. Rare edits to other
top-level fields are kept as patches laid over the rendered dict. Each store also keeps its records sorted by
(`updated_at`, id), so a search bounded on `updated_at` reads only its window, and `updated_at` changes only
through `set_updated` so that index cannot drift.

Tests edit record dicts in place (to fake API drift), as when records were plain dicts: a dict read from a store
is a `Record` whose top-level edits are forwarded to the store, which from then on keeps that record whole.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

Row = list[Any]
Key = tuple[int, str]
UPDATED, SEQ, ID, CREATED = 0, 1, 2, 3
"""Positions of `updated_at` and the creation number in every row; rows of the bulk kinds (contacts, companies,
conversations, tickets) also hold the id and `created_at` next."""


class SortedKeys:
    """(updated_at, id) keys in order, in buckets of a few hundred so an insert or removal moves little."""

    LOAD = 512

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        ordered = sorted(keys)
        self._buckets = [ordered[i:i + self.LOAD] for i in range(0, len(ordered), self.LOAD)]
        self._maxes = [bucket[-1] for bucket in self._buckets]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Key]:
        for bucket in self._buckets:
            yield from bucket

    def add(self, key: Key) -> None:
        self._len += 1
        if not self._buckets:
            self._buckets, self._maxes = [[key]], [key]
            return
        i = min(bisect_left(self._maxes, key), len(self._maxes) - 1)
        bucket = self._buckets[i]
        insort(bucket, key)
        self._maxes[i] = bucket[-1]
        if len(bucket) > 2 * self.LOAD:
            self._buckets[i:i + 1] = [bucket[:self.LOAD], bucket[self.LOAD:]]
            self._maxes[i:i + 1] = [bucket[self.LOAD - 1], bucket[-1]]

    def remove(self, key: Key) -> None:
        i = bisect_left(self._maxes, key)
        bucket = self._buckets[i] if i < len(self._buckets) else []
        j = bisect_left(bucket, key)
        if j == len(bucket) or bucket[j] != key:
            raise KeyError(key)
        del bucket[j]
        self._len -= 1
        if not bucket:
            del self._buckets[i], self._maxes[i]
        else:
            self._maxes[i] = bucket[-1]

    def between(self, low: int, high: int) -> list[Key]:
        """Keys with low <= updated_at < high, in order."""
        out: list[Key] = []
        first = i = bisect_left(self._maxes, (low,))
        while i < len(self._buckets):
            bucket = self._buckets[i]
            end = bisect_left(bucket, (high,))
            out.extend(bucket[bisect_left(bucket, (low,)) if i == first else 0:end])
            if end < len(bucket):
                break
            i += 1
        return out


class Record(dict[str, Any]):
    """A record as read from a store: a fresh dict whose top-level edits also change the stored record (nested
    values are copies as far as the store is concerned)."""

    __slots__ = ("_store", "_id")
    _store: RecordStore
    _id: str

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self),)

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._store.edit(self._id, {key: value}, ())

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._store.edit(self._id, {}, (key,))

    def pop(self, key: str, *default: Any) -> Any:
        found = key in self
        value = dict.pop(self, key, *default)
        if found:
            self._store.edit(self._id, {}, (key,))
        return value

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self._store.edit(self._id, {}, (key,))
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        changes = dict(*args, **kwargs)
        dict.update(self, changes)
        self._store.edit(self._id, changes, ())

    def __ior__(self, other: Any) -> Record:  # type: ignore[override]
        self.update(other)
        return self

    def clear(self) -> None:
        keys = tuple(self)
        dict.clear(self)
        self._store.edit(self._id, {}, keys)


class RecordStore(Mapping[str, dict[str, Any]]):
    """Records of one kind by id, in creation order; each read renders a fresh `Record`."""

    def __init__(self, render: Callable[[Row], dict[str, Any]]) -> None:
        self._render = render
        self._rows: dict[str, Row] = {}
        self._patches: dict[str, dict[str, Any]] = {}
        self._kept: dict[str, dict[str, Any]] = {}
        self._index: SortedKeys | None = None

    # ---- Mapping ------------------------------------------------------------------------------
    def __getitem__(self, record_id: str) -> Record:
        kept = self._kept.get(record_id)
        if kept is not None:
            record = Record(kept)
        else:
            record = Record(self._render(self._rows[record_id]))
            patch = self._patches.get(record_id)
            if patch:
                dict.update(record, patch)
        record._store, record._id = self, record_id
        return record

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._rows

    # ---- building and reading rows ------------------------------------------------------------
    def add(self, record_id: str, row: Row) -> None:
        """A new record (after the existing ones in list order)."""
        if record_id in self._rows:
            raise KeyError(f"record {record_id!r} exists")
        self._rows[record_id] = row
        if self._index is not None:
            self._index.add((row[UPDATED], record_id))

    def row(self, record_id: str) -> Row:
        """The stored row (read it; change `updated_at` only through set_updated)."""
        return self._rows[record_id]

    def rows(self) -> Iterable[tuple[str, Row]]:
        return self._rows.items()

    def updated_at(self, record_id: str) -> int:
        return self._rows[record_id][UPDATED]

    def seq(self, record_id: str) -> int:
        return self._rows[record_id][SEQ]

    def patched(self, record_id: str, field: str) -> Any:
        """The patched (or kept) value of a top-level field, or None when the renderer's value stands."""
        kept = self._kept.get(record_id)
        if kept is not None:
            return kept.get(field)
        patch = self._patches.get(record_id)
        return patch.get(field) if patch else None

    # ---- edits --------------------------------------------------------------------------------
    def set_updated(self, record_id: str, ts: int) -> None:
        row = self._rows[record_id]
        if self._index is not None and row[UPDATED] != ts:
            self._index.remove((row[UPDATED], record_id))
            self._index.add((ts, record_id))
        row[UPDATED] = ts
        kept = self._kept.get(record_id)
        if kept is not None:
            kept["updated_at"] = ts

    def patch(self, record_id: str, **fields: Any) -> None:
        """Override top-level fields of one record (not `updated_at`: see set_updated)."""
        if record_id not in self._rows:
            raise KeyError(record_id)
        if "updated_at" in fields:
            raise ValueError("updated_at changes through set_updated")
        self._patches.setdefault(record_id, {}).update(fields)
        kept = self._kept.get(record_id)
        if kept is not None:
            kept.update(fields)

    def edit(self, record_id: str, changes: dict[str, Any], removed: Iterable[str]) -> None:
        """Top-level edits made to a Record: from now on the store keeps this record whole, edits included
        (an edited `updated_at` moves the index; a record removed meanwhile stays removed)."""
        if record_id not in self._rows:
            return
        kept = self._kept.get(record_id)
        if kept is None:
            kept = self._kept[record_id] = dict(self[record_id])
        kept.update(changes)
        for key in removed:
            kept.pop(key, None)
        ts = changes.get("updated_at")
        if isinstance(ts, int) and not isinstance(ts, bool):
            self.set_updated(record_id, ts)

    def pop(self, record_id: str, default: Any = None) -> Any:
        """Remove a record; returns its last rendered form, or `default` when there was none."""
        if record_id not in self._rows:
            return default
        record = self[record_id]
        row = self._rows.pop(record_id)
        self._patches.pop(record_id, None)
        self._kept.pop(record_id, None)
        if self._index is not None:
            self._index.remove((row[UPDATED], record_id))
        return record

    def clear(self) -> None:
        self._rows.clear()
        self._patches.clear()
        self._kept.clear()
        if self._index is not None:
            self._index = SortedKeys()

    # ---- the updated_at index -----------------------------------------------------------------
    def build_index(self) -> None:
        self._index = SortedKeys((row[UPDATED], record_id) for record_id, row in self._rows.items())

    def index(self) -> SortedKeys:
        if self._index is None:
            self.build_index()
        assert self._index is not None
        return self._index

    def updated_between(self, low: int, high: int) -> list[Key]:
        """(updated_at, id) of the records with low <= updated_at < high, oldest first, ties by id."""
        return self.index().between(low, high)


def dict_row(seq: int, record: dict[str, Any]) -> Row:
    """The row of a kind small enough to keep whole (articles, collections, news items)."""
    return [record["updated_at"], seq, record]


def render_dict_row(row: Row) -> dict[str, Any]:
    return dict(row[2], updated_at=row[UPDATED])
