"""`make dev`: the Dagster UI and daemons, against the real Intercom when a token is set, else the test server.

Without a token a newcomer still gets a working UI (launch a backfill, watch the schedule) because the bundled
test server is started and stopped around `dagster dev`. `dagster dev` runs in its own process group and we
forward SIGINT/SIGTERM to that group: signalling only its top process leaves the webserver, the daemon and run
workers behind, holding the port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

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
    stop_process_group,
)

DEFAULT_PORT = 3000


def dagster_port(env: dict[str, str]) -> int:
    """DAGSTER_PORT, default 3000; a bad value is an error naming the variable."""
    raw = env.get("DAGSTER_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise DemoError(f"DAGSTER_PORT={raw!r} is not a TCP port (1..65535)")
    return int(raw)


def run_dagster_dev(env: dict[str, str], port: int) -> int:
    """Run `dagster dev` until it exits; our SIGINT/SIGTERM go to its whole process group.

    After a forwarded signal the group gets STOP_TIMEOUT_SECONDS to shut down before it is killed, so a hung
    webserver never keeps the port.
    """
    command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    forwarded: list[float] = []
    children: list[subprocess.Popen] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(time.monotonic())
        for child in children:
            try:
                os.killpg(child.pid, signum)
            except ProcessLookupError:
                pass

    # Installed before the child exists, so no signal can slip between its start and our handler.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process = spawn_group(command, cwd=REPO_ROOT, env=env)
        children.append(process)
        if forwarded:
            os.killpg(process.pid, signal.SIGTERM)
        while process.poll() is None:
            if forwarded and time.monotonic() - forwarded[0] > STOP_TIMEOUT_SECONDS:
                print("dagster dev did not stop in time; killing its process group", file=sys.stderr)
                stop_process_group(process, first_signal=signal.SIGKILL)
                break
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            stop_process_group(child)
    return 0 if forwarded else process.returncode


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
        return run_dagster_dev(env, port)


def main() -> int:
    """Entry point of `make dev`."""
    return run_entry_point("dev", start_ui)


if __name__ == "__main__":
    sys.exit(main())
