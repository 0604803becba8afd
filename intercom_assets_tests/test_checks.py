"""The generated checks: they pass on good data and fail exactly the partitions with planted defects.

Verdicts are computed per stored partition (the extraction step yields one evaluation per check and partition);
here the evaluation code runs over Parquet files written directly, so each defect is planted exactly where
wanted. test_assets.py shows the same evaluations recorded per partition through real runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    IntMetadataValue,
    MaterializeResult,
    materialize,
    multi_asset,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from intercom_assets.assets import build_intercom_assets
from intercom_assets.automation.checks import (
    CHECK_VALID,
    check_evaluations,
    check_keys,
    evaluate_partitions,
    freshness_policy_for,
    with_freshness_policy,
)
from intercom_assets.keys import asset_key
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import build_partitions_def, key_start
from intercom_assets.tables import DELETIONS_TABLE, TABLES_BY_NAME, TableSpec
from intercom_assets.tables import TABLES as ALL_TABLES
from intercom_assets_tests.instances import ephemeral_instance

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
TABLES = ("contacts", "company_segments", "conversation_parts", "admins")
PARTITIONS = build_partitions_def(date(2026, 10, 1))
ALL_CHECKS = set(check_keys([TABLES_BY_NAME[n] for n in TABLES]))
DATA_TABLES = [name for name, spec in TABLES_BY_NAME.items() if not spec.logs_deletions]
def _record(spec: TableSpec, day: str, i: int) -> dict:
    ts = int((key_start(day) + timedelta(hours=1, minutes=i)).timestamp())
    record: dict = {"id": f"{spec.name}-{day}-{i}"}
    if spec.partition_column:
        record[spec.partition_column] = ts
    if spec.name == "company_segments":
        record["company_id"] = f"company-{i}"
    if spec.name == "conversation_parts":
        record["conversation_id"] = f"conv-{day}"
        record["conversation_total_parts"] = 3
    return record


def _table(spec: TableSpec, records: list[dict]) -> pa.Table:
    converter = spec.converter()
    rows = [converter.convert_row(record) for record in records]
    return pa.Table.from_batches([converter.to_batch(rows, 1_700_000_000)], schema=converter.schema)


def _write_good(store: ParquetStore, scratch: Path) -> None:
    for name in TABLES:
        spec = TABLES_BY_NAME[name]
        for day in DAYS:
            store.write_table(name, day, _table(spec, [_record(spec, day, i) for i in range(3)]), scratch)


def _plant_defects(store: ParquetStore, scratch: Path) -> None:
    contacts = TABLES_BY_NAME["contacts"]
    duplicated = [_record(contacts, DAYS[1], i) for i in range(3)]
    duplicated.append(dict(duplicated[0]))
    store.write_table("contacts", DAYS[1], _table(contacts, duplicated), scratch)
    wrong_day = [_record(contacts, DAYS[2], i) for i in range(3)]
    wrong_day[1]["updated_at"] = int(datetime(2026, 11, 4, 0, 0, 1, tzinfo=UTC).timestamp())
    store.write_table("contacts", DAYS[2], _table(contacts, wrong_day), scratch)
    segments = TABLES_BY_NAME["company_segments"]
    good = _table(segments, [_record(segments, DAYS[0], i) for i in range(3)])
    drifted = good.set_column(good.schema.get_field_index("count"), "count", pa.array(["7"] * 3))
    drifted = drifted.append_column("new_api_field", pa.array([1, 2, 3]))
    store.write_table("company_segments", DAYS[0], drifted, scratch)
    parts = TABLES_BY_NAME["conversation_parts"]
    truncated = [_record(parts, DAYS[1], i) for i in range(2)]
    for row in truncated:
        row["conversation_total_parts"] = 600
    store.write_table("conversation_parts", DAYS[1], _table(parts, truncated), scratch)


def _verdicts(store: ParquetStore, tables=TABLES) -> dict[tuple[str, str], object]:
    targets = [(TABLES_BY_NAME[name], day) for name in tables for day in DAYS]
    return {(v.table.name, v.partition): v for v in evaluate_partitions(store, targets)}


def _evaluations(store: ParquetStore) -> dict[tuple[str, str, str], object]:
    """(table, check, partition) -> the AssetCheckEvaluation the extraction step would yield."""
    return {
        (e.asset_key.path[-1], e.check_name, e.partition): e
        for verdict in _verdicts(store).values()
        for e in verdict.evaluations(ALL_CHECKS)
    }


def _numbers(evaluation: AssetCheckEvaluation) -> dict[str, int]:
    """The evaluation's numeric metadata (what the Checks tab plots), by name."""
    return {name: value.value for name, value in evaluation.metadata.items() if isinstance(value, IntMetadataValue)}


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path / "parquet")
    _write_good(store, tmp_path / "scratch")
    return store


