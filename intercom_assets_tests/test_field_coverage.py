"""Every property the 2.16 description gives a table's object, at any depth, is a declared column (or excluded).

Each table names the component schema one of its rows is (`TableSpec.described_by`); the items of the lists the
registry reads its rows from (the source's list, a parent's embedded list, a per-parent answer) are walked with
it, so a table cannot name a poorer schema than the API answers with. The walk follows `$ref`,
`allOf`, `oneOf` and `anyOf` (an alternative's properties count like the others), nested objects and array items,
and pairs each described property with the declared column, struct member or list item of the same name (or a
struct alias). A JSON or MAP column holds everything below it. A property no declaration covers is a gap; a gap
fails the test unless `columns/undeclared.py` excludes its path with a reason, and an exclusion that excludes no
gap fails too. Paths read `a.b[].c` (`[]`: an array's item).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import pytest

from intercom_assets.columns.undeclared import UNDECLARED
from intercom_assets.schemas import (
    INT,
    JSON,
    MAP,
    STRING,
    TIME,
    Column,
    FieldType,
    Kind,
    List,
    Struct,
    list_of,
    struct,
    unwrap,
)
from intercom_assets.tables import PAGING_METHODS, TABLES, TABLES_BY_NAME, Source, TableSpec
from intercom_assets_tests.test_contract import SPEC_PATH, load_spec

SCALARS = {"string", "integer", "number", "boolean"}
# The described scalar types each column kind holds as a value (schemas.py: an integer fits a string column,
# a Unix time is an integer or a number); JSON and MAP hold anything.
# "date-time" is a string the description formats as ISO-8601: a timestamp column parses it (schemas.unix_seconds).
HOLDS = {"string": {"string", "integer", "date-time"}, "int": {"integer"}, "float": {"number", "integer"},
         "bool": {"boolean"}, "timestamp": {"integer", "number", "date-time"}}
Node = dict[str, Any]  # a schema node of the description


@cache
def api_description() -> dict[str, Any]:
    """The 2.16 description, parsed once per process (read-only: every test here and in
    test_real_payloads_newer.py reads the same dict)."""
    return load_spec(SPEC_PATH)


def schemas() -> dict[str, Any]:
    return api_description()["components"]["schemas"]


@dataclass
class Shape:
    """What a set of schema nodes describes at one position: the union over every $ref, allOf and alternative."""

    properties: dict[str, list[Node]] = field(default_factory=dict)
    items: list[Node] = field(default_factory=list)
    scalars: set[str] = field(default_factory=set)  # the scalar types of the alternatives that are scalars
    open_map: bool = False  # some alternative has keys of its own choosing (additionalProperties)
    compound: bool = False  # some alternative is an object or an array


_SHAPES: dict[tuple[int, ...], tuple[list[Node], Shape]] = {}


def shape_of(nodes: Iterable[Node]) -> Shape:
    """The merged shape of these nodes (memoised by identity: the mutation test walks each table hundreds of
    times; the nodes are kept beside their shape so that an id is never reused while cached)."""
    nodes = list(nodes)
    key = tuple(id(node) for node in nodes)
    if key not in _SHAPES:
        shape = Shape()
        for node in nodes:
            _add(shape, node, frozenset())
        _SHAPES[key] = (nodes, shape)
    return _SHAPES[key][1]


def _add(shape: Shape, node: Node, refs: frozenset[str]) -> None:
    """Merge one node in. `refs` only guards a $ref chain that loops without a property in between: the walk
    itself ends because every step down goes one level down the (finite) declaration too."""
    ref = node.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[1]
        if name not in refs:
            _add(shape, schemas()[name], refs | {name})
        return
    for combinator in ("allOf", "oneOf", "anyOf"):
        for part in node.get(combinator, ()):
            _add(shape, part, refs)
    for name, sub in (node.get("properties") or {}).items():
        shape.properties.setdefault(name, []).append(sub)
    if "items" in node:
        shape.items.append(node["items"])
    if node.get("type") in SCALARS and not node.get("properties"):
        shape.scalars.add("date-time" if node.get("format") == "date-time" else node["type"])
    if node.get("additionalProperties") not in (None, False):
        shape.open_map = True
    if node.get("type") in ("object", "array"):
        shape.compound = True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def gaps(nodes: list[Node], declared: FieldType, path: str = "", covered: list[str] | None = None) -> dict[str, str]:
    """Each described path below `nodes` that `declared` does not hold in a typed column, with what is wrong.

    `covered` collects the described paths that are held (for the mutation test)."""
    ftype = unwrap(declared)
    if isinstance(ftype, Kind) and ftype in (JSON, MAP):
        return {}  # held whole, as JSON text
    shape = shape_of(nodes)
    found: dict[str, str] = {}
    if shape.open_map:
        found[f"{path}.*"] = f"an open map (keys of the workspace's choosing) declared as {_kind(ftype)}"
    elif shape.compound and isinstance(ftype, Kind) and not shape.properties and not shape.items:
        found[path] = f"described as an object or array, declared as {_kind(ftype)}"
    if shape.scalars and not shape.properties and not shape.items:
        kind = ftype if isinstance(ftype, Kind) else None
        if isinstance(ftype, Struct) and ftype.scalar_into is not None:
            kind = unwrap(dict(ftype.fields)[ftype.scalar_into])
        if isinstance(ftype, List) or (isinstance(ftype, Struct) and ftype.scalar_into is None):
            found[path] = f"described as a scalar, declared as {type(ftype).__name__.lower()}"
        elif isinstance(kind, Kind) and not shape.scalars <= HOLDS.get(kind.name, SCALARS):
            found[path] = (f"described as {'/'.join(sorted(shape.scalars))}, declared as {kind.name} "
                           f"(such a value would land in _extra)")
    if shape.properties:
        if not isinstance(ftype, Struct):
            for name in shape.properties:
                found[_join(path, name)] = f"no column ({path} is declared as {_kind(ftype)}, not an object)"
        else:
            members, aliases = dict(ftype.fields), dict(ftype.aliases)
            for name, subs in shape.properties.items():
                target = name if name in members else aliases.get(name)
                sub_path = _join(path, name)
                if target is None:
                    found[sub_path] = "no column"
                    continue
                if covered is not None:
                    covered.append(sub_path)
                found.update(gaps(subs, members[target], sub_path, covered))
    if shape.items:
        if isinstance(ftype, List):
            found.update(gaps(shape.items, ftype.item, f"{path}[]", covered))
        else:
            found[f"{path}[]"] = f"described as an array, declared as {_kind(ftype)}"
    return found


def _kind(ftype: FieldType) -> str:
    ftype = unwrap(ftype)
    return ftype.name if isinstance(ftype, Kind) else type(ftype).__name__.lower()


def _ref(name: str) -> Node:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(source: Source) -> Node:
    """The description's 200 answer to a source's request (literal path segments win over templated ones)."""
    method, concrete = PAGING_METHODS[source.paging].lower(), re.sub(r"\{[^}]+\}", "1", source.path)
    for template, item in sorted(api_description()["paths"].items(), key=lambda kv: kv[0].count("{")):
        pattern = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in template.split("/"))
        if method in item and re.fullmatch(pattern, concrete):
            return item[method]["responses"]["200"]["content"]["application/json"]["schema"]
    raise AssertionError(f"the 2.16 description has no {source.request}")


def _list_items(node: Node, dotted: str, described_by: str) -> list[Node]:
    """The items of the list at a dotted path (none when it is not a list); of a list of alternatives
    (news items and newsfeeds share one), the alternative the table's rows are."""
    for name in dotted.split("."):
        subs = shape_of([node]).properties.get(name)
        if not subs:
            return []
        node = {"allOf": subs}
    items = shape_of([node]).items
    alternatives = [alt for item in items for alt in item.get("anyOf", item.get("oneOf", ()))]
    refs = [alt.get("$ref", "").rsplit("/", 1)[-1] for alt in alternatives]
    if refs and all(refs):
        assert described_by in refs, f"{dotted} holds {refs}: described_by names one of them"
        return [_ref(described_by)]
    return items


