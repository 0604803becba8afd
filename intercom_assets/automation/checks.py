"""Data-quality checks for every Intercom table, generated from the registry and evaluated PER PARTITION.

The checks are `check_specs` of the extraction multi-asset itself, partitioned like the tables: the step that
commits a partition evaluates it and yields one `AssetCheckEvaluation` per check and partition, so the Checks tab
shows each partition's own state and a run over old days never touches the verdict of a recent one. (A separate
check step would be skipped whenever an output is not yielded, which honest snapshot tables and failed sources
both do.)

ONE check per table, `partition_valid`, because each check evaluation costs several KB of instance storage per
partition and a year of 30-minute ticks must fit a small instance. Its rules, named in the evaluation's
description and `failed_rules` metadata when they fail:
- ERROR: the key is never null and unique within the partition (`key`), every row's partition column lies inside
  the partition's UTC day (`day`), the stored file's schema equals the declared one (`schema`), the file exists
  and reads (`file`);
- WARN, only when no ERROR rule failed: a parent has more parts than were stored (`part_cap`; the API returns only
  the newest 500 parts of a conversation or ticket).

Every evaluation records what it counted as numeric metadata (`rows`, `null_keys`, `duplicate_keys`,
`rows_outside_day`, `parents_over_cap`, and `failing_partitions`, the check's failing partitions once the run's
verdicts are recorded), so the Checks tab plots them. The UI's check list says "Failed" when ANY partition fails,
while its "Latest execution" panel shows one evaluation (the newest execution row, whichever partition that is):
so every evaluation also names the check's other failing partitions and, when it passed, carries the worst
severity among them (the list's icon colour is taken from that evaluation).

Freshness is a `FreshnessPolicy.time_window` on every asset spec, evaluated by Dagster's freshness daemon; the
check-failure sensor alerts on its WARN/FAIL states.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetRecordsFilter,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    MetadataValue,
    apply_freshness_policy,
    map_asset_specs,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._utils.schedules import cron_string_iterator

from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import key_start
from intercom_assets.tables import TABLES, TableSpec

CHECK_VALID = "partition_valid"
MAX_SAMPLES = 5
READ_THREADS = 8
MAX_SEVERITY_LOOKUPS = 10  # failing partitions outside the run whose severity is looked up (newest first)


def has_parts_check(spec: TableSpec) -> bool:
    """Tables whose rows are the parts of a capped parent (conversation or ticket parts)."""
    return spec.part_total_column is not None and spec.parent_key is not None


def check_specs(
    partitions_def: DailyPartitionsDefinition, tables: Sequence[TableSpec] = TABLES,
    names: WorkspaceNames = DEFAULT_NAMES,
) -> list[AssetCheckSpec]:
    """The partitioned check spec of every table (attached to the extraction multi-asset)."""
    specs: list[AssetCheckSpec] = []
    for table in tables:
        rules = [f"{', '.join(table.key)} never null and unique in the partition"]
        if not table.is_snapshot:
            rules.append(f"every row's `{table.partition_column}` inside the partition's UTC day")
        rules.append("the stored file's schema equals the declared one")
        warn = (
            f"; WARN when one of its {table.parent} has more parts than were stored (the API returns the newest 500)"
            if has_parts_check(table)
            else ""
        )
        specs.append(
            AssetCheckSpec(
                CHECK_VALID,
                asset=names.asset_key(table.name),
                partitions_def=partitions_def,
                description=f"ERROR unless {'; '.join(rules)}{warn}.",
            )
        )
    return specs


def check_keys(tables: Sequence[TableSpec] = TABLES, names: WorkspaceNames = DEFAULT_NAMES) -> list[AssetCheckKey]:
    """Every check key, for the alert sensor's queries."""
    return [AssetCheckKey(names.asset_key(table.name), CHECK_VALID) for table in tables]


