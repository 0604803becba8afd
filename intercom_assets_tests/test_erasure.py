"""Erasure: `intercom_erase_job`, run with the documented command line, leaves no trace of the people it erases in
any file under the Parquet root or the staging directory (but deleted_records.id and the suppression list), nor in
the Dagster instance, and a later run does not bring them back while Intercom still holds them."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_assets.lake.deletions import SUPPRESSED
from intercom_assets.lake.erasure import MARKER, Scrubber
from intercom_assets.partitions import day_key

pytestmark = pytest.mark.wall_seconds(130)  # measured in the suite; it starts the longest files first

REPO = Path(__file__).resolve().parents[1]
# 6 days: the people erased below, their conversations and the touched contact all fall inside
FIRST, LAST = "2026-11-15", "2026-11-20"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", *args, "-m", "intercom_assets.definitions"],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def _extract(home: Path) -> None:
    _cli(home, "asset", "materialize", "--select", "*", "--partition-range", f"{FIRST}...{LAST}")


def _parquet_text(path: Path, allowed_id: str | None) -> str:
    """A Parquet file's values as text (decompressed), minus what may keep an erased id."""
    table = pq.read_table(path)
    if path.parent.name.startswith("date=") and path.parent.parent.name == "deleted_records" and allowed_id:
        rows = [r for r in table.to_pylist() if not (r["id"] == allowed_id and r["reason"] == "erased")]
        return json.dumps(rows, default=str)
    return json.dumps(table.to_pylist(), default=str)


def _metrics_conversations(root: Path) -> set[str]:
    """The conversations of the support metrics file (intercom/conversation_metrics)."""
    return set(pq.read_table(root / "metrics" / "conversation_metrics" / "part-0.parquet").column(
        "conversation_id").to_pylist())


def _traces(root: Path, staging: Path, home: Path, needles: dict[str, str], erased_id: str) -> list[str]:
    """Files holding any needle: Parquet files by their values, everything else by its bytes."""
    found = []
    suppressed = root / SUPPRESSED
    for base in (root, staging, home):
        for path in (p for p in base.rglob("*") if p.is_file()):
            if path == suppressed:
                continue
            if path.suffix == ".parquet":
                text = _parquet_text(path, erased_id).lower()
            else:
                text = path.read_bytes().decode("utf-8", errors="ignore").lower()
            found += [f"{path.relative_to(base)}: {name}" for name, needle in needles.items() if needle.lower() in text]
    return found