def answered_items(spec: TableSpec) -> list[Node]:
    """What the description says each row is, from where the registry reads it: the items of the source's list,
    or of the parent's embedded list and of the per-parent answer."""
    described_by, children = spec.described_by or "", spec.children
    if children is None:
        answer = _answer(spec.source)
        return [item for key in spec.source.list_key.split("|") for item in _list_items(answer, key, described_by)]
    found = []
    if children.embedded is not None:
        parent = TABLES_BY_NAME[children.parent].described_by or ""
        found += _list_items(_ref(parent), children.embedded, described_by)
    if children.fetch is not None:
        answer = _answer(children.fetch)
        for key in dict.fromkeys([children.fetched, *children.fetch.list_key.split("|")]):
            found += _list_items(answer, key, described_by)
    if children.within is not None:  # rows are the items of a list inside each item (a side conversation's parts)
        found = _list_items({"allOf": found}, children.within, described_by) if found else []
    return found


def table_gaps(spec: TableSpec, fields: Mapping[str, FieldType] | None = None,
               covered: list[str] | None = None) -> dict[str, str]:
    """The gaps of one table's declared columns against the schema it is described by, and against the items
    of the lists the registry reads its rows from (walked together: a property of either counts)."""
    assert spec.described_by is not None
    described = [_ref(spec.described_by)]
    if spec.children is not None and spec.children.within is not None:
        # rows are the items of a list inside each answered item (a call's transcript lines, which no component
        # schema describes): they are walked where the answer gives them (answered_items)
        described = _list_items(described[0], spec.children.within, spec.described_by)
    roots = [*described, *answered_items(spec)]
    return gaps(roots, Struct(tuple((fields or spec.fields).items())), "", covered)


