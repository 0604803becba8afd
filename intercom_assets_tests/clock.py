"""A frozen "now" for the product's clocks: the day a run takes its snapshots on, the day a sensor ticks on.

Tests that read "today" at import time broke across UTC midnight (the module imported before it, the run after).
A test takes the `today` fixture instead: it freezes the modules that read the wall clock for the day they act on
at FROZEN_NOW, two days after the test server's data (TEST_NOW), so every run sees the same day, whenever it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

FROZEN_NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
# The modules whose `datetime.now()` decides a day: the extraction step (snapshot day, _extracted_at, deletion
# sweeps) and the catch-up sensor (the attribution window, retry backoff).
CLOCK_MODULES = ("intercom_assets.run_step", "intercom_assets.automation.catchup")


def frozen_datetime(at: datetime) -> type[datetime]:
    """A `datetime` class whose now() is always `at` (everything else is datetime's own)."""

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return at.astimezone(tz) if tz is not None else at.astimezone(UTC).replace(tzinfo=None)

    return FrozenDatetime


def freeze(set_attribute: Callable[[object, str, object], None], at: datetime = FROZEN_NOW) -> None:
    """Point every CLOCK_MODULES' `datetime` at a frozen one with `set_attribute` (monkeypatch.setattr, which
    fails if a module no longer has that name, or plain setattr in a subprocess)."""
    for name in CLOCK_MODULES:
        set_attribute(importlib.import_module(name), "datetime", frozen_datetime(at))
