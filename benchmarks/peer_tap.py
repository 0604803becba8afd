"""A peer figure: the Singer `tap-intercom` pulling the same window from the same test server.

The tap lives in its own venv (its pins would clash with ours) and runs through `peer_tap_wrapper.py`, which
points its client at the loopback server and, by default, sends two search clauses in the form that server
accepts (ADAPTATIONS; the result lists them). The tap has no end bound: it reads from the window's start on.
Each group of streams runs in its own tap process so that a stream the test server cannot answer (the tap
targets API 2.12 and endpoints our 2.16 server lacks) fails alone instead of ending the run; the figure is the
sum of the groups' wall times. The tap's client-side cap of 1,000 calls a minute stays in place and is
reported beside the figure.

`python -m benchmarks.peer_tap --scale small` starts its own server and prints one line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

TAP_REQUIREMENT = "tap-intercom==2.2.5"
TAP_CAP = "1,000 calls/min (client-side, hard-coded)"
DEFAULT_VENV = Path.home() / ".cache" / "intercom-assets" / "tap-intercom-venv"
WRAPPER = Path(__file__).with_name("peer_tap_wrapper.py")
STREAM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("contacts",), ("companies",), ("conversations", "conversation_parts"), ("admins",), ("teams",), ("tags",),
    ("segments",), ("company_segments",), ("company_attributes",), ("contact_attributes",),
)
ADAPTATIONS = (
    "search updated_at bounds sent as integers (the tap sends floats, which the test server rejects with 400)",
    'conversations search: the empty resume clause id > "" OR id = "" dropped (the server matches no id)',
)
BASE_STREAMS = ("contacts", "companies", "conversations", "conversation_parts")
RECORD_PREFIX = b'{"type": "RECORD", "stream": "'


def ensure_tap_venv(venv_dir: Path) -> tuple[Path, str] | str:
    """(venv python, tap version), or why not: a missing python3.11 or a failed pip is a skip, not an error."""
    python = venv_dir / "bin" / "python"
    if not python.exists():
        base = shutil.which("python3.11")
        if base is None:
            return "python3.11 not found"
        venv_dir.parent.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([base, "-m", "venv", str(venv_dir)], capture_output=True, text=True)
        if made.returncode != 0:
            return f"venv failed: {made.stderr.strip()[-300:]}"
    version = _tap_version(python)
    if version != TAP_REQUIREMENT.split("==")[1]:
        pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              TAP_REQUIREMENT], capture_output=True, text=True)
        version = _tap_version(python)
        if version is None:
            return f"pip install {TAP_REQUIREMENT} failed: {pip.stderr.strip()[-300:]}"
    return python, version


def _tap_version(python: Path) -> str | None:
    probe = subprocess.run([str(python), "-c", "import importlib.metadata as m, tap_intercom; "
                            "print(m.version('tap-intercom'))"], capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def _discover(python: Path, base_url: str, config: Path, env: dict[str, str]) -> dict[str, Any]:
    """The tap's own catalog (discovery reads its bundled schemas; no request is made)."""
    found = subprocess.run([str(python), str(WRAPPER), base_url, "--", "--config", str(config), "--discover"],
                           capture_output=True, text=True, env=env, check=True)
    return json.loads(found.stdout)


