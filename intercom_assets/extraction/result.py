"""What one run's extraction covers (its window) and what it produced (per table, the staged partitions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intercom_assets.intercom.errors import IntercomAPIError, IntercomAuthError
from intercom_assets.lake.deletions import Deletion
from intercom_assets.lake.staging import StagedTable
from intercom_assets.schemas import unix_seconds


@dataclass(frozen=True)
class Window:
    """The run's time window [start, end) and the day partitions it covers."""

    start: datetime
    end: datetime
    partition_keys: tuple[str, ...]

    def contains(self, ts: int | float | None) -> bool:
        return in_span(ts, self.start.timestamp(), self.end.timestamp())


def in_span(ts: Any, low: float, high: float) -> bool:
    """Whether a record's timestamp (Unix seconds, or ISO-8601 text) lies in low <= ts < high."""
    seconds = unix_seconds(ts)
    return seconds is not None and low <= seconds < high


@dataclass(frozen=True)
class ScrollPolicy:
    """The companies scroll's cadence in a run: store the complete scroll (the cadence is on), and reuse a stored
    one younger than `reuse_seconds` (catch-up chunks; 0 = always scroll)."""

    reuse_seconds: float = 0.0


@dataclass(frozen=True)
class TableFailure:
    """Why a table could not be extracted in this run; its stored partitions stay as they were."""

    endpoint: str | None
    reason: str
    refused: bool  # the API refused this token (403: a missing permission, or the workspace's plan)

    @classmethod
    def of(cls, error: BaseException) -> TableFailure:
        if isinstance(error, IntercomAuthError):
            return cls(error.endpoint, str(error), refused=True)
        if isinstance(error, IntercomAPIError):
            return cls(error.endpoint, str(error), refused=False)
        return cls(None, f"{type(error).__name__}: {error}", refused=False)


def is_unauthorized(error: BaseException) -> bool:
    """A 401: the token itself is wrong, so every table of the run fails at once."""
    return isinstance(error, IntercomAuthError) and error.status == 401


@dataclass
class ExtractionResult:
    """What a run extracted: per table, the staged partitions; per failed table, why; plus what it cost.

    A table whose source failed is in `failures` instead of `tables`: the other tables of the run still count.
    """

    tables: dict[str, StagedTable] = field(default_factory=dict)
    failures: dict[str, TableFailure] = field(default_factory=dict)
    # child table -> parent id -> (children returned, children that exist): the API's 500-part cap
    over_cap: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    reused_parents: dict[str, int] = field(default_factory=dict)
    fetched_parents: dict[str, int] = field(default_factory=dict)
    source_seconds: dict[str, float] = field(default_factory=dict)
    reused_scroll: bool = False
    deletions: list[Deletion] = field(default_factory=list)  # detected in this run (maybe known already)
    swept: list[str] = field(default_factory=list)  # tables whose records were swept
