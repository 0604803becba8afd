"""Declared Arrow schemas and the lossless record → Arrow conversion.

Every table has ONE fixed schema, identical in every partition, so a whole table reads as one dataset. The API
drifts (new fields, custom attributes that change type, missing fields): a value the declared type cannot hold
is never dropped and never crashes the run; it goes, with its dotted path, into the `_extra` JSON column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# Milliseconds: Parquet has no second unit, so this is what every reader sees back, in every partition.
TIMESTAMP = pa.timestamp("ms", tz="UTC")
EXTRA_COLUMN = "_extra"
EXTRACTED_AT_COLUMN = "_extracted_at"
# Unix seconds outside this span cannot be meant as Intercom times (year 1970 .. 2200); kept in _extra instead.
_MAX_SECONDS = 7_258_118_400


@dataclass(frozen=True)
class Kind:
    """A scalar column kind: how a JSON value is coerced and which Arrow type stores it."""

    name: str
    arrow: pa.DataType


STRING = Kind("string", pa.string())
INT = Kind("int", pa.int64())
FLOAT = Kind("float", pa.float64())
BOOL = Kind("bool", pa.bool_())
TIME = Kind("timestamp", TIMESTAMP)
# Opaque JSON text: a value whose shape the API does not fix (polymorphic event details, AI metadata).
JSON = Kind("json", pa.string())
# JSON text of an open map whose keys the WORKSPACE defines (custom attributes, ticket attributes): its values are
# data, not API shape, so they are held as declared even though no column is typed per key.
MAP = Kind("map", pa.string())


@dataclass(frozen=True)
class Column:
    """A declared field with what it holds: the description shows in Dagster's column schema."""

    type: FieldType
    description: str = ""

    @property
    def arrow(self) -> pa.DataType:
        return self.type.arrow


@dataclass(frozen=True)
class Struct:
    """A nested object whose shape the API fixes.

    The real API does not always send the shape its description gives. `aliases` maps a key the API also uses
    to the declared field that holds it (`teammates.admins` for the described `teammates.teammates`), and
    `scalar_into` names the field a bare scalar goes to when the API sends one instead of the object (an old
    lead's `avatar` as a URL string). Both keep the value typed instead of pushing it to `_extra`.
    """

    fields: tuple[tuple[str, FieldType], ...]
    aliases: tuple[tuple[str, str], ...] = ()
    scalar_into: str | None = None

    @property
    def arrow(self) -> pa.DataType:
        return pa.struct([pa.field(name, ftype.arrow) for name, ftype in self.fields])


@dataclass(frozen=True)
class List:
    """A JSON array of one element type."""

    item: FieldType

    @property
    def arrow(self) -> pa.DataType:
        return pa.list_(self.item.arrow)


FieldType = Kind | Struct | List | Column


def col(ftype: FieldType, description: str) -> Column:
    """A field with its description (what Dagster shows beside the column)."""
    return Column(ftype, description)


def struct(
    _aliases: Mapping[str, str] | None = None, _scalar_into: str | None = None, **fields: FieldType
) -> Struct:
    """Shorthand for a nested object declaration (see Struct for the two keyword options)."""
    if _scalar_into is not None and _scalar_into not in fields:
        raise ValueError(f"scalar_into names {_scalar_into!r}, which is not a field")
    for alias, target in (_aliases or {}).items():
        if target not in fields or alias in fields:
            raise ValueError(f"alias {alias!r} must point at a declared field, not be one ({target!r})")
    return Struct(tuple(fields.items()), tuple((_aliases or {}).items()), _scalar_into)


def list_of(item: FieldType) -> List:
    """Shorthand for an array declaration."""
    return List(item)


def unwrap(ftype: FieldType) -> Kind | Struct | List:
    """The type of a field, with its description (if any) taken off."""
    return ftype.type if isinstance(ftype, Column) else ftype


def description_of(ftype: FieldType) -> str:
    """A field's declared description ('' when it has none)."""
    return ftype.description if isinstance(ftype, Column) else ""


def build_schema(fields: Mapping[str, FieldType], non_null: Iterable[str]) -> pa.Schema:
    """The table's Arrow schema: declared fields, then `_extra` and `_extracted_at`."""
    required = set(non_null)
    arrow_fields = [
        pa.field(name, ftype.arrow, nullable=name not in required) for name, ftype in fields.items()
    ]
    arrow_fields.append(pa.field(EXTRA_COLUMN, pa.string()))
    arrow_fields.append(pa.field(EXTRACTED_AT_COLUMN, TIMESTAMP, nullable=False))
    return pa.schema(arrow_fields)


