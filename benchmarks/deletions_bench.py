"""What deletions, erasure and the current-state refresh cost, against the Intercom test server (large scale).

    nice .venv/bin/python -m benchmarks.deletions_bench --scale large [--history-days 365] [--window 30] [--keep]

Every run is the documented command line (`dagster asset materialize` / `dagster job execute`) in its own process,
with a fresh DAGSTER_HOME (the repo's dagster.yaml) and a fresh Parquet root; the server runs in another process
(benchmarks/server_process.py) and counts the requests. Measured, in order:

1. build: one range run of `group:intercom` (the incremental tables, their current states, deleted_records) over
   the last `--history-days` days up to the server's "now" day: wall time, peak RSS, requests, and the first build
   of the current states (the `intercom_current` step and each `intercom/<table>_current` materialization);
2. contact sweep: 50 contacts stored in partitions older than the window are deleted on the server, then a window
   run (the schedule's shape: the last `--window` days) with INTERCOM_DELETION_SWEEP_HOURS=0 (it sweeps), then one
   with INTERCOM_DELETION_SWEEP_HOURS=24 (a sweep just happened: not due); per run the wall time, peak RSS and the
   server's request counts per endpoint (`POST /contacts/search`, `GET /contacts/{id}`); afterwards the 50 must be
   gone from every file of every table that refers to contacts (partitions and current states) and be listed in
   deleted_records with reason `deleted`;
3. erasure: `dagster job execute -j intercom_erase_job` for one stored contact that has conversations: the CLI
   process's wall time and the op's "Erasure: ..." line;
4. current-state refresh after the window run without the sweep: the `seconds`, `partitions`, `files_rewritten` of
   contacts_current, conversations_current, conversation_parts_current, and the `intercom_current` step's duration.

Nothing changes on the server between the runs but the 50 deletions. Prints one table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from benchmarks.server_process import TOKEN, ServerProcess
from intercom_assets.partitions import trailing_window

REPO = Path(__file__).resolve().parents[1]
SELECTION = "group:intercom"  # keys.GROUP: the incremental tables, their current states and deleted_records
EXTRACT_STEP = "intercom_extract"
CURRENT_STEP = "intercom_current"
DELETED_CONTACTS = 50
REFRESH_TABLES = ("contacts", "conversations", "conversation_parts")
HIVE = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
KEY_ENDPOINTS = ("POST /contacts/search", "GET /contacts/{id}")


@dataclass
class CliRun:
    """One command-line process: its wall time, exit code, peak RSS, log file, and what the instance says of it."""

    name: str
    seconds: float
    returncode: int
    peak_rss_mib: float
    log: Path
    run_id: str = ""
    status: str = ""
    run_seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    current: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "wall_seconds": round(self.seconds, 1), "run_seconds": round(self.run_seconds, 1), "status": self.status,
            "peak_rss_mib": round(self.peak_rss_mib), "steps_seconds": {k: round(v, 1) for k, v in self.steps.items()},
            "requests_total": sum(self.requests.values()), "requests": dict(sorted(self.requests.items())),
            "current": {table: self.current[table] for table in REFRESH_TABLES if table in self.current},
            "current_seconds_all_tables": round(sum(v.get("seconds", 0) for v in self.current.values()), 2),
            "messages": [m for m in self.messages if "built from" not in m],
        }


def _dagster() -> list[str]:
    """The venv's `dagster` entry point (the documented command), else the module."""
    script = Path(sys.executable).with_name("dagster")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster"]


