"""A schedule tick and a UI backfill over overlapping days, in flight together in one `dagster dev`.

Both write the overlapping partitions and both scroll the companies, which Intercom allows only once at a time per
workspace (a second scroll start answers 400 `scroll_exists`). The pool `intercom_api` (one slot, the repo's own
dagster.yaml, unchanged here) must make them take turns: both succeed, their extraction steps never overlap, the
test server never saw a second scroll, and every file holds exactly what the server holds for that day.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter, build_schedule_context
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    SCHEDULE_NAME_TAG,
)

from intercom_assets.automation.jobs import INTERCOM_JOB, build_intercom_job
from intercom_assets.automation.schedules import (
    SCHEDULE_NAME,
    TRIGGER_SCHEDULE,
    TRIGGER_TAG,
    build_attribution_window_schedule,
)
from intercom_assets.keys import EXTRACT_STEP
from intercom_assets.lake.storage import PART_FILE, TEMP_PREFIX
from intercom_assets.partitions import keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN
from intercom_assets_tests.dagster_dev import LAUNCH, DagsterDev, explain_failure, launch_run, running_dagster_dev
from intercom_assets_tests.demo import open_instance
from intercom_assets_tests.intercom_server import IntercomTestServer
from intercom_assets_tests.test_assets import _expected, _stored

pytestmark = pytest.mark.wall_seconds(70)  # measured in the suite; conftest.py orders and groups the modules

WINDOW_DAYS = 4
SCHEDULE_DAYS = ("2026-11-17", "2026-11-20")  # the 4-day window of a tick on TEST_NOW's day
BACKFILL_DAYS = ("2026-11-15", "2026-11-18")  # overlaps the schedule's window on the 17th and 18th
# A slow 31-page companies scroll: extraction steps of ~5 s, so runs that were not serialised would overlap
# clearly (checked: without `pool=` on the asset the steps overlap by seconds and this test fails).
LATENCY_MS = 60
SCROLL_PAGE_SIZE = 5
BACKFILL_RUN_TIMEOUT_SECONDS = 90.0  # the backfill daemon looks for new backfills every 30 s
RUN_TIMEOUT_SECONDS = 180.0


@dataclass
class Deployment:
    """The running `dagster dev`, its instance as seen from the test, and the test server it extracts from."""

    dev: DagsterDev
    instance: DagsterInstance
    server: IntercomTestServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One `dagster dev` with the repo's dagster.yaml against an in-process test server (its workspace is the truth)."""
    workdir = tmp_path_factory.mktemp("overlap")
    with IntercomTestServer(token=TEST_TOKEN, seed=1, scale="small", now=TEST_NOW) as server:
        env = {
            "INTERCOM_ACCESS_TOKEN": server.token,
            "INTERCOM_BASE_URL": server.base_url,
            "INTERCOM_START_DATE": "2026-06-01",
            "INTERCOM_ATTRIBUTION_WINDOW_DAYS": str(WINDOW_DAYS),
            "INTERCOM_AUTOMATION": "off",
        }
        with running_dagster_dev(workdir, env, workdir / "server.log") as dev:
            assert dev.home is not None
            with open_instance(dev.home) as instance:
                yield Deployment(dev, instance, server, env)


def _schedule_tags(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What the schedule asks for on a tick on TEST_NOW's day, evaluated against the live instance."""
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", deployment.server.token)
    schedule = build_attribution_window_schedule(load_settings(deployment.env), build_intercom_job())
    with build_schedule_context(instance=deployment.instance, scheduled_execution_time=TEST_NOW) as context:
        result = schedule.evaluate_tick(context)
    assert result.run_requests is not None and len(result.run_requests) == 2, result.skip_message
    window = result.run_requests[0]  # the window run (the other one takes the day's snapshots)
    assert window.run_key.startswith("window:")
    return {**window.tags, SCHEDULE_NAME_TAG: SCHEDULE_NAME}


def _launch_backfill(dev: DagsterDev) -> str:
    """What the UI sends for a backfill of every table over BACKFILL_DAYS."""
    params = {
        "assetSelection": [{"path": ["intercom", spec.name]} for spec in TABLES if not spec.is_snapshot],
        "partitionNames": keys_between(*BACKFILL_DAYS),
        "fromFailure": False,
        "title": "overlapping UI backfill",
    }
    launched = dev.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def _backfill_run(instance: DagsterInstance, backfill_id: str) -> str:
    """The one run the backfill daemon makes of a single-run backfill (it ticks every 30 s)."""
    deadline = time.monotonic() + BACKFILL_RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        if runs:
            assert len(runs) == 1, [run.run_id for run in runs]
            return runs[0].run_id
        time.sleep(0.25)
    raise AssertionError(f"backfill {backfill_id} made no run within {BACKFILL_RUN_TIMEOUT_SECONDS:.0f} s")


def _wait_finished(instance: DagsterInstance, run_ids: list[str]) -> dict[str, DagsterRunStatus]:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in run_ids}
        if all(status in FINISHED_STATUSES for status in statuses.values()):
            return statuses
        time.sleep(0.5)
    raise AssertionError(f"runs not finished within {RUN_TIMEOUT_SECONDS:.0f} s: {statuses}")