def to_json(value: Any) -> str:
    """Stable JSON text for open-ended values (sorted keys, unicode kept)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _coerce_scalar(value: Any, kind: Kind) -> tuple[Any, bool]:
    """Return (value, ok); ok=False means the value does not fit and must go to `_extra`."""
    if kind is JSON or kind is MAP:
        return to_json(value), True
    if kind is STRING:
        if isinstance(value, str):
            return value, True
        if isinstance(value, bool):
            return None, False
        if isinstance(value, int):
            return str(value), True
        return None, False
    if kind is BOOL:
        return (value, True) if isinstance(value, bool) else (None, False)
    if isinstance(value, bool):
        return None, False
    if kind is INT:
        if isinstance(value, int):
            return (value, True) if -(2**63) <= value < 2**63 else (None, False)
        if isinstance(value, float) and value.is_integer():
            return int(value), True
        return None, False
    if kind is FLOAT:
        if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
            return float(value), True
        return None, False
    if kind is TIME:
        if isinstance(value, int | float) and 0 <= value < _MAX_SECONDS:
            return int(value * 1000), True
        return None, False
    raise TypeError(f"unknown kind {kind!r}")


def _coerce(value: Any, ftype: FieldType, path: str, extra: dict[str, Any]) -> Any:
    if value is None:
        return None
    ftype = unwrap(ftype)
    if isinstance(ftype, Kind):
        coerced, ok = _coerce_scalar(value, ftype)
        if not ok:
            extra[path] = value
        return coerced
    if isinstance(ftype, Struct):
        return _coerce_struct(value, ftype, path, extra)
    if not isinstance(value, list):
        extra[path] = value
        return None
    return [_coerce(item, ftype.item, f"{path}[{i}]", extra) for i, item in enumerate(value)]


def _coerce_struct(value: Any, ftype: Struct, path: str, extra: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        if ftype.scalar_into is not None and isinstance(value, str | int | float | bool):
            out = dict.fromkeys(name for name, _ in ftype.fields)
            target = dict(ftype.fields)[ftype.scalar_into]
            out[ftype.scalar_into] = _coerce(value, target, path, extra)
            return out
        extra[path] = value
        return None
    known = dict(ftype.fields)
    aliases = dict(ftype.aliases)
    source = dict(value)
    for alias, target in aliases.items():
        # The alias fills its field only when the declared key is absent or null; if both carry a value, the
        # alias's value stays under its own path in `_extra` (nothing is overwritten, nothing is lost).
        if alias in source and source.get(target) is None:
            source[target] = source.pop(alias)
    out = {name: _coerce(source.get(name), sub, f"{path}.{name}", extra) for name, sub in ftype.fields}
    for name, sub_value in source.items():
        if name not in known:
            extra[f"{path}.{name}"] = sub_value
    return out


class RowConverter:
    """Turns API records into Arrow record batches of one declared schema."""

    def __init__(self, fields: Mapping[str, FieldType], non_null: Iterable[str]):
        self.fields = dict(fields)
        self.non_null = tuple(non_null)
        self.schema = build_schema(self.fields, self.non_null)

    def convert_row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """One record as a dict of column values; unknown or ill-typed values land in `_extra`."""
        extra: dict[str, Any] = {}
        row = {name: _coerce(record.get(name), ftype, name, extra) for name, ftype in self.fields.items()}
        for name, value in record.items():
            if name not in self.fields:
                extra[name] = value
        row[EXTRA_COLUMN] = to_json(extra) if extra else None
        return row

    def to_batch(self, rows: list[dict[str, Any]], extracted_at: int) -> pa.RecordBatch:
        """Converted rows as one batch; `_extracted_at` is the run's start time in Unix seconds."""
        columns = {name: [row[name] for row in rows] for name in self.fields}
        columns[EXTRA_COLUMN] = [row[EXTRA_COLUMN] for row in rows]
        columns[EXTRACTED_AT_COLUMN] = [extracted_at * 1000] * len(rows)
        return pa.RecordBatch.from_pydict(columns, schema=self.schema)

    def empty_table(self) -> pa.Table:
        """A table of this schema with no rows (placeholder partitions)."""
        return self.schema.empty_table()
