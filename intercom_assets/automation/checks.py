"""Data-quality checks and the freshness policy for every Intercom table, generated from the table registry.

All checks live in ONE subsettable `@multi_asset_check` step: 13 tables x 3 checks as separate steps would cost
Dagster tens of seconds of bookkeeping per run, while one step reads each stored partition once and evaluates
everything on it. The step runs in the same run as the extraction (the job selects the group, which brings the
checks of the selected assets along), examines every partition of the run's range, and yields ONE result per
check whose metadata names the failing partitions.

Freshness is a `FreshnessPolicy.time_window` on every asset spec (applied in definitions.py through
`with_freshness_policy`, since assets.py stays policy-free), evaluated by Dagster's freshness daemon; the
check-failure sensor alerts on its WARN/FAIL states. `build_last_update_freshness_checks` would need a sensor of
its own to evaluate and add 13 more check results per evaluation, for the same verdict.

The check specs are deliberately NOT partitioned: a partitioned check spec given a run-level result (a range run
yields `partition=None`) leaves every partition of the check "skipped" in Dagster's check state, which hides the
failure; an unpartitioned spec shows the latest run's verdict, which is what the alert sensor reads too.
"""

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetsDefinition,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    MetadataValue,
    apply_freshness_policy,
    map_asset_specs,
    multi_asset_check,
)
from dagster._utils.schedules import cron_string_iterator

from intercom_assets.assets import asset_key
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import key_start, trailing_window
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.tables import TABLES, TableSpec

CHECKS_STEP = "intercom_checks"
CHECK_KEY = "key_unique_non_null"
CHECK_DAY = "rows_in_partition_day"
CHECK_SCHEMA = "schema_unchanged"
CHECK_PARTS = "conversation_parts_complete"
PARTS_TABLE = "conversation_parts"
PARTS_PARENT = "conversation_id"
PARTS_TOTAL = "conversation_total_parts"
# Metadata keys the alert sensor reads back.
FAILING_PARTITIONS = "failing_partitions"
DETAILS = "details"
MAX_DETAILS = 50
MAX_SAMPLES = 5
READ_THREADS = 8


def check_keys(tables: Sequence[TableSpec] = TABLES) -> list[AssetCheckKey]:
    """Every check this module declares, for the alert sensor's queries."""
    return [spec.key for spec in _check_specs(tables)]


def _check_specs(tables: Sequence[TableSpec]) -> list[AssetCheckSpec]:
    specs: list[AssetCheckSpec] = []
    for table in tables:
        key = asset_key(table.name)
        specs.append(
            AssetCheckSpec(
                CHECK_KEY,
                asset=key,
                description=f"{', '.join(table.key)}: never null and unique within each day partition.",
            )
        )
        if not table.is_snapshot:
            specs.append(
                AssetCheckSpec(
                    CHECK_DAY,
                    asset=key,
                    description=f"Every row's `{table.partition_column}` lies inside its partition's UTC day.",
                )
            )
        specs.append(
            AssetCheckSpec(
                CHECK_SCHEMA,
                asset=key,
                description="Each stored file's Arrow schema equals the declared one (no drift between days).",
            )
        )
        if table.name == PARTS_TABLE:
            specs.append(
                AssetCheckSpec(
                    CHECK_PARTS,
                    asset=key,
                    description=(
                        "WARN when a conversation has more parts than were stored (the API returns only the "
                        "newest 500 parts of a conversation)."
                    ),
                )
            )
    return specs


