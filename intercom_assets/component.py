"""`IntercomWorkspace`: one Intercom workspace as a Dagster component, one `defs.yaml` file per workspace.

```yaml
# intercom_assets/defs/eu/defs.yaml
type: intercom_assets.IntercomWorkspace
attributes:
  name: eu
  access_token_env: INTERCOM_EU_ACCESS_TOKEN   # the variable holding the token, never the token
  base_url: https://api.eu.intercom.io
```

Each attribute is an INTERCOM_* variable without its prefix, in lower case, with the same default and the same
validation (settings.py reads both: a YAML file is turned into those variables and checked by the same code, and its
errors name the file and the attribute). Secrets stay in the environment: the YAML names the variables
(`access_token_env`, `pii_salt_env`); the token reaches the resource through Dagster's EnvVar, as today. Every name
the workspace gives its definitions comes from `name` and `key_prefix` (keys.WorkspaceNames); builder.py builds them.
Across files, two workspaces may not share a name, key prefix, pool or Parquet root (nor nest one root or prefix in
another): the load fails naming both files.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
import types
import warnings
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Union

import dagster as dg
import yaml
from dagster import DagsterError, EnvVar
from dagster.components.core.component_tree import ComponentTree
from pydantic import PrivateAttr

from intercom_assets.builder import build_shared_defs, build_workspace_defs, shared_job_names
from intercom_assets.errors import SettingsError
from intercom_assets.keys import KEY_PREFIX, WorkspaceNames
from intercom_assets.resources import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_SHARE,
    DEFAULT_TIMEOUT_SECONDS,
    IntercomResource,
)
from intercom_assets.settings import Settings, load_settings

# Dagster's component loader copies each sensor with `owners` (a beta parameter) and so warns, in every process that
# loads YAML workspaces, about a parameter this project never passes: nothing a user can act on.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition.__init__`",
                        category=dg.BetaWarning)

DEFS_DIR = Path(__file__).resolve().parent / "defs"
WORKSPACES_DIR_VARIABLE = "INTERCOM_WORKSPACES_DIR"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KEY_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Attributes that are INTERCOM_* variables read by settings.py (the API ones are resource fields, checked here).
SETTING_ATTRIBUTES = (
    "start_date", "attribution_window_days", "schedule_cron", "automation", "tables", "parquet_root", "staging_dir",
    "run_retention_days", "companies_refresh_minutes", "deletion_sweep_hours", "alert_webhook_url",
    "alert_interval_seconds", "pii_policy", "support_metrics", "office_hours_schedule",
)


def _date_text(context: dg.ResolutionContext, value: Any) -> str | None:
    value = context.resolve_value(value)
    return value.isoformat() if isinstance(value, date) else value


# YAML reads `start_date: 2025-01-01` as a date: taken as the text it was written as (settings.py checks it).
YamlDate = Annotated[str | None, dg.Resolver(_date_text, model_field_type=Union[str, date, None])]  # noqa: UP007


class IntercomWorkspace(dg.Component, dg.Resolvable, dg.Model):
    """One Intercom workspace replicated into daily-partitioned Parquet: its tables, checks, current state, job,
    schedule and sensors, named after the workspace. Attributes: the INTERCOM_* variables without the prefix, in
    lower case; secrets are named by the variables holding them (access_token_env, pii_salt_env)."""

    name: str
    access_token_env: str | None = None
    key_prefix: str | None = None
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    rate_limit_share: float = DEFAULT_RATE_LIMIT_SHARE
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    start_date: YamlDate = None
    attribution_window_days: int | None = None
    schedule_cron: str | None = None
    automation: str | bool | None = None  # YAML reads on/off as booleans
    tables: list[str] | None = None
    parquet_root: str | None = None
    staging_dir: str | None = None
    run_retention_days: int | None = None
    companies_refresh_minutes: int | None = None
    deletion_sweep_hours: int | None = None
    alert_webhook_url: str | None = None
    alert_interval_seconds: int | None = None
    support_metrics: str | bool | None = None  # YAML reads on/off as booleans
    office_hours_schedule: str | None = None
    pii_policy: str | None = None
    pii_salt_env: str | None = None
    _settings: Settings | None = PrivateAttr(default=None)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        settings = self.settings(str(context.path / "defs.yaml"))
        first = workspace_files(context.path.parent)[0].parent == context.path
        return build_workspace_defs(settings, self.resource(), shared_job_names() if first else ())

    def settings(self, source: str) -> Settings:
        """The workspace's validated settings; a SettingsError names `source`, the attribute and what to write."""
        if self._settings is None:
            self._settings = workspace_settings(self, source)
        return self._settings

    def resource(self) -> IntercomResource:
        """The API resource: the token through EnvVar (never in run config, events or logs)."""
        return IntercomResource(
            access_token=EnvVar(self.access_token_env or ""), base_url=self.base_url, api_version=self.api_version,
            max_concurrency=self.max_concurrency, rate_limit_share=self.rate_limit_share,
            timeout_seconds=self.timeout_seconds, max_retries=self.max_retries,
        )


