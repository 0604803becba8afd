"""Faults survived, bad input refused, nothing lost or half-written: whole Dagster runs against the test server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from intercom_assets.automation.alert_sensors import RUN_FAILURE_SENSOR
from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.reporting import FAILED_TABLES_TAG, RETRIES_TAG
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.conftest import TEST_NOW, TEST_TOKEN, set_intercom_env
from intercom_assets_tests.instances import ephemeral_instance
from intercom_assets_tests.intercom_server import Faults, IntercomTestServer

pytestmark = pytest.mark.wall_seconds(150)  # measured in the suite; it starts the longest files first

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-11-17", "2026-11-20"
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}


def _hostile(server: IntercomTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrolls that expire fast, in short pages, and a client that times out fast."""
    server.scroll_ttl_seconds = 0.5
    server.scroll_page_size = 20
    monkeypatch.setenv("INTERCOM_TIMEOUT_SECONDS", "1")


@pytest.fixture
def env(intercom_env, intercom_server, monkeypatch):
    _hostile(intercom_server, monkeypatch)
    return intercom_env


def _error(result) -> str:
    """The step's whole error chain as text (Dagster wraps the user error as the cause)."""
    return result.failure_data_for_node("intercom_extract").error.to_string()


def _run(instance: DagsterInstance, raise_on_error: bool = True):
    defs = build_definitions(load_settings())
    return defs.resolve_job_def(INTERCOM_JOB).execute_in_process(
        instance=instance, tags=RANGE_TAGS, raise_on_error=raise_on_error
    )


def _snapshot(root: Path) -> dict[str, list[str]]:
    """Every history table's rows, `_extracted_at` aside, as sorted JSON lines (the range ends before today, so
    no snapshot is taken)."""
    out = {}
    for spec in (spec for spec in TABLES if not spec.is_snapshot):
        data = ds.dataset(root / spec.name, format="parquet", partitioning="hive").to_table()
        data = data.drop_columns(["_extracted_at"])
        out[spec.name] = sorted(json.dumps(row, default=str, sort_keys=True) for row in data.to_pylist())
    return out


def _file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory) -> tuple[Path, dict[str, list[str]]]:
    """A fault-free run of the window against a server like `intercom_server` (same seed and clock), once per
    module: its lake, and its rows to compare every faulty run with."""
    root = tmp_path_factory.mktemp("fault_free") / "parquet"
    with pytest.MonkeyPatch.context() as monkeypatch, \
            IntercomTestServer(token=TEST_TOKEN, seed=1, scale="small", now=TEST_NOW) as server:
        set_intercom_env(monkeypatch, server, root)
        _hostile(server, monkeypatch)
        with ephemeral_instance() as instance:
            assert _run(instance).success
    expected = _snapshot(root)
    assert sum(len(rows) for rows in expected.values()) > 100
    return root, expected


@pytest.fixture
def baseline(env, fault_free):
    """This test's lake: a copy of the fault-free run's (what the faulty run re-reads and must leave the same)."""
    source, expected = fault_free
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    shutil.copytree(source, root)
    return root, expected


