"""The PII policy: which values of a table's rows are kept, hashed or dropped before they reach staging.

`INTERCOM_PII_POLICY` names a YAML file (unset: every value is kept, as the replaced integration did). The file
maps table names to a mapping of dotted path -> action::

    contacts:                    # covers contacts, users and leads (users and leads are contacts)
      email: hash
      phone: hash
      name: drop
      location.city: drop        # a nested field
      social_profiles.data.url: drop   # through a list: every element's url
      custom_attributes.salary: drop   # a key inside the workspace's custom attributes (an open map)
      _extra.nickname: hash      # a field the declarations do not have (it would land in `_extra`)
    conversations:
      source.author.email: hash
    conversation_parts:
      author.email: hash         # a part's author follows the parts' rule, not the contacts'

Actions:
- `keep`: the value as the API sent it (the default for every path no rule names).
- `drop`: the value becomes null (a whole object or list, when the path names one).
- `hash`: the value becomes the lowercase hex HMAC-SHA-256 of its text, keyed with `INTERCOM_PII_SALT` encoded as
  UTF-8. The text of a string is the string itself (UTF-8); of anything else (a number, a boolean, an object)
  its compact JSON (`schemas.to_json`: sorted keys, no spaces, unicode kept), so the number 42 hashes as "42",
  like the string "42" that a string column would store. A list is hashed element by element (a list of
  hashes); null stays null. To compute a hash elsewhere:
  `hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()`.

Paths are the keys of the table's rows as the API sends them (before conversion; a child row is the list item
with its parent's id and version), joined by dots:
- `email`, `location.city`: a declared column, or a field of a declared object. A list met on the way (or at
  the end, for `hash`) applies the rule to every element. A path that is missing in a row changes nothing.
  A field declared with another key the API also uses (`teammates.admins`, sometimes sent as `teammates`) covers
  both keys; an object the API may send as a bare value (an avatar as its URL) covers that value too.
- `custom_attributes.<key>` (any path inside a `MAP` or `JSON` field): a key inside that JSON value. A key with
  a dot in its name cannot be addressed.
- `_extra.<path>`: `<path>` in the row, for a field the declarations do not have (such values land in `_extra`).

A table's rules apply to its own rows; the `contacts` rules also apply to `users` and `leads` (the tables whose
rows are contacts), which take no rules of their own, so a person's email is treated alike in all three.

What the file may not do (each fails the code location at load, naming the file and the line):
- name an unknown table, or an action other than keep/hash/drop, or give a table or a path twice;
- hash or drop a column that identifies or places a row: the key, the partition column, a child row's parent
  id and version, the `updated_at` that keeps a record's newest version;
- name a path the declarations do not have (write `_extra.<path>` for such a field), or write `_extra.<path>` for
  a declared one, or give two rules where one path contains the other;
- `hash` a value declared as anything but text (a hash is a string and every partition keeps the declared
  schema: use `drop`), or `hash` without `INTERCOM_PII_SALT` (at least 16 characters).

Schemas never change: a dropped value is null, a hashed one a string in a string (or JSON) column; a hashed
`MAP`/`JSON` value is stored as the JSON text of the hash string.

A policy change (a rule added, changed or removed, or another salt) applies to what runs write from then on.
Partitions written before it keep what the earlier policy let through, and hashes made with another salt do
not match the new ones: re-extract them, i.e. materialize the tables the change touches over every partition
written before, from INTERCOM_START_DATE to today (in the UI: select the assets, Materialize, that partition
range; it runs as one run), e.g. for a contacts rule:

    dagster asset materialize -m intercom_assets.definitions \\
      --select intercom/contacts,intercom/users,intercom/leads --partition-range 2025-01-01...2026-01-31

Snapshot tables (admins, tags, ...) cannot take a past day again: delete the past partitions that must not keep
the values.

The salt is used as the variable gives it (surrounding spaces included); only a keyed HMAC object is kept (it
does not give the key back), `repr`/`str` never show it, no error message holds it (nor this module's frames in
its traceback), and a policy that hashes cannot be pickled.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from intercom_assets.schemas import JSON, MAP, STRING, Kind, List, Struct, to_json, unwrap
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec

POLICY_VARIABLE = "INTERCOM_PII_POLICY"
SALT_VARIABLE = "INTERCOM_PII_SALT"
KEEP, HASH, DROP = "keep", "hash", "drop"
ACTIONS = (KEEP, HASH, DROP)
EXTRA_PREFIX = "_extra"
MIN_SALT_LENGTH = 16
_NULL_TAG = "tag:yaml.org,2002:null"
_SCALARS = (str, int, float, bool)


def _settings_error(message: str) -> Exception:
    # settings.py imports this module (Settings carries the loaded policy): its error class is looked up lazily.
    from intercom_assets.settings import SettingsError

    return SettingsError(message)


@dataclass(frozen=True)
class _Step:
    """One segment of a compiled path: the keys it matches in a dict (a declared name and the keys the API also
    uses for it), and whether a bare scalar standing in for the enclosing object is this field's value."""

    keys: tuple[str, ...]
    through_scalar: bool = False