def latest_materializations(
    instance: DagsterInstance, table: str, partitions: Sequence[str], names: WorkspaceNames = DEFAULT_NAMES
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The newest materialization of each partition, as the target a check evaluation must name.

    Dagster shows a partition's check state only while its latest evaluation targets the partition's latest
    materialization; an evaluation yielded by hand names none unless it is given here. One query per table.
    """
    key = names.asset_key(table)
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(partitions)
    )
    if not latest:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        for record in records
        if record.partition_key is not None
    }


@dataclass
class PartitionVerdict:
    """What the checks found in one stored partition of one table."""

    table: TableSpec
    partition: str
    problems: dict[str, str] = field(default_factory=dict)  # rule -> what is wrong (partition_valid)
    short_parents: dict[str, tuple[int, int]] = field(default_factory=dict)  # parent id -> (stored, total)
    figures: dict[str, int] = field(default_factory=dict)  # what was counted (rows, null_keys, ...), for the plots

    @property
    def severity(self) -> AssetCheckSeverity | None:
        """ERROR or WARN when the partition fails the check, None when it passes."""
        if self.problems:
            return AssetCheckSeverity.ERROR
        return AssetCheckSeverity.WARN if self.short_parents else None

    def evaluations(
        self,
        wanted: Set[AssetCheckKey],
        target: AssetCheckEvaluationTargetMaterializationData | None = None,
        failing: Mapping[str, AssetCheckSeverity | None] | None = None,
        names: WorkspaceNames = DEFAULT_NAMES,
    ) -> Iterator[AssetCheckEvaluation]:
        """The partition's evaluation, if its check is wanted, naming the materialization it judged (`target`) and
        the check's other failing partitions (`failing`: partition -> severity, None when not looked up)."""
        key = names.asset_key(self.table.name)
        if AssetCheckKey(key, CHECK_VALID) not in wanted:
            return
        problems = dict(self.problems)
        if self.short_parents:
            samples = dict(sorted(self.short_parents.items())[:MAX_SAMPLES])
            problems["part_cap"] = (
                f"{self.table.parent} with more parts than stored: {len(self.short_parents)}; "
                f"(stored, total): {samples}"
            )
        failing = dict(failing or {})
        if self.severity is not None:
            failing[self.partition] = self.severity
        others = sorted((p for p in failing if p != self.partition), reverse=True)
        description = "; ".join(f"{rule}: {text}" for rule, text in sorted(problems.items()))
        if others:
            named = ", ".join(others[:MAX_SAMPLES]) + (", ..." if len(others) > MAX_SAMPLES else "")
            note = f"{len(others)} other partition{'s' if len(others) > 1 else ''} of this check failing: {named}"
            description = f"{description}\n\n{note}" if description else f"This partition passed; {note}"
        metadata: dict[str, MetadataValue] = {name: MetadataValue.int(n) for name, n in self.figures.items()}
        metadata["failing_partitions"] = MetadataValue.int(len(failing))
        if problems:
            metadata["failed_rules"] = MetadataValue.json(sorted(problems))
        worst = AssetCheckSeverity.ERROR if AssetCheckSeverity.ERROR in failing.values() else AssetCheckSeverity.WARN
        yield AssetCheckEvaluation(
            asset_key=key,
            check_name=CHECK_VALID,
            passed=not problems,
            partition=self.partition,
            severity=self.severity or worst,
            description=description or None,
            metadata=metadata,
            target_materialization_data=target,
        )


def failing_partitions(
    instance: DagsterInstance, verdicts: Sequence[PartitionVerdict], names: WorkspaceNames = DEFAULT_NAMES
) -> dict[str, AssetCheckSeverity | None]:
    """The partitions of one table's check that fail once `verdicts` are recorded: their own failures, and the
    partitions the instance shows failing that they do not re-evaluate (what makes the UI's check list say
    "Failed"). The severity of the latter is looked up, newest first, until an ERROR is found (at most
    MAX_SEVERITY_LOOKUPS: a year of WARN days must not cost a query each per run); None where not looked up."""
    if not verdicts:
        return {}
    key = AssetCheckKey(names.asset_key(verdicts[0].table.name), CHECK_VALID)
    evaluated = {verdict.partition for verdict in verdicts}
    failing = {verdict.partition: verdict.severity for verdict in verdicts if verdict.severity is not None}
    infos = instance.event_log_storage.get_asset_check_partition_info([key])
    elsewhere = sorted(
        (info.partition_key for info in infos
         if info.partition_key is not None and info.partition_key not in evaluated and info.is_current
         and info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED),
        reverse=True,
    )
    failing.update(dict.fromkeys(elsewhere))
    for partition in elsewhere[:MAX_SEVERITY_LOOKUPS]:
        if AssetCheckSeverity.ERROR in failing.values():
            break
        history = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=1, status={AssetCheckExecutionRecordStatus.FAILED},
            partition_filter=PartitionKeyFilter(key=partition),
        )
        failing[partition] = history[0].evaluation.severity if history and history[0].evaluation else None
    return failing


