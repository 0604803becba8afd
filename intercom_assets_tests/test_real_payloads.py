"""Objects Intercom's REAL API returned keep every value through a run's path, nearly all in typed columns.

Each folder of fixtures/real-payloads is one source. Every object goes the way a run
takes it: the table's row derivation, `TableStager` (conversion, staging, de-duplication), a Parquet partition
written through `ParquetStore`, and read back. Then, for every leaf of the object as the API sent it (a non-null
scalar, or an empty object or list, at any depth), the test finds where it went:

- declared: in its typed column, equal after the round trip (times compare in seconds), or anywhere inside a MAP
  column (a workspace-defined open map such as custom_attributes);
- opaque: inside a JSON column (held, but not counted as declared);
- extra: in `_extra` under its dotted path (held, not counted);
- consumed: a list marker the row derivation reads and drops (only the ones named in CONSUMED);
- lost: nowhere. Any lost leaf or row fails, and so does a source under MIN_DECLARED_SHARE declared leaves.

Run with `-rP` (or `-s`) to see each source's evidence: its declared share and the paths still outside typed columns.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import intercom_assets.columns as columns
from intercom_assets.lake.staging import TableStager
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import day_key
from intercom_assets.schemas import (
    BOOL,
    EXTRA_COLUMN,
    FLOAT,
    INT,
    JSON,
    MAP,
    STRING,
    TIME,
    FieldType,
    Kind,
    Struct,
    description_of,
    to_json,
    unix_seconds,
    unwrap,
)
from intercom_assets.tables import TABLES_BY_NAME, table_rows

PAYLOADS = Path(__file__).resolve().parent / "fixtures" / "real-payloads"
# Named, not globbed: a folder gone missing fails its own test instead of silently leaving the evidence out.
SOURCES = ("estuary_2_11", "estuary_2_16", "nango_2024", "nango_2026", "openapi_2_16")
MIN_DECLARED_SHARE = 0.99
SNAPSHOT_DAY = "2026-01-01"
EXTRACTED_AT = 1_767_225_600
# Leaves a row derivation reads and drops by design: the constant type of the container it unpacks.
CONSUMED = {("conversation_detail", ("conversation_parts", "type")): "conversation_part.list"}

Tokens = tuple[str | int, ...]


@dataclass(frozen=True)
class Route:
    """One table's rows derived from one object, and where each leaf of the object lands in those rows."""

    table: str
    record: dict[str, Any]
    locate: Callable[[Tokens], list[tuple[int, Tokens]]]  # object leaf path → [(row index, path in the row)]


def _same(path: Tokens) -> list[tuple[int, Tokens]]:
    return [(0, path)]


def _nested(prefix: Tokens) -> Callable[[Tokens], list[tuple[int, Tokens]]]:
    """Leaves under `prefix[i]` land in row i (a company's segments, a conversation's parts)."""

    def locate(path: Tokens) -> list[tuple[int, Tokens]]:
        n = len(prefix)
        if path[:n] == prefix and len(path) > n + 1 and isinstance(path[n], int):
            return [(path[n], path[n + 1 :])]
        return []

    return locate


def routes(kind: str, obj: dict[str, Any]) -> list[Route]:
    """The tables an object of this kind feeds in a run, as the registry derives them."""
    if kind == "contact":
        return [Route("contacts", obj, _same)]
    if kind == "company":
        segments = _nested(("segments", "segments"))
        return [Route("companies", obj, _same), Route("company_segments", obj, segments)]
    if kind == "conversation":
        return [Route("conversations", obj, _same)]
    if kind == "conversation_detail":
        parts = obj.get("conversation_parts") or {}
        count = len(parts.get("conversation_parts") or [])
        nested = _nested(("conversation_parts", "conversation_parts"))

        def locate_parts(path: Tokens) -> list[tuple[int, Tokens]]:
            if path == ("conversation_parts", "total_count"):
                return [(i, ("conversation_total_parts",)) for i in range(count)]
            return nested(path)

        level = {k: v for k, v in obj.items() if k != "conversation_parts"}
        return [
            Route("conversations", level, lambda p: [] if p[0] == "conversation_parts" else _same(p)),
            Route("conversation_parts", obj, locate_parts),
        ]
    if kind == "conversation_part":
        parent = {
            "type": "conversation",
            "id": obj.get("conversation_id", "parent-conversation"),
            "updated_at": obj.get("updated_at"),
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [obj], "total_count": 1},
        }
        return [Route("conversation_parts", parent, _same)]
    if kind == "company_segment":
        parent = {"type": "company", "id": "parent-company", "updated_at": obj.get("updated_at"),
                  "segments": {"type": "segment.list", "segments": [obj]}}
        return [Route("company_segments", parent, _same)]
    if kind == "data_attribute":
        table = f"{obj.get('model')}_attributes"
        table = table if table in TABLES_BY_NAME else "contact_attributes"
        return [Route(table, obj, lambda p: [(0, ("api_id", *p[1:]))] if p[0] == "id" else _same(p))]
    if kind in ("admin", "team", "tag", "segment"):
        return [Route(f"{kind}s", obj, _same)]
    raise AssertionError(f"unknown kind {kind!r}: map it to its table like a run does")


