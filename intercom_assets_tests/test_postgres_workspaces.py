"""Two IntercomWorkspace files in the production instance (deploy/dagster.yaml) on a real PostgreSQL server: both
schedules tick, each workspace's window run succeeds into its own root, and the two runs are in progress at the same
time. The cluster, the webserver and the daemon are test_postgres_deploy.py's (a module of its own so that the two
deployments, which mostly wait on the scheduler, run beside each other in the suite).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.demo import bundled_server
from intercom_assets_tests.test_postgres_deploy import (
    FINISHED_RUN,
    RUNS,
    RUNS_TIMEOUT_SECONDS,
    Postgres,
    _tags,
    postgres_fixture,  # noqa: F401 (the `postgres` fixture)
    running_deployment,
)

pytestmark = pytest.mark.wall_seconds(185)  # measured in the suite; conftest.py orders and groups the modules

RUN_TIMES = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) { __typename ... on Runs { results { runId startTime endTime } } }
}"""


def test_two_workspaces_at_once_on_postgres(postgres: Postgres, tmp_path: Path) -> None:
    """Two IntercomWorkspace files (two test servers) in the production instance: both schedules tick, each
    workspace's window run succeeds into its own root, and the two runs are in progress at the same time (one pool
    per workspace, enforced through PostgreSQL, does not hold one workspace's run back for the other's)."""
    today = datetime.now(UTC).date()
    roots = {name: tmp_path / f"lake-{name}" for name in ("wa", "wb")}
    folder = tmp_path / "workspaces"
    # 30 ms per request: each run's extraction lasts long enough to show whether the two overlap
    with bundled_server(tmp_path / "intercom-server-wa.log", token="pg-token-wa-0123456789",
                        extra_args=("--latency-ms", "30")) as url_a, \
         bundled_server(tmp_path / "intercom-server-wb.log", token="pg-token-wb-0123456789",
                        extra_args=("--latency-ms", "30", "--seed", "5", "--workspace-timezone", "Asia/Tokyo")) \
            as url_b:
        for name, url in (("wa", url_a), ("wb", url_b)):
            (folder / name).mkdir(parents=True)
            (folder / name / "defs.yaml").write_text("\n".join([
                "type: intercom_assets.IntercomWorkspace", "attributes:", f"  name: {name}",
                f"  access_token_env: PG_{name.upper()}_TOKEN", f"  base_url: {url}", f"  parquet_root: {roots[name]}",
                f"  start_date: '{(today - timedelta(days=1)).isoformat()}'", "  attribution_window_days: 2",
                "  schedule_cron: '* * * * *'", "  automation: 'on'",
                "  support_metrics: 'off'  # a YAML workspace's metrics: test_workspaces.py", "",
            ]))
        env = {"INTERCOM_WORKSPACES_DIR": str(folder), "PG_WA_TOKEN": "pg-token-wa-0123456789",
               "PG_WB_TOKEN": "pg-token-wb-0123456789"}
        with running_deployment(postgres, tmp_path, env) as deployment:
            try:
                runs: dict[str, dict[str, Any]] = {}
                deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS * 2
                while time.monotonic() < deadline and len(runs) < 2:
                    found = deployment.graphql(RUNS, {"filter": {"tags": [{"key": "intercom/trigger",
                                                                          "value": "schedule"}]}})
                    for run in reversed(found["runsOrError"]["results"]):  # oldest first
                        job = next((n for n in ("wa", "wb") if any(
                            s["stepKey"] == f"intercom_{n}_extract" for s in run["stepStats"])), None)
                        if (job and job not in runs and run["status"] in FINISHED_RUN
                                and _tags(run).get("dagster/run_key", "").startswith("window:")):
                            runs[job] = run
                    time.sleep(2)
                assert set(runs) == {"wa", "wb"}, runs
                assert all(run["status"] == "SUCCESS" for run in runs.values()), runs
                times = deployment.graphql(RUN_TIMES, {"filter": {"runIds": [r["runId"] for r in runs.values()]}})
                (a_start, a_end), (b_start, b_end) = ((r["startTime"], r["endTime"])
                                                      for r in times["runsOrError"]["results"])
                assert a_start < b_end and b_start < a_end, f"the two workspaces' runs did not overlap: " \
                                                            f"{(a_start, a_end)} {(b_start, b_end)}"
                print("extraction steps:", {n: _step_interval(runs[n], f"intercom_{n}_extract") for n in runs})
                for name, root in roots.items():
                    day = _tags(runs[name])["dagster/asset_partition_range_end"]
                    for spec in TABLES:
                        if spec.has_current_state:
                            assert (root / spec.name / f"date={day}" / "part-0.parquet").is_file(), (name, spec.name)
                assert not deployment.parquet_root.exists()  # INTERCOM_PARQUET_ROOT is not read with YAML files
            except BaseException:
                print(deployment.diagnostics())
                raise


def _step_interval(run: dict[str, Any], step_key: str) -> tuple[float, float]:
    step = next(s for s in run["stepStats"] if s["stepKey"] == step_key)
    return step["startTime"], step["endTime"]
