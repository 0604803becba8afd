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

from .build_conversations import UNANSWERED, contact_refs
from .build_people import company_list, contact_identity, tag_list
from .store import CREATED, SEQ
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
    contacts = [(cid, row) for cid, row in ws.contacts.rows()]
    admin_ref = {"type": "admin", "id": ws.admins[0]["id"]}
    store = ws.conversations
    candidates = [c for c in store if c not in protected]
    unanswered = set(rng.sample(candidates, k=round(len(candidates) * ws.unanswered_share)))
    for conv_id in candidates:
        row = store.row(conv_id)
        if conv_id in unanswered:
            ws.part_plans[conv_id] = replace(ws.part_plans[conv_id], count=0)
            row[UNANSWERED] = True
            ws.unanswered_conversation_ids.append(conv_id)
        if rng.random() < MULTI_CONTACT_SHARE:
            refs = contact_refs(ws, conv_id)
            first = refs[0]["id"]
            others = [contact_identity(row) for _, row in rng.sample(contacts, k=rng.randint(1, 3))]
            others = [c for c in others if c[0] != first]
            if others:
                store.patch(conv_id, contacts={"type": "contact.list", "contacts": refs + [
                    {"type": "contact", "id": c[0], "external_id": c[1]} for c in others]})
                ws.multi_contact_conversation_ids.append(conv_id)
        if rng.random() < MULTI_TAG_SHARE:
            tags = rng.sample(ws.tags, k=min(len(ws.tags), rng.randint(3, 5)))
            created, updated = row[CREATED], store.updated_at(conv_id)
            store.patch(conv_id, tags={"type": "tag.list", "tags": [
                {"type": "tag", "id": t["id"], "name": t["name"], "applied_at": rng.randint(created, updated),
                 "applied_by": admin_ref} for t in tags]})
            ws.multi_tag_conversation_ids.append(conv_id)


def enrich_contact_lists(ws: Workspace) -> None:
    """Truncated and under-filled embedded `tags`/`companies` lists on a few contacts."""
    rng = sub_rng(ws.seed, "contact-lists")
    protected = ws.protected_ids()
    contacts = [c for c in ws.contacts if c not in protected]
    users = [c for c in contacts if ws.contacts.seq(c) % 4 != 3]
    tag_ids = [t["id"] for t in ws.tags]
    company_ids = list(ws.companies)
    share = max(2, len(contacts) // 100)
    picked = rng.sample(contacts, k=min(len(contacts), 2 * share))
    for i, contact_id in enumerate(picked):
        truncated = i < share
        low = EMBEDDED_LIST_LIMIT + 1 if truncated else 6
        full = rng.sample(tag_ids, k=min(len(tag_ids), rng.randint(low, low + 4)))
        shown = full[:EMBEDDED_LIST_LIMIT] if truncated else full[:len(full) - rng.randint(1, 3)]
        ws.contacts.patch(contact_id, tags=tag_list(contact_id, shown, len(full), has_more=truncated))
        ws.contact_tag_ids[contact_id] = full
        (ws.truncated_tags_contact_ids if truncated else ws.undercounted_tags_contact_ids).append(contact_id)
    picked = rng.sample(users, k=min(len(users), 2 * share))
    for i, contact_id in enumerate(picked):
        truncated = i < share
        low = EMBEDDED_LIST_LIMIT + 1 if truncated else 3
        full = rng.sample(company_ids, k=min(len(company_ids), rng.randint(low, low + 4)))
        shown = full[:EMBEDDED_LIST_LIMIT] if truncated else full[:len(full) - rng.randint(1, 2)]
        ws.contacts.patch(contact_id, companies=company_list(contact_id, shown, len(full), has_more=truncated))
        ws.contact_company_ids[contact_id] = full
        (ws.truncated_companies_contact_ids if truncated else ws.undercounted_companies_contact_ids).append(
            contact_id)


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
        neighbour_created = ws.conversations.row(conv_ids[n])[CREATED]
        live_slot = int(conv_ids[n]) - CONVERSATION_ID_BASE - n * 13
        slot = (live_slot + 1 + rng.randrange(12)) % 13 if 0 <= live_slot < 13 else rng.randrange(13)
        deleted_id = str(CONVERSATION_ID_BASE + n * 13 + slot)
        if deleted_id in used:
            continue
        used.add(deleted_id)
        ws.deleted_conversations[deleted_id] = {"deleted_at": _when(ws, rng, k, neighbour_created),
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
    users = [c for c, row in ws.contacts.rows() if row[SEQ] % 4 != 3 and c not in protected]
    conversations = [c for c in ws.conversations if c not in protected]
    store = ws.conversations
    for k in range(min(ws.size.merged_leads, len(users))):
        user = ws.contacts[users[rng.randrange(len(users))]]
        merged_at = _when(ws, rng, k, user["created_at"])
        lead_id = object_id(rng.randint(ws.now - HISTORY_DAYS * DAY, merged_at - 60), rng)
        for _ in range(rng.randint(1, 2)):
            for _attempt in range(20):
                conv_id = conversations[rng.randrange(len(conversations))]
                if store.row(conv_id)[CREATED] < merged_at and store.updated_at(conv_id) <= merged_at:
                    old = contact_refs(ws, conv_id)[0]["id"]
                    ws.move_conversation(conv_id, old, user, merged_at)
                    break
        ws.record_merge(lead_id, "lead", user, merged_at)
