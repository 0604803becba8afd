"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from intercom_assets_tests.clock import FROZEN_NOW, freeze
from intercom_assets_tests.intercom_server import IntercomTestServer

TEST_TOKEN = "test-token-0123456789abcdef"
TEST_NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def intercom_server() -> Iterator[IntercomTestServer]:
    """A started small-scale test server with a fixed clock; stopped after the test."""
    with IntercomTestServer(token=TEST_TOKEN, seed=1, scale="small", now=TEST_NOW) as server:
        yield server


@pytest.fixture
def intercom_env(intercom_server, tmp_path, monkeypatch) -> dict[str, str]:
    """INTERCOM_* variables pointing the code location at the test server and a fresh Parquet root."""
    return set_intercom_env(monkeypatch, intercom_server, tmp_path / "parquet")


def set_intercom_env(monkeypatch: pytest.MonkeyPatch, server: IntercomTestServer, root: Path) -> dict[str, str]:
    """Set (through `monkeypatch`) and return the INTERCOM_* variables of `intercom_env` for this server and root."""
    values = {
        "INTERCOM_ACCESS_TOKEN": server.token,
        "INTERCOM_BASE_URL": server.base_url,
        "INTERCOM_PARQUET_ROOT": str(root),
        "INTERCOM_START_DATE": "2026-06-01",
        "INTERCOM_AUTOMATION": "off",
        # a dbt build adds seconds to every run: the tests of the support metrics turn them on (test_metrics*.py,
        # test_erasure.py)
        "INTERCOM_SUPPORT_METRICS": "off",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> date:
    """The day runs and sensors act on, frozen for this test (see clock.py): FROZEN_NOW's day."""
    freeze(monkeypatch.setattr)
    return FROZEN_NOW.date()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (`pytest.mark.wall_seconds(N)` on a module: its measured wall time alone), so that with
    `--dist loadfile --no-loadscope-reorder` the workers start with the files that mostly wait on Dagster's daemons
    and end with short ones, instead of one long file running alone at the end."""

    def wall_seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("wall_seconds")
        return float(marker.args[0]) if marker else 0.0

    items.sort(key=wall_seconds, reverse=True)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """With SUITE_TIMELINE=<file>, append when each test ended and on which worker (to balance the suite)."""
    import json
    import os
    import time

    path = os.environ.get("SUITE_TIMELINE")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"test": nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                                  "end": time.time()}) + "\n")
