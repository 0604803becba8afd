"""`make dev`: the Dagster UI and daemons, against the real Intercom when a token is set, else the test server.

Without a token a newcomer still gets a working UI (launch a backfill, watch the schedule) because the bundled
test server is started and stopped around `dagster dev`. `dagster dev` runs in its own process group (a terminal's
Ctrl-C reaches only us) and `stop_dagster_dev` stops it in an order that launches nothing and leaves nothing behind.
Its console goes through `ConsoleFilter`, which drops the lines that repeat every tick and say nothing new.
"""

from __future__ import annotations

import filecmp
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from intercom_assets.resources import DEFAULT_BASE_URL
from intercom_assets_tests.demo import (
    DEMO_TOKEN,
    REPO_ROOT,
    STOP_TIMEOUT_SECONDS,
    DemoError,
    bundled_server,
    ensure_dagster_home,
    run_entry_point,
    spawn_group,
)

DEFAULT_PORT = 3000
# `dagster dev` is marked superseded by `dg dev` (dagster-dg-cli, not a dependency here): nothing to act on.
SUPERSEDED_FILTER = "ignore:Function `dev_command` is superseded"
GROUP_KILL_GRACE_SECONDS = 5.0


def dagster_port(env: dict[str, str]) -> int:
    """DAGSTER_PORT, default 3000; a bad value is an error naming the variable."""
    raw = env.get("DAGSTER_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise DemoError(f"DAGSTER_PORT={raw!r} is not a TCP port (1..65535)")
    return int(raw)


def dagster_dev_command(port: int) -> list[str]:
    """The `dagster dev` that `make dev` and the end-to-end tests run (from REPO_ROOT, in their own group)."""
    return [sys.executable, "-W", SUPERSEDED_FILTER, "-m", "dagster", "dev", "-w", "workspace.yaml",
            "-h", "127.0.0.1", "-p", str(port)]


@dataclass(frozen=True)
class Proc:
    """One row of the process table."""

    ppid: int
    pgid: int
    state: str
    args: str


def process_table() -> dict[int, Proc]:
    """Every visible process by pid: /proc on Linux, `ps` elsewhere (`make dev` installs no psutil)."""
    table: dict[int, Proc] = {}
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,pgid=,stat=,args="], capture_output=True,
                                 text=True).stdout
        for line in listing.splitlines():
            fields = line.split(None, 4)
            if len(fields) >= 4 and all(field.isdigit() for field in fields[:3]):
                table[int(fields[0])] = Proc(int(fields[1]), int(fields[2]), fields[3][:1], "".join(fields[4:]))
        return table
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        table[int(entry.name)] = Proc(int(stat[1]), int(stat[2]), stat[0], args)
    return table


def descendants(pid: int, table: dict[int, Proc]) -> list[int]:
    """Every process below pid in the table, parents before their children."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, row in table.items() if row.ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (zombies, exited but not yet reaped, do not count)."""
    return [pid for pid, row in process_table().items() if row.pgid == pgid and row.state != "Z"]


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, deadline: float) -> None:
    """Until pid has exited (a zombie counts as exited) or the deadline passes."""
    while time.monotonic() < deadline:
        row = process_table().get(pid)
        if row is None or row.state == "Z":
            return
        time.sleep(0.2)


def wait_group(pgid: int, timeout: float) -> bool:
    """Wait until a process group has no live member; whether it has none."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def kill_group(pgid: int, grace: float = GROUP_KILL_GRACE_SECONDS,
               signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGKILL)) -> None:
    """Send each signal to whatever is left in a process group, `grace` seconds apart, until it is empty.

    Works after the group's leader exited: a leader's exit says nothing about the rest of its group (code servers
    and run workers outlive it).
    """
    for signum in signals:
        if not group_members(pgid):
            return
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            return
        if wait_group(pgid, grace):
            return


def daemon_pids(process: subprocess.Popen) -> list[int]:
    """The `dagster dev`'s daemon process (the one that ticks sensors and schedules and launches runs)."""
    return [pid for pid, row in process_table().items()
            if row.ppid == process.pid and ("dagster._daemon" in row.args or "dagster-daemon" in row.args)]


