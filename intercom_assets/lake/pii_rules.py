"""What a loaded PII policy consists of: its variables, its actions and its compiled rules.

Shared by the loader (lake/pii_loading.py, which validates a file into rules) and the policy (lake/pii_policy.py,
which applies them), so that neither imports the other's insides.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from intercom_assets.errors import SettingsError

POLICY_VARIABLE = "INTERCOM_PII_POLICY"
SALT_VARIABLE = "INTERCOM_PII_SALT"
KEEP, HASH, DROP = "keep", "hash", "drop"
ACTIONS = (KEEP, HASH, DROP)
EXTRA_PREFIX = "_extra"
MIN_SALT_LENGTH = 16


def settings_error(message: str) -> SettingsError:
    """The error a policy file that cannot be used raises (it names the variable and the file, never the salt)."""
    return SettingsError(message)


@dataclass(frozen=True)
class Step:
    """One segment of a compiled path: the keys it matches in a dict (a declared name and the keys the API also
    uses for it), and whether a bare scalar standing in for the enclosing object is this field's value."""

    keys: tuple[str, ...]
    through_scalar: bool = False


@dataclass(frozen=True)
class Rule:
    """One path of one table and what happens to its values."""

    path: str
    action: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class LoadedRules:
    """A validated policy file: rules per table, the file's own words per table, the keyed HMAC (when a rule
    hashes) and the file's name."""

    rules: Mapping[str, tuple[Rule, ...]]
    described: Mapping[str, Mapping[str, str]]
    mac: hmac.HMAC | None
    source: str | None
