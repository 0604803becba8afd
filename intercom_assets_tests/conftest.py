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


# The modules that mostly wait (on Dagster's daemons, PostgreSQL, retry delays), in two lanes: each lane is one work
# unit, its modules run one after the other on one worker.
LANES = {
    "intercom_assets_tests/test_postgres_workspaces.py": "waits_a",
    "intercom_assets_tests/test_e2e_checks.py": "waits_a",
    "intercom_assets_tests/test_overlap.py": "waits_a",
    "intercom_assets_tests/test_client.py": "waits_a",
    "intercom_assets_tests/test_e2e_workspaces.py": "waits_b",
    "intercom_assets_tests/test_postgres_deploy.py": "waits_b",
    "intercom_assets_tests/test_e2e_dagster_dev.py": "waits_b",
    "intercom_assets_tests/test_dev_shutdown.py": "waits_b",
}


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its lane, or else its module."""
    module = nodeid.split("::")[0]
    return LANES.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test` runs four workers; a unit (a module, or a lane of waiting modules) runs on one worker. So at most
    two workers wait at any moment and the two others keep both cores busy; with every module its own unit, three
    or four waiting modules often ran at once and left the cores idle. (pytest-xdist's own `--dist loadgroup`
    cannot do this under pytest 9: it renames `item._nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return LaneScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Units in order of their measured wall time (the sum of their modules' `pytest.mark.wall_seconds(N)`), longest
    first, each unit's modules together, so that the workers start with the lanes and the long modules and end with
    short ones, instead of one long module running alone at the end (`--no-loadscope-reorder` keeps this order)."""

    def wall_seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("wall_seconds")
        return float(marker.args[0]) if marker else 0.0

    module_seconds = {item.nodeid.split("::")[0]: wall_seconds(item) for item in items}
    unit_seconds: dict[str, float] = {}
    for module, seconds in module_seconds.items():
        unit_seconds[work_unit(module)] = unit_seconds.get(work_unit(module), 0.0) + seconds
    items.sort(key=lambda item: (-unit_seconds[work_unit(item.nodeid)], work_unit(item.nodeid), -wall_seconds(item),
                                 item.nodeid.split("::")[0]))


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
