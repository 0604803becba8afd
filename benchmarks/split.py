"""Where a run's time goes: the product's own phases, timed in the tick's process, and Dagster's own (the rest).

`benchmarks.tick` executes runs in its own process (`execute_in_process`), so the step bodies run there and can be
timed by wrapping the module functions they call: extraction (the run's `intercom/extraction_seconds` tag), the
commit of staged partitions (`commit_partition`, called by the IO manager and for snapshot partitions), the
checks (`_evaluate_checks`: files read, verdicts, instance queries), the deletions (`deleted_records`' days and the
propagation of new deletions), the current-state refresh (`_refresh` and `state_size` of the current-state step),
and the rest of the extraction step's own code. A generator is timed only while it computes, never while Dagster
handles what it yielded (the events it stores), so "Dagster's own" = run wall minus every phase above: the run and
step starts, the events of every partition and check, the IO manager's plumbing, the run's end.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagster import DagsterInstance

import intercom_assets.assets as assets_module
import intercom_assets.current_assets as current_module
import intercom_assets.lake.io_manager as io_module
import intercom_assets.run_step as step_module

PHASES = ("commit", "checks", "deletions", "current_state", "step_other")  # besides extraction and Dagster's own
SECONDS: dict[str, float] = defaultdict(float)  # wall seconds per phase
CPU: dict[str, float] = defaultdict(float)  # CPU seconds of the whole process (every thread) during each phase
CURRENT: dict[str, float] = defaultdict(float)  # wall seconds of each table's current-state refresh and size


def _add(phase: str, started: float, cpu: float) -> None:
    SECONDS[phase] += time.monotonic() - started
    CPU[phase] += time.process_time() - cpu


def _timed(phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.monotonic(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(phase, started, cpu)
    return wrapper


def _timed_generator(phase: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Counts the time spent computing the next item, not the time its consumer (Dagster) spends on it."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        items = fn(*args, **kwargs)
        while True:
            started, cpu = time.monotonic(), time.process_time()
            try:
                item = next(items)
            except StopIteration as stop:
                _add(phase, started, cpu)
                return stop.value
            _add(phase, started, cpu)
            yield item
    return wrapper


def _per_table(position: int, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds each call's wall time to its table's (a TableSpec or a table name at `position`)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            table = args[position]
            CURRENT[getattr(table, "name", table)] += time.monotonic() - started
    return wrapper


def current_tables() -> dict[str, float]:
    """Seconds of each table's current-state refresh since the last call (then reset)."""
    out = dict(CURRENT)
    CURRENT.clear()
    return out


def install() -> None:
    """Wrap the product's phase functions in this process (call before any run)."""
    step_module.extract = _timed("extraction", step_module.extract)
    DagsterInstance.handle_new_event = _timed("event_writes", DagsterInstance.handle_new_event)
    io_module.commit_partition = _timed("commit_io", io_module.commit_partition)
    step_module.commit_partition = _timed("commit_snapshot", step_module.commit_partition)
    step_module._evaluate_checks = _timed_generator("checks", step_module._evaluate_checks)
    step_module._deletion_days = _timed_generator("deletions", step_module._deletion_days)
    step_module._propagate = _timed_generator("deletions", step_module._propagate)
    current_module._refresh = _timed("current_state", _per_table(2, current_module._refresh))
    current_module.state_size = _timed("current_state", _per_table(1, current_module.state_size))
    assets_module.run_extraction = _timed_generator("step_total", step_module.run_extraction)


def take(wall: float, cpu: float) -> dict[str, dict[str, float]]:
    """The split of one run that took `wall` seconds and `cpu` CPU seconds ({"wall": {...}, "cpu": {...}}), then
    reset. `step_other` is the extraction step's own code outside extraction, checks, deletions and snapshot
    commits (the IO manager's commits run while Dagster handles an Output, outside the step's generator);
    `event_writes` (part of Dagster's own) is the time the instance spent storing the run's events."""
    out = {}
    for kind, got, total in (("wall", SECONDS, wall), ("cpu", CPU, cpu)):
        split = {
            "extraction": got.get("extraction", 0.0),
            "commit": got.get("commit_io", 0.0) + got.get("commit_snapshot", 0.0),
            "checks": got.get("checks", 0.0),
            "deletions": got.get("deletions", 0.0),
            "current_state": got.get("current_state", 0.0),
        }
        split["step_other"] = max(0.0, got.get("step_total", 0.0) - split["extraction"] - split["checks"]
                                  - split["deletions"] - got.get("commit_snapshot", 0.0))
        split["dagster_own"] = total - sum(split.values())
        split["event_writes"] = got.get("event_writes", 0.0)
        out[kind] = split
    SECONDS.clear()
    CPU.clear()
    return out


def rows(name: str, tick: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report's rows for one tick (benchmarks.run): its process, then each run's split."""
    start = tick["start_seconds"] + tick["load_seconds"]
    out = [(f"{name}: process", f"{tick['process_wall_seconds']:.1f} s wall, {tick['process_cpu_seconds']:.1f} s CPU "
            f"(user+sys); start {start:.1f} s (interpreter and imports {tick['start_seconds']:.1f} s, definitions "
            f"{tick['load_seconds']:.1f} s)")]
    for number, run in enumerate(tick["runs"], 1):
        wall, cpu = run["split"]["wall"], run["split"]["cpu"]
        outside = run["wall_seconds"] - wall["extraction"] + (start if number == 1 else 0.0)
        label = f"{name}: run {number} ({len(run['rows'])} tables, {run['events']} events)"
        out += [
            (f"{label}, wall", f"{run['wall_seconds']:.1f} s = {_named(wall)}; outside extraction"
             f"{' (start included)' if number == 1 else ''} {outside:.1f} s"),
            (f"{label}, CPU", f"{run['cpu_seconds']:.1f} s = {_named(cpu)}"),
        ]
        refreshed = run.get("current_tables", {})
        if refreshed:
            idle = {t: r["seconds"] for t, r in refreshed.items() if r["partitions"] == 0}
            worst = max(refreshed, key=lambda t: refreshed[t]["seconds"])
            out.append((f"{label}, current state per table", f"{len(refreshed)} tables, slowest {worst} "
                        f"{refreshed[worst]['seconds']:.2f} s ({refreshed[worst]['partitions']} partitions merged); "
                        + (f"{len(idle)} merged nothing, slowest of them {max(idle, key=idle.get)} "
                           f"{max(idle.values()):.2f} s" if idle else "every table merged partitions")))
    return out


def _named(split: Mapping[str, float]) -> str:
    return ", ".join(f"{label} {split[phase]:.1f}" for phase, label in LABELS.items()) + (
        f" (of which storing events {split['event_writes']:.1f})")


LABELS = {"extraction": "extraction", "commit": "commit", "checks": "checks", "deletions": "deletions",
          "current_state": "current state", "step_other": "other step code", "dagster_own": "Dagster's own"}
