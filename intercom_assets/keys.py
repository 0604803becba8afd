"""Names the code location gives its assets, steps and pool, shared by assets, checks, jobs and sensors."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey

GROUP = "intercom"  # tables with history: a row lands in the day of its replication timestamp
SNAPSHOT_GROUP = "intercom_snapshots"  # small lists: one snapshot on the day of extraction, no history
KEY_PREFIX = "intercom"
SOURCE_GROUP = "intercom_api"
EXTRACT_STEP = "intercom_extract"
CURRENT_SUFFIX = "_current"  # intercom/<table>_current: the current state of an incremental table
IO_MANAGER_KEY = "intercom_parquet_io_manager"
# One slot (dagster.yaml): two runs never scroll companies at once nor write the same partition at the same time.
POOL = "intercom_api"


def asset_key(table: str) -> AssetKey:
    """`intercom/<table>`."""
    return AssetKey([KEY_PREFIX, table])


def source_key(source: str) -> AssetKey:
    """`intercom_api/<source>`: the API pass a table's rows come from (an external asset, for lineage)."""
    return AssetKey([SOURCE_GROUP, source])
# Which automation launched a run (a run tag): the schedule's window runs and the catch-up sensor's chunks.
TRIGGER_TAG = "intercom/trigger"
TRIGGER_SCHEDULE = "schedule"
TRIGGER_CATCHUP = "catchup"


@dataclass(frozen=True)
class WorkspaceNames:
    """Every name one Intercom workspace gives its definitions, derived in this one place from `name` and
    `key_prefix`, so two workspaces in one code location never collide. The default workspace (no name: the
    INTERCOM_* variables, no YAML) gives exactly the names above, so an existing instance keeps its history."""

    name: str = ""
    key_prefix: str = KEY_PREFIX

    @property
    def is_default(self) -> bool:
        return not self.name

    def qualify(self, base: str) -> str:
        """`intercom_job` -> `intercom_<name>_job`: a job, schedule, sensor, op, group, pool or resource name."""
        return base if self.is_default else base.replace("intercom", f"intercom_{self.name}", 1)

    @property
    def prefix(self) -> list[str]:
        return self.key_prefix.split("/")

    def asset_key(self, table: str) -> AssetKey:
        """`<key_prefix>/<table>` (`intercom/<table>` by default)."""
        return AssetKey([*self.prefix, table])

    def source_key(self, source: str) -> AssetKey:
        """`<key_prefix>_api/<source>` (`intercom_api/<source>` by default)."""
        *head, last = self.prefix
        return AssetKey([*head, f"{last}_api", source])

    @property
    def group(self) -> str:
        return self.qualify(GROUP)

    @property
    def snapshot_group(self) -> str:
        return self.qualify(SNAPSHOT_GROUP)

    @property
    def source_group(self) -> str:
        return self.qualify(SOURCE_GROUP)

    @property
    def pool(self) -> str:
        """One slot per workspace (dagster.yaml's default_limit: 1): its runs never overlap, other workspaces' do."""
        return self.qualify(POOL)

    @property
    def intercom_resource(self) -> str:
        return self.qualify("intercom")

    @property
    def storage_resource(self) -> str:
        return "parquet_storage" if self.is_default else f"parquet_storage_{self.name}"

    @property
    def io_manager(self) -> str:
        return self.qualify(IO_MANAGER_KEY)

    @property
    def label(self) -> str:
        """How alerts and messages name the workspace."""
        return self.name or "default"


DEFAULT_NAMES = WorkspaceNames()
