"""The INTERCOM_* variables that shape definitions, read and validated once with errors that say what to fix.

Variables that only matter inside a run (token, base URL, concurrency) are resource fields read through EnvVar
(see resources.py), so they never land in run config; the ones here decide what the code location looks like
(partitions, schedule, storage root) and must be valid when the code loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dagster._utils.schedules import is_valid_cron_string

from intercom_assets.errors import SettingsError
from intercom_assets.keys import KEY_PREFIX, WorkspaceNames
from intercom_assets.lake.pii_policy import PiiPolicy, load_pii_policy
from intercom_assets.tables import DEFAULT_TABLES, TABLES, TABLES_BY_NAME, TableSpec

__all__ = ["Settings", "SettingsError", "load_settings"]
DEFAULT_HISTORY_DAYS = 365
DEFAULT_WINDOW_DAYS = 30
DEFAULT_CRON = "*/30 * * * *"
DEFAULT_PARQUET_ROOT = "data/intercom"
DEFAULT_RUN_RETENTION_DAYS = 7
DEFAULT_ALERT_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class Settings:
    """Validated code-location settings."""

    start_date: date
    attribution_window_days: int
    schedule_cron: str
    parquet_root: str
    automation_on: bool
    alert_webhook_url: str | None
    staging_dir: str | None
    run_retention_days: int = DEFAULT_RUN_RETENTION_DAYS
    # Scheduled window runs read the companies scroll at most this often (0: every run); see schedules.py.
    companies_refresh_minutes: int = 0
    # A run sweeps every contact id (to find deleted contacts) when the last sweep is older (0: every run).
    deletion_sweep_hours: int = 24
    # How often the alert sensors look for failed runs and failing checks (an alert is at most this late).
    alert_interval_seconds: int = DEFAULT_ALERT_INTERVAL_SECONDS
    # Tables the schedule, the catch-up sensor, freshness and alerts cover (the UI can still run any of them).
    tables: tuple[str, ...] = ()
    # INTERCOM_PII_POLICY keyed with INTERCOM_PII_SALT (see lake/pii_policy.py): loaded here so that a bad file
    # fails the code location. Out of repr and equality; the policy keeps no copy of the salt.
    pii_policy: PiiPolicy = field(default_factory=PiiPolicy.empty, repr=False, compare=False)
    # The support metrics (intercom_assets/metrics/): defined, and refreshed by window and catch-up runs.
    support_metrics: bool = True
    # The office hours schedule (id or name) of the metrics' business hours; empty: the only or first one.
    office_hours_schedule: str = ""
    # Which workspace this is (keys.WorkspaceNames): empty for the one the INTERCOM_* variables define.
    name: str = ""
    key_prefix: str = KEY_PREFIX
    # The variable holding the access token: the schedule and the catch-up sensor skip while it is unset.
    token_env: str = "INTERCOM_ACCESS_TOKEN"

    @property
    def names(self) -> WorkspaceNames:
        return WorkspaceNames(self.name, self.key_prefix)

    def selected(self) -> tuple[TableSpec, ...]:
        """The declarations of the selected tables, in registry order: when none is named, the default selection
        (every table but the opt-in ones, which cost a request per contact, company or conversation)."""
        if not self.tables:
            return DEFAULT_TABLES
        return tuple(spec for spec in TABLES if spec.name in self.tables)


def _parse_start_date(raw: str | None, today: date) -> date:
    if raw is None or raw.strip() == "":
        return today - timedelta(days=DEFAULT_HISTORY_DAYS)
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise SettingsError(
            f"INTERCOM_START_DATE={raw!r} is not a date: use YYYY-MM-DD, e.g. {today - timedelta(days=365)}"
        ) from None
    if len(raw.strip()) != 10:
        raise SettingsError(f"INTERCOM_START_DATE={raw!r} is not a date: use YYYY-MM-DD")
    if value > today:
        raise SettingsError(f"INTERCOM_START_DATE={raw} is in the future (today is {today} UTC)")
    if value < date(2011, 1, 1):
        raise SettingsError(f"INTERCOM_START_DATE={raw} predates Intercom itself; use a date from 2011 on")
    return value


def _parse_int(env: Mapping[str, str], name: str, default: int, low: int, high: int, unit: str) -> int:
    """A whole number within [low, high] from a variable, or the default when it is unset."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number of {unit} ({low}..{high})") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


