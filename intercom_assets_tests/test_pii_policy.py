"""The PII policy: keep / hash / drop per table and dotted path, validated at load, applied before staging."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import json
import pickle

import pyarrow.parquet as pq
import pytest

from intercom_assets.lake.pii_policy import PiiPolicy, load_pii_policy
from intercom_assets.lake.staging import TableStager
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.settings import SettingsError, load_settings
from intercom_assets.tables import TABLES_BY_NAME

SALT = "pii-test-salt-0f1e2d3c4b5a69788796a5b4"
DAY = 1767225600  # 2026-01-01T00:00:00Z


def expected_hash(text: str, salt: str = SALT) -> str:
    """The documented hash, computed independently of the module."""
    return hmac.new(salt.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def policy(text: str, salt: str | None = SALT) -> PiiPolicy:
    return PiiPolicy.parse(text, salt, "pii.yaml")


def contact(**values):
    return {"type": "contact", "id": "c1", "role": "user", "updated_at": DAY + 60, **values}


# ---- no policy ----------------------------------------------------------------------------------------------
def test_no_policy_keeps_every_row_as_it_is():
    for empty in (PiiPolicy.empty(), load_pii_policy({}), load_pii_policy({"INTERCOM_PII_POLICY": "  "}),
                  load_settings({}).pii_policy, policy(""), policy("# nothing yet\n"), policy("contacts:\n")):
        row = contact(email="a@example.com")
        assert empty.is_empty and not empty.has_rules("contacts")
        assert empty.apply("contacts", row) is row
    only_keep = policy("contacts:\n  email: keep\n")
    assert only_keep.is_empty
    row = contact(email="a@example.com")
    assert only_keep.apply("contacts", row) is row


def test_a_table_without_rules_passes_its_rows_untouched():
    rules = policy("contacts:\n  email: hash\n")
    row = {"id": "t1", "name": "vip"}
    assert rules.apply("tags", row) is row
    assert rules.has_rules("contacts") and not rules.has_rules("tags")


# ---- every action on every kind of path ---------------------------------------------------------------------
PATH_KINDS = [
    # (table, path, row before, where the value is, the value, what the rule changes)
    ("contacts", "email", contact(email="ann@example.com"), ("email",), "ann@example.com"),
    ("conversations", "source.author.email",
     {"id": "v1", "updated_at": DAY, "source": {"id": "s1", "author": {"name": "Ann", "email": "ann@example.com"}}},
     ("source", "author", "email"), "ann@example.com"),
    ("contacts", "custom_attributes.salary", contact(custom_attributes={"salary": "90k", "plan": "pro"}),
     ("custom_attributes", "salary"), "90k"),
    ("contacts", "_extra.nickname", contact(nickname="annie"), ("nickname",), "annie"),
    ("contacts", "_extra.location.street", contact(location={"city": "Lyon", "street": "1 rue X"}),
     ("location", "street"), "1 rue X"),
]


def _at(row, where):
    for key in where:
        row = row[key]
    return row


@pytest.mark.parametrize("action", ["keep", "hash", "drop"])
@pytest.mark.parametrize(("table", "path", "row", "where", "value"), PATH_KINDS, ids=[k[1] for k in PATH_KINDS])
def test_every_action_on_every_kind_of_path(action, table, path, row, where, value):
    before = copy.deepcopy(row)
    out = policy(f"{table}:\n  {path}: {action}\n").apply(table, row)
    assert row == before  # the input is never modified
    expected = {"keep": value, "hash": expected_hash(value), "drop": None}[action]
    assert _at(out, where) == expected
    # nothing else changes
    assert {k: v for k, v in out.items() if k != where[0]} == {k: v for k, v in before.items() if k != where[0]}


@pytest.mark.parametrize("action", ["hash", "drop"])
def test_a_list_on_the_way_applies_the_rule_to_every_element(action):
    row = contact(social_profiles={"type": "list", "data": [
        {"name": "twitter", "url": "https://x.com/ann"}, {"name": "github", "url": "https://github.com/ann"},
        {"name": "no url"},
    ]})
    out = policy(f"contacts:\n  social_profiles.data.url: {action}\n").apply("contacts", row)
    urls = [item.get("url", "absent") for item in out["social_profiles"]["data"]]
    if action == "drop":
        assert urls == [None, None, "absent"]
    else:
        assert urls == [expected_hash("https://x.com/ann"), expected_hash("https://github.com/ann"), "absent"]
    assert [item["name"] for item in out["social_profiles"]["data"]] == ["twitter", "github", "no url"]
    assert row["social_profiles"]["data"][0]["url"] == "https://x.com/ann"


def test_conversation_part_authors_follow_the_parts_rule():
    rules = policy("conversation_parts:\n  author.email: hash\n  body: drop\n")
    part = {"id": "p1", "conversation_id": "v1", "conversation_updated_at": DAY, "body": "<p>call me</p>",
            "author": {"type": "user", "id": "c1", "name": "Ann", "email": "ann@example.com"}}
    out = rules.apply("conversation_parts", part)
    assert out["author"] == {"type": "user", "id": "c1", "name": "Ann", "email": expected_hash("ann@example.com")}
    assert out["body"] is None and out["conversation_id"] == "v1"
    assert rules.apply("contacts", contact(email="x@example.com"))["email"] == "x@example.com"


def test_hash_text_of_values_that_are_not_strings():
    """Strings are hashed as they are; anything else as its compact JSON (sorted keys); lists element-wise."""
    rules = policy("contacts:\n  custom_attributes.v: hash\n")

    def hashed(value):
        return rules.apply("contacts", contact(custom_attributes={"v": value}))["custom_attributes"]["v"]

    assert hashed(42) == expected_hash("42") == hashed("42")
    assert hashed(1.5) == expected_hash("1.5")
    assert hashed(True) == expected_hash("true")
    assert hashed({"b": [1, 2], "a": "é"}) == expected_hash('{"a":"é","b":[1,2]}')
    assert hashed(["x", 7, None]) == [expected_hash("x"), expected_hash("7"), None]
    assert hashed(None) is None
    assert hashed("") == expected_hash("")
    assert rules.hash_value("ann@example.com") == expected_hash("ann@example.com")


def test_a_declared_list_of_strings_is_hashed_element_by_element():
    rules = policy("conversations:\n  source.recipients.email: hash\n")
    row = {"id": "v1", "updated_at": DAY, "source": {"recipients": [{"email": "a@x.io"}, {"email": "b@x.io"}]}}
    out = rules.apply("conversations", row)
    assert [r["email"] for r in out["source"]["recipients"]] == [expected_hash("a@x.io"), expected_hash("b@x.io")]


def test_a_whole_object_or_list_is_dropped():
    rules = policy("contacts:\n  location: drop\n  social_profiles.data: drop\n  custom_attributes: drop\n")
    out = rules.apply("contacts", contact(location={"city": "Lyon"}, social_profiles={"type": "list", "data": [{}]},
                                          custom_attributes={"a": 1}))
    assert out["location"] is None and out["social_profiles"] == {"type": "list", "data": None}
    assert out["custom_attributes"] is None


def test_missing_paths_and_unexpected_shapes_change_nothing():
    rules = policy("contacts:\n  email: hash\n  location.city: drop\n  custom_attributes.salary: drop\n"
                   "  _extra.nickname.first: hash\n")
    for row in (contact(), contact(location=None, custom_attributes="not a map", nickname=["a", {"last": "b"}]),
                contact(location="Lyon", custom_attributes={"plan": "pro"}, email=None)):
        before = copy.deepcopy(row)
        assert rules.apply("contacts", row) == before
        assert row == before


def test_the_other_keys_the_api_uses_for_a_field_are_covered():
    # companies.notes.data is also sent as companies.notes.notes; an avatar can arrive as its bare URL
    rules = policy("companies:\n  notes.data.body: hash\nadmins:\n  avatar.image_url: drop\n")
    company = {"id": "co1", "updated_at": DAY, "notes": {"notes": [{"body": "a"}], "data": [{"body": "b"}]}}
    out = rules.apply("companies", company)
    assert out["notes"] == {"notes": [{"body": expected_hash("a")}], "data": [{"body": expected_hash("b")}]}
    assert rules.apply("admins", {"id": "a1", "avatar": "https://img/a.png"})["avatar"] is None
    assert rules.apply("admins", {"id": "a1", "avatar": {"type": "avatar", "image_url": "https://img/a.png"}})[
        "avatar"] == {"type": "avatar", "image_url": None}


def test_users_and_leads_take_the_contacts_rules():
    rules = policy("contacts:\n  email: hash\n  name: drop\n")
    for table in ("contacts", "users", "leads"):
        out = rules.apply(table, contact(email="ann@example.com", name="Ann"))
        assert out["email"] == expected_hash("ann@example.com") and out["name"] is None, table
    assert rules.fingerprint("users") == rules.fingerprint("leads") == rules.fingerprint("contacts") != ""
    assert rules.describe() == {"contacts": {"email": "hash", "name": "drop"}}


def test_one_record_feeding_several_tables_is_hashed_once_in_each():
    """contacts, users and leads get the same record object: applying one table's rules must not leak into the
    next (a mutated record would be hashed twice)."""
    rules = policy("contacts:\n  email: hash\n")
    record = contact(email="ann@example.com")
    outs = [rules.apply(table, record) for table in ("contacts", "users", "leads")]
    assert {o["email"] for o in outs} == {expected_hash("ann@example.com")}
    assert record["email"] == "ann@example.com"


def test_nested_values_are_copied_not_modified():
    rules = policy("conversations:\n  source.author.email: drop\n")
    author = {"email": "ann@example.com", "name": "Ann"}
    untouched = {"a": [1, 2]}
    row = {"id": "v1", "updated_at": DAY, "source": {"author": author}, "custom_attributes": untouched}
    out = rules.apply("conversations", row)
    assert author == {"email": "ann@example.com", "name": "Ann"} and out["source"]["author"]["email"] is None
    assert out["custom_attributes"] is untouched  # what no rule touches is shared, not copied


def test_fingerprint_changes_with_the_rules_and_the_salt_and_does_not_show_it():
    one = policy("contacts:\n  email: hash\n")
    assert one.fingerprint("tags") == ""
    assert one.fingerprint("contacts") == policy("contacts:\n  email: hash\n").fingerprint("contacts")
    assert one.fingerprint("contacts") != policy("contacts:\n  email: drop\n").fingerprint("contacts")
    assert one.fingerprint("contacts") != policy("contacts:\n  email: hash\n", SALT + "2").fingerprint("contacts")
    assert SALT not in one.fingerprint("contacts")
    drop_only = policy("contacts:\n  email: drop\n", None)
    assert drop_only.fingerprint("contacts") == policy("contacts:\n  email: drop\n", SALT).fingerprint("contacts")


# ---- validation at load -------------------------------------------------------------------------------------
LOAD_ERRORS = [
    ("not yaml", "contacts:\n  email: hash\n  name: [drop\n", 4, "not valid YAML"),
    ("not a mapping", "- contacts\n- email\n", 1, "must be a mapping of table names"),
    ("rules not a mapping", "contacts:\n  - email\n", 2, "a table's rules must be a mapping"),
    ("unknown table", "contacts:\n  email: drop\ncontcts:\n  name: drop\n", 3, "`contcts` is not a table"),
    ("a subset table", "leads:\n  email: drop\n", 1, "put them under `contacts`"),
    ("unknown action", "contacts:\n  email: drop\n  name: redact\n", 3, "unknown action `redact`"),
    ("nested mapping", "conversations:\n  source:\n    author: drop\n", 3, "one dotted path"),
    ("duplicate path", "contacts:\n  email: drop\n  phone: drop\n  email: hash\n", 4,
     "`email` is given twice (first on line 2)"),
    ("duplicate table", "contacts:\n  email: drop\ncompanies:\n  name: drop\ncontacts:\n  phone: drop\n", 5,
     "`contacts` is given twice (first on line 1)"),
    ("hash without salt", "contacts:\n  name: drop\n  email: hash\n", 3, "needs INTERCOM_PII_SALT"),
    ("key column", "contacts:\n  id: hash\n", 2, "`id` is the key of contacts"),
    ("partition column", "conversations:\n  id: keep\n  updated_at: drop\n", 3, "partition column"),
    ("part of a key", "company_segments:\n  company_id: drop\n", 2, "part of the key"),
    ("parent id", "conversation_parts:\n  conversation_id: drop\n", 2, "the parent record's id"),
    ("parent version", "conversation_parts:\n  conversation_updated_at: drop\n", 2, "partition column"),
    ("newest version", "segments:\n  updated_at: drop\n", 2, "keeps each record's newest row"),
    ("undeclared field", "contacts:\n  email: drop\n  emial: drop\n", 3, "write `_extra.emial`"),
    ("undeclared nested field", "contacts:\n\n  location.street: drop\n", 3, "write `_extra.location.street`"),
    ("_extra of a declared field", "contacts:\n  _extra.phone: drop\n", 2, "write `phone`"),
    ("_extra alone", "contacts:\n  _extra: drop\n", 2, "`_extra` alone is not a path"),
    ("hash on a timestamp", "contacts:\n  signed_up_at: hash\n", 2, "declared as a timestamp"),
    ("hash on a bool", "contacts:\n  sms_consent: hash\n", 2, "use drop"),
    ("hash on an object", "contacts:\n  location: hash\n", 2, "declared as an object"),
    ("hash on ints", "admins:\n  team_ids: hash\n", 2, "declared as an int"),
    ("overlap", "contacts:\n  location: drop\n  location.city: hash\n", 3, "overlaps `location` (line 2)"),
    ("overlap inside a map", "contacts:\n  custom_attributes: drop\n  phone: drop\n"
     "  custom_attributes.salary: drop\n", 4, "overlaps `custom_attributes`"),
    ("alias spelling", "companies:\n  notes.notes.body: drop\n", 2, "write `notes.data`"),
    ("empty segment", "contacts:\n  location..city: drop\n", 2, "not a dotted path"),
    ("list index", "contacts:\n  social_profiles.data[0].url: drop\n", 2, "leave out list indexes"),
]


def _salt_for(fragment: str) -> str | None:
    return None if "needs INTERCOM_PII_SALT" in fragment else SALT


@pytest.mark.parametrize(("text", "line", "fragment"), [e[1:] for e in LOAD_ERRORS], ids=[e[0] for e in LOAD_ERRORS])
def test_every_load_error_names_the_file_and_the_line(tmp_path, text, line, fragment):
    path = tmp_path / "pii.yaml"
    path.write_text(text)
    salt = _salt_for(fragment)
    with pytest.raises(SettingsError) as raised:
        PiiPolicy.load(path, salt)
    message = str(raised.value)
    assert f"INTERCOM_PII_POLICY={path}, line {line}: " in message
    assert fragment in message
    assert SALT not in message


def test_the_salt_must_be_long_enough_and_is_not_needed_without_hash():
    with pytest.raises(SettingsError, match=r"line 2: .*at least 16 characters\), which is shorter") as raised:
        policy("contacts:\n  email: hash\n", "short-salt")
    assert "short-salt" not in str(raised.value)
    with pytest.raises(SettingsError, match="needs INTERCOM_PII_SALT"):
        policy("contacts:\n  email: hash\n", "   ")
    assert policy("contacts:\n  email: drop\n", None).apply("contacts", contact(email="a"))["email"] is None


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match=r"INTERCOM_PII_POLICY=.*missing\.yaml: cannot read"):
        PiiPolicy.load(tmp_path / "missing.yaml", SALT)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("contacts:\n  pr\xe9nom: drop\n".encode("latin-1"))
    with pytest.raises(SettingsError, match="not UTF-8"):
        PiiPolicy.load(latin, SALT)


def test_a_bad_policy_fails_load_settings(tmp_path):
    path = tmp_path / "pii.yaml"
    path.write_text("contacts:\n  email: hash\n")
    with pytest.raises(SettingsError, match=r"line 2: .*needs INTERCOM_PII_SALT"):
        load_settings({"INTERCOM_PII_POLICY": str(path)})
    settings = load_settings({"INTERCOM_PII_POLICY": str(path), "INTERCOM_PII_SALT": SALT})
    assert settings.pii_policy.apply("users", contact(email="a@b.c"))["email"] == expected_hash("a@b.c")
    assert "pii_policy" not in repr(settings) and SALT not in repr(settings)
    assert settings == dataclasses.replace(settings, pii_policy=PiiPolicy.empty())  # not part of equality


# ---- the salt stays secret ----------------------------------------------------------------------------------
def test_the_salt_never_shows(tmp_path):
    path = tmp_path / "pii.yaml"
    path.write_text("contacts:\n  email: hash\n  phone: hash\n")
    loaded = PiiPolicy.load(path, SALT)
    for text in (repr(loaded), str(loaded), repr(loaded.describe()), loaded.fingerprint("contacts")):
        assert SALT not in text
    assert "2 rules" in repr(loaded) and str(path) in repr(loaded)
    assert not hasattr(loaded, "__dict__")
    assert all(SALT not in repr(getattr(loaded, name)) for name in loaded.__slots__)
    with pytest.raises(TypeError) as raised:
        pickle.dumps(loaded)
    assert SALT not in str(raised.value)
    assert copy.deepcopy(loaded) is loaded
    # without a salt nothing is secret: a keep/drop policy (and the empty one) pickles like any setting
    drop_only = pickle.loads(pickle.dumps(policy("contacts:\n  email: drop\n", None)))
    assert drop_only.apply("users", contact(email="a@b.c"))["email"] is None
    assert pickle.loads(pickle.dumps(PiiPolicy.empty())).is_empty
    # every error a policy can raise while the salt is set leaves it out
    for _, text, _, fragment in LOAD_ERRORS:
        with pytest.raises(SettingsError) as raised:
            PiiPolicy.parse(text, _salt_for(fragment), "pii.yaml")
        assert SALT not in str(raised.value) and SALT not in repr(raised.value)


def test_a_load_error_keeps_the_salt_out_of_its_traceback(tmp_path):
    """Error reporters that capture frame locals must not find the salt in this module's frames."""
    path = tmp_path / "pii.yaml"
    path.write_text("contacts:\n  email: hash\n  emial: drop\n")
    with pytest.raises(SettingsError) as raised:
        PiiPolicy.load(path, SALT)
    tb = raised.tb
    frames = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("pii_policy.py"):
            frames += 1
            for name, value in tb.tb_frame.f_locals.items():
                assert value != SALT.encode() and SALT not in repr(value), name
        tb = tb.tb_next
    assert frames >= 2


