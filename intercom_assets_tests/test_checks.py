"""The generated asset checks: they pass on good data and name the partitions with planted defects.

The checks run through Dagster in a range run, next to a stand-in for the extraction step (same asset keys,
same partitions), over Parquet files written here directly, so each defect is planted exactly where wanted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetOut,
    Definitions,
    MaterializeResult,
    instance_for_test,
    multi_asset,
)

from intercom_assets.assets import GROUP, asset_key, build_intercom_assets
from intercom_assets.automation.checks import (
    CHECK_DAY,
    CHECK_KEY,
    CHECK_PARTS,
    CHECK_SCHEMA,
    FAILING_PARTITIONS,
    build_intercom_checks,
    evaluate_tables,
    freshness_policy_for,
    with_freshness_policy,
)
from intercom_assets.automation.jobs import build_intercom_job
from intercom_assets.automation.schedules import range_tags
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.partitions import build_partitions_def, key_start
from intercom_assets.resources import ParquetStorageResource
from intercom_assets.tables import TABLES_BY_NAME, TableSpec

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
TABLES = ("contacts", "company_segments", "conversation_parts", "admins")
PARTITIONS = build_partitions_def(date(2026, 10, 1))


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


def _definitions(root: Path) -> Definitions:
    """The real checks next to a stand-in extraction step that materializes the selected tables."""
    outs = {name: AssetOut(key=asset_key(name), group_name=GROUP, is_required=False) for name in TABLES}

    @multi_asset(outs=outs, partitions_def=PARTITIONS, can_subset=True)
    def stand_in_extract(context):
        for name in context.selected_output_names:
            yield MaterializeResult(asset_key=asset_key(name))

    checks = build_intercom_checks(PARTITIONS, window_days=3, tables=[TABLES_BY_NAME[n] for n in TABLES])
    return Definitions(
        assets=[stand_in_extract],
        asset_checks=[checks],
        jobs=[build_intercom_job()],  # the production job: its group selection must bring the checks along
        resources={"parquet_storage": ParquetStorageResource(root=str(root))},
    )


def _run_checks(root: Path) -> dict[tuple[str, str], object]:
    with instance_for_test() as instance:
        result = (
            _definitions(root)
            .resolve_job_def("intercom_job")
            .execute_in_process(instance=instance, tags=range_tags(DAYS[0], DAYS[-1]))
        )
    assert result.success
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path / "parquet")
    _write_good(store, tmp_path / "scratch")
    return store


def test_checks_pass_on_good_data_in_one_range_run(store: ParquetStore) -> None:
    evaluations = _run_checks(Path(store.root.path))
    # One result per check for the whole range (no per-partition results), every one of them passing.
    expected = {(n, c) for n in TABLES for c in (CHECK_KEY, CHECK_SCHEMA)}
    expected |= {(n, CHECK_DAY) for n in TABLES if not TABLES_BY_NAME[n].is_snapshot}
    expected.add(("conversation_parts", CHECK_PARTS))
    assert set(evaluations) == expected
    for key, evaluation in evaluations.items():
        assert evaluation.passed, (key, evaluation.metadata)
        assert evaluation.partition is None
        assert evaluation.metadata["partitions_checked"].value == len(DAYS)
        assert evaluation.metadata[FAILING_PARTITIONS].value == []


def test_checks_name_the_partitions_with_planted_defects(store: ParquetStore, tmp_path: Path) -> None:
    _plant_defects(store, tmp_path / "scratch")
    evaluations = _run_checks(Path(store.root.path))

    def failing(table: str, check: str) -> list[str]:
        return evaluations[(table, check)].metadata[FAILING_PARTITIONS].value

    assert failing("contacts", CHECK_KEY) == [DAYS[1]]
    assert "contacts-2026-11-02-0" in evaluations[("contacts", CHECK_KEY)].metadata["details"].value[DAYS[1]]
    assert failing("contacts", CHECK_DAY) == [DAYS[2]]
    assert failing("contacts", CHECK_SCHEMA) == []
    assert failing("company_segments", CHECK_SCHEMA) == [DAYS[0]]
    drift = evaluations[("company_segments", CHECK_SCHEMA)].metadata["details"].value[DAYS[0]]
    assert "new_api_field" in drift and "count: string instead of int64" in drift
    assert failing("company_segments", CHECK_KEY) == []
    parts = evaluations[("conversation_parts", CHECK_PARTS)]
    assert not parts.passed and parts.severity == AssetCheckSeverity.WARN
    assert parts.metadata[FAILING_PARTITIONS].value == [DAYS[1]]
    assert evaluations[("contacts", CHECK_KEY)].severity == AssetCheckSeverity.ERROR
    for name in ("admins",):
        assert all(e.passed for (table, _), e in evaluations.items() if table == name)


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
    verdicts = evaluate_tables(store, [spec, TABLES_BY_NAME["admins"]], DAYS)
    assert "null key values" in verdicts["company_segments"].failures[CHECK_KEY][DAYS[0]]
    assert "nullable" in verdicts["company_segments"].failures[CHECK_SCHEMA][DAYS[0]]
    admins = verdicts["admins"].failures
    assert set(admins) == {CHECK_SCHEMA}
    assert admins[CHECK_SCHEMA][DAYS[2]] == "no file stored for this partition"
    assert admins[CHECK_SCHEMA][DAYS[1]].startswith("unreadable file")


def test_freshness_policy_is_applied_to_every_asset_and_follows_the_cron() -> None:
    assets = with_freshness_policy(build_intercom_assets(PARTITIONS), freshness_policy_for("*/30 * * * *"))
    policies = {spec.key: spec.freshness_policy for spec in assets.specs}
    assert len(policies) == len(TABLES_BY_NAME)
    for policy in policies.values():
        assert policy.fail_window.to_timedelta() == timedelta(hours=2)
        assert policy.warn_window.to_timedelta() == timedelta(hours=1)
    daily = freshness_policy_for("0 3 * * *")
    assert daily.fail_window.to_timedelta() == timedelta(days=4)
    assert daily.warn_window.to_timedelta() == timedelta(days=2)