def check_evaluations(
    instance: DagsterInstance, verdicts: Sequence[PartitionVerdict], wanted: Set[AssetCheckKey],
    names: WorkspaceNames = DEFAULT_NAMES,
) -> Iterator[AssetCheckEvaluation]:
    """The wanted evaluations of `verdicts`, each naming the materialization it judged and its check's other
    failing partitions, so the check list (any partition failing) and the latest execution (one partition) agree.
    A few queries per table."""
    by_table: dict[str, list[PartitionVerdict]] = defaultdict(list)
    for verdict in verdicts:
        if AssetCheckKey(names.asset_key(verdict.table.name), CHECK_VALID) in wanted:
            by_table[verdict.table.name].append(verdict)
    for table, group in by_table.items():
        latest = latest_materializations(instance, table, [verdict.partition for verdict in group], names)
        failing = failing_partitions(instance, group, names)
        for verdict in group:
            yield from verdict.evaluations(wanted, latest.get(verdict.partition), failing, names)


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


def _key_problem(data: pa.Table, key: tuple[str, ...], figures: dict[str, int]) -> str | None:
    """Null and duplicated keys (counted into `figures`); duplicates among the rows whose key has no null."""
    nulls = {name: data.column(name).null_count for name in key if data.column(name).null_count}
    keyed = data.select(list(key))
    if nulls:
        missing = pc.is_null(keyed.column(0))
        for name in key[1:]:
            missing = pc.or_(missing, pc.is_null(keyed.column(name)))
        figures["null_keys"] = pc.sum(pc.cast(missing, pa.int64())).as_py() or 0
        keyed = keyed.filter(pc.invert(missing))
    else:
        figures["null_keys"] = 0
    counts = keyed.group_by(list(key)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts.column("count_all"), 1))
    figures["duplicate_keys"] = duplicated.num_rows
    if nulls:
        return f"null key values: {nulls}"
    if duplicated.num_rows == 0:
        return None
    samples = [
        "/".join(str(duplicated.column(name)[i].as_py()) for name in key)
        for i in range(min(MAX_SAMPLES, duplicated.num_rows))
    ]
    return f"{duplicated.num_rows} duplicated keys, e.g. {samples}"


def _day_problem(data: pa.Table, column: str, partition_key: str, figures: dict[str, int]) -> str | None:
    """Rows whose partition column is null or outside the UTC day (counted into `figures`)."""
    start = key_start(partition_key)
    stamps = data.column(column)
    low = pa.scalar(start, type=stamps.type)
    high = pa.scalar(start + timedelta(days=1), type=stamps.type)
    outside = pc.or_(pc.less(stamps, low), pc.greater_equal(stamps, high))
    bad = pc.sum(pc.cast(outside, pa.int64())).as_py() or 0
    figures["rows_outside_day"] = bad + stamps.null_count
    if stamps.null_count:
        return f"{stamps.null_count} rows without {column}"
    if not bad:
        return None
    first, last = pc.min(stamps).as_py(), pc.max(stamps).as_py()
    return f"{bad} rows outside {partition_key} (range {first:%Y-%m-%dT%H:%M:%S}..{last:%Y-%m-%dT%H:%M:%S})"