def _fail(source: str, key: str, problem: str) -> SettingsError:
    return SettingsError(f"{source}: attributes.{key}: {problem}")


def workspace_settings(ws: IntercomWorkspace, source: str) -> Settings:
    """settings.py's validation applied to the YAML attributes, with the workspace's names."""
    if not NAME.match(ws.name):
        raise _fail(source, "name", f"{ws.name!r} is not a workspace name: write lower-case letters, digits and _ "
                    "(starting with a letter, at most 40), e.g. `name: eu`")
    if not ws.access_token_env:
        raise _fail(source, "access_token_env", "missing: name the environment variable that holds the workspace's "
                    f"access token, e.g. `access_token_env: INTERCOM_{ws.name.upper()}_ACCESS_TOKEN` (never the "
                    "token itself)")
    for key in ("access_token_env", "pii_salt_env"):
        value = getattr(ws, key)
        if value is not None and not ENV_NAME.match(value):
            raise _fail(source, key, f"{value!r} is not an environment variable name: name the variable that holds "
                        "the secret (e.g. INTERCOM_EU_ACCESS_TOKEN), never the secret itself")
    prefix = ws.key_prefix or f"{KEY_PREFIX}_{ws.name}"
    if not KEY_PREFIX_RE.match(prefix):
        raise _fail(source, "key_prefix", f"{prefix!r} is not an asset key prefix: write identifiers joined by /, "
                    f"e.g. `key_prefix: intercom_{ws.name}`")
    if not 0 < ws.rate_limit_share <= 1:
        raise _fail(source, "rate_limit_share", f"{ws.rate_limit_share} is outside (0, 1]: e.g. 0.8")
    if ws.timeout_seconds <= 0:
        raise _fail(source, "timeout_seconds", f"{ws.timeout_seconds} is not > 0: e.g. 30")
    names = WorkspaceNames(ws.name, prefix)
    env: dict[str, str] = {"INTERCOM_PARQUET_ROOT": f"data/{names.qualify('intercom')}"}
    for key in SETTING_ATTRIBUTES:
        value = getattr(ws, key)
        if isinstance(value, bool):
            value = "on" if value else "off"
        if value is not None:
            env[f"INTERCOM_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    if ws.pii_salt_env and os.environ.get(ws.pii_salt_env) is not None:
        env["INTERCOM_PII_SALT"] = os.environ[ws.pii_salt_env]
    try:
        settings = load_settings(env)
    except SettingsError as error:
        raise _translate(error, source, ws) from None
    return dataclasses.replace(settings, name=ws.name, key_prefix=prefix, token_env=ws.access_token_env)


def _translate(error: SettingsError, source: str, ws: IntercomWorkspace) -> SettingsError:
    """settings.py names the variable (INTERCOM_TABLES=...); a YAML user needs the file and the attribute."""
    text = str(error)
    if "INTERCOM_PII_SALT" in text and ws.pii_salt_env:
        text = text.replace("INTERCOM_PII_SALT", f"the variable {ws.pii_salt_env} (pii_salt_env)")
    elif "INTERCOM_PII_SALT" in text:
        text += "; name the variable holding the salt with `pii_salt_env: ...`"
    match = re.search(r"INTERCOM_([A-Z_]+)", text)
    key = match.group(1).lower() if match else "?"
    text = re.sub(r"INTERCOM_([A-Z_]+)", lambda m: m.group(1).lower(), text).replace("comma-separated names", "names")
    return SettingsError(f"{source}: attributes.{key}: {text}")


def defs_dir() -> Path:
    """The folder of workspace folders: intercom_assets/defs/ (what `dg` reads), or INTERCOM_WORKSPACES_DIR (a
    mounted folder in a deployment, a temporary one in tests)."""
    override = os.environ.get(WORKSPACES_DIR_VARIABLE, "").strip()
    return Path(override).resolve() if override else DEFS_DIR


def workspace_files(folder: Path | None = None) -> list[Path]:
    """Every `<workspace>/defs.yaml` under the folder."""
    return sorted((folder or defs_dir()).glob("*/defs.yaml"))


def check_distinct(workspaces: Sequence[tuple[str, Settings]]) -> None:
    """No two workspaces may share a name, key prefix, pool or Parquet root, nor nest a root or prefix in another
    (their files and asset keys would mix); the error names both files and what to change."""
    seen: dict[str, tuple[str, str]] = {}
    for source, settings in workspaces:
        names = settings.names
        for what, value in (("name", names.name), ("key_prefix", names.key_prefix), ("pool", names.pool),
                            ("parquet_root", settings.parquet_root)):
            for other_key, (other_source, other_value) in seen.items():
                if not other_key.startswith(what + ":"):
                    continue
                nested = what in ("key_prefix", "parquet_root") and _nests(value, other_value)
                if value == other_value or nested:
                    raise SettingsError(
                        f"{source}: attributes.{what}: {value!r} "
                        + ("is also" if value == other_value else f"nests with {other_value!r},")
                        + f" the {what} of {other_source}: give each workspace its own {what} (e.g. "
                        f"`{what}: {_suggest(what, names)}`)"
                    )
            seen[f"{what}:{value}"] = (source, value)


def _nests(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)


def _suggest(what: str, names: WorkspaceNames) -> str:
    return {"name": f"{names.name}_2", "key_prefix": f"intercom_{names.name}", "pool": f"intercom_{names.name}",
            "parquet_root": f"data/intercom_{names.name}"}[what]


def _unknown_keys(path: Path) -> None:
    """An attribute the component does not have: name the file, the key, and the closest attribute."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(document, dict) or document.get("type") not in ("intercom_assets.IntercomWorkspace", None):
        return
    attributes = document.get("attributes") or {}
    known = list(IntercomWorkspace.model_fields)
    for key in attributes:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"the attributes are: {', '.join(known)}"
            variable = f" (INTERCOM_{str(key).upper()} has no YAML attribute)" if key == "access_token" else ""
            if key == "access_token":
                hint = "a token never goes in the YAML: set `access_token_env` to the variable that holds it"
            raise SettingsError(f"{path}: attributes.{key}: unknown attribute{variable}; {hint}")


def _tree(folder: Path) -> ComponentTree:
    """The component tree over the folder: the project's own defs module as `dg` loads it, or, for another folder,
    a module made for it (its defs.yaml files name their component type; no Python of theirs is imported)."""
    try:  # a dg project's own defs folder (this package's, or a project using the component)
        tree = ComponentTree.for_project(path_within_project=folder)
        if tree.defs_module_path.resolve() == folder.resolve():
            return tree
    except (DagsterError, ModuleNotFoundError):
        pass
    name = "intercom_workspaces_" + re.sub(r"\W", "_", str(folder))
    module = sys.modules.get(name) or types.ModuleType(name)
    module.__file__, module.__path__ = str(folder / "__init__.py"), [str(folder)]  # type: ignore[assignment]
    sys.modules[name] = module
    return ComponentTree(defs_module=module, project_root=folder.parent)


def load_workspaces(folder: Path | None = None) -> dg.Definitions:
    """Every IntercomWorkspace under the folder (Dagster's component tree, as `dg` loads it), checked for
    collisions, plus the shared jobs (maintenance, erasure)."""
    folder = folder or defs_dir()
    files = workspace_files(folder)
    for path in files:
        _unknown_keys(path)
    tree = _tree(folder)
    found: list[tuple[str, Settings]] = []
    for path in files:
        component = tree.load_component(path.parent.relative_to(folder), IntercomWorkspace)
        found.append((str(path), component.settings(str(path))))
    check_distinct(found)
    workspaces = tree.build_defs()
    return dg.Definitions.merge(workspaces, build_shared_defs([settings for _, settings in found]))