@dataclass(frozen=True)
class _Rule:
    path: str
    action: str
    steps: tuple[_Step, ...]


class PiiPolicy:
    """A loaded, validated policy; `apply` is the only thing a run needs."""

    __slots__ = ("_rules", "_described", "_mac", "_source")

    def __init__(
        self,
        rules: Mapping[str, tuple[_Rule, ...]],
        described: Mapping[str, Mapping[str, str]],
        mac: hmac.HMAC | None,
        source: str | None,
    ):
        self._rules = {table: tuple(r) for table, r in rules.items() if r}
        self._described = {table: dict(paths) for table, paths in described.items()}
        self._mac = mac
        self._source = source

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> PiiPolicy:
        """Keep everything (no INTERCOM_PII_POLICY)."""
        return cls({}, {}, None, None)

    @classmethod
    def load(cls, path: str | os.PathLike[str], salt: str | bytes | None) -> PiiPolicy:
        """Read and validate a policy file; SettingsError naming the file (and the line) when it is not usable."""
        key = _Key(salt)
        del salt  # from here on only the keyed HMAC exists (not even in this frame, should a traceback keep it)
        source = os.fspath(path)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise _settings_error(f"{POLICY_VARIABLE}={source}: the file is not UTF-8 text") from None
        except OSError as error:
            raise _settings_error(
                f"{POLICY_VARIABLE}={source}: cannot read the policy file ({type(error).__name__}: "
                f"{error.strerror or error})"
            ) from None
        return _Loader(source, key).load(text)

    @classmethod
    def parse(cls, text: str, salt: str | bytes | None, source: str = "<policy>") -> PiiPolicy:
        """Validate a policy's YAML text (`source` names it in errors)."""
        key = _Key(salt)
        del salt
        return _Loader(source, key).load(text)

    # ---- use ---------------------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        """True when no rule changes any value (no file, or only `keep` rules)."""
        return not self._rules

    def has_rules(self, table: str) -> bool:
        """Whether `apply` can change a row of this table (False: rows pass through untouched)."""
        return table in self._rules

    def describe(self) -> dict[str, dict[str, str]]:
        """The rules as written, {table: {path: action}}, `keep` included; covered subsets are not repeated."""
        return {table: dict(paths) for table, paths in self._described.items()}

    def fingerprint(self, table: str) -> str:
        """A short digest of what the policy does to this table's rows ('' when nothing): rules and, when one
        hashes, which salt (a keyed digest of a constant: it does not give the salt away). Data written under
        another fingerprint was written under another policy, e.g. stored children a run would reuse."""
        rules = self._rules.get(table)
        if not rules:
            return ""
        described = sorted((rule.path, rule.action) for rule in rules)
        salt_id = self._hex(b"intercom-assets pii salt id")[:16] if any(r.action == HASH for r in rules) else ""
        return hashlib.sha256(to_json([described, salt_id]).encode()).hexdigest()[:16]

    def apply(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row with this table's rules applied: a new dict (the input and its nested values are never
        modified), or the row itself when the table has no rules."""
        rules = self._rules.get(table)
        if rules is None:
            return row
        out = dict(row)
        for rule in rules:
            for key in rule.steps[0].keys:
                if key in out:
                    out[key] = self._walk(out[key], rule.steps, 1, rule.action)
        return out

    def hash_value(self, value: Any) -> Any:
        """What `hash` makes of one value (see the module docstring): hex HMAC-SHA-256 of its text."""
        if value is None:
            return None
        if isinstance(value, list):
            return [self.hash_value(item) for item in value]
        return self._hex((value if isinstance(value, str) else to_json(value)).encode("utf-8"))

    # ---- internals ---------------------------------------------------------------------------------------
    def _hex(self, data: bytes) -> str:
        if self._mac is None:  # unreachable for a loaded policy: `hash` without a salt fails at load
            raise RuntimeError(f"this PII policy has no {SALT_VARIABLE}")
        mac = self._mac.copy()
        mac.update(data)
        return mac.hexdigest()

    def _walk(self, value: Any, steps: tuple[_Step, ...], index: int, action: str) -> Any:
        if index == len(steps):
            if action == DROP:
                return None
            return self.hash_value(value) if action == HASH else value
        if value is None:
            return None
        if isinstance(value, list):
            new_list = [self._walk(item, steps, index, action) for item in value]
            return value if all(a is b for a, b in zip(new_list, value, strict=True)) else new_list
        step = steps[index]
        if isinstance(value, dict):
            out = None
            for key in step.keys:
                if key in value:
                    old = value[key]
                    new = self._walk(old, steps, index + 1, action)
                    if new is not old:
                        if out is None:
                            out = dict(value)
                        out[key] = new
            return value if out is None else out
        if step.through_scalar and isinstance(value, _SCALARS):
            return self._walk(value, steps, index + 1, action)
        return value

    def __repr__(self) -> str:
        if not self._described:
            return "PiiPolicy(keep everything)"
        count = sum(len(paths) for paths in self._described.values())
        return f"PiiPolicy({self._source!r}: {count} rule{'s' * (count != 1)} for {', '.join(self._described)})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        if self._mac is not None:
            raise TypeError(
                f"a PiiPolicy that hashes is not pickled (it is keyed with {SALT_VARIABLE}): load it where it is "
                "used (load_pii_policy)"
            )
        return (PiiPolicy, (self._rules, self._described, None, self._source))

    def __copy__(self) -> PiiPolicy:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PiiPolicy:
        return self


def load_pii_policy(env: Mapping[str, str] | None = None) -> PiiPolicy:
    """The policy INTERCOM_PII_POLICY names (a relative path is taken from the working directory), keyed with
    INTERCOM_PII_SALT; keep everything when the variable is unset. SettingsError when the file is not usable."""
    env = os.environ if env is None else env
    raw = (env.get(POLICY_VARIABLE) or "").strip()
    if not raw:
        return PiiPolicy.empty()
    return PiiPolicy.load(os.path.abspath(raw), env.get(SALT_VARIABLE))


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

    steps: list[_Step]
    declared: int  # how many segments name declared fields
    ftype: Any  # the declared type at the last declared segment (lists taken off), None when nothing declared
    open_at: int | None  # index of the segment that is a JSON/MAP field, when the path goes inside one


def _resolve(fields: Mapping[str, Any], segments: list[str], alias_problem: list[str]) -> _Resolved:
    """Walk the declared types along `segments` as far as they go; the rest are raw keys."""
    steps: list[_Step] = []
    members: Mapping[str, Any] = fields
    aliases: dict[str, str] = {}
    scalar_into: str | None = None
    ftype: Any = None
    for index, segment in enumerate(segments):
        if segment in aliases:
            alias_problem.append(f"`{'.'.join([*segments[:index], aliases[segment]])}`")
            segment = aliases[segment]
        if members is None or segment not in members:
            steps.extend(_Step((s,)) for s in segments[index:])
            return _Resolved(steps, index, ftype, None)
        keys = (segment, *(alias for alias, target in aliases.items() if target == segment))
        steps.append(_Step(keys, through_scalar=scalar_into == segment))
        ftype = _strip_lists(members[segment])
        if ftype is JSON or ftype is MAP:
            steps.extend(_Step((s,)) for s in segments[index + 1:])
            return _Resolved(steps, index + 1, ftype, index)
        if isinstance(ftype, Struct):
            members, aliases, scalar_into = dict(ftype.fields), dict(ftype.aliases), ftype.scalar_into
        else:
            members, aliases, scalar_into = None, {}, None
    return _Resolved(steps, len(segments), ftype, None)


class _Key:
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
        return "_Key(...)"


class _Loader:
    def __init__(self, source: str, key: _Key):
        self.source = source
        self.key = key

    def fail(self, node: Node | None, problem: str) -> NoReturn:
        where = f", line {node.start_mark.line + 1}" if node is not None else ""
        raise _settings_error(f"{POLICY_VARIABLE}={self.source}{where}: {problem}")

    def load(self, text: str) -> PiiPolicy:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = "; ".join(p for p in (error.context, error.problem) if p)
            raise _settings_error(f"{POLICY_VARIABLE}={self.source}{line}: not valid YAML: {problem}") from None
        except yaml.YAMLError as error:
            raise _settings_error(f"{POLICY_VARIABLE}={self.source}: not valid YAML ({type(error).__name__})") from None
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
            return PiiPolicy.empty()
        if not isinstance(root, MappingNode):
            self.fail(root, "the policy must be a mapping of table names to {path: keep|hash|drop}")
        rules: dict[str, list[_Rule]] = {}
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
        return PiiPolicy({t: tuple(r) for t, r in rules.items()}, described, mac, self.source)

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

    def _compile(self, spec: TableSpec, node: ScalarNode, action: str) -> _Rule | None:
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
        return _Rule(path, action, tuple(resolved.steps))

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


def _variants(steps: list[_Step]) -> Iterable[tuple[str, ...]]:
    """Every raw key path a compiled path can match (a declared field and the other keys the API uses for it)."""
    variants: list[tuple[str, ...]] = [()]
    for step in steps:
        variants = [(*v, key) for v in variants for key in step.keys]
    return variants
