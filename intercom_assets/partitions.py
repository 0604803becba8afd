"""The one daily partitioning shared by every table, and the day arithmetic around it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from dagster import DailyPartitionsDefinition

DATE_FORMAT = "%Y-%m-%d"


def build_partitions_def(start_date: date) -> DailyPartitionsDefinition:
    """UTC days from the start date up to and including today (end_offset=1 keeps the open day)."""
    return DailyPartitionsDefinition(
        start_date=start_date.strftime(DATE_FORMAT), timezone="UTC", end_offset=1, fmt=DATE_FORMAT
    )


def day_key(ts_seconds: int) -> str:
    """Partition key of a Unix timestamp: its UTC day (UTC days are exactly 86,400 Unix seconds)."""
    return _day_key_of_epoch_day(ts_seconds // 86400)


@lru_cache(maxsize=4096)
def _day_key_of_epoch_day(epoch_day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=epoch_day)).strftime(DATE_FORMAT)


def key_start(key: str) -> datetime:
    """Start (inclusive, UTC) of a partition key's day."""
    return datetime.strptime(key, DATE_FORMAT).replace(tzinfo=UTC)


def keys_between(first: str, last: str) -> list[str]:
    """Every day key from first to last inclusive."""
    start, end = key_start(first).date(), key_start(last).date()
    return [(start + timedelta(days=i)).strftime(DATE_FORMAT) for i in range((end - start).days + 1)]


def trailing_window(today: date, window_days: int) -> tuple[str, str]:
    """The attribution window [today − (window − 1), today] as first and last partition keys."""
    first = today - timedelta(days=window_days - 1)
    return first.strftime(DATE_FORMAT), today.strftime(DATE_FORMAT)
