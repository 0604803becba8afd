"""Declared Arrow schemas and the lossless record → Arrow conversion.

Every table has ONE fixed schema, identical in every partition, so a whole table reads as one dataset. The API
drifts (new fields, custom attributes that change type, missing fields): a value the declared type cannot hold
is never dropped and never crashes the run; it goes, with its dotted path, into the `_extra` JSON column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

# Milliseconds: Parquet has no second unit, so this is what every reader sees back, in every partition.
TIMESTAMP = pa.timestamp("ms", tz="UTC")
EXTRA_COLUMN = "_extra"
EXTRACTED_AT_COLUMN = "_extracted_at"
# Unix seconds outside this span cannot be meant as Intercom times (year 1970 .. 2200); kept in _extra instead.
_MAX_SECONDS = 7_258_118_400


def unix_seconds(value: Any) -> float | None:
    """A time as Unix seconds: a number, or an ISO-8601 text with its offset (the newer 2.16 resources, macros,
    handling events, data connectors, send `"2025-07-17T11:18:08.000Z"`); None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None


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
        seconds = unix_seconds(value)
        if seconds is not None and 0 <= seconds < _MAX_SECONDS:
            return int(seconds * 1000), True
        return None, False
    raise TypeError(f"unknown kind {kind!r}")


# A compiled converter turns one JSON value into its column value: (value, extra, path) -> column value, noting in
# `extra` under `path` whatever the declared type cannot hold. Compiled once per table (RowConverter), so a row
# costs no type dispatch: the declarations are walked when the table is declared, not for every value.
Convert = Callable[[Any, dict[str, Any], str], Any]


def _compile(ftype: FieldType) -> Convert:
    ftype = unwrap(ftype)
    if isinstance(ftype, Kind):
        return _compile_scalar(ftype)
    if isinstance(ftype, Struct):
        return _compile_struct(ftype)
    item = _compile(ftype.item)

    def convert_list(value: Any, extra: dict[str, Any], path: str) -> Any:
        if type(value) is not list:
            extra[path] = value
            return None
        return [None if v is None else item(v, extra, f"{path}[{i}]") for i, v in enumerate(value)]

    return convert_list


def _compile_scalar(kind: Kind) -> Convert:
    """The value the column expects returned as it is; anything else through _coerce_scalar."""
    if kind is JSON or kind is MAP:
        return lambda value, extra, path: to_json(value)

    def slow(value: Any, extra: dict[str, Any], path: str) -> Any:
        coerced, ok = _coerce_scalar(value, kind)
        if not ok:
            extra[path] = value
        return coerced

    if kind is STRING:
        return lambda value, extra, path: value if type(value) is str else slow(value, extra, path)
    if kind is BOOL:
        return lambda value, extra, path: value if type(value) is bool else slow(value, extra, path)
    if kind is INT:
        return lambda value, extra, path: (
            value if type(value) is int and -(2**63) <= value < 2**63 else slow(value, extra, path))
    if kind is FLOAT:  # NaN is not a value a column holds
        return lambda value, extra, path: value if type(value) is float and value == value else slow(value, extra, path)
    return lambda value, extra, path: (
        value * 1000 if type(value) is int and 0 <= value < _MAX_SECONDS else slow(value, extra, path))


def _fill(out: dict[str, Any], value: Mapping[str, Any], converters: Mapping[str, Convert], prefix: str,
          extra: dict[str, Any]) -> dict[str, Any]:
    """Convert the keys an object has (declared ones into `out`, the others into `extra`): a wide declaration
    costs nothing for the fields a record leaves out."""
    for name, v in value.items():
        convert = converters.get(name)
        if convert is None:
            extra[prefix + name] = v
        elif v is not None:
            out[name] = convert(v, extra, prefix + name)
    return out


def _compile_struct(ftype: Struct) -> Convert:
    converters = {name: _compile(sub) for name, sub in ftype.fields}
    aliases = dict(ftype.aliases)
    scalar = converters[ftype.scalar_into] if ftype.scalar_into is not None else None

    def convert_struct(value: Any, extra: dict[str, Any], path: str) -> Any:
        if type(value) is not dict:
            if scalar is not None and isinstance(value, str | int | float | bool):
                out = dict.fromkeys(converters)
                out[ftype.scalar_into] = scalar(value, extra, path)
                return out
            extra[path] = value
            return None
        if aliases and not aliases.keys().isdisjoint(value):
            value = dict(value)
            for alias, target in aliases.items():
                # The alias fills its field only when the declared key is absent or null; if both carry a value,
                # the alias's value stays under its own path in `_extra` (nothing is overwritten, nothing is lost).
                if alias in value and value.get(target) is None:
                    value[target] = value.pop(alias)
        return _fill(dict.fromkeys(converters), value, converters, path + ".", extra)

    return convert_struct


class RowConverter:
    """Turns API records into Arrow record batches of one declared schema."""

    def __init__(self, fields: Mapping[str, FieldType], non_null: Iterable[str]):
        self.fields = dict(fields)
        self.non_null = tuple(non_null)
        self.schema = build_schema(self.fields, self.non_null)
        self._converters = {name: _compile(ftype) for name, ftype in self.fields.items()}
        self._row_type = pa.struct([f for f in self.schema if f.name != EXTRACTED_AT_COLUMN])

    def convert_row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """One record as a dict of column values; unknown or ill-typed values land in `_extra`."""
        extra: dict[str, Any] = {}
        row = _fill(dict.fromkeys(self._converters), record, self._converters, "", extra)
        row[EXTRA_COLUMN] = to_json(extra) if extra else None
        return row

    def to_batch(self, rows: list[dict[str, Any]], extracted_at: int) -> pa.RecordBatch:
        """Converted rows as one batch; `_extracted_at` is the run's start time in Unix seconds."""
        # one struct array converts the row dicts in Arrow's C++ (column lists built in Python cost ten times more)
        columns = pa.array(rows, type=self._row_type).flatten() if rows else [
            pa.array([], f.type) for f in self._row_type]
        stamps = pa.array([extracted_at * 1000] * len(rows), TIMESTAMP)
        return pa.RecordBatch.from_arrays([*columns, stamps], schema=self.schema)

    def empty_table(self) -> pa.Table:
        """A table of this schema with no rows (placeholder partitions)."""
        return self.schema.empty_table()
