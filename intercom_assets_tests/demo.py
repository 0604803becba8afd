"""`make demo`: one real Dagster run of every table over the attribution window, against the bundled test server.

The run goes through the `dagster asset materialize` CLI with the persistent DAGSTER_HOME (not an ephemeral
instance), so `make dev` shows it afterwards: the demo is what a newcomer would otherwise assemble by hand.
The server helpers here are shared with `make dev` and the end-to-end test, so all three start it the same way.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import duckdb
import pyarrow.parquet as pq
from dagster import DagsterInstance
from dagster._core.event_api import PartitionKeyFilter

from intercom_assets.automation.checks import check_keys
from intercom_assets.partitions import trailing_window
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import TABLES

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_TOKEN = "demo-token-0123456789abcdef"
SERVER_START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
RUN_ID = re.compile(r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


class DemoError(RuntimeError):
    """A failure the user can act on; main() prints it without a traceback."""


class Interrupted(BaseException):
    """SIGTERM turned into an exception so `finally` blocks stop the child processes."""


@dataclass(frozen=True)
class TableSummary:
    """What one table holds on disk after the run."""

    table: str
    rows: int
    partitions: int
    location: str


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: unwind like Ctrl-C so the child processes are stopped."""
    raise Interrupted(signum)


def _default_signals() -> None:
    """Run in the child before exec: an ignored SIGINT survives exec, and Dagster maps SIGTERM to SIGINT's
    handler, so a child of a backgrounded shell would otherwise ignore both and never stop cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn_group(command: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start a child in its own process group (session) with default SIGINT/SIGTERM, so signalling the group
    stops it and everything it starts."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_default_signals, **kwargs)


def stop_process_group(process: subprocess.Popen, first_signal: int = signal.SIGTERM,
                       timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Signal a child started with start_new_session=True and all its descendants; SIGKILL them if they linger.

    Signalling the group (not just the child) matters: `dagster dev` and the run workers it launches would
    otherwise outlive us and keep the port and the pool slot.
    """
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, first_signal)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _read_first_line(process: subprocess.Popen, timeout: float) -> str:
    """The server's first stdout line (its base URL), or "" on timeout or exit."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(timeout=remaining):
                return ""
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return ""
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def _drain(stream: IO[bytes]) -> None:
    """Keep reading the server's stdout so it never blocks on a full pipe."""
    for _ in iter(lambda: stream.read(4096), b""):
        pass