def _excluded_by(gap: str, exclusion: str) -> bool:
    return gap == exclusion or gap.startswith((f"{exclusion}.", f"{exclusion}[]"))


def unexcused(spec: TableSpec, undeclared: Mapping[str, Mapping[str, str]] = UNDECLARED) -> tuple[
    dict[str, str], set[str]
]:
    """The table's gaps no exclusion names, and the exclusions of its schema that excused one of its gaps."""
    exclusions = undeclared.get(spec.described_by or "", {})
    left, used = {}, set()
    for gap, why in table_gaps(spec).items():
        hits = [exclusion for exclusion in exclusions if _excluded_by(gap, exclusion)]
        used.update(hits)
        if not hits:
            left[gap] = why
    return left, used


DESCRIBED = [spec for spec in TABLES if spec.described_by is not None]


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda spec: spec.name)
def test_the_description_says_where_each_tables_rows_come_from(spec: TableSpec) -> None:
    """The lists the registry reads rows from exist in the description (so the walk checks what they hold)."""
    assert answered_items(spec) != [], f"{spec.name}: no list of the description is where its rows come from"


def test_every_table_but_the_deletion_log_names_a_described_schema() -> None:
    unnamed = [spec.name for spec in TABLES if spec.described_by is None and not spec.logs_deletions]
    assert unnamed == [], "every table says which 2.16 schema one of its rows is (TableSpec.described_by)"
    unknown = {spec.name: spec.described_by for spec in DESCRIBED if spec.described_by not in schemas()}
    assert unknown == {}, "described_by names a component schema of the 2.16 description"
    assert set(UNDECLARED) <= {spec.described_by for spec in DESCRIBED}, "exclusions are keyed by described_by"


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda spec: spec.name)
def test_every_described_property_is_a_declared_column_or_excluded_with_a_reason(spec: TableSpec) -> None:
    left, _ = unexcused(spec)
    listing = "\n".join(f"  {path}: {why}" for path, why in sorted(left.items()))
    assert left == {}, (f"{spec.name} (described by {spec.described_by}): {len(left)} described properties "
                        f"no column holds; declare them in columns/ or exclude them in columns/undeclared.py "
                        f"with a reason:\n{listing}")


def unused_exclusions(undeclared: Mapping[str, Mapping[str, str]]) -> set[tuple[str, str]]:
    """(schema, path) of each exclusion that excludes no gap of any table described by that schema."""
    used: set[tuple[str, str]] = set()
    for spec in DESCRIBED:
        used.update((spec.described_by or "", exclusion) for exclusion in unexcused(spec, undeclared)[1])
    return {(schema, path) for schema, paths in undeclared.items() for path in paths} - used


def test_every_exclusion_excludes_a_gap_and_says_why() -> None:
    assert unused_exclusions(UNDECLARED) == set(), "these exclude nothing (declared after all, or not described)"
    short = [(schema, path) for schema, paths in UNDECLARED.items() for path, why in paths.items() if len(why) < 20]
    assert short == [], "each exclusion gives its reason in a sentence"