def test_every_partition_passes_on_good_data(store: ParquetStore) -> None:
    evaluations = _evaluations(store)
    expected = {(n, CHECK_VALID, d) for n in TABLES for d in DAYS}
    assert set(evaluations) == expected
    for (table, _, _), evaluation in evaluations.items():
        assert evaluation.passed and evaluation.description is None, table
        # what the check counted, as numbers the Checks tab plots: nothing wrong, nothing failing elsewhere
        expected_figures = {"rows": 3, "null_keys": 0, "duplicate_keys": 0, "failing_partitions": 0}
        if table != "admins":  # a snapshot table has no partition column
            expected_figures["rows_outside_day"] = 0
        if table == "conversation_parts":
            expected_figures["parents_over_cap"] = 0
        assert _numbers(evaluation) == expected_figures, table


def test_planted_defects_fail_their_own_partition_only(store: ParquetStore, tmp_path: Path) -> None:
    _plant_defects(store, tmp_path / "scratch")
    evaluations = _evaluations(store)
    failing = {key for key, e in evaluations.items() if not e.passed}
    assert failing == {
        ("contacts", CHECK_VALID, DAYS[1]),
        ("contacts", CHECK_VALID, DAYS[2]),
        ("company_segments", CHECK_VALID, DAYS[0]),
        ("conversation_parts", CHECK_VALID, DAYS[1]),
    }
    duplicated = evaluations[("contacts", CHECK_VALID, DAYS[1])]
    assert duplicated.severity == AssetCheckSeverity.ERROR
    assert "key: 1 duplicated keys" in duplicated.description and "contacts-2026-11-02-0" in duplicated.description
    assert duplicated.metadata["failed_rules"].value == ["key"]
    assert _numbers(duplicated) == {"rows": 4, "null_keys": 0, "duplicate_keys": 1, "rows_outside_day": 0,
                                    "failing_partitions": 1}
    wrong_day = evaluations[("contacts", CHECK_VALID, DAYS[2])]
    assert wrong_day.description.startswith("day: 1 rows outside 2026-11-03")
    assert _numbers(wrong_day)["rows_outside_day"] == 1 and _numbers(wrong_day)["duplicate_keys"] == 0
    drift = evaluations[("company_segments", CHECK_VALID, DAYS[0])].description
    assert "schema:" in drift and "new_api_field" in drift and "count: string instead of int64" in drift
    # more parts than stored is a WARN of the same check, and only when nothing worse failed
    parts = evaluations[("conversation_parts", CHECK_VALID, DAYS[1])]
    assert parts.severity == AssetCheckSeverity.WARN and "(2, 600)" in parts.description
    assert parts.description.startswith("part_cap: conversations with more parts than stored: 1")
    assert parts.metadata["failed_rules"].value == ["part_cap"]
    assert _numbers(parts)["parents_over_cap"] == 1 and _numbers(parts)["rows"] == 2


def test_null_keys_and_missing_or_damaged_files_fail(store: ParquetStore, tmp_path: Path) -> None:
    spec = TABLES_BY_NAME["company_segments"]
    records = [_record(spec, DAYS[0], i) for i in range(2)]
    data = _table(spec, records)
    nullable = pa.schema([f.with_nullable(True) for f in data.schema])
    data = data.cast(nullable).set_column(
        data.schema.get_field_index("company_id"), pa.field("company_id", pa.string()), pa.array([None, "c"])
    )
    store.write_table("company_segments", DAYS[0], data, tmp_path / "scratch")
    store.partition_path("admins", DAYS[2]).unlink()
    Path(store.partition_path("admins", DAYS[1]).path).write_bytes(b"PAR1 truncated")
    verdicts = _verdicts(store, ("company_segments", "admins"))
    segments = verdicts[("company_segments", DAYS[0])].problems
    assert "null key values" in segments["key"] and "nullable" in segments["schema"]
    assert verdicts[("company_segments", DAYS[0])].figures == {
        "rows": 2, "null_keys": 1, "duplicate_keys": 0, "rows_outside_day": 0}
    assert verdicts[("admins", DAYS[2])].problems == {"file": "no file stored for this partition"}
    assert verdicts[("admins", DAYS[1])].problems["file"].startswith("unreadable")
    assert verdicts[("admins", DAYS[0])].problems == {}


def test_check_specs_are_partitioned_and_live_on_the_extraction_step() -> None:
    assets = build_intercom_assets(PARTITIONS)
    specs = {spec.key: spec for spec in assets.check_specs}
    # every table's, and deleted_records' (its partitions are checked when deletions are merged into them)
    names = [*TABLES_BY_NAME]
    assert DELETIONS_TABLE.name in names
    assert set(specs) == set(check_keys(ALL_TABLES)) == {
        AssetCheckKey(asset_key(n), CHECK_VALID) for n in names}
    assert all(spec.partitions_def == PARTITIONS for spec in specs.values())
    assert "WARN" in specs[AssetCheckKey(asset_key("conversation_parts"), CHECK_VALID)].description
    assert "WARN" not in specs[AssetCheckKey(asset_key("contacts"), CHECK_VALID)].description