def freeze(pids: list[int]) -> None:
    """SIGSTOP: from here on no tick, queue or launch of theirs advances (see stop_dagster_dev)."""
    for pid in pids:
        _signal(pid, signal.SIGSTOP)


def stop_dagster_dev(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop a `dagster dev` started with spawn_group: nothing is launched from the first step, nothing is left.

    dagster dev's own shutdown tells the webserver and the daemon to stop at once, and the daemon lets each of its
    threads finish the iteration in flight (up to 30 s each): a sensor or schedule tick that had started still
    created and launched its run during the stop. Signalling the whole group instead also killed the code server,
    which dagster dev restarts every 5 s while it waits for the others, and left that restart running. So:
    1. freeze the daemon (SIGSTOP): from here on no tick, queue or launch advances. Dagster is built for a daemon
       that dies mid-tick: the next start resumes that tick's unsubmitted runs or marks it skipped;
    2. SIGINT dagster dev: its own orderly shutdown (webserver, then the daemon, then the code server);
    3. once the webserver has exited, SIGKILL the frozen daemon, so that dagster dev goes on at once;
    4. interrupt the runs in progress (SIGINT to the code server's children, the run workers): they end as failed
       instead of keeping their code server alive until they finish;
    5. what is left in the group once dagster dev exited (a code server finishing, a run worker writing its
       failure) may end by itself until `timeout`; then it is terminated, then killed.
    """
    if process.poll() is not None:
        kill_group(process.pid)
        return
    deadline = time.monotonic() + timeout
    daemons = daemon_pids(process)
    freeze(daemons)
    webservers = [pid for pid, row in process_table().items()
                  if row.ppid == process.pid and "dagster_webserver" in row.args]
    _signal(process.pid, signal.SIGINT)
    for pid in webservers:
        _wait_gone(pid, deadline)
    for pid in daemons:
        _signal(pid, signal.SIGKILL)
    table = process_table()
    servers = {pid for pid in descendants(process.pid, table) if "dagster api grpc" in table[pid].args}
    for pid, row in table.items():
        if row.ppid in servers:
            _signal(pid, signal.SIGINT)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        print("dagster dev did not stop in time; killing its process group", file=sys.stderr)
    if not wait_group(process.pid, max(deadline - time.monotonic(), 0.0)):
        kill_group(process.pid)
    process.wait()


ANSI = re.compile(r"\x1b\[[0-9;]*m")
DAEMON_LINE = re.compile(r" - dagster\.daemon\.(\w+) - INFO - (.*)$")
SKIPPED = re.compile(r"(?:Sensor|Schedule) (\S+) skipped: (.*)$|No run requests returned for (\S+), skipping$")
CHATTER = re.compile(r"Checking for new runs for sensor: |Collected \d+ runs for monitoring$|Checking run \S+$")
YAML_IGNORED = "Found a dagster instance configuration value (dagster.yaml) in the current folder"
LOG_RECORD = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


class ConsoleFilter:
    """Which console lines of `dagster dev` to show: all but those that say nothing a user can act on.

    Dropped: the daemon's per-tick "Checking for new runs for sensor" and run-monitoring lines; a sensor's or
    schedule's "skipped" line that repeats its previous reason (one line per sensor per minute otherwise); the
    warning that the working directory's dagster.yaml is not used, when DAGSTER_HOME holds the same file (the copy
    is used). Every tick and its reason stay in the UI (Automation). Once `stopping` is set, only the first line of
    each log record: a run interrupted by Ctrl-C says so in one line instead of two stack traces.
    """

    def __init__(self, home: Path) -> None:
        copy, repo = home / "dagster.yaml", REPO_ROOT / "dagster.yaml"
        self._same_yaml = copy.is_file() and repo.is_file() and filecmp.cmp(copy, repo, shallow=False)
        self._last_skip: dict[str, str] = {}
        self.stopping = False

    def keep(self, line: str) -> bool:
        text = ANSI.sub("", line).rstrip("\n")
        if self.stopping and not LOG_RECORD.match(text):
            return False
        if YAML_IGNORED in text:
            return not self._same_yaml
        daemon = DAEMON_LINE.search(text)
        if daemon is None:
            return True
        message = daemon.group(2)
        if CHATTER.match(message):
            return False
        skipped = SKIPPED.match(message)
        if skipped is None:
            return True
        name = skipped.group(1) or skipped.group(3)
        reason = skipped.group(2) or ""
        if self._last_skip.get(name) == reason:
            return False
        self._last_skip[name] = reason
        return True


def copy_filtered(stream: IO[bytes], keep: Callable[[str], bool], out: IO[str]) -> None:
    """Copy `dagster dev`'s output line by line until it closes, leaving out what `keep` rejects.

    Reads to the end even once `out` is gone (a closed terminal or pipe): a full pipe would block dagster dev.
    """
    writable = True
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        if writable and keep(line):
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):
                writable = False


def run_dagster_dev(env: dict[str, str], port: int, home: Path) -> int:
    """Run `dagster dev` until it exits or we are asked to stop (SIGINT, SIGTERM); then stop it completely.

    The first Ctrl-C freezes the daemon in the signal handler itself, before anything else: a tick in progress
    then creates no run after the user asked to stop (the main loop, polling every 0.2 s, was late enough for a
    catch-up tick to create one). A second Ctrl-C during the stop kills its process group at once.
    """
    requested: list[int] = []
    children: list[subprocess.Popen] = []
    daemons: list[int] = []  # found once dagster dev has started it (it is never restarted)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        requested.append(signum)
        if len(requested) == 1:
            freeze(daemons)
        else:
            for child in children:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # Installed before the child exists, so no signal can slip between its start and our handler.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process = spawn_group(dagster_dev_command(port), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        children.append(process)
        assert process.stdout is not None
        console = ConsoleFilter(home)
        copier = threading.Thread(target=copy_filtered, args=(process.stdout, console.keep, sys.stdout), daemon=True)
        copier.start()
        while process.poll() is None and not requested:
            if not daemons:
                daemons.extend(daemon_pids(process))
            time.sleep(0.2)
        if requested:
            console.stopping = True
            print("\nStopping Dagster (nothing new is launched from now on)...", flush=True)
        stop_dagster_dev(process)
        copier.join(timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.poll() is None:
                kill_group(child.pid, grace=1)
    return 0 if requested else process.returncode


def start_ui() -> int:
    """Choose the API, start the UI, stop the test server when the UI stops."""
    env = dict(os.environ)
    port = dagster_port(env)
    home = ensure_dagster_home(env)
    with ExitStack() as stack:
        if env.get("INTERCOM_ACCESS_TOKEN", "").strip():
            target = env.get("INTERCOM_BASE_URL", "").strip() or DEFAULT_BASE_URL
            print(f"INTERCOM_ACCESS_TOKEN is set: using the real Intercom API at {target}", flush=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="intercom-dev-")))
            url = stack.enter_context(bundled_server(work / "server.log"))
            env["INTERCOM_ACCESS_TOKEN"] = DEMO_TOKEN
            env["INTERCOM_BASE_URL"] = url
            print(f"No INTERCOM_ACCESS_TOKEN: using the bundled Intercom test server at {url}", flush=True)
        print(f"DAGSTER_HOME={home}; UI at http://127.0.0.1:{port} (Ctrl-C stops everything)", flush=True)
        return run_dagster_dev(env, port, home)


def main() -> int:
    """Entry point of `make dev`."""
    return run_entry_point("dev", start_ui)


if __name__ == "__main__":
    sys.exit(main())
