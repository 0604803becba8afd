"""Properties of the 2.16 description that a table deliberately holds no column for, each with the reason.

Keyed by the described schema (`TableSpec.described_by`), then by the property's path inside it (`a.b[].c`: `[]`
is an array's item); a path excludes everything below it. test_field_coverage fails on a described property that
no column covers and no entry here names, and on an entry that excludes nothing (the column exists after all, or
the description has no such property), so this list stays exactly the set of deliberate gaps.
"""

from __future__ import annotations

from collections.abc import Mapping

UNDECLARED: Mapping[str, Mapping[str, str]] = {
    "conversation": {
        "conversation_parts.conversation_parts": (
            "The parts are the rows of conversation_parts, read from GET /conversations/{id} (newest 500, with the "
            "true count): a conversations row keeps only the list's type and total_count. The search that "
            "conversations rows come from gives no parts (conversation_list_item); parts it ever sent would be "
            "kept whole in _extra."
        ),
    },
}