def _short_parents(data: pa.Table, parent: str, total: str) -> dict[str, tuple[int, int]]:
    if data.num_rows == 0:
        return {}
    grouped = data.group_by(parent).aggregate([([], "count_all"), (total, "max")])
    return {
        str(parent_id): (count, most)
        for parent_id, count, most in zip(
            grouped.column(parent).to_pylist(),
            grouped.column("count_all").to_pylist(),
            grouped.column(f"{total}_max").to_pylist(),
            strict=True,
        )
        if most is not None and most > count
    }


def evaluate_partition(store: ParquetStore, spec: TableSpec, partition_key: str) -> PartitionVerdict:
    """Every check of one table on one stored partition, reading the file once (only the columns needed)."""
    verdict = PartitionVerdict(spec, partition_key)
    try:
        with store.partition_path(spec.name, partition_key).open("rb") as handle:
            actual = pq.read_schema(handle)
        declared = spec.converter().schema
        if not actual.equals(declared, check_metadata=False):
            verdict.problems["schema"] = _describe_schema_drift(actual, declared)
        wanted = [*spec.key, spec.partition_column, spec.parent_key, spec.part_total_column]
        present = [name for name in dict.fromkeys(w for w in wanted if w) if name in actual.names]
        data = store.read(spec.name, partition_key, columns=present)
    except FileNotFoundError:
        verdict.problems["file"] = "no file stored for this partition"
        return verdict
    except (OSError, pa.ArrowException) as error:
        # A damaged file is a finding to report, not a reason to lose every other verdict of the run.
        verdict.problems["file"] = f"unreadable: {type(error).__name__}: {error}"[:300]
        return verdict
    verdict.figures["rows"] = data.num_rows
    if any(name not in actual.names for name in spec.key):
        verdict.problems["key"] = "key column missing from the file"
    elif problem := _key_problem(data, spec.key, verdict.figures):
        verdict.problems["key"] = problem
    if spec.partition_column is not None:
        if spec.partition_column not in actual.names:
            verdict.problems["day"] = f"column {spec.partition_column} missing from the file"
        elif problem := _day_problem(data, spec.partition_column, partition_key, verdict.figures):
            verdict.problems["day"] = problem
    if has_parts_check(spec) and {spec.parent_key, spec.part_total_column} <= set(actual.names):
        verdict.short_parents = _short_parents(data, spec.parent_key, spec.part_total_column)
        verdict.figures["parents_over_cap"] = len(verdict.short_parents)
    return verdict


def evaluate_partitions(store: ParquetStore, targets: Sequence[tuple[TableSpec, str]]) -> list[PartitionVerdict]:
    """Verdicts for (table, partition) pairs; reads run in threads (object stores are latency-bound)."""
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        return list(pool.map(lambda target: evaluate_partition(store, *target), targets))


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


def freshness_policy_for(cron: str, refresh: timedelta = timedelta(0)) -> FreshnessPolicy:
    """Warn after two missed ticks, fail after four (at least 1 h / 2 h: a 30-minute cron gives 1 h / 2 h).

    A run covers the whole attribution window, so one slow or skipped tick is normal; four in a row is not.
    Tables read on a slower cadence (the companies scroll, INTERCOM_COMPANIES_REFRESH_MINUTES) get that
    period on top: a table is stale when it missed ticks after it was due, not merely while it waits.
    """
    gap = cron_max_gap(cron)
    return FreshnessPolicy.time_window(
        fail_window=max(timedelta(hours=2), 4 * gap) + refresh, warn_window=max(timedelta(hours=1), 2 * gap) + refresh
    )


def with_freshness_policy(
    assets_def: AssetsDefinition, policies: Mapping[str, FreshnessPolicy], names: WorkspaceNames = DEFAULT_NAMES
) -> AssetsDefinition:
    """The same assets with each selected table's policy (table name -> policy; assets.py stays policy-free, and
    Dagster's freshness daemon evaluates it): a table nobody extracts on a schedule is not expected to be fresh."""
    by_key = {names.asset_key(name): policy for name, policy in policies.items()}
    (mapped,) = map_asset_specs(
        lambda spec: apply_freshness_policy(spec, by_key[spec.key]) if spec.key in by_key else spec, [assets_def]
    )
    return mapped