def _select(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
    """The catalog with exactly these streams, and every field of them, selected."""
    catalog = json.loads(json.dumps(catalog))
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in streams
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = chosen
    return catalog


def _count_records(stdout: IO[bytes]) -> Counter[str]:
    """RECORD messages per stream, read as they stream past; singer writes the stream name first, so most
    lines need no JSON parse."""
    counts: Counter[str] = Counter()
    for line in stdout:
        if line.startswith(RECORD_PREFIX):
            end = line.index(b'"', len(RECORD_PREFIX))
            counts[line[len(RECORD_PREFIX):end].decode()] += 1
        elif b'"RECORD"' in line:
            message = json.loads(line)
            if message.get("type") == "RECORD":
                counts[message["stream"]] += 1
    return counts


def _failure(log: Path, token: str) -> tuple[str, str]:
    """(last error line, last lines) of the tap's stderr, token redacted: a reason for the one-line report
    and a tail to show."""
    lines = log.read_text(errors="replace").replace(token, "<token>").splitlines()
    errors = [ln for ln in lines if "CRITICAL" in ln or "Error" in ln]
    return (errors[-1] if errors else "no error line")[-300:], "\n".join(lines[-15:])


def run_peer_tap(base_url: str, token: str, start_date: datetime, scratch: Path, *,
                 venv_dir: Path = DEFAULT_VENV, request_counts: Callable[[], dict[str, int]] | None = None,
                 adapt_queries: bool = True, timeout_seconds: float = 3600.0) -> dict[str, Any]:
    """Run tap-intercom over every stream group from `start_date` on; figures, or {"skipped": reason}.

    `request_counts` (e.g. `lambda: srv.call("request_counts")`) gives the server's per-endpoint delta.
    `adapt_queries` has the wrapper send two search clauses in the form the test server accepts (see
    ADAPTATIONS); without it contacts and conversations fail or come back empty.
    """
    ready = ensure_tap_venv(venv_dir)
    if isinstance(ready, str):
        return {"skipped": ready}
    python, version = ready
    scratch.mkdir(parents=True, exist_ok=True)
    config = scratch / "tap-config.json"
    config.write_text(json.dumps({
        "access_token": token,
        "start_date": start_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user_agent": "intercom-assets peer benchmark",
        "request_timeout": 300,
    }))
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    own = [base_url, *(["--adapt-queries"] if adapt_queries else [])]
    try:
        discovered = _discover(python, base_url, config, env)
    except subprocess.CalledProcessError as exc:
        return {"skipped": f"tap discovery failed: {exc.stderr.strip()[-300:]}"}
    before = request_counts() if request_counts else None
    records: Counter[str] = Counter()
    failed: dict[str, str] = {}
    tails: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for group in STREAM_GROUPS:
        name = "+".join(group)
        catalog = scratch / f"tap-catalog-{name}.json"
        catalog.write_text(json.dumps(_select(discovered, group)))
        log = scratch / f"tap-{name}.log"
        command = [str(python), str(WRAPPER), *own, "--", "--config", str(config), "--catalog", str(catalog)]
        began = time.monotonic()
        with log.open("wb") as err:
            tap = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env)
            watchdog = threading.Timer(timeout_seconds, tap.kill)
            watchdog.start()
            assert tap.stdout is not None
            counted = _count_records(tap.stdout)
            code = tap.wait()
            watchdog.cancel()
        seconds[name] = time.monotonic() - began
        records.update(counted)
        if code != 0:
            reason, tails[name] = _failure(log, token)
            failed[name] = f"killed after {timeout_seconds:.0f} s" if code == -9 else reason
    result: dict[str, Any] = {
        "wall_seconds": sum(seconds.values()),
        "base_wall_seconds": sum(t for name, t in seconds.items() if set(name.split("+")) & set(BASE_STREAMS)),
        "records": dict(records),
        "group_seconds": seconds,
        "failed": failed,
        "failure_tails": tails,
        "cap": TAP_CAP,
        "version": version,
        "adaptations": list(ADAPTATIONS) if adapt_queries else [],
        "logs": str(scratch),
    }
    if request_counts and before is not None:
        after = request_counts()
        result["requests"] = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    return result


def summary_line(result: dict[str, Any]) -> str:
    """One line for the benchmark table: the figure, what it covers, what failed, and the tap's cap."""
    if "skipped" in result:
        return f"tap-intercom peer: skipped ({result['skipped']})"
    records = ", ".join(f"{k} {v}" for k, v in sorted(result["records"].items()))
    requests = sum(result.get("requests", {}).values())
    failed = "; ".join(f"{k}: {v}" for k, v in result["failed"].items()) or "none"
    adapted = "adapted searches" if result["adaptations"] else "unadapted searches"
    return (f"tap-intercom {result['version']}: {result['wall_seconds']:.1f} s wall "
            f"({result['base_wall_seconds']:.1f} s for {', '.join(BASE_STREAMS)}), {requests} requests; "
            f"records {records}; failed: {failed}; cap {result['cap']}; {adapted}")


def main() -> None:
    from benchmarks.server_process import TOKEN, ServerProcess
    from intercom_assets.partitions import key_start, trailing_window

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=None, help="server limit, requests per minute")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--unadapted", action="store_true",
                        help="send the tap's searches unchanged (contacts fail, conversations come back empty)")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON instead")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (config, catalogs, logs)")
    args = parser.parse_args()
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"intercom-peer-tap-{os.getpid()}"
    try:
        with ServerProcess(scale=args.scale, latency_ms=args.latency_ms,
                           rate_limit_per_minute=args.rate_limit) as srv:
            first, _ = trailing_window(datetime.now(UTC).date(), args.window)
            result = run_peer_tap(srv.base_url, TOKEN, key_start(first), scratch, venv_dir=args.venv,
                                  request_counts=lambda: srv.call("request_counts"),
                                  adapt_queries=not args.unadapted)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    for name, tail in result.get("failure_tails", {}).items():
        print(f"--- tap stderr tail, {name} ---\n{tail}", file=sys.stderr, flush=True)
    print(json.dumps(result) if args.json else summary_line(result))


if __name__ == "__main__":
    main()