# Random transport faults hit the searches and the per-conversation fetches; the scroll, where any broken page
# means starting over, gets its own one-shot faults below (and random ones in test_client.py).
NOT_SCROLL = ["POST /contacts/search", "POST /conversations/search", "GET /conversations/{id}"]
# A fault is a function of (seed, request, attempt), so which of the faulty run's 9 searches (one per day slice;
# its conversations are already stored) meet one is fixed by the seed. Seed 1, the server's, meets none at these
# rates (all 9 first rolls are >= 0.5, a 1-in-512 draw); seed 2 meets 4 faults at 0.15, 5 at 0.24 and 0.3, 11 at
# 0.5, at most 2 in a row: every run.
FAULT_SEED = 2
FAULTS = {
    "429 storm": Faults(rate429=0.5, paths=["POST /contacts/search", "POST /conversations/search"], seed=FAULT_SEED),
    "5xx bursts": Faults(rate500=0.08, rate502=0.08, rate503=0.08, paths=NOT_SCROLL, seed=FAULT_SEED),
    "connection closed mid-body": Faults(close=0.15, paths=NOT_SCROLL, seed=FAULT_SEED),
    "truncated JSON in a 200": Faults(truncate=0.15, paths=NOT_SCROLL, seed=FAULT_SEED),
    "response slower than the timeout": Faults(slow=0.3, slow_seconds=1.5, paths=NOT_SCROLL, seed=FAULT_SEED),
    "scroll_exists on the first scroll": Faults(scroll_exists=2),
    "scroll expires mid-way": Faults(scroll_expire_after_pages=3),
    "500 mid-scroll": Faults(scroll_500_after_pages=2),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_leaves_exactly_the_fault_free_rows(name, baseline, intercom_server):
    root, expected = baseline
    intercom_server.set_faults(FAULTS[name])
    with ephemeral_instance() as instance:
        result = _run(instance)
        retries = int(instance.get_run_by_id(result.run_id).tags[RETRIES_TAG])
    assert result.success
    assert _snapshot(root) == expected
    if name not in ("scroll expires mid-way", "500 mid-scroll", "scroll_exists on the first scroll"):
        assert retries > 0, "the fault must actually have been hit"


def test_exhausted_retry_budget_fails_its_tables_only_naming_the_endpoint(baseline, intercom_server, monkeypatch):
    """The failed source's files stay byte for byte; the other sources' tables are still committed (same rows)."""
    root, expected = baseline
    before = _file_hashes(root)
    monkeypatch.setenv("INTERCOM_MAX_RETRIES", "1")
    intercom_server.set_faults(Faults(rate503=1.0, paths=["POST /conversations/search"]))
    with ephemeral_instance() as instance:
        result = _run(instance, raise_on_error=False)
        tags = instance.get_run_by_id(result.run_id).tags
    assert not result.success
    message = _error(result)
    assert "POST /conversations/search" in message and "503" in message
    conversation_tables = sorted(s.name for s in TABLES if s.source.name == "conversations_search")
    assert tags[FAILED_TABLES_TAG] == ",".join(conversation_tables)
    after = _file_hashes(root)
    failed = {name: digest for name, digest in before.items() if name.startswith("conversation")}
    assert failed and {name: after[name] for name in failed} == failed
    committed = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert committed == {s.name for s in TABLES if not s.is_snapshot} - set(conversation_tables)
    assert _snapshot(root) == expected


def test_refused_endpoints_fail_their_tables_only_and_say_what_to_grant(baseline, intercom_server):
    """A missing permission (activity logs) and a plan refusal (tickets): those tables fail, naming the endpoint
    and the permission or the plan; every other table is committed and checked; the run is marked failed."""
    root, expected = baseline
    intercom_server.set_refusals(
        {"GET /admins/activity_logs": "forbidden", "POST /tickets/search": "api_plan_restricted"}
    )
    with ephemeral_instance() as instance:
        result = _run(instance, raise_on_error=False)
        tags = instance.get_run_by_id(result.run_id).tags
    assert not result.success
    assert tags[FAILED_TABLES_TAG] == "activity_logs,ticket_parts,tickets"
    message = _error(result)
    assert "GET /admins/activity_logs" in message and "'Read admins' (and for activity logs" in message
    assert "POST /tickets/search" in message and "plan does not include" in message
    assert "INTERCOM_TABLES" in message
    committed = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    history = {s.name for s in TABLES if not s.is_snapshot}
    assert committed == history - {"activity_logs", "tickets", "ticket_parts"}
    checked = {e.asset_key.path[-1] for e in result.get_asset_check_evaluations()}
    assert committed <= checked  # checked too (the refused tables' stored files are checked as well)
    now = _snapshot(root)
    assert {t: now[t] for t in committed} == {t: expected[t] for t in committed}


def test_a_refused_table_is_alerted_once_per_cause(baseline, intercom_server, caplog):
    """Every tick fails the same way until someone grants the scope: one alert, and another when the cause
    changes (a failure of another kind always alerts)."""
    sensor = build_definitions(load_settings()).resolve_sensor_def(RUN_FAILURE_SENSOR)
    sent = []
    with ephemeral_instance() as instance:
        for refusal in ("forbidden", "forbidden", "api_plan_restricted"):
            intercom_server.set_refusals({"GET /admins/activity_logs": refusal})
            result = _run(instance, raise_on_error=False)
            assert not result.success
            failure = next(r.event_log_entry.dagster_event for r in instance.get_records_for_run(
                result.run_id, of_type=DagsterEventType.RUN_FAILURE).records)
            context = build_run_status_sensor_context(
                sensor_name=RUN_FAILURE_SENSOR, dagster_event=failure, dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id)).for_run_failure()
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="intercom_assets.automation.alerts"):
                sensor(context)
            sent.append(sum(r.name == "intercom_assets.automation.alerts" for r in caplog.records))
    assert sent == [1, 0, 1]


