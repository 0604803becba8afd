"""Parquet on object storage: whole Dagster range runs against a real S3-compatible server (moto) on loopback.

INTERCOM_PARQUET_ROOT=s3://bucket/prefix goes through s3fs; the endpoint and credentials come from the usual
AWS variables, exactly as in production. The objects are then read back with pyarrow's own S3 client (not s3fs),
so the layout is checked the way another reader would see it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.partitions import day_key, keys_between
from intercom_assets.settings import load_settings
from intercom_assets.tables import DEFAULT_TABLES as TABLES  # what runs with INTERCOM_TABLES unset
from intercom_assets_tests.dagster_dev import free_port
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(120)  # measured in the suite; it starts the longest files first

# The test ranges end before today: only the history tables are written (snapshots are taken on today only).
HISTORY = [spec for spec in TABLES if spec.has_current_state]  # deleted_records lands on detection days
BUCKET = "intercom-lake"
PREFIX = "replica/v1"
# 8 days: every table and day is one object (moto in this process serves each request), and the window still
# holds more than 20 contacts and 20 conversations
FIRST, LAST = "2026-11-13", "2026-11-20"


@dataclass
class S3:
    """The moto server's endpoint and a boto3 client on it."""

    endpoint: str
    client: object

    def keys(self) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return sorted(obj["Key"] for page in paginator.paginate(Bucket=BUCKET) for obj in page.get("Contents", []))

    def pyarrow_fs(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                                 endpoint_override=self.endpoint.removeprefix("http://"), scheme="http")


@pytest.fixture
def s3(intercom_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """moto in server mode on a free loopback port, a bucket, and the code location's root pointed at it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "INTERCOM_PARQUET_ROOT": f"s3://{BUCKET}/{PREFIX}", "INTERCOM_MAX_RETRIES": "2"}.items():
        monkeypatch.setenv(name, value)
    # fsspec caches filesystem objects per process; one made for another test's port must not be reused.
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3(endpoint, client)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def _run(first: str = FIRST, last: str = LAST) -> None:
    defs = build_definitions(load_settings())
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=tags).success


def _ids_by_day(server, kind: str) -> dict[str, set[str]]:
    start = datetime.fromisoformat(FIRST).replace(tzinfo=UTC).timestamp()
    end = (datetime.fromisoformat(LAST).replace(tzinfo=UTC) + timedelta(days=1)).timestamp()
    out: dict[str, set[str]] = defaultdict(set)
    for record in server.workspace.snapshot(kind):
        if start <= record["updated_at"] < end:
            out[day_key(record["updated_at"])].add(record["id"])
    return out


def _expected_keys(first: str = FIRST, last: str = LAST) -> list[str]:
    return sorted(f"{PREFIX}/{spec.name}/date={day}/part-0.parquet"
                  for spec in HISTORY for day in keys_between(first, last))


def test_every_table_lands_on_s3_and_reads_back_as_one_dataset(s3: S3, intercom_server) -> None:
    _run()
    # exactly one object per table and day, nothing else (no write probe, no temporary); beside them only the
    # current state, deleted_records (the seeded deletions) and the deletion log
    keys = s3.keys()
    tables = {f"{PREFIX}/{spec.name}/" for spec in HISTORY}
    assert [k for k in keys if k.split("/date=")[0] + "/" in tables] == _expected_keys()
    others = {k.split("/")[len(PREFIX.split("/"))] for k in keys if k not in _expected_keys()}
    assert others == {"current", "deleted_records", "_state"}, others
    assert all(k.endswith("/part-0.parquet") or k.split("/")[-2] == "_state" for k in keys), keys
    # (the current state's own _state holds its per-table row manifests)
    current = {k.split("/")[-3] for k in keys if "/current/" in k and "/_state/" not in k}
    assert current == {spec.name for spec in HISTORY}

    filesystem = s3.pyarrow_fs()
    for spec in HISTORY:
        dataset = ds.dataset(f"{BUCKET}/{PREFIX}/{spec.name}", filesystem=filesystem, format="parquet",
                             partitioning="hive")
        table = dataset.to_table()
        assert table.schema.remove(table.schema.get_field_index("date")) == spec.converter().schema, spec.name
        days = {str(d) for d in table.column("date").unique().to_pylist()}
        assert days <= set(keys_between(FIRST, LAST)), (spec.name, days)
    for kind in ("contacts", "conversations"):
        expected = _ids_by_day(intercom_server, kind)
        assert sum(len(ids) for ids in expected.values()) > 20, "the window must hold real data"
        for day in keys_between(FIRST, LAST):
            with filesystem.open_input_file(f"{BUCKET}/{PREFIX}/{kind}/date={day}/part-0.parquet") as handle:
                stored = set(pq.read_table(handle, columns=["id"]).column("id").to_pylist())
            assert stored == expected.get(day, set()), (kind, day)

    # the current state lives beside the partitions: one row per contact stored
    contacts = ds.dataset(f"{BUCKET}/{PREFIX}/contacts", filesystem=filesystem, format="parquet").to_table()
    current = ds.dataset(f"{BUCKET}/{PREFIX}/current/contacts", filesystem=filesystem, format="parquet",
                         partitioning="hive").to_table()
    assert sorted(current["id"].to_pylist()) == sorted(set(contacts["id"].to_pylist()))


def test_a_rerun_replaces_partitions_and_readers_never_see_a_partial_object(s3: S3, intercom_server) -> None:
    _run()
    before = s3.keys()
    # a contact whose old day keeps others (so every object stays, replaced in place)
    days = Counter(day_key(c["updated_at"]) for c in intercom_server.workspace.snapshot("contacts"))
    mover = next(c for c in intercom_server.workspace.snapshot("contacts")
                 if FIRST <= day_key(c["updated_at"]) < "2026-11-15" and days[day_key(c["updated_at"])] > 1)
    old_day = day_key(mover["updated_at"])
    intercom_server.touch("contacts", mover["id"], datetime(2026, 11, 18, 9, 30, tzinfo=UTC))

    # A reader polls every contacts object while the second run replaces them: each GET must be a whole file.
    contact_keys = [k for k in before if k.startswith(f"{PREFIX}/contacts/")]
    stop, reads, errors = threading.Event(), [0], []

    def read_loop() -> None:
        reader = boto3.client("s3", endpoint_url=s3.endpoint)
        while not stop.is_set():
            started = time.monotonic()
            for key in contact_keys:
                body = reader.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                try:
                    pq.read_table(io.BytesIO(body))
                except Exception as error:  # noqa: BLE001 - any failure to parse is the finding
                    errors.append(f"{key}: {type(error).__name__}: {error}")
                reads[0] += 1
            # half the time reading, half resting: back to back, the reader and moto (in this process) took the
            # run's CPU
            stop.wait(time.monotonic() - started)

    thread = threading.Thread(target=read_loop, daemon=True)
    thread.start()
    try:
        _run()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors[:5]
    assert reads[0] > len(contact_keys), "the reader must have overlapped the run"
    assert s3.keys() == before, "a rerun replaces objects in place and leaves nothing beside them"

    filesystem = s3.pyarrow_fs()

    def ids(day: str) -> set[str]:
        with filesystem.open_input_file(f"{BUCKET}/{PREFIX}/contacts/date={day}/part-0.parquet") as handle:
            return set(pq.read_table(handle, columns=["id"]).column("id").to_pylist())

    assert mover["id"] not in ids(old_day)
    assert mover["id"] in ids("2026-11-18")