def _env(base_url: str, root: Path, home: Path, staging: Path, start: str, sweep_hours: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_") and k != "DAGSTER_HOME"}
    return {
        **env,
        "DAGSTER_HOME": str(home),
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "INTERCOM_BASE_URL": base_url,
        "INTERCOM_PARQUET_ROOT": str(root),
        "INTERCOM_START_DATE": start,
        "INTERCOM_AUTOMATION": "off",
        "INTERCOM_STAGING_DIR": str(staging),
        "INTERCOM_DELETION_SWEEP_HOURS": str(sweep_hours),
    }


def _peak_rss_mib(pid: int) -> float:
    """The process's RSS high-water mark (VmHWM) in MiB, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _run_cli(name: str, args: list[str], env: dict[str, str], log: Path) -> CliRun:
    """Run a command in the repo, sampling its peak RSS while it runs.

    Not getrusage/wait4: on Linux a child's ru_maxrss starts from the parent's high-water mark (the mm it had
    before exec counts), so it would report this process's memory whenever that is the larger.
    """
    started = time.monotonic()
    peak = 0.0
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                peak = max(peak, _peak_rss_mib(proc.pid))
                time.sleep(0.2)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return CliRun(name, time.monotonic() - started, proc.returncode, peak, log)


def _fail(run: CliRun) -> None:
    tail = run.log.read_text(errors="replace")[-6000:]
    raise SystemExit(f"{run.name}: the command exited with {run.returncode} (run status {run.status or '?'}); "
                     f"log {run.log}; its tail:\n{tail}")


def _instance_figures(run: CliRun, home: Path, current_tables: list[str], messages: tuple[str, ...]) -> None:
    """Fill in the run's id, status, duration, step durations, current-state metadata and chosen log lines."""
    from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)  # the event log storage's base_dir reads it
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(limit=1)
        if not records:
            return
        record = records[0]
        run.run_id = record.dagster_run.run_id
        run.status = record.dagster_run.status.value
        run.tags = dict(record.dagster_run.tags)
        if record.start_time and record.end_time:
            run.run_seconds = record.end_time - record.start_time
        for stats in instance.get_run_step_stats(run.run_id):
            if stats.start_time and stats.end_time:
                run.steps[stats.step_key] = stats.end_time - stats.start_time
        for table in current_tables:
            key = AssetKey(["intercom", f"{table}_current"])
            found = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1, ascending=False)
            if found.records and found.records[0].run_id == run.run_id:
                metadata = found.records[0].asset_materialization.metadata
                run.current[table] = {k: v.value for k, v in metadata.items()
                                      if k in ("seconds", "partitions", "rows_in", "files_rewritten", "rows_out",
                                               "files_touched", "rows_removed")}
        if messages:
            for entry in instance.all_logs(run.run_id):
                text = entry.user_message or ""
                if entry.dagster_event is None and any(m in text for m in messages):
                    run.messages.append(text)
    for line in run.log.read_text(errors="replace").splitlines():  # the product's own (non-Dagster) log lines
        if "contact sweep:" in line:
            run.messages.append(line[line.index("contact sweep:"):])


def _materialize(name: str, srv: ServerProcess, first: str, last: str, env: dict[str, str], work: Path,
                 current_tables: list[str]) -> CliRun:
    home = Path(env["DAGSTER_HOME"])
    srv.call("reset_counts")
    args = [*_dagster(), "asset", "materialize", "-m", "intercom_assets.definitions", "--select", SELECTION,
            "--partition-range", f"{first}...{last}"]
    run = _run_cli(name, args, env, work / f"{name}.log")
    run.requests = srv.call("request_counts")
    _instance_figures(run, home, current_tables,
                      ("Deletions propagated", "built from"))
    if run.returncode != 0 or run.status != "SUCCESS":
        _fail(run)
    return run


def _dataset(path: Path) -> ds.Dataset | None:
    return ds.dataset(path, format="parquet", partitioning=HIVE) if path.exists() else None


def _count_ids(path: Path, column: str, ids: list[str]) -> int:
    data = _dataset(path)
    if data is None or column not in data.schema.names:
        return 0
    return data.count_rows(filter=pc.field(column).isin(pa.array(ids, pa.string())))