@pytest.fixture
def setup(intercom_env, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    staging = tmp_path / "staging"
    monkeypatch.setenv("INTERCOM_STAGING_DIR", str(staging))
    monkeypatch.setenv("INTERCOM_DELETION_SWEEP_HOURS", "0")
    monkeypatch.setenv("INTERCOM_SUPPORT_METRICS", "on")  # the metrics are rebuilt by the erasure too
    return Path(intercom_env["INTERCOM_PARQUET_ROOT"]), staging, home


def test_an_erasure_leaves_no_trace_and_survives_a_later_run(setup, intercom_server, tmp_path):
    root, staging, home = setup
    _extract(home)
    ws = intercom_server.workspace
    conversations = ds.dataset(root / "conversations", format="parquet", partitioning="hive").to_table()
    # the person erased by id: the only contact of a stored conversation that has parts
    by_id = None
    for conversation in conversations.to_pylist():
        refs = (conversation["contacts"] or {}).get("contacts") or []
        if len(refs) == 1 and ws.contacts.get(refs[0]["id"], {}).get("email"):
            by_id, only_theirs = refs[0]["id"], conversation["id"]
            break
    assert by_id is not None
    parts = ds.dataset(root / "conversation_parts", format="parquet", partitioning="hive").to_table()
    assert only_theirs in set(parts.column("conversation_id").to_pylist())
    # the person erased by email: a contact of a stored conversation with other contacts (which stays)
    shared, by_email = None, None
    for conversation in conversations.to_pylist():
        refs = [r["id"] for r in ((conversation["contacts"] or {}).get("contacts") or [])]
        emailed = [r for r in refs if r != by_id and ws.contacts.get(r, {}).get("email")]
        if len(set(refs)) >= 2 and emailed:
            shared, by_email = conversation["id"], {"id": emailed[0], "email": ws.contacts[emailed[0]]["email"]}
            break
    assert shared is not None
    needles = {"id": by_id, "email": ws.contacts[by_id]["email"], "other id": by_email["id"],
               "other email": by_email["email"]}
    assert _traces(root, staging, home, {"id": by_id}, "-"), "the person must be in the lake before"
    assert only_theirs in _metrics_conversations(root), "and their conversation in the metrics"

    emails = tmp_path / "emails.txt"
    emails.write_text(f"# request 42\n\n  {by_email['email']}\n")
    config = tmp_path / "erase.yaml"
    config.write_text(json.dumps({"ops": {"intercom_erase": {"config": {
        "contact_ids": [by_id], "emails_file": str(emails)}}}}))
    completed = _cli(home, "job", "execute", "-j", "intercom_erase_job", "-c", str(config))
    assert "Erasure: 2 contacts" in completed.stdout + completed.stderr

    leftovers = [t for t in _traces(root, staging, home, needles, by_id) if "deleted_records" not in t]
    assert leftovers == []
    # the metrics were rebuilt from the erased current state: their conversation left no row
    metrics = _metrics_conversations(root)
    assert only_theirs not in metrics and shared in metrics
    # deleted_records keeps one row per erased person, reason erased, and nothing else about them
    why = ds.dataset(root / "deleted_records", format="parquet", partitioning="hive").to_table().to_pylist()
    erased_rows = {r["id"]: r for r in why if r["reason"] == "erased" and r["source_table"] == "contacts"}
    assert set(erased_rows) == {by_id, by_email["id"]}
    assert all(r["merged_into_id"] is None for r in erased_rows.values())
    assert {(r["source_table"], r["id"]) for r in why if r["reason"] == "erased"} >= {("conversations", only_theirs)}
    assert set(pq.read_table(root / SUPPRESSED).column("id").to_pylist()) == {by_id, by_email["id"]}
    for path in (root / "deleted_records").rglob("*.parquet"):
        rows = pq.read_table(path).to_pylist()
        text = json.dumps([r for r in rows if r["reason"] != "erased"], default=str).lower()
        assert not any(v.lower() in text for v in needles.values()), path

    assert shared in set(ds.dataset(root / "conversations", format="parquet").to_table().column("id").to_pylist())

    # Intercom still holds them, and touches them and the conversation they share: a later run does not bring
    # them back (their rows are dropped on arrival, their ids in other records' rows nulled)
    intercom_server.touch("contacts", by_id, ws.contacts[by_id]["updated_at"] + 60)
    intercom_server.touch("conversations", shared, datetime(2026, 11, 20, 11, tzinfo=UTC))
    _extract(home)
    leftovers = [t for t in _traces(root, staging, home, needles, by_id) if "deleted_records" not in t]
    assert leftovers == []
    assert FIRST <= day_key(ws.contacts[by_id]["updated_at"]) <= LAST, "the touched contact was read again"
    again = pq.read_table(root / "conversations" / "date=2026-11-20" / "part-0.parquet").to_pylist()
    assert shared in {c["id"] for c in again}, "the shared conversation was extracted again"


def test_the_scrubber_nulls_values_objects_and_text():
    scrub = Scrubber({"123"}, {"Ann@Example.com"})
    row = {"id": "9", "author": {"id": "123", "email": "x@y.z", "name": "Ann", "type": "user"},
           "body": "Ann (ann@example.com, id 123) wrote; ticket 1234 stays", "email": "ANN@example.com",
           "_extra": json.dumps({"contact": {"email": "ann@example.com"}, "n": "123"}), "ids": ["123", "1234"]}
    clean = scrub.value(row)
    assert clean["author"] == {"id": None, "email": None, "name": None, "type": "user"}
    assert clean["body"] == f"Ann ({MARKER}, id {MARKER}) wrote; ticket 1234 stays"
    assert clean["email"] is None and clean["ids"] == [None, "1234"]
    assert json.loads(clean["_extra"]) == {"contact": {"email": None}, "n": None}
    assert row["author"]["id"] == "123"  # the input is not modified


def test_an_erasure_completes_what_it_can_when_intercom_refuses_the_email_search(setup, intercom_server, tmp_path):
    """Intercom answers the contact search on email with 400: every id given and every stored person with one of
    the emails is erased all the same, the run fails naming the lookup (never the email), and a second run after
    Intercom recovers succeeds."""
    root, staging, home = setup
    tables = ",".join(f"intercom/{t}" for t in ("contacts", "conversations", "conversation_contacts"))
    _cli(home, "asset", "materialize", "--select", tables, "--partition-range", f"{FIRST}...{LAST}")
    ws = intercom_server.workspace
    stored = ds.dataset(root / "contacts", format="parquet", partitioning="hive").to_table().to_pylist()
    emailed = [c for c in stored if c["email"]]
    by_id, by_email = emailed[0], emailed[1]
    needles = {"id": by_id["id"], "email": by_id["email"], "other id": by_email["id"], "other email": by_email["email"]}
    assert len(_traces(root, staging, home, needles, by_id["id"])) >= 4, "both people are in the lake before"
    emails = tmp_path / "emails.txt"
    emails.write_text(f"{by_email['email']}\n")
    config = tmp_path / "erase.yaml"
    config.write_text(json.dumps({"ops": {"intercom_erase": {"config": {
        "contact_ids": [by_id["id"]], "emails_file": str(emails)}}}}))
    command = [sys.executable, "-m", "dagster", "job", "execute", "-j", "intercom_erase_job", "-c", str(config),
               "-m", "intercom_assets.definitions"]
    env = {**os.environ, "DAGSTER_HOME": str(home)}

    intercom_server.set_unsearchable("contacts", {"email"})
    refused = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "1 of 1 emails could not be looked up in Intercom (POST /contacts/search: HTTP 400" in output
    assert by_email["email"].lower() not in output.lower()
    # what could be resolved is erased everywhere: the id given, and the person the lake holds with the email
    leftovers = [t for t in _traces(root, staging, home, needles, by_id["id"]) if "deleted_records" not in t]
    assert leftovers == []
    assert set(pq.read_table(root / SUPPRESSED).column("id").to_pylist()) == {by_id["id"], by_email["id"]}

    intercom_server.set_unsearchable("contacts", set())
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert "Erasure: 2 contacts" in again.stdout + again.stderr
    assert ws.contacts.get(by_email["id"]) is not None  # Intercom still holds them; the lake does not