def test_wrong_token_fails_fast_with_what_to_check(env, intercom_server, monkeypatch):
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "wrong-token-4242424242")
    with ephemeral_instance() as instance:
        result = _run(instance, raise_on_error=False)
    assert not result.success
    message = _error(result)
    assert "401" in message and "INTERCOM_ACCESS_TOKEN" in message
    assert "wrong-token-4242424242" not in message
    assert sum(intercom_server.request_counts().values()) <= len(TABLES), "no retry storm on a 401"
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    assert not any(root.rglob("*.parquet")), "a failed run writes nothing"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://api.intercom.io", "clear text"),
        ("https://api.xx.intercom.io", "region"),
        ("ftp://127.0.0.1", "http(s)"),
    ],
)
def test_bad_base_url_is_refused_before_any_request(env, monkeypatch, url, expected):
    monkeypatch.setenv("INTERCOM_BASE_URL", url)
    with ephemeral_instance() as instance:
        result = _run(instance, raise_on_error=False)
    assert not result.success
    assert expected in _error(result)


def test_unwritable_parquet_root_is_a_clear_error(env, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("INTERCOM_PARQUET_ROOT", str(blocker / "root"))
    with ephemeral_instance() as instance:
        result = _run(instance, raise_on_error=False)
    assert not result.success
    message = _error(result)
    assert "INTERCOM_PARQUET_ROOT" in message and "not writable" in message


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("INTERCOM_START_DATE", "2026-13-01", "INTERCOM_START_DATE"),
        ("INTERCOM_START_DATE", "next tuesday", "YYYY-MM-DD"),
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "0", "1..365"),
        ("INTERCOM_ATTRIBUTION_WINDOW_DAYS", "thirty", "whole number"),
        ("INTERCOM_SCHEDULE_CRON", "every half hour", "cron"),
        ("INTERCOM_RATE_LIMIT_SHARE", "most", "not a number"),
    ],
)
def test_bad_settings_fail_at_load_naming_the_variable(monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=fragment):
        build_definitions(load_settings())


def test_partition_outside_the_range_is_refused_by_the_cli(env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "intercom_assets.definitions",
         "--select", "*", "--partition-range", "2020-01-01...2020-01-03"],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode != 0
    assert "2020-01-01" in completed.stderr


def test_api_drift_is_kept_and_the_table_stays_one_dataset(env, intercom_server):
    root = Path(env["INTERCOM_PARQUET_ROOT"])
    contacts = [
        c for c in intercom_server.workspace.snapshot("contacts") if FIRST <= _day(c["updated_at"]) <= LAST
    ]
    new_field, changed_type, missing = contacts[0], contacts[1], contacts[2]
    new_field["loyalty_tier"] = {"level": "gold", "since": 1700000000}
    changed_type["custom_attributes"] = {**changed_type.get("custom_attributes", {}), "seats": "twelve"}
    changed_type["owner_id"] = {"unexpected": "object"}
    del missing["email"]
    del missing["created_at"]
    with ephemeral_instance() as instance:
        assert _run(instance).success
    rows = {r["id"]: r for r in ds.dataset(root / "contacts", format="parquet", partitioning="hive").to_table()
            .to_pylist()}
    assert json.loads(rows[new_field["id"]]["_extra"])["loyalty_tier"] == {"level": "gold", "since": 1700000000}
    assert json.loads(rows[changed_type["id"]]["custom_attributes"])["seats"] == "twelve"
    assert json.loads(rows[changed_type["id"]]["_extra"])["owner_id"] == {"unexpected": "object"}
    assert rows[missing["id"]]["email"] is None and rows[missing["id"]]["created_at"] is None
    glob = str(root / "contacts" / "*" / "*.parquet")
    count = duckdb.connect().execute(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=true, union_by_name=false)"
    ).fetchone()[0]
    assert count == len(rows)


def _day(ts: int) -> str:
    from intercom_assets.partitions import day_key

    return day_key(ts)


def test_token_appears_nowhere(intercom_server, tmp_path):
    """A whole CLI run with a distinctive token: not in Dagster's storage, compute logs, Parquet or output."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    root = tmp_path / "parquet"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTERCOM_ACCESS_TOKEN": intercom_server.token,
        "INTERCOM_BASE_URL": intercom_server.base_url,
        "INTERCOM_PARQUET_ROOT": str(root),
        "INTERCOM_START_DATE": "2026-06-01",
        "INTERCOM_AUTOMATION": "off",
    }
    intercom_server.set_faults(Faults(rate503=0.1))
    # a 503 mid-scroll restarts the scroll, which waits out the open one: as short-lived as the other tests' here
    intercom_server.scroll_ttl_seconds = 0.5
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "intercom_assets.definitions",
         "--select", "*", "--partition-range", f"{LAST}...{LAST}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    token = intercom_server.token.encode()
    assert token not in (completed.stdout + completed.stderr).encode()
    files = [p for p in list(home.rglob("*")) + list(root.rglob("*")) if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".parquet" for p in files)
    leaked = [str(p) for p in files if token in p.read_bytes()]
    assert leaked == []