def _pick_deleted(root: Path, before: str, n: int) -> list[str]:
    """n contact ids (evenly spread, by id) whose stored rows are all in partitions older than `before`."""
    data = _dataset(root / "contacts").to_table(columns=["id", "date"])
    recent = set(data.filter(pc.field("date") >= before).column("id").to_pylist())
    old = sorted(set(data.filter(pc.field("date") < before).column("id").to_pylist()) - recent)
    if len(old) < n:
        raise SystemExit(f"only {len(old)} contacts stored before {before}: cannot delete {n}")
    step = len(old) / n
    return [old[int(i * step)] for i in range(n)]


def _pick_erased(root: Path, exclude: set[str]) -> tuple[str, int]:
    """A stored contact (not deleted) named by stored conversations: the one with the most, ties by id."""
    links = _dataset(root / "conversation_contacts").to_table(columns=["id"]).column("id")
    stored = set(_dataset(root / "contacts").to_table(columns=["id"]).column("id").to_pylist()) - exclude
    counts = [(row["counts"], row["values"]) for row in pc.value_counts(links).to_pylist() if row["values"] in stored]
    if not counts:
        raise SystemExit("no stored contact has a stored conversation")
    links_count, contact_id = min(counts, key=lambda item: (-item[0], item[1]))
    return contact_id, links_count


def _leftovers(root: Path, ids: list[str]) -> dict[str, int]:
    """Rows naming the ids, per table and column referring to contacts, in partitions and current states."""
    from intercom_assets.lake.current_state import CURRENT_DIR
    from intercom_assets.tables import TABLES

    found: dict[str, int] = {}
    for spec in TABLES:
        for column in spec.columns_referring_to("contacts"):
            for label, base in ((spec.name, root), (f"{CURRENT_DIR}/{spec.name}", root / CURRENT_DIR)):
                found[f"{label}.{column}"] = _count_ids(base / spec.name, column, ids)
    return found


def _deleted_records(root: Path, ids: list[str]) -> dict[str, int]:
    data = _dataset(root / "deleted_records")
    if data is None:
        return {}
    rows = data.to_table(columns=["source_table", "id", "reason"],
                         filter=pc.field("id").isin(pa.array(ids, pa.string())))
    reasons: dict[str, int] = {}
    for table, reason in zip(rows.column("source_table").to_pylist(), rows.column("reason").to_pylist(), strict=True):
        reasons[f"{table} {reason}"] = reasons.get(f"{table} {reason}", 0) + 1
    return reasons


def _erase(srv: ServerProcess, contact_id: str, env: dict[str, str], work: Path) -> CliRun:
    config = work / "erase.yaml"
    config.write_text(f'ops:\n  intercom_erase:\n    config:\n      contact_ids: ["{contact_id}"]\n')
    args = [*_dagster(), "job", "execute", "-m", "intercom_assets.definitions", "-j", "intercom_erase_job",
            "-c", str(config)]
    srv.call("reset_counts")
    run = _run_cli("erase", args, env, work / "erase.log")
    run.requests = srv.call("request_counts")
    _instance_figures(run, Path(env["DAGSTER_HOME"]), [], ("Erasure:",))
    if not run.messages:  # the console line, if the event log did not have it
        found = re.search(r"Erasure: .*", run.log.read_text(errors="replace"))
        run.messages = [found.group(0)] if found else []
    if run.returncode != 0 or run.status != "SUCCESS":
        _fail(run)
    return run