@dataclass
class Verdicts:
    """Per check, the failing partitions of one table with a short reason each."""

    checked: list[str] = field(default_factory=list)
    failures: dict[str, dict[str, str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, check_name: str, partition_key: str, reason: str, count: int = 1) -> None:
        with self._lock:  # partitions of one table are evaluated in parallel threads
            self.failures.setdefault(check_name, {})[partition_key] = reason
            self.counts[check_name] = self.counts.get(check_name, 0) + count


def _describe_schema_drift(actual: pa.Schema, declared: pa.Schema) -> str:
    actual_fields = {f.name: f for f in actual}
    declared_fields = {f.name: f for f in declared}
    notes = []
    missing = [name for name in declared_fields if name not in actual_fields]
    added = [name for name in actual_fields if name not in declared_fields]
    if missing:
        notes.append(f"missing columns {missing[:MAX_SAMPLES]}")
    if added:
        notes.append(f"unexpected columns {added[:MAX_SAMPLES]}")
    for name, declared_field in declared_fields.items():
        actual_field = actual_fields.get(name)
        if actual_field is None:
            continue
        if not actual_field.type.equals(declared_field.type):
            notes.append(f"{name}: {actual_field.type} instead of {declared_field.type}")
        elif actual_field.nullable != declared_field.nullable:
            notes.append(f"{name}: nullable={actual_field.nullable} instead of {declared_field.nullable}")
    if not notes and actual.names != declared.names:
        notes.append("column order differs")
    return "; ".join(notes) or "schema differs"


def _read_schema(store: ParquetStore, table: str, partition_key: str) -> pa.Schema:
    with store.partition_path(table, partition_key).open("rb") as handle:
        return pq.read_schema(handle)


def _key_problems(data: pa.Table, key: tuple[str, ...]) -> tuple[int, str] | None:
    nulls = {name: data.column(name).null_count for name in key if data.column(name).null_count}
    if nulls:
        return sum(nulls.values()), f"null key values: {nulls}"
    if data.num_rows == 0:
        return None
    counts = data.select(list(key)).group_by(list(key)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if duplicated.num_rows == 0:
        return None
    samples = [
        "/".join(str(duplicated.column(name)[i].as_py()) for name in key)
        for i in range(min(MAX_SAMPLES, duplicated.num_rows))
    ]
    return duplicated.num_rows, f"{duplicated.num_rows} duplicated keys, e.g. {samples}"


def _day_problems(data: pa.Table, column: str, partition_key: str) -> tuple[int, str] | None:
    start = key_start(partition_key)
    end = start + timedelta(days=1)
    stamps = data.column(column)
    if stamps.null_count:
        return stamps.null_count, f"{stamps.null_count} rows without {column}"
    if data.num_rows == 0:
        return None
    low = pa.scalar(start, type=stamps.type)
    high = pa.scalar(end, type=stamps.type)
    outside = pc.or_(pc.less(stamps, low), pc.greater_equal(stamps, high))
    bad = pc.sum(pc.cast(outside, pa.int64())).as_py() or 0
    if not bad:
        return None
    first = pc.min(stamps).as_py()
    last = pc.max(stamps).as_py()
    return bad, f"{bad} rows outside {partition_key} (range {first:%Y-%m-%dT%H:%M:%S}..{last:%Y-%m-%dT%H:%M:%S})"


def _parts_problems(data: pa.Table) -> tuple[int, str, dict[str, tuple[int, int]]] | None:
    if data.num_rows == 0:
        return None
    grouped = data.group_by(PARTS_PARENT).aggregate([([], "count_all"), (PARTS_TOTAL, "max")])
    stored = grouped.column("count_all").to_pylist()
    totals = grouped.column(f"{PARTS_TOTAL}_max").to_pylist()
    parents = grouped.column(PARTS_PARENT).to_pylist()
    short = {
        str(parent): (count, total)
        for parent, count, total in zip(parents, stored, totals, strict=True)
        if total is not None and total > count
    }
    if not short:
        return None
    samples = dict(sorted(short.items())[:MAX_SAMPLES])
    return len(short), f"{len(short)} conversations with fewer stored parts than total, e.g. {samples}", short


def evaluate_partition(store: ParquetStore, spec: TableSpec, partition_key: str, verdicts: Verdicts) -> None:
    """Evaluate every check of one table on one stored partition (read once) and record what fails."""
    try:
        _evaluate_partition(store, spec, partition_key, verdicts)
    except FileNotFoundError:
        verdicts.fail(CHECK_SCHEMA, partition_key, "no file stored for this partition")
    except (OSError, pa.ArrowException) as error:
        # A damaged file is a data problem to report, not a reason to crash the step and lose every other verdict.
        verdicts.fail(CHECK_SCHEMA, partition_key, f"unreadable file: {type(error).__name__}: {error}"[:300])


def _evaluate_partition(store: ParquetStore, spec: TableSpec, partition_key: str, verdicts: Verdicts) -> None:
    declared = spec.converter().schema
    if not store.exists(spec.name, partition_key):
        raise FileNotFoundError(partition_key)
    actual = _read_schema(store, spec.name, partition_key)
    if not actual.equals(declared, check_metadata=False):
        verdicts.fail(CHECK_SCHEMA, partition_key, _describe_schema_drift(actual, declared))
    wanted = list(spec.key)
    if spec.partition_column is not None:
        wanted.append(spec.partition_column)
    if spec.name == PARTS_TABLE:
        wanted += [PARTS_PARENT, PARTS_TOTAL]
    present = [name for name in dict.fromkeys(wanted) if name in actual.names]
    data = store.read(spec.name, partition_key, columns=present)
    if any(name not in actual.names for name in spec.key):
        verdicts.fail(CHECK_KEY, partition_key, "key column missing from the file")
    else:
        problem = _key_problems(data, spec.key)
        if problem:
            verdicts.fail(CHECK_KEY, partition_key, problem[1], problem[0])
    if spec.partition_column is not None:
        if spec.partition_column not in actual.names:
            verdicts.fail(CHECK_DAY, partition_key, f"column {spec.partition_column} missing from the file")
        else:
            problem = _day_problems(data, spec.partition_column, partition_key)
            if problem:
                verdicts.fail(CHECK_DAY, partition_key, problem[1], problem[0])
    if spec.name == PARTS_TABLE and PARTS_PARENT in actual.names and PARTS_TOTAL in actual.names:
        parts = _parts_problems(data)
        if parts:
            verdicts.fail(CHECK_PARTS, partition_key, parts[1], parts[0])


def _result(spec: TableSpec, check_name: str, verdicts: Verdicts) -> AssetCheckResult:
    failures = verdicts.failures.get(check_name, {})
    failing = sorted(failures)
    severity = AssetCheckSeverity.WARN if check_name == CHECK_PARTS else AssetCheckSeverity.ERROR
    metadata: dict[str, Any] = {
        "partitions_checked": len(verdicts.checked),
        "partition_range": f"{verdicts.checked[0]}...{verdicts.checked[-1]}" if verdicts.checked else "none",
        FAILING_PARTITIONS: MetadataValue.json(failing),
        "failing_partition_count": len(failing),
        "failing_rows_or_groups": verdicts.counts.get(check_name, 0),
    }
    if failures:
        metadata[DETAILS] = MetadataValue.json({key: failures[key] for key in failing[:MAX_DETAILS]})
    return AssetCheckResult(
        asset_key=asset_key(spec.name),
        check_name=check_name,
        passed=not failing,
        severity=severity,
        metadata=metadata,
        description=(
            f"failed in {len(failing)} of {len(verdicts.checked)} partitions: {failing[:MAX_SAMPLES]}"
            if failing
            else None
        ),
    )


def run_partition_keys(
    context: AssetCheckExecutionContext, partitions_def: DailyPartitionsDefinition, window_days: int
) -> list[str]:
    """The run's partitions; a check launched alone without partitions looks at the attribution window."""
    if context.has_partition_key_range or context.has_partition_key:
        return list(context.partition_keys)
    first, last = trailing_window(datetime.now(UTC).date(), window_days)
    return [key for key in partitions_def.get_partition_keys() if first <= key <= last]


def evaluate_tables(
    store: ParquetStore, tables: Sequence[TableSpec], partition_keys: Sequence[str]
) -> dict[str, Verdicts]:
    """Verdicts per table over the given partitions; reads run in threads (object stores are latency-bound)."""
    verdicts = {spec.name: Verdicts(checked=list(partition_keys)) for spec in tables}
    tasks = [(spec, key) for spec in tables for key in partition_keys]
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        list(pool.map(lambda task: evaluate_partition(store, task[0], task[1], verdicts[task[0].name]), tasks))
    return verdicts


def build_intercom_checks(
    partitions_def: DailyPartitionsDefinition, window_days: int, tables: Sequence[TableSpec] = TABLES
) -> AssetChecksDefinition:
    """One multi-asset check over every declared table (subsettable: a run evaluates its selected tables only)."""
    by_name = {spec.name: spec for spec in tables}

    @multi_asset_check(
        name=CHECKS_STEP,
        specs=_check_specs(tables),
        can_subset=True,
        description="Key, partition-day, schema and completeness checks over every partition of the run.",
    )
    def intercom_checks(
        context: AssetCheckExecutionContext, parquet_storage: ParquetStorageResource
    ) -> Iterator[AssetCheckResult]:
        """Reads each selected table's partitions of the run once and yields one result per selected check."""
        selected = context.selected_asset_check_keys
        names = sorted({key.asset_key.path[-1] for key in selected})
        specs = [by_name[name] for name in names]
        keys = run_partition_keys(context, partitions_def, window_days)
        context.log.info(f"Checking {len(specs)} tables over {len(keys)} partitions")
        verdicts = evaluate_tables(parquet_storage.get_store(), specs, keys)
        for spec in specs:
            for check_key in sorted(selected, key=lambda k: k.name):
                if check_key.asset_key == asset_key(spec.name):
                    yield _result(spec, check_key.name, verdicts[spec.name])

    return intercom_checks


def cron_max_gap(cron: str) -> timedelta:
    """Longest gap between consecutive ticks of a cron over one week (a daily cron: 1 day)."""
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    ticks = cron_string_iterator(start, cron, "UTC")
    previous = next(ticks)
    gap = timedelta(0)
    while previous.timestamp() < start + 7 * 86400:
        current = next(ticks)
        gap = max(gap, current - previous)
        previous = current
    return gap


def freshness_policy_for(cron: str) -> FreshnessPolicy:
    """Warn after two missed ticks, fail after four (at least 1 h / 2 h: a 30-minute cron gives 1 h / 2 h).

    A run covers the whole attribution window, so one slow or skipped tick is normal; four in a row is not.
    """
    gap = cron_max_gap(cron)
    return FreshnessPolicy.time_window(
        fail_window=max(timedelta(hours=2), 4 * gap), warn_window=max(timedelta(hours=1), 2 * gap)
    )


def with_freshness_policy(assets_def: AssetsDefinition, policy: FreshnessPolicy) -> AssetsDefinition:
    """The same assets with the policy on every spec (assets.py stays policy-free; the daemon evaluates it)."""
    (mapped,) = map_asset_specs(lambda spec: apply_freshness_policy(spec, policy), [assets_def])
    return mapped
