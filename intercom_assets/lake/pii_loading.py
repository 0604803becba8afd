"""Loading and validating a PII policy file (lake/pii_policy.py says what a policy is and applies it): YAML with
line numbers, table and path resolution against the declarations, protected columns, the salt."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from intercom_assets.lake.pii_rules import (
    ACTIONS,
    EXTRA_PREFIX,
    HASH,
    KEEP,
    MIN_SALT_LENGTH,
    POLICY_VARIABLE,
    SALT_VARIABLE,
    LoadedRules,
    Rule,
    Step,
    settings_error,
)
from intercom_assets.schemas import JSON, MAP, STRING, Kind, List, Struct, unwrap
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec

_NULL_TAG = "tag:yaml.org,2002:null"

# ---- loading and validation -------------------------------------------------------------------------------
def _covered(table: str) -> tuple[TableSpec, ...]:
    """The tables a rule under `table` applies to: itself and the tables that are subsets of it."""
    return (TABLES_BY_NAME[table], *(spec for spec in TABLES if spec.subset_of == table))


def _protected(spec: TableSpec) -> dict[str, str]:
    """Columns of a table that cannot be hashed or dropped, with what they are."""
    protected: dict[str, str] = {}
    if spec.parent_key is None and "updated_at" in spec.fields:
        protected["updated_at"] = "the version that keeps each record's newest row"
    if spec.children is not None:
        protected[spec.children.version_column] = "the parent record's version"
        protected[spec.children.id_column] = "the parent record's id"
    if spec.partition_column is not None:
        protected[spec.partition_column] = "the partition column"
    for name in spec.key:
        protected[name] = "the key" if len(spec.key) == 1 else "part of the key"
    return protected


def _strip_lists(ftype: Any) -> Any:
    ftype = unwrap(ftype)
    while isinstance(ftype, List):
        ftype = unwrap(ftype.item)
    return ftype


def _type_name(ftype: Any) -> str:
    if isinstance(ftype, Kind):
        return f"{'an' if ftype.name[0] in 'aeiou' else 'a'} {ftype.name}"
    return "an object" if isinstance(ftype, Struct) else "a list"


@dataclass
class _Resolved:
    """How a path meets the declarations: its steps, how far the declared part reaches, and the type there."""

    steps: list[Step]
    declared: int  # how many segments name declared fields
    ftype: Any  # the declared type at the last declared segment (lists taken off), None when nothing declared
    open_at: int | None  # index of the segment that is a JSON/MAP field, when the path goes inside one


def _resolve(fields: Mapping[str, Any], segments: list[str], alias_problem: list[str]) -> _Resolved:
    """Walk the declared types along `segments` as far as they go; the rest are raw keys."""
    steps: list[Step] = []
    members: Mapping[str, Any] = fields
    aliases: dict[str, str] = {}
    scalar_into: str | None = None
    ftype: Any = None
    for index, segment in enumerate(segments):
        if segment in aliases:
            alias_problem.append(f"`{'.'.join([*segments[:index], aliases[segment]])}`")
            segment = aliases[segment]
        if members is None or segment not in members:
            steps.extend(Step((s,)) for s in segments[index:])
            return _Resolved(steps, index, ftype, None)
        keys = (segment, *(alias for alias, target in aliases.items() if target == segment))
        steps.append(Step(keys, through_scalar=scalar_into == segment))
        ftype = _strip_lists(members[segment])
        if ftype is JSON or ftype is MAP:
            steps.extend(Step((s,)) for s in segments[index + 1:])
            return _Resolved(steps, index + 1, ftype, index)
        if isinstance(ftype, Struct):
            members, aliases, scalar_into = dict(ftype.fields), dict(ftype.aliases), ftype.scalar_into
        else:
            members, aliases, scalar_into = None, {}, None
    return _Resolved(steps, len(segments), ftype, None)


class Key:
    """What loading needs of the salt: a keyed HMAC object (which does not give the key back), or why not."""

    __slots__ = ("mac", "problem")

    def __init__(self, salt: str | bytes | None):
        self.mac: hmac.HMAC | None = None
        self.problem: str | None = None
        text = salt.decode("utf-8", "replace") if isinstance(salt, bytes) else salt
        if not text or not text.strip():
            self.problem = "which is not set"
        elif len(text) < MIN_SALT_LENGTH:
            self.problem = "which is shorter"
        else:
            # surrogateescape: the variable's bytes as the OS gave them, whatever they are
            data = salt if isinstance(salt, bytes) else text.encode("utf-8", "surrogateescape")
            self.mac = hmac.new(data, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Key(...)"


class Loader:
    def __init__(self, source: str, key: Key):
        self.source = source
        self.key = key

    def fail(self, node: Node | None, problem: str) -> NoReturn:
        where = f", line {node.start_mark.line + 1}" if node is not None else ""
        raise settings_error(f"{POLICY_VARIABLE}={self.source}{where}: {problem}")

    def load(self, text: str) -> LoadedRules | None:
        """The file's validated rules (None for an empty file: keep everything)."""
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = "; ".join(p for p in (error.context, error.problem) if p)
            raise settings_error(f"{POLICY_VARIABLE}={self.source}{line}: not valid YAML: {problem}") from None
        except yaml.YAMLError as error:
            raise settings_error(f"{POLICY_VARIABLE}={self.source}: not valid YAML ({type(error).__name__})") from None
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
            return None
        if not isinstance(root, MappingNode):
            self.fail(root, "the policy must be a mapping of table names to {path: keep|hash|drop}")
        rules: dict[str, list[Rule]] = {}
        described: dict[str, dict[str, str]] = {}
        hash_node: Node | None = None
        for table_node, paths_node in self._pairs(root, "table"):
            table = self._table(table_node)
            described[table] = {}
            for path_node, action_node in self._table_rules(paths_node):
                path, action = path_node.value, self._action(action_node)
                described[table][path] = action
                if action == HASH and hash_node is None:
                    hash_node = path_node
                for spec in _covered(table):
                    rule = self._compile(spec, path_node, action)
                    if rule is not None:
                        rules.setdefault(spec.name, []).append(rule)
            self._check_overlaps(table, paths_node)
        if hash_node is not None and self.key.problem is not None:
            self.fail(
                hash_node,
                f"`{hash_node.value}: hash` needs {SALT_VARIABLE} (the secret HMAC key, at least {MIN_SALT_LENGTH} "
                f"characters), {self.key.problem}; e.g. python -c 'import secrets; print(secrets.token_hex(32))'",
            )
        mac = self.key.mac if hash_node is not None else None
        return LoadedRules({t: tuple(r) for t, r in rules.items()}, described, mac, self.source)

    def _pairs(self, node: MappingNode, what: str) -> Iterable[tuple[ScalarNode, Node]]:
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.fail(key, f"a {what} must be a plain name, not a list or a mapping")
            if key.value in seen:
                self.fail(key, f"`{key.value}` is given twice (first on line {seen[key.value]})")
            seen[key.value] = key.start_mark.line + 1
            yield key, value

    def _table(self, node: ScalarNode) -> str:
        name = node.value
        spec = TABLES_BY_NAME.get(name)
        if spec is None:
            names = ", ".join(s.name for s in TABLES if s.subset_of is None)
            self.fail(node, f"`{name}` is not a table; tables: {names}")
        if spec.subset_of is not None:
            covered = " and ".join(s.name for s in _covered(spec.subset_of)[1:])
            self.fail(
                node,
                f"`{name}` takes the rules of `{spec.subset_of}` (its rows are {spec.subset_of}; the "
                f"{spec.subset_of} rules cover {covered}): put them under `{spec.subset_of}`",
            )
        return name

    def _table_rules(self, node: Node) -> Iterable[tuple[ScalarNode, ScalarNode]]:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return
        if not isinstance(node, MappingNode):
            self.fail(node, "a table's rules must be a mapping of dotted paths to keep, hash or drop")
        for path_node, action_node in self._pairs(node, "path"):
            if not isinstance(action_node, ScalarNode):
                self.fail(
                    action_node,
                    f"`{path_node.value}` must map to keep, hash or drop (write a nested field as one dotted path, "
                    "e.g. `source.author.email: hash`)",
                )
            yield path_node, action_node

    def _action(self, node: ScalarNode) -> str:
        if node.value not in ACTIONS:
            self.fail(node, f"unknown action `{node.value}`: use keep, hash or drop")
        return node.value

    def _segments(self, node: ScalarNode) -> list[str]:
        path = node.value
        segments = path.split(".")
        if not path or any(not s.strip() for s in segments):
            self.fail(node, f"`{path}` is not a dotted path (an empty name between dots)")
        if any("[" in s and s.endswith("]") for s in segments):
            self.fail(node, f"`{path}`: leave out list indexes; a rule applies to every element of a list")
        return segments

    def _compile(self, spec: TableSpec, node: ScalarNode, action: str) -> Rule | None:
        path = node.value
        segments = self._segments(node)
        extra = segments[0] == EXTRA_PREFIX
        if extra and len(segments) == 1:
            self.fail(node, f"`{EXTRA_PREFIX}` alone is not a path: name the field inside it, `_extra.<path>`")
        wanted = segments[1:] if extra else segments
        aliases: list[str] = []
        resolved = _resolve(spec.fields, wanted, aliases)
        if aliases:
            self.fail(node, f"`{path}` uses another key the API sends for a declared field: write {aliases[0]} "
                            "(the rule covers both keys)")
        protected = _protected(spec).get(wanted[0]) if resolved.declared else None
        if protected is not None and action != KEEP:
            self.fail(node, f"`{wanted[0]}` is {protected} of {spec.name}: it cannot be hashed or dropped")
        fully_declared = resolved.declared == len(wanted) or resolved.open_at is not None
        if extra and fully_declared:
            declared = ".".join(wanted)
            self.fail(node, f"`{path}` names the declared field `{declared}` of {spec.name}: write `{declared}`")
        if not extra and not fully_declared:
            missing = ".".join(wanted[: resolved.declared + 1])
            self.fail(
                node,
                f"`{path}`: {spec.name} declares no field `{missing}`; for a field the declaration does not "
                f"have (it lands in _extra), write `_extra.{path}`",
            )
        if action == HASH and not extra and resolved.open_at is None:
            ftype = resolved.ftype
            if ftype is not STRING:
                self.fail(
                    node,
                    f"`{path}` is declared as {_type_name(ftype)}, and a hash is a string: every partition keeps "
                    f"the declared schema, so hash only text (strings, values inside JSON or _extra); use drop",
                )
        if action == KEEP:
            return None
        return Rule(path, action, tuple(resolved.steps))

    def _check_overlaps(self, table: str, node: Node) -> None:
        """Two rules where one path contains the other would apply in an order the file does not show."""
        if not isinstance(node, MappingNode):
            return
        spec = TABLES_BY_NAME[table]
        raw: list[tuple[tuple[str, ...], ScalarNode]] = []
        for path_node, _ in node.value:
            segments = path_node.value.split(".")
            wanted = segments[1:] if segments[0] == EXTRA_PREFIX else segments
            steps = _resolve(spec.fields, wanted, []).steps
            raw.extend((variant, path_node) for variant in _variants(steps))
        for i, (a, a_node) in enumerate(raw):
            for b, b_node in raw[:i]:
                if a_node is not b_node and (a[: len(b)] == b or b[: len(a)] == a):
                    self.fail(
                        a_node,
                        f"`{a_node.value}` overlaps `{b_node.value}` (line {b_node.start_mark.line + 1}): give one "
                        "rule for a value and what is inside it",
                    )


def _variants(steps: list[Step]) -> Iterable[tuple[str, ...]]:
    """Every raw key path a compiled path can match (a declared field and the other keys the API uses for it)."""
    variants: list[tuple[str, ...]] = [()]
    for step in steps:
        variants = [(*v, key) for v in variants for key in step.keys]
    return variants