@contextmanager
def bundled_server(log_path: Path, token: str = DEMO_TOKEN, scale: str = "small",
                   extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run the bundled Intercom test server as a subprocess and yield its base URL; always stop it afterwards."""
    command = [sys.executable, "-m", "intercom_assets_tests.intercom_server", "--port", "0", "--token", token,
               "--scale", scale, *extra_args]
    with open(log_path, "ab") as log:
        process = spawn_group(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log)
    try:
        url = _read_first_line(process, SERVER_START_TIMEOUT_SECONDS)
        if not url.startswith("http"):
            stop_process_group(process, timeout=5)
            raise DemoError(
                f"the Intercom test server did not start within {SERVER_START_TIMEOUT_SECONDS:.0f} s "
                f"(exit code {process.returncode}, first line {url!r}); its log:\n{_tail(log_path)}"
            )
        assert process.stdout is not None
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        yield url
    finally:
        stop_process_group(process, timeout=10)


def ensure_dagster_home(env: dict[str, str]) -> Path:
    """DAGSTER_HOME as the Makefile sets it; outside make, the repo's .dagster_home with the repo's dagster.yaml.

    Dagster reads dagster.yaml only from DAGSTER_HOME once it is set, and without the file the pool limit and
    run monitoring are silently absent.
    """
    home = env.get("DAGSTER_HOME", "").strip()
    if not home:
        home = str(REPO_ROOT / ".dagster_home")
        env["DAGSTER_HOME"] = home
    path = Path(home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "dagster.yaml").exists():
        shutil.copyfile(REPO_ROOT / "dagster.yaml", path / "dagster.yaml")
    env["DAGSTER_HOME"] = str(path)
    return path


@contextmanager
def open_instance(home: Path) -> Iterator[DagsterInstance]:
    """The persistent instance in `home`, as Dagster's own processes see it.

    The repo's dagster.yaml names `DAGSTER_HOME` in its event-log storage, which Dagster resolves when the storage
    is first used, so the variable points at `home` for as long as the instance is open (Dagster's own processes
    always run with it set).
    """
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def summarize(root: str, tables: tuple[str, ...]) -> list[TableSummary]:
    """Rows (from Parquet footers) and partition files per table under a local Parquet root."""
    summaries = []
    for table in tables:
        directory = Path(root) / table
        files = sorted(directory.glob("date=*/part-0.parquet"))
        rows = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
        summaries.append(TableSummary(table, rows, len(files), _display_path(directory)))
    return summaries


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def format_summary(summaries: list[TableSummary]) -> str:
    """A plain-text table: table, rows, partition files, where they are."""
    header = ("table", "rows", "partitions", "files")
    body = [(s.table, str(s.rows), str(s.partitions), f"{s.location}/date=*/part-0.parquet") for s in summaries]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = []
    for row in [header, *body]:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]), row[3]]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def check_outcomes(home: Path, run_id: str | None) -> list[str]:
    """One line per check that failed somewhere in the run, naming the partitions, plus a total.

    The run's own exit code says nothing about checks (none is blocking), so the demo reads the per-partition
    results back from the instance; the over-500-parts conversation the test server seeds shows up here as a
    WARN on its partition.
    """
    if run_id is None:
        return []
    evaluated = passed = 0
    failing: list[str] = []
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        for key in check_keys(TABLES):
            bad: list[str] = []
            for info in storage.get_asset_check_partition_info([key]):
                if info.latest_planned_run_id != run_id or info.latest_execution_status.value == "PLANNED":
                    continue
                evaluated += 1
                if info.latest_execution_status.value == "SUCCEEDED":
                    passed += 1
                else:
                    bad.append(str(info.partition_key))
            if bad:
                (record,) = storage.get_asset_check_execution_history(
                    key, limit=1, partition_filter=PartitionKeyFilter(key=sorted(bad)[-1])
                )
                evaluation = record.event.dagster_event.event_specific_data if record.event else None
                severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
                description = getattr(evaluation, "description", None) or ""
                failing.append(f"  {severity}: {key.name} on {key.asset_key.to_user_string()} in {sorted(bad)}: "
                               f"{description}"[:300])
    return [f"Checks: {passed} of {evaluated} partition checks passed.", *failing]


def materialize_window(env: Mapping[str, str], first: str, last: str, log_path: Path) -> str | None:
    """Run every asset over first..last in ONE run through the CLI; returns the run id, raises on failure.

    The CLI runs in its own process group; Ctrl-C or SIGTERM on us is forwarded to that group as SIGINT, the
    signal Dagster answers by failing the run cleanly instead of leaving it STARTED.
    """
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "intercom_assets.definitions",
               "--select", "*", "--partition-range", f"{first}...{last}"]
    with open(log_path, "ab") as log:
        process = spawn_group(command, cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
    try:
        code = process.wait()
    except (KeyboardInterrupt, Interrupted):
        stop_process_group(process, first_signal=signal.SIGINT)
        raise
    found = RUN_ID.search(log_path.read_text(errors="replace"))
    run_id = found.group(1) if found else None
    if code != 0:
        raise DemoError(
            f"the Dagster run{' ' + run_id if run_id else ''} failed (exit code {code}). Last lines of its log:\n"
            f"{_tail(log_path)}\nFull log: {log_path}"
        )
    return run_id


def headline_metrics(root: str) -> str:
    """A few support metrics from intercom/conversation_metrics (README "Support metrics")."""
    path = Path(root) / "metrics" / "conversation_metrics" / "part-0.parquet"
    if not path.exists():
        return "Support metrics: none (INTERCOM_SUPPORT_METRICS=off)"
    frt, ttc, conversations, ai, resolved = duckdb.connect().execute(
        "select median(time_to_admin_reply), median(time_to_last_close), count(*), "
        "count(*) filter (where ai_agent_participated), count(*) filter (where ai_agent_resolved) "
        "from read_parquet(?)", [str(path)]).fetchone()
    share = f"{resolved / ai:.0%} of the {ai} it took part in" if ai else "none (it took part in none)"
    return (f"Support metrics (asset intercom/conversation_metrics, {conversations} conversations): median first "
            f"response {_duration(frt)}, median time to close {_duration(ttc)}, resolved by the AI agent: {share}"
            f"\n  files: {_display_path(Path(root) / 'metrics')}/<model>/part-0.parquet")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def run_demo() -> int:
    """The whole demo; returns the process exit code."""
    env = dict(os.environ)
    if not env.get("INTERCOM_PARQUET_ROOT", "").strip():
        env["INTERCOM_PARQUET_ROOT"] = str(REPO_ROOT / "data" / "intercom")
    env["INTERCOM_AUTOMATION"] = "off"
    env["INTERCOM_ACCESS_TOKEN"] = DEMO_TOKEN
    try:
        settings = load_settings(env)
    except SettingsError as error:
        raise DemoError(str(error)) from None
    env["INTERCOM_PARQUET_ROOT"] = settings.parquet_root
    home = ensure_dagster_home(env)
    today = datetime.now(UTC).date()
    first, last = trailing_window(today, settings.attribution_window_days)
    first = max(first, settings.start_date.isoformat())
    work = Path(tempfile.mkdtemp(prefix="intercom-demo-"))
    server_log, run_log = work / "server.log", work / "dagster.log"
    print(f"Starting the bundled Intercom test server (small scale); DAGSTER_HOME={home}", flush=True)
    with bundled_server(server_log) as url:
        env["INTERCOM_BASE_URL"] = url
        print(f"Server at {url}. Materializing all {len(TABLES)} tables for {first}..{last} in one Dagster run "
              "(usually under a minute)...", flush=True)
        started = time.monotonic()
        run_id = materialize_window(env, first, last, run_log)
        elapsed = time.monotonic() - started
    print(f"\nRun {run_id or '(id not found in the log)'} succeeded in {elapsed:.0f} s.\n")
    print(format_summary(summarize(settings.parquet_root, tuple(spec.name for spec in TABLES))))
    current_root = Path(settings.parquet_root) / "current"
    current = summarize(str(current_root), tuple(spec.name for spec in TABLES if spec.has_current_state))
    print("\nCurrent state (assets intercom/<table>_current, one row per record): "
          + ", ".join(f"{s.table} {s.rows}" for s in current)
          + f"\n  files: {_display_path(current_root)}/<table>/date=*/part-0.parquet")
    print("\n" + headline_metrics(settings.parquet_root))
    outcomes = check_outcomes(home, run_id)
    if outcomes:
        print("\n" + "\n".join(outcomes))
    print(f"\nParquet root: {settings.parquet_root}")
    print("Query it with DuckDB: SELECT role, count(*) FROM read_parquet('"
          f"{_display_path(Path(settings.parquet_root))}/contacts/*/*.parquet', hive_partitioning=true) "
          "GROUP BY role")
    port = os.environ.get("DAGSTER_PORT", "3000")
    print(f"See the run in the UI: make dev, then http://127.0.0.1:{port}/runs" + (f"/{run_id}" if run_id else ""))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def run_entry_point(target: str, body: Callable[[], int]) -> int:
    """Run a `make` target's body: clear messages instead of tracebacks, non-zero on any failure."""
    signal.signal(signal.SIGTERM, raise_interrupted)
    # Explicit: a parent shell that started us in the background may have left SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return body()
    except DemoError as error:
        print(f"\nmake {target} failed: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted):
        print(f"\nmake {target} interrupted; everything it started was stopped.", file=sys.stderr)
        return 130


def main() -> int:
    """Entry point of `make demo`."""
    return run_entry_point("demo", run_demo)


if __name__ == "__main__":
    sys.exit(main())