# ---- through staging and storage ----------------------------------------------------------------------------
def test_applied_rows_stage_and_store_with_the_declared_schema(tmp_path):
    rules = policy(
        "contacts:\n  email: hash\n  phone: hash\n  name: drop\n  location.city: drop\n"
        "  custom_attributes.salary: drop\n  custom_attributes.badge: hash\n  avatar.image_url: hash\n"
        "  social_profiles.data.url: hash\n  _extra.nickname: drop\n"
    )
    spec = TABLES_BY_NAME["contacts"]
    raw = contact(
        email="ann.secret@example.com", phone=33612345678, name="Ann Secret", location={"city": "Secretville",
        "country": "France"}, custom_attributes={"salary": 123456, "badge": "B-SECRET", "plan": "pro"},
        avatar="https://img.example.com/secret.png", nickname="annie-secret",
        social_profiles={"type": "list", "data": [{"name": "twitter", "url": "https://x.com/secret"}]},
    )
    stager = TableStager(spec, tmp_path / "staging", ["2026-01-01"], extracted_at=DAY + 3600)
    stager.add_records([rules.apply(spec.name, raw)])
    staged = stager.finish()["2026-01-01"]
    store = ParquetStore(tmp_path / "root")
    store.write_table(spec.name, "2026-01-01", pq.read_table(staged.path), tmp_path / "scratch")
    stored = store.read(spec.name, "2026-01-01")

    assert stored.schema.equals(spec.converter().schema, check_metadata=False)
    row = stored.to_pylist()[0]
    assert row["email"] == expected_hash("ann.secret@example.com")
    assert row["phone"] == expected_hash("33612345678")
    assert row["name"] is None and row["location"]["city"] is None and row["location"]["country"] == "France"
    assert json.loads(row["custom_attributes"]) == {"salary": None, "badge": expected_hash("B-SECRET"), "plan": "pro"}
    assert row["avatar"] == {"type": None, "image_url": expected_hash("https://img.example.com/secret.png")}
    assert row["social_profiles"]["data"][0]["url"] == expected_hash("https://x.com/secret")
    assert json.loads(row["_extra"]) == {"nickname": None}
    # no raw value is anywhere in what was staged or stored (a hash is hex: it cannot spell "secret")
    text = json.dumps([stored.to_pylist(), pq.read_table(staged.path).to_pylist()], default=str)
    assert "secret" not in text.lower()
    assert "33612345678" not in text and "123456" not in text
