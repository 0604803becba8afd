"""Every table of the replaced Stitch integration (v02-02-2016) is taken over by exactly one table here.

The Stitch table list is a verbatim copy under fixtures/ (see fixtures/README.md); `replaces` in tables.py names
the Stitch table each table takes over, first word first ("none ..." for a new one).
"""

from __future__ import annotations

import json
from pathlib import Path

from intercom_assets.tables import TABLES

STITCH = Path(__file__).resolve().parent / "fixtures" / "stitch-intercom-v02-02-2016"


def _stitch_tables() -> set[str]:
    listing = json.loads((STITCH / "stitch_intercom_v02-02-2016_tables.json").read_text())
    return {table["table"] for table in listing["tables"]} | set(listing["documented_subtables"])


def test_the_fixture_lists_the_known_stitch_tables() -> None:
    assert _stitch_tables() == {"admins", "companies", "company_segments", "contacts", "conversations",
                                "conversations__conversation_parts", "segments", "tags", "users"}


def test_every_stitch_table_is_replaced_exactly_once() -> None:
    replaced = [spec.replaces.split()[0] for spec in TABLES if not spec.replaces.startswith("none")]
    assert sorted(replaced) == sorted(_stitch_tables())