def _range(tags: Mapping[str, str]) -> tuple[str, str]:
    return tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]


def _extract_step(instance: DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's extraction step started and succeeded, from the event log."""
    times = {}
    for event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
        entries = [e for e in instance.all_logs(run_id, of_type=event_type) if e.step_key == EXTRACT_STEP]
        assert len(entries) == 1, (run_id, event_type, entries)
        times[event_type] = entries[0].timestamp
    return times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]


def test_schedule_run_and_ui_backfill_over_overlapping_days_take_turns(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule's run is submitted while the UI backfill's run is in flight: both succeed, one after the other."""
    dev, instance, server = deployment.dev, deployment.instance, deployment.server
    server.set_latency_ms(LATENCY_MS)
    server.scroll_page_size = SCROLL_PAGE_SIZE
    server.reset_counts()
    schedule_tags = _schedule_tags(deployment, monkeypatch)
    assert schedule_tags[TRIGGER_TAG] == TRIGGER_SCHEDULE
    assert _range(schedule_tags) == SCHEDULE_DAYS
    with explain_failure(dev):
        backfill_run = _backfill_run(instance, _launch_backfill(dev))
        schedule_run = launch_run(dev, INTERCOM_JOB, schedule_tags)
        statuses = _wait_finished(instance, [backfill_run, schedule_run])
        assert statuses == {backfill_run: DagsterRunStatus.SUCCESS, schedule_run: DagsterRunStatus.SUCCESS}

        backfill_record = instance.get_run_record_by_id(backfill_run)
        schedule_record = instance.get_run_record_by_id(schedule_run)
        assert _range(backfill_record.dagster_run.tags) == BACKFILL_DAYS
        # Really concurrent requests: each run was submitted before the other one had finished.
        assert schedule_record.create_timestamp.timestamp() < backfill_record.end_time
        assert backfill_record.create_timestamp.timestamp() < schedule_record.end_time

        steps = sorted([_extract_step(instance, backfill_run), _extract_step(instance, schedule_run)])
        assert steps[0][1] <= steps[1][0], f"the two extraction steps overlapped: {steps}"
        print(f"extraction steps {steps[0][1] - steps[0][0]:.1f} s and {steps[1][1] - steps[1][0]:.1f} s, "
              f"{steps[1][0] - steps[0][1]:.1f} s apart")

    # One scroll per run, each start answered at once: a refused start (scroll_exists) or a restart would add pages.
    companies = len(server.workspace.snapshot("companies"))
    pages_per_scroll = math.ceil(companies / SCROLL_PAGE_SIZE) + 1  # the last page is the empty one
    assert server.request_counts().get("GET /companies/scroll") == 2 * pages_per_scroll
    assert not server.scroll_open()

    root = dev.parquet_root
    expected = _expected(server, BACKFILL_DAYS[0], SCHEDULE_DAYS[1])
    for spec in TABLES:
        if spec.is_snapshot:
            assert not (root / spec.name).exists(), f"{spec.name}: no snapshot for days before today"
            continue
        for day in keys_between(BACKFILL_DAYS[0], SCHEDULE_DAYS[1]):
            assert (root / spec.name / f"date={day}" / PART_FILE).is_file(), (spec.name, day)
            assert _stored(root, spec.name, day) == expected[spec.name].get(day, set()), (spec.name, day)
    assert sum(len(ids) for ids in expected["conversations"].values()) > 10, "the window must hold real data"
    assert not list(root.rglob(f"{TEMP_PREFIX}*")), "no temporaries are left behind"