def _comparable(value: Any) -> Any:
    """A key value as converted (a time in milliseconds) whether it was read back or just converted."""
    return round(value.timestamp() * 1000) if isinstance(value, datetime) else value


def stage_and_read(route: Route, directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """The route's derived rows, and each one as read back from its Parquet partition (None = row lost)."""
    spec = TABLES_BY_NAME[route.table]
    # a child table's route may carry (parent record, per-parent answer)
    record, answer = route.record if isinstance(route.record, tuple) else (route.record, None)
    rows = table_rows(spec, record, answer)
    if spec.is_snapshot:
        keys, snapshot = [SNAPSHOT_DAY], SNAPSHOT_DAY
    else:
        stamps = [unix_seconds(row.get(spec.partition_column)) for row in rows]
        keys, snapshot = sorted({day_key(int(s)) for s in stamps if s is not None}), None
    stager = TableStager(spec, directory / "staging", keys, EXTRACTED_AT)
    stager.add_rows(rows, snapshot_key=snapshot)
    store = ParquetStore(directory / "lake")
    for key, staged in stager.finish().items():
        store.write_file(spec.name, key, staged.path)
    stored = pa.concat_tables([store.read(spec.name, key) for key in keys]).to_pylist() if keys else []
    by_key = {tuple(_comparable(row[k]) for k in spec.key): row for row in stored}
    converter = spec.converter()
    wanted = [tuple(_comparable(converter.convert_row(row)[k]) for k in spec.key) for row in rows]
    found = [by_key.get(key) for key in wanted]
    if len(stored) != len(rows):  # two derived rows with one key: the run keeps one of them
        found = [None] * len(rows)
    return rows, found


def leaves(value: Any, path: Tokens = ()) -> Iterator[tuple[Tokens, Any]]:
    """Every non-null scalar, empty object and empty list of a JSON value, with its path."""
    if isinstance(value, dict):
        if not value:
            yield path, value
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        if not value:
            yield path, value
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    elif value is not None:
        yield path, value


def dotted(path: Tokens) -> str:
    """A path as the converter writes `_extra` keys: `a.b[0].c`."""
    out = ""
    for token in path:
        out += f"[{token}]" if isinstance(token, int) else (f".{token}" if out else str(token))
    return out


def navigate(value: Any, path: Tokens) -> tuple[bool, Any]:
    for token in path:
        if isinstance(token, int) and isinstance(value, list) and token < len(value):
            value = value[token]
        elif isinstance(token, str) and isinstance(value, dict) and token in value:
            value = value[token]
        else:
            return False, None
    return True, value


def same_scalar(kind: Kind, stored: Any, leaf: Any) -> bool:
    """Whether a typed column holds the leaf's value (after the declared coercion)."""
    if isinstance(leaf, dict | list) or stored is None:
        return False
    if kind is STRING:
        return stored == (leaf if isinstance(leaf, str) else str(leaf)) and not isinstance(leaf, bool | float)
    if kind is BOOL:
        return stored is leaf
    if isinstance(leaf, bool):
        return False
    if kind is INT or kind is FLOAT:
        return stored == leaf
    if kind is TIME:
        seconds = unix_seconds(leaf)  # Unix seconds, or the ISO-8601 text the newer resources send
        return isinstance(stored, datetime) and seconds is not None and abs(stored.timestamp() - seconds) < 1e-3
    raise AssertionError(f"unknown kind {kind!r}")


def column_status(ftype: FieldType, stored: Any, source: Any, rest: Tokens, leaf: Any, done: Tokens) -> tuple[
    str | None, Tokens
]:
    """("declared"|"opaque"|None, the declared path) of a leaf at `rest` below a declared field."""
    ftype = unwrap(ftype)
    if isinstance(ftype, Kind):
        if ftype is JSON or ftype is MAP:
            found, value = navigate(json.loads(stored), rest) if stored is not None else (False, None)
            ok = found and to_json(value) == to_json(leaf)
            return ("declared" if ftype is MAP else "opaque") if ok else None, done + rest
        return ("declared" if not rest and same_scalar(ftype, stored, leaf) else None), done + rest
    if isinstance(ftype, Struct):
        fields, aliases = dict(ftype.fields), dict(ftype.aliases)
        if not rest:
            if leaf == {} and isinstance(stored, dict) and all(v is None for v in stored.values()):
                return "declared", done
            if ftype.scalar_into is not None and not isinstance(leaf, dict | list):
                into = ftype.scalar_into
                return column_status(fields[into], (stored or {}).get(into), leaf, (), leaf, (*done, into))
            return None, done
        key = rest[0]
        source = source if isinstance(source, dict) else {}
        target = key if key in fields else aliases.get(key)
        if target is None or (target != key and source.get(target) is not None):  # an alias fills only a gap
            return None, done + rest
        stored = (stored or {}).get(target)
        return column_status(fields[target], stored, source.get(key), rest[1:], leaf, (*done, target))
    if not rest:
        return ("declared" if leaf == [] and stored == [] else None), done
    index = rest[0]
    if not isinstance(index, int) or not isinstance(stored, list) or index >= len(stored):
        return None, done + rest
    item = source[index] if isinstance(source, list) and index < len(source) else None
    return column_status(ftype.item, stored[index], item, rest[1:], leaf, (*done, index))


def in_extra(extra: dict[str, Any], paths: list[Tokens], leaf: Any) -> bool:
    """Whether `_extra` holds the leaf under its path (or under an ancestor's path, inside that value)."""
    for path in paths:
        for cut in range(len(path), 0, -1):
            key = dotted(path[:cut])
            if key in extra:
                found, value = navigate(extra[key], path[cut:])
                if found and to_json(value) == to_json(leaf):
                    return True
    return False


def place(table: str, derived: dict[str, Any], stored: dict[str, Any] | None, path: Tokens, leaf: Any) -> str:
    """Where one leaf landed in one stored row: declared, opaque, extra or lost."""
    if stored is None:
        return "lost"
    fields = TABLES_BY_NAME[table].fields
    status, declared_path = None, path
    if path and path[0] in fields:
        status, declared_path = column_status(
            fields[path[0]], stored[path[0]], derived.get(path[0]), path[1:], leaf, (path[0],)
        )
    if status is not None:
        return status
    extra = json.loads(stored[EXTRA_COLUMN]) if stored[EXTRA_COLUMN] else {}
    return "extra" if in_extra(extra, [path, declared_path], leaf) else "lost"


def general(path: Tokens) -> str:
    """A path with list indices folded (`tags.tags[].id`), for the report."""
    return dotted(tuple(0 if isinstance(t, int) else t for t in path)).replace("[0]", "[]")


@dataclass
class SourceResult:
    objects: int = 0
    rows: int = 0
    statuses: Counter[str] | None = None
    outside: dict[str, Counter[str]] | None = None  # status → "kind: path" → count
    lost_rows: list[str] | None = None


def check_source(source: str, tmp: Path) -> SourceResult:
    """Feed a source's objects through the run's path and place every leaf."""
    objects = json.loads((PAYLOADS / source / "objects.json").read_text())
    result = SourceResult(len(objects), 0, Counter(), {}, [])
    for n, entry in enumerate(objects):
        kind, obj = entry["kind"], entry["object"]
        staged = []
        for route in routes(kind, obj):
            rows, stored = stage_and_read(route, tmp / f"{n:04d}-{route.table}")
            result.rows += len(rows)
            lost = [i for i, row in enumerate(stored) if row is None]
            result.lost_rows += [f"{entry['origin']} → {route.table} row {i}" for i in lost]
            staged.append((route, rows, stored))
        for path, leaf in leaves(obj):
            places = [
                place(route.table, rows[i], stored[i], row_path, leaf) if i < len(rows) else "lost"
                for route, rows, stored in staged
                for i, row_path in route.locate(path)
            ]
            if not places:
                status = "consumed" if CONSUMED.get((kind, path)) == leaf else "lost"
            elif "lost" in places:
                status = "lost"
            elif all(p == "declared" for p in places):
                status = "declared"
            else:
                status = "opaque" if "opaque" in places else "extra"
            result.statuses[status] += 1
            if status != "declared":
                result.outside.setdefault(status, Counter())[f"{kind}: {general(path)}"] += 1
    return result


def report(source: str, result: SourceResult) -> str:
    total = sum(result.statuses.values())
    declared = result.statuses["declared"]
    lines = [f"{source}: {result.objects} objects, {result.rows} rows, {declared}/{total} leaves in declared "
             f"columns ({declared / total:.2%}); " + ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()))]
    for status in ("lost", "extra", "opaque", "consumed"):
        for where, count in sorted((result.outside or {}).get(status, {}).items()):
            lines.append(f"    {status:8} {count:4}  {where}")
    return "\n".join(lines)