def test_freshness_policy_is_applied_to_every_asset_and_follows_the_cron() -> None:
    assets = with_freshness_policy(
        build_intercom_assets(PARTITIONS), dict.fromkeys(DATA_TABLES, freshness_policy_for("*/30 * * * *"))
    )
    policies = {spec.key: spec.freshness_policy for spec in assets.specs if spec.key.path[-1] in DATA_TABLES}
    assert len(policies) == len(DATA_TABLES) == len(TABLES_BY_NAME) - 1
    # deleted_records is written when something is deleted: no freshness expected of it
    assert assets.specs_by_key[asset_key(DELETIONS_TABLE.name)].freshness_policy is None
    for policy in policies.values():
        assert policy.fail_window.to_timedelta() == timedelta(hours=2)
        assert policy.warn_window.to_timedelta() == timedelta(hours=1)
    # a table read every 6 hours (the companies scroll) is due only after that period
    slow = freshness_policy_for("*/30 * * * *", timedelta(hours=6))
    assert slow.warn_window.to_timedelta() == timedelta(hours=7)
    assert slow.fail_window.to_timedelta() == timedelta(hours=8)
    daily = freshness_policy_for("0 3 * * *")
    assert daily.fail_window.to_timedelta() == timedelta(days=4)
    assert daily.warn_window.to_timedelta() == timedelta(days=2)


def _checked_contacts(store: ParquetStore) -> AssetsDefinition:
    """A stand-in for the extraction step: materializes the run's days of contacts (their files are written by
    the test) and records their checks as the step does."""
    spec = TABLES_BY_NAME["contacts"]
    key = asset_key(spec.name)

    @multi_asset(specs=[AssetSpec(key, partitions_def=PARTITIONS)], backfill_policy=BackfillPolicy.single_run(),
                 can_subset=True,  # as the extraction step: check outputs are optional, evaluations are yielded
                 check_specs=[AssetCheckSpec(CHECK_VALID, asset=key, partitions_def=PARTITIONS)])
    def contacts_step(context):  # noqa: ANN001 (Dagster reads the annotation; `from __future__` hides it)
        yield MaterializeResult(asset_key=key)
        verdicts = evaluate_partitions(store, [(spec, day) for day in context.partition_keys])
        yield from check_evaluations(context.instance, verdicts, set(context.selected_asset_check_keys))

    return contacts_step


def _recorded(instance: DagsterInstance, run_id: str) -> dict[str, AssetCheckEvaluation]:
    """partition -> the check evaluation the run recorded."""
    events = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.partition: e.dagster_event.event_specific_data for e in events}


def test_recorded_evaluations_carry_their_figures_and_name_the_checks_other_failing_partitions(
    store: ParquetStore, tmp_path: Path
) -> None:
    _plant_defects(store, tmp_path / "scratch")  # contacts: duplicated keys on DAYS[1] (ERROR), a wrong day on DAYS[2]
    step = _checked_contacts(store)
    check = AssetCheckKey(asset_key("contacts"), CHECK_VALID)
    with ephemeral_instance() as instance:
        window = materialize([step], instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: DAYS[1],
                                                                ASSET_PARTITION_RANGE_END_TAG: DAYS[2]})
        recorded = _recorded(instance, window.run_id)
        assert set(recorded) == {DAYS[1], DAYS[2]} and not any(e.passed for e in recorded.values())
        assert _numbers(recorded[DAYS[1]]) == {"rows": 4, "null_keys": 0, "duplicate_keys": 1,
                                               "rows_outside_day": 0, "failing_partitions": 2}
        assert recorded[DAYS[2]].description.endswith("1 other partition of this check failing: 2026-11-02")
        assert recorded[DAYS[2]].target_materialization_data is not None

        # a run over an older, clean day (a backfill): the UI's latest execution is now its evaluation, which passed
        older = materialize([step], instance=instance, partition_key=DAYS[0])
        (evaluation,) = _recorded(instance, older.run_id).values()
        assert evaluation.passed and evaluation.partition == DAYS[0]
        assert evaluation.description == "This partition passed; 2 other partitions of this check failing: " \
                                         f"{DAYS[2]}, {DAYS[1]}"
        assert _numbers(evaluation) == {"rows": 3, "null_keys": 0, "duplicate_keys": 0, "rows_outside_day": 0,
                                        "failing_partitions": 2}
        # the list's icon takes its colour from this evaluation: the worst severity among the failing partitions
        assert evaluation.severity == AssetCheckSeverity.ERROR
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[check]
        assert latest.partition == DAYS[0] and latest.evaluation.description == evaluation.description

        # the duplicated day repaired and re-run: one failing partition left, and the passing day says which
        store.write_table("contacts", DAYS[1], _table(TABLES_BY_NAME["contacts"],
                                                      [_record(TABLES_BY_NAME["contacts"], DAYS[1], i)
                                                       for i in range(3)]), tmp_path / "scratch")
        repaired = materialize([step], instance=instance, partition_key=DAYS[1])
        (evaluation,) = _recorded(instance, repaired.run_id).values()
        assert evaluation.passed and _numbers(evaluation)["failing_partitions"] == 1
        assert evaluation.description == f"This partition passed; 1 other partition of this check failing: {DAYS[2]}"
