"""A PII policy in real runs against the Intercom test server: no raw value it hashes or drops is written to any
file, not even to staging, and stored children written under another policy are fetched again, not reused."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from intercom_assets.automation.jobs import INTERCOM_JOB
from intercom_assets.definitions import build_definitions
from intercom_assets.lake.scroll_cache import STATE_NAME
from intercom_assets.settings import load_settings
from intercom_assets_tests.instances import ephemeral_instance

pytestmark = pytest.mark.wall_seconds(20)  # measured in the suite; it starts the longest files first

SALT = "pepper-0123456789-abcdef"
POLICY = """\
contacts:
  email: hash
  name: drop
  phone: hash
companies:
  name: hash
contact_companies:   # a contact's companies, as Intercom embeds them: a table (and a rule) of its own
  name: hash
conversation_parts:
  author.email: hash
"""
TAGS = {"dagster/asset_partition_range_start": "2026-11-10", "dagster/asset_partition_range_end": "2026-11-20"}


def _hash(value: str) -> str:
    return hmac.new(SALT.encode(), value.encode(), hashlib.sha256).hexdigest()


def _texts(table: pa.Table, columns: list[str]) -> str:
    return json.dumps(table.select([c for c in columns if c in table.column_names]).to_pylist(), default=str)


@pytest.fixture
def written(monkeypatch) -> list[pa.Table]:
    """Every table the run writes with pyarrow, staging and scratch files included."""
    seen: list[pa.Table] = []
    write_table, writer_write, write_feather = pq.write_table, pq.ParquetWriter.write_table, feather.write_feather

    def spy_write(table, where, *args, **kwargs):
        seen.append(table)
        return write_table(table, where, *args, **kwargs)

    def spy_writer(self, table, *args, **kwargs):
        seen.append(table)
        return writer_write(self, table, *args, **kwargs)

    def spy_feather(table, where, *args, **kwargs):  # staged chunks
        seen.append(table)
        return write_feather(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", spy_write)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", spy_writer)
    monkeypatch.setattr(feather, "write_feather", spy_feather)
    return seen


def test_a_policy_leaves_no_raw_value_in_staging_or_output(intercom_env, intercom_server, tmp_path, monkeypatch,
                                                            written):
    policy = tmp_path / "pii.yaml"
    policy.write_text(POLICY)
    monkeypatch.setenv("INTERCOM_PII_POLICY", str(policy))
    monkeypatch.setenv("INTERCOM_PII_SALT", SALT)
    monkeypatch.setenv("INTERCOM_COMPANIES_REFRESH_MINUTES", "60")  # the scroll cache would store raw companies
    monkeypatch.setenv("INTERCOM_STAGING_DIR", str(tmp_path / "staging"))
    root = Path(intercom_env["INTERCOM_PARQUET_ROOT"])
    ws = intercom_server.workspace
    emails = {c["email"] for c in ws.snapshot("contacts") if c.get("email")}
    names = {c["name"] for c in ws.snapshot("contacts") if c.get("name")}
    companies = {c["name"] for c in ws.snapshot("companies") if c.get("name")}
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=TAGS).success

    contacts = ds.dataset(root / "contacts", format="parquet", partitioning="hive").to_table()
    assert contacts.num_rows > 30
    stored = [e for e in contacts.column("email").to_pylist() if e is not None]
    assert stored and set(stored) <= {_hash(e) for e in emails}
    assert contacts.column("name").null_count == contacts.num_rows
    assert contacts.schema.field("email").type == pa.string()
    company_names = ds.dataset(root / "companies", format="parquet", partitioning="hive").to_table().column("name")
    assert set(company_names.to_pylist()) - {None} <= {_hash(n) for n in companies}
    parts = ds.dataset(root / "conversation_parts", format="parquet", partitioning="hive").to_table()
    authors = [a["email"] for a in parts.column("author").to_pylist() if a and a.get("email")]
    assert authors and all(len(a) == 64 and "@" not in a for a in authors)
    # nothing the run wrote (staged chunks, final files, the scroll cache) held a raw value in a covered column
    assert written
    for table in written:
        names_seen = set(table.column_names)
        if {"email", "role"} <= names_seen:  # contacts, users, leads
            text = _texts(table, ["email", "name", "phone", "_extra"])
            assert not any(e in text for e in emails) and not any(n in text for n in names)
        if {"name", "company_id"} <= names_seen or "record" in names_seen:  # companies, the scroll cache
            text = _texts(table, ["name", "record"])
            assert not any(f'"{n}"' in text for n in companies), table.column_names
    assert not (root / "_state" / STATE_NAME).exists()
    assert not [*(tmp_path / "staging").rglob("*.parquet"), *(tmp_path / "staging").rglob("*.arrow")]
    assert SALT not in "".join(p.read_text(errors="ignore") for p in root.rglob("*") if p.is_file())


def test_children_written_under_another_policy_are_fetched_again(intercom_env, intercom_server, tmp_path,
                                                                  monkeypatch):
    root = Path(intercom_env["INTERCOM_PARQUET_ROOT"])
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=TAGS).success
    policy = tmp_path / "pii.yaml"
    policy.write_text(POLICY)
    monkeypatch.setenv("INTERCOM_PII_POLICY", str(policy))
    monkeypatch.setenv("INTERCOM_PII_SALT", SALT)
    intercom_server.reset_counts()
    defs = build_definitions(load_settings())
    with ephemeral_instance() as instance:
        assert defs.resolve_job_def(INTERCOM_JOB).execute_in_process(instance=instance, tags=TAGS).success
    # every conversation's parts were fetched again (none reused from files written without the policy)
    conversations = ds.dataset(root / "conversations", format="parquet", partitioning="hive").to_table()
    assert intercom_server.request_counts().get("GET /conversations/{id}", 0) >= conversations.num_rows
    parts = ds.dataset(root / "conversation_parts", format="parquet", partitioning="hive").to_table()
    authors = [a["email"] for a in parts.column("author").to_pylist() if a and a.get("email")]
    assert authors and all("@" not in a for a in authors)