def test_every_recorded_source_is_checked():
    """A folder added to fixtures/real-payloads must be named in SOURCES, or its objects would go unchecked."""
    assert sorted(p.name for p in PAYLOADS.iterdir() if (p / "objects.json").is_file()) == sorted(SOURCES)


@pytest.mark.parametrize("source", SOURCES)
def test_real_payloads_keep_every_value(source: str, tmp_path: Path):
    result = check_source(source, tmp_path)
    print("\n" + report(source, result))
    assert not result.lost_rows, result.lost_rows
    assert not result.statuses["lost"], report(source, result)
    share = result.statuses["declared"] / sum(result.statuses.values())
    assert share >= MIN_DECLARED_SHARE, report(source, result)


def test_described_shapes_land_in_the_real_ones():
    """Where the description and the real API disagree, the declared column follows the API and the described
    shape is aliased into it (the bundled test server and some workspaces still send the described one)."""
    conversation = TABLES_BY_NAME["conversations"].converter().convert_row(
        {"id": "1", "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": "7"}]}}
    )
    assert conversation["teammates"]["admins"] == [{"type": "admin", "id": "7"}]
    assert conversation[EXTRA_COLUMN] is None
    company = TABLES_BY_NAME["companies"].converter().convert_row(
        {"id": "c", "notes": {"type": "note.list", "notes": [{"type": "note", "id": "n1", "body": "hi"}]}}
    )
    assert [(n["id"], n["body"]) for n in company["notes"]["data"]] == [("n1", "hi")]
    assert company[EXTRA_COLUMN] is None
    lead = TABLES_BY_NAME["contacts"].converter().convert_row({"id": "l", "avatar": "https://x.example/a.png"})
    assert lead["avatar"] == {"type": None, "image_url": "https://x.example/a.png"}
    assert lead[EXTRA_COLUMN] is None


def test_every_declared_column_is_described():
    """Dagster shows each column's description; every column dict keys its rows by a string `id`."""
    checked = 0
    for module_info in pkgutil.iter_modules(columns.__path__):
        module = importlib.import_module(f"{columns.__name__}.{module_info.name}")
        for name, fields in vars(module).items():
            if not (name.endswith("_FIELDS") and isinstance(fields, dict)):
                continue
            checked += 1
            assert unwrap(fields.get("id", BOOL)) is STRING, f"{module_info.name}.{name} has no string id"
            undescribed = [column for column, ftype in fields.items() if not description_of(ftype)]
            assert not undescribed, f"{module_info.name}.{name}: {undescribed}"
    assert checked >= 20