def _without(fields: Mapping[str, FieldType], path: str) -> dict[str, FieldType]:
    """The declared columns with the member at a described path removed (aliases followed as the walk does)."""
    head, _, rest = path.partition(".")
    name, is_item = head.removesuffix("[]"), head.endswith("[]")
    return {key: (_drop(ftype, is_item, rest) if key == name else ftype)
            for key, ftype in fields.items() if key != name or is_item or rest}


def _drop(ftype: FieldType, is_item: bool, rest: str) -> FieldType:
    described = ftype.description if isinstance(ftype, Column) else None
    inner = unwrap(ftype)
    if is_item:
        assert isinstance(inner, List)
        inner = List(_drop(inner.item, False, rest) if rest else inner.item)
    else:
        assert isinstance(inner, Struct), rest
        name = rest.partition(".")[0].removesuffix("[]")
        target = name if name in dict(inner.fields) else dict(inner.aliases)[name]
        members = _without(dict(inner.fields), rest.replace(name, target, 1))
        inner = Struct(tuple(members.items()), tuple(a for a in inner.aliases if a[1] in members), inner.scalar_into
                       if inner.scalar_into in members else None)
    return Column(inner, described) if described is not None else inner


def _covered_paths(spec: TableSpec) -> Iterator[str]:
    covered: list[str] = []
    table_gaps(spec, covered=covered)
    yield from dict.fromkeys(covered)


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda spec: spec.name)
def test_removing_any_declared_member_the_description_gives_is_a_gap(spec: TableSpec) -> None:
    """The test above can fail: drop one column or struct member at any depth and the walk names its path."""
    missed = []
    for path in _covered_paths(spec):
        if path.endswith("[]"):
            continue
        if path not in table_gaps(spec, _without(spec.fields, path)):
            missed.append(path)
    assert missed == []


def test_an_exclusion_of_a_declared_or_undescribed_property_is_found() -> None:
    reason = "a reason long enough to pass the length check"
    stale = {**UNDECLARED, "contact": {"email": reason, "no_such_property": reason}}
    assert unused_exclusions(stale) == {("contact", "email"), ("contact", "no_such_property")}


def test_the_walk_follows_refs_combinators_arrays_and_maps() -> None:
    """Every way the description nests a property is followed, and each mismatch with the declaration named."""
    node: Node = {
        "allOf": [{"properties": {"a": {"type": "string"}}}],
        "properties": {
            "r": {"$ref": "#/components/schemas/reference"},
            "l": {"type": "array", "items": {"oneOf": [{"properties": {"x": {"type": "integer"}}},
                                                        {"properties": {"y": {"type": "integer"}}}]}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "s": {"anyOf": [{"type": "string"}, {"properties": {"z": {"type": "string"}}}]},
            "n": {"type": "array", "items": {"type": "string"}},
            "o": {"type": "object"},
            "p": {"type": "integer"},
            "t": {"type": "string", "format": "date-time"},
            "u": {"type": "string"},
        },
    }
    declared = struct(a=STRING, r=struct(type=STRING), l=list_of(struct(x=INT)), m=MAP, s=struct(z=STRING),
                      n=list_of(STRING), o=JSON, p=INT, t=STRING, u=STRING)
    assert gaps([node], declared) == {"r.id": "no column", "l[].y": "no column"}
    wrong = struct(a=STRING, r=STRING, l=list_of(struct(x=INT, y=INT)), m=struct(k=STRING), s=STRING,
                   n=STRING, o=STRING, p=struct(q=INT), t=TIME, u=TIME)
    assert gaps([node], wrong) == {
        "r.type": "no column (r is declared as string, not an object)",
        "r.id": "no column (r is declared as string, not an object)",
        "m.*": "an open map (keys of the workspace's choosing) declared as struct",
        "s.z": "no column (s is declared as string, not an object)",
        "n[]": "described as an array, declared as string",
        "o": "described as an object or array, declared as string",
        "p": "described as a scalar, declared as struct",
        # an ISO-8601 date-time is parsed into a timestamp column (t); any other string is not (u)
        "u": "described as string, declared as timestamp (such a value would land in _extra)",
    }


def test_naming_a_poorer_schema_hides_nothing() -> None:
    """The source's answer is walked too: contacts described by a bare reference still need every contact field."""
    contacts = TABLES_BY_NAME["contacts"]
    poorer = replace(contacts, described_by="reference",
                     fields={name: ftype for name, ftype in contacts.fields.items() if name != "email"})
    assert table_gaps(poorer) == {"email": "no column"}
