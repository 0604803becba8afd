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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from intercom_assets.lake.pii_loading import Key, Loader
from intercom_assets.lake.pii_rules import (
    DROP,
    EXTRA_PREFIX,
    HASH,
    KEEP,
    POLICY_VARIABLE,
    SALT_VARIABLE,
    LoadedRules,
    Rule,
    Step,
    settings_error,
)
from intercom_assets.schemas import to_json

__all__ = ["DROP", "EXTRA_PREFIX", "HASH", "KEEP", "POLICY_VARIABLE", "SALT_VARIABLE", "PiiPolicy", "load_pii_policy"]
_SCALARS = (str, int, float, bool)


class PiiPolicy:
    """A loaded, validated policy; `apply` is the only thing a run needs."""

    __slots__ = ("_rules", "_described", "_mac", "_source")

    def __init__(
        self,
        rules: Mapping[str, tuple[Rule, ...]],
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
        key = Key(salt)
        del salt  # from here on only the keyed HMAC exists (not even in this frame, should a traceback keep it)
        source = os.fspath(path)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise settings_error(f"{POLICY_VARIABLE}={source}: the file is not UTF-8 text") from None
        except OSError as error:
            raise settings_error(
                f"{POLICY_VARIABLE}={source}: cannot read the policy file ({type(error).__name__}: "
                f"{error.strerror or error})"
            ) from None
        return cls._of(Loader(source, key).load(text))

    @classmethod
    def parse(cls, text: str, salt: str | bytes | None, source: str = "<policy>") -> PiiPolicy:
        """Validate a policy's YAML text (`source` names it in errors)."""
        key = Key(salt)
        del salt
        return cls._of(Loader(source, key).load(text))

    @classmethod
    def _of(cls, loaded: LoadedRules | None) -> PiiPolicy:
        return cls.empty() if loaded is None else cls(loaded.rules, loaded.described, loaded.mac, loaded.source)

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

    def _walk(self, value: Any, steps: tuple[Step, ...], index: int, action: str) -> Any:
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