def _parse_cron(raw: str | None) -> str:
    if raw is None or raw.strip() == "":
        return DEFAULT_CRON
    value = raw.strip()
    if not is_valid_cron_string(value):
        raise SettingsError(
            f"INTERCOM_SCHEDULE_CRON={raw!r} is not a valid cron expression (e.g. '*/30 * * * *')"
        )
    return value


def _parse_switch(name: str, raw: str | None) -> bool:
    """An on/off variable, on when unset."""
    if raw is None or raw.strip() == "":
        return True
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name}={raw!r}: use 'on' or 'off'")


def _parse_root(raw: str | None) -> str:
    value = (raw or "").strip() or DEFAULT_PARQUET_ROOT
    if "://" in value:
        return value.rstrip("/")
    return os.path.abspath(value)


def _parse_webhook(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"INTERCOM_ALERT_WEBHOOK_URL must be an http(s) URL, got {value!r}")
    return value


# In INTERCOM_TABLES, the default selection (so `default,contact_notes` adds one opt-in table to it).
DEFAULT_SELECTION = "default"


def _parse_tables(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    names: list[str] = []
    for name in (name.strip() for name in raw.split(",")):
        if name == DEFAULT_SELECTION:
            names.extend(spec.name for spec in DEFAULT_TABLES)
        elif name:
            names.append(name)
    unknown = [name for name in names if name not in TABLES_BY_NAME]
    if unknown:
        raise SettingsError(
            f"INTERCOM_TABLES names unknown tables {unknown}: use comma-separated names from "
            f"{', '.join(TABLES_BY_NAME)} (or `{DEFAULT_SELECTION}` for the default selection)"
        )
    return tuple(dict.fromkeys(names))


def load_settings(env: Mapping[str, str] | None = None, today: date | None = None) -> Settings:
    """Read every code-location variable; raises SettingsError naming the variable on a bad value."""
    env = os.environ if env is None else env
    today = today or datetime.now(UTC).date()
    return Settings(
        start_date=_parse_start_date(env.get("INTERCOM_START_DATE"), today),
        attribution_window_days=_parse_int(
            env, "INTERCOM_ATTRIBUTION_WINDOW_DAYS", DEFAULT_WINDOW_DAYS, 1, 365, "days"
        ),
        schedule_cron=_parse_cron(env.get("INTERCOM_SCHEDULE_CRON")),
        parquet_root=_parse_root(env.get("INTERCOM_PARQUET_ROOT")),
        automation_on=_parse_switch("INTERCOM_AUTOMATION", env.get("INTERCOM_AUTOMATION")),
        alert_webhook_url=_parse_webhook(env.get("INTERCOM_ALERT_WEBHOOK_URL")),
        alert_interval_seconds=_parse_int(env, "INTERCOM_ALERT_INTERVAL_SECONDS", DEFAULT_ALERT_INTERVAL_SECONDS, 5,
                                          86_400, "seconds"),
        staging_dir=(env.get("INTERCOM_STAGING_DIR") or "").strip() or None,
        run_retention_days=_parse_int(env, "INTERCOM_RUN_RETENTION_DAYS", DEFAULT_RUN_RETENTION_DAYS, 1, 3650, "days"),
        companies_refresh_minutes=_parse_int(env, "INTERCOM_COMPANIES_REFRESH_MINUTES", 0, 0, 10_080, "minutes"),
        deletion_sweep_hours=_parse_int(env, "INTERCOM_DELETION_SWEEP_HOURS", 24, 0, 8_760, "hours"),
        tables=_parse_tables(env.get("INTERCOM_TABLES")),
        pii_policy=load_pii_policy(env),
        support_metrics=_parse_switch("INTERCOM_SUPPORT_METRICS", env.get("INTERCOM_SUPPORT_METRICS")),
        office_hours_schedule=(env.get("INTERCOM_OFFICE_HOURS_SCHEDULE") or "").strip(),
    )