def _fmt_requests(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _fmt_current(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in figures.items())


class _Report(list):
    """Rows of the final table, also echoed as they are measured so a late failure loses nothing."""

    def add(self, name: str, value: str) -> None:
        print(f"# {name}: {value}", flush=True)
        self.append((name, value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large", "xlarge"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--history-days", type=int, default=365, help="days of the build run")
    parser.add_argument("--window", type=int, default=30, help="days of the window runs (the schedule's)")
    parser.add_argument("--latency-ms", type=int, default=0, help="server latency during the window runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (lake, instance, logs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="intercom-deletions-bench-"))
    root, home, staging = work / "lake", work / "dagster_home", work / "staging"
    for path in (home, staging):
        path.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    from intercom_assets.lake.current_state import current_tables

    all_current = [spec.name for spec in current_tables()]
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    build_first, last = trailing_window(today, args.history_days)
    window_first, _ = trailing_window(today, args.window)
    report = _Report()
    figures: dict[str, Any] = {"scale": args.scale, "now": now.isoformat(), "build_range": [build_first, last],
                               "window": [window_first, last]}
    started = time.monotonic()
    try:
        with ServerProcess(seed=args.seed, scale=args.scale, now=now) as srv:
            env = _env(srv.base_url, root, home, staging, build_first, 24)
            report.add("workspace", f"{srv.counts} (scale {args.scale}, built in {srv.build_seconds:.1f} s, "
                       f"server now {now:%Y-%m-%d %H:%M} UTC)")

            # 1. the lake
            build = _materialize("build", srv, build_first, last, env, work, all_current)
            figures["build"] = build.summary()
            report.add("1 build: range", f"{build_first}...{last} ({args.history_days} days), select {SELECTION}")
            report.add("1 build: wall (CLI process) / run", f"{build.seconds:.1f} s / {build.run_seconds:.1f} s "
                       f"(peak RSS {build.peak_rss_mib:.0f} MiB)")
            report.add("1 build: steps", ", ".join(f"{k} {v:.1f} s" for k, v in build.steps.items()))
            report.add("1 build: requests", f"{sum(build.requests.values())} ({_fmt_requests(build.requests)})")
            for table in ("contacts", "conversations", "conversation_parts"):
                report.add(f"1 build: {table}_current", _fmt_current(build.current.get(table, {})))
            rest = sum(v.get("seconds", 0) for k, v in build.current.items() if k not in REFRESH_TABLES)
            report.add("1 build: other current states", f"{len(build.current) - 3} tables, {rest:.1f} s together")

            # 2. the contact sweep: delete 50 contacts stored before the window, then sweep; then a run without
            deleted = _pick_deleted(root, window_first, DELETED_CONTACTS)
            at = datetime.now(UTC)
            for contact_id in deleted:
                srv.call("delete_contact", contact_id, at)
            figures["deleted_contacts"] = {"count": len(deleted), "first": deleted[:3]}
            before = _leftovers(root, deleted)
            report.add("2 deleted on the server", f"{len(deleted)} contacts stored before {window_first}; rows naming "
                       f"them in the lake before: {sum(before.values())}")
            if args.latency_ms:
                srv.call("set_latency_ms", args.latency_ms)
            sweep = _materialize("window_sweep", srv, window_first, last,
                                 {**env, "INTERCOM_DELETION_SWEEP_HOURS": "0"}, work, all_current)
            no_sweep = _materialize("window_no_sweep", srv, window_first, last,
                                    {**env, "INTERCOM_DELETION_SWEEP_HOURS": "24"}, work, all_current)
            srv.call("set_latency_ms", 0)
            figures["window_sweep"], figures["window_no_sweep"] = sweep.summary(), no_sweep.summary()
            for label, run in (("sweep (HOURS=0)", sweep), ("no sweep (HOURS=24)", no_sweep)):
                key = ", ".join(f"{e} {run.requests.get(e, 0)}" for e in KEY_ENDPOINTS)
                report.add(f"2 window {label}: wall (CLI) / run",
                           f"{run.seconds:.1f} s / {run.run_seconds:.1f} s (extract step "
                           f"{run.steps.get(EXTRACT_STEP, 0):.1f} s, current step {run.steps.get(CURRENT_STEP, 0):.1f}"
                           f" s, peak RSS {run.peak_rss_mib:.0f} MiB)")
                report.add(f"2 window {label}: requests", f"{sum(run.requests.values())} total; {key}")
                report.add(f"2 window {label}: per endpoint", _fmt_requests(run.requests))
                for message in run.messages:
                    if "built from" not in message:
                        report.add(f"2 window {label}: log", message)
            extra = ", ".join(f"{e} {sweep.requests.get(e, 0) - no_sweep.requests.get(e, 0):+d}" for e in KEY_ENDPOINTS)
            step = sweep.steps.get(EXTRACT_STEP, 0) - no_sweep.steps.get(EXTRACT_STEP, 0)
            report.add("2 sweep run minus no-sweep run",
                       f"{sum(sweep.requests.values()) - sum(no_sweep.requests.values()):+d} requests ({extra}), "
                       f"wall {sweep.seconds - no_sweep.seconds:+.1f} s, extract step {step:+.1f} s")
            after = _leftovers(root, deleted)
            listed = _deleted_records(root, deleted)
            figures["deleted_check"] = {"rows_left": after, "deleted_records": listed}
            contact_files = {k: v for k, v in after.items() if k.split(".")[0].split("/")[-1]
                             in ("contacts", "users", "leads")}
            report.add("2 check: rows of the 50 left in contacts/users/leads files (partitions + current)",
                       f"{sum(contact_files.values())} (in {len(contact_files)} table.column sets)")
            report.add("2 check: rows of the 50 left in any table referring to contacts",
                       f"{sum(after.values())} of {sum(before.values())} before")
            report.add("2 check: deleted_records rows for the 50", json.dumps(listed))

            # 3. erasing one contact
            erased, conversations = _pick_erased(root, set(deleted))
            erase = _erase(srv, erased, env, work)
            figures["erase"] = {**erase.summary(), "contact_id": erased, "conversation_links": conversations,
                                "rows_left": _leftovers(root, [erased])}
            report.add("3 erase: contact", f"{erased} ({conversations} stored conversation links)")
            report.add("3 erase: wall (CLI process) / run", f"{erase.seconds:.1f} s / {erase.run_seconds:.1f} s "
                       f"(op {erase.steps.get('intercom_erase', 0):.1f} s, peak RSS {erase.peak_rss_mib:.0f} MiB, "
                       f"{sum(erase.requests.values())} API requests)")
            report.add("3 erase: op summary", erase.messages[0] if erase.messages else "(no Erasure line found)")
            report.add("3 erase: rows naming the contact left", str(sum(figures["erase"]["rows_left"].values())))

            # 4. current-state refresh of the window run without the sweep
            for table in REFRESH_TABLES:
                got = no_sweep.current.get(table, {})
                report.add(f"4 refresh: {table}_current",
                           ", ".join(f"{k} {got.get(k)}" for k in ("seconds", "partitions", "files_rewritten")))
            report.add("4 refresh: intercom_current step (all current states)",
                       f"{no_sweep.steps.get(CURRENT_STEP, 0):.1f} s; the refreshes' own seconds add up to "
                       f"{sum(v.get('seconds', 0) for v in no_sweep.current.values()):.1f} s")
            slowest = sorted(no_sweep.current.items(), key=lambda kv: -kv[1].get("seconds", 0))[:4]
            report.add("4 refresh: slowest current states",
                       ", ".join(f"{table} {v.get('seconds', 0):.2f} s" for table, v in slowest))
    except BaseException:
        args.keep = True  # a failure keeps the logs, lake and instance to look at
        raise
    finally:
        if args.keep:
            print(f"# work directory kept: {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)

    figures["total_seconds"] = round(time.monotonic() - started, 1)
    width = max(len(name) for name, _ in report)
    print(f"\nintercom-assets deletions benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, scale {args.scale}, "
          f"window {args.window} days, latency {args.latency_ms} ms; total {figures['total_seconds']:.0f} s)")
    for name, value in report:
        print(f"{name.ljust(width)}  {value}")
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
