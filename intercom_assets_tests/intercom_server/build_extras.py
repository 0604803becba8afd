"""Special cases layered over the base records, each from a generator of its own.

- about 10 % of conversations (Workspace `unanswered_share`) are unanswered: no parts at all (`total_count` 0),
  no admin reply statistics;
- some conversations name several contacts, some carry several tags;
- some contacts' embedded `tags`/`companies` lists are truncated (`has_more: true`), and some show fewer items
  than `total_count` while `has_more` is false (a real contact had 11 of 14 tags so); the per-contact
  endpoints return the full lists;
- the history holds deleted conversations, contacts and companies and leads merged into users, at least one
  of each inside the last week so incremental windows meet them.
The ids of every special case are kept on the Workspace (see its attributes).
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .build_people import company_list, tag_list
from .vocab import DAY, EMBEDDED_LIST_LIMIT, HISTORY_DAYS, object_id, sub_rng

if TYPE_CHECKING:
    from .workspace import Workspace

UNANSWERED_SHARE = 0.10
MULTI_CONTACT_SHARE = 0.06
MULTI_TAG_SHARE = 0.06
CONVERSATION_ID_BASE = 200_963_802_000_000


def enrich_conversations(ws: Workspace) -> None:
    """Unanswered conversations, conversations with several contacts, conversations with several tags."""
    rng = sub_rng(ws.seed, "conversations")
    protected = ws.protected_ids()
    contacts = list(ws.contacts.values())
    admin_ref = {"type": "admin", "id": ws.admins[0]["id"]}
    candidates = [c for c in ws.conversations if c not in protected]
    unanswered = set(rng.sample(candidates, k=round(len(candidates) * ws.unanswered_share)))
    for conv_id in candidates:
        conv = ws.conversations[conv_id]
        if conv_id in unanswered:
            _make_unanswered(ws, conv)
            ws.unanswered_conversation_ids.append(conv_id)
        if rng.random() < MULTI_CONTACT_SHARE:
            first = conv["contacts"]["contacts"][0]["id"]
            others = [c for c in rng.sample(contacts, k=rng.randint(1, 3)) if c["id"] != first]
            conv["contacts"]["contacts"].extend(
                {"type": "contact", "id": c["id"], "external_id": c["external_id"]} for c in others)
            if others:
                ws.multi_contact_conversation_ids.append(conv_id)
        if rng.random() < MULTI_TAG_SHARE:
            tags = rng.sample(ws.tags, k=min(len(ws.tags), rng.randint(3, 5)))
            conv["tags"] = {"type": "tag.list", "tags": [
                {"type": "tag", "id": t["id"], "name": t["name"],
                 "applied_at": rng.randint(conv["created_at"], conv["updated_at"]), "applied_by": admin_ref}
                for t in tags]}
            ws.multi_tag_conversation_ids.append(conv_id)


def _make_unanswered(ws: Workspace, conv: dict[str, Any]) -> None:
    """Only the customer's opening message (the source): no part, no admin reply, still waiting."""
    ws.part_plans[conv["id"]] = replace(ws.part_plans[conv["id"]], count=0)
    conv.update(state="open", open=True, read=False, snoozed_until=None, waiting_since=conv["created_at"],
                conversation_rating=None)
    conv["teammates"] = {"type": "admin.list", "admins": []}
    conv["statistics"] = dict(conv["statistics"], time_to_admin_reply=None, first_admin_reply_at=None,
                              count_reopens=0, count_conversation_parts=0)


def enrich_contact_lists(ws: Workspace) -> None:
    """Truncated and under-filled embedded `tags`/`companies` lists on a few contacts."""
    rng = sub_rng(ws.seed, "contact-lists")
    protected = ws.protected_ids()
    contacts = [c for c in ws.contacts.values() if c["id"] not in protected]
    users = [c for c in contacts if c["role"] == "user"]
    tag_ids = [t["id"] for t in ws.tags]
    company_ids = list(ws.companies)
    share = max(2, len(contacts) // 100)
    picked = rng.sample(contacts, k=min(len(contacts), 2 * share))
    for i, contact in enumerate(picked):
        truncated = i < share
        low = EMBEDDED_LIST_LIMIT + 1 if truncated else 6
        full = rng.sample(tag_ids, k=min(len(tag_ids), rng.randint(low, low + 4)))
        shown = full[:EMBEDDED_LIST_LIMIT] if truncated else full[:len(full) - rng.randint(1, 3)]
        contact["tags"] = tag_list(contact["id"], shown, len(full), has_more=truncated)
        ws.contact_tag_ids[contact["id"]] = full
        (ws.truncated_tags_contact_ids if truncated else ws.undercounted_tags_contact_ids).append(contact["id"])
    picked = rng.sample(users, k=min(len(users), 2 * share))
    for i, contact in enumerate(picked):
        truncated = i < share
        low = EMBEDDED_LIST_LIMIT + 1 if truncated else 3
        full = rng.sample(company_ids, k=min(len(company_ids), rng.randint(low, low + 4)))
        shown = full[:EMBEDDED_LIST_LIMIT] if truncated else full[:len(full) - rng.randint(1, 2)]
        contact["companies"] = company_list(contact["id"], shown, len(full), has_more=truncated)
        ws.contact_company_ids[contact["id"]] = full
        (ws.truncated_companies_contact_ids if truncated else ws.undercounted_companies_contact_ids).append(
            contact["id"])


def applied_tags(ws: Workspace, contact: dict[str, Any], tag_ids: list[str]) -> list[dict[str, Any]]:
    """Tag objects of GET /contacts/{id}/tags: applied between the contact's creation and last update."""
    rng = random.Random(f"{ws.seed}/applied/{contact['id']}")
    by_id = {t["id"]: t for t in ws.tags}
    admin_ids = [a["id"] for a in ws.admins]
    out = []
    for tag_id in tag_ids:
        tag = by_id.get(tag_id)
        if tag is None:
            continue
        out.append({"type": "tag", "id": tag_id, "name": tag["name"],
                    "applied_at": rng.randint(contact["created_at"], max(contact["created_at"], contact["updated_at"])),
                    "applied_by": {"type": "admin", "id": rng.choice(admin_ids)}})
    return out


def _when(ws: Workspace, rng: random.Random, index: int, earliest: int) -> int:
    """A moment in the history: the first of each kind falls inside the last week, the others anywhere."""
    start = max(earliest + 3600, ws.now - HISTORY_DAYS * DAY)
    if index == 0:
        start = max(start, ws.now - 6 * DAY)
    return rng.randint(min(start, ws.now - 120), ws.now - 60)


def seed_deletions_and_merges(ws: Workspace) -> None:
    """Deleted conversations, contacts and companies, and leads merged into users, over the history."""
    rng = sub_rng(ws.seed, "history")
    size = ws.size
    conv_ids = list(ws.conversations)
    used: set[str] = set(conv_ids)
    for k in range(size.deleted_conversations):
        n = rng.randrange(len(conv_ids))
        neighbour = ws.conversations[conv_ids[n]]
        live_slot = int(conv_ids[n]) - CONVERSATION_ID_BASE - n * 13
        slot = (live_slot + 1 + rng.randrange(12)) % 13 if 0 <= live_slot < 13 else rng.randrange(13)
        deleted_id = str(CONVERSATION_ID_BASE + n * 13 + slot)
        if deleted_id in used:
            continue
        used.add(deleted_id)
        ws.deleted_conversations[deleted_id] = {"deleted_at": _when(ws, rng, k, neighbour["created_at"]),
                                                "metrics_retained": rng.random() < 0.4}
    start = ws.now - HISTORY_DAYS * DAY
    for k in range(size.deleted_contacts):
        created = rng.randint(start, ws.now - 2 * DAY)
        ws.deleted_contacts[object_id(created, rng)] = _when(ws, rng, k, created)
    for k in range(size.deleted_companies):
        created = rng.randint(start, ws.now - 2 * DAY)
        ws.deleted_companies[object_id(created, rng)] = _when(ws, rng, k, created)
    _seed_merges(ws, rng)


def _seed_merges(ws: Workspace, rng: random.Random) -> None:
    """Leads merged into users; each lead's conversations (one or two) moved to the user at the merge."""
    protected = ws.protected_ids()
    users = [c for c in ws.contacts.values() if c["role"] == "user" and c["id"] not in protected]
    conversations = [c for c in ws.conversations.values() if c["id"] not in protected]
    for k in range(min(ws.size.merged_leads, len(users))):
        user = users[rng.randrange(len(users))]
        merged_at = _when(ws, rng, k, user["created_at"])
        lead_id = object_id(rng.randint(ws.now - HISTORY_DAYS * DAY, merged_at - 60), rng)
        for _ in range(rng.randint(1, 2)):
            for _attempt in range(20):
                conv = conversations[rng.randrange(len(conversations))]
                if conv["created_at"] < merged_at and conv["updated_at"] <= merged_at:
                    old = conv["contacts"]["contacts"][0]["id"]
                    ws.move_conversation(conv["id"], old, user, merged_at)
                    break
        ws.record_merge(lead_id, "lead", user, merged_at)
