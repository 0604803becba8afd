"""Builders of conversations and their parts (parts are regenerated on demand from a per-conversation plan).

Conversations are stored as rows (store.py); `render_conversation` turns one back into the API shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from itertools import islice
from typing import TYPE_CHECKING, Any

from .build_people import contact_identity, contact_refs_of
from .vocab import BIG_CONVERSATION_PARTS, BODIES, COMPANY_WORDS, DAY, KINDS, PART_TYPES

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclass(frozen=True, slots=True)
class PartPlan:
    """What is needed to regenerate a conversation's original parts deterministically."""

    number: int
    count: int
    created_at: int
    last_at: int
    contact_id: str
    contact_name: str | None
    contact_email: str | None
    contact_role: str


UNANSWERED = 19
AI_OUTCOMES = ("assumed_resolution", "confirmed_resolution", "escalated")
"""Row position of the flag build_extras sets on unanswered conversations."""


def build_conversations(ws: Workspace, rng: random.Random) -> None:
    """Conversations in creation order (kept as rows: see render_conversation); one (the "big" one) has more
    parts than the API shows."""
    contact_rows = [row for _, row in ws.contacts.rows()]
    admins = ws.admins
    rows = []
    for recent in ws.recent_flags(rng, ws.size.conversations):
        rows.append(ws.times(rng, recent))
    rows.sort()
    big_index = len(rows) - 1 - len(rows) // 7
    for n, (created, updated) in enumerate(rows):
        conv_id = str(200_963_802_000_000 + n * 13 + rng.randint(0, 12))
        contact = contact_identity(contact_rows[rng.randrange(len(contact_rows))])
        admin = admins[rng.randrange(len(admins))] if rng.random() < 0.8 else None
        team = ws.teams[rng.randrange(len(ws.teams))] if rng.random() < 0.6 else None
        state = rng.choice(["open", "closed", "closed", "snoozed"])
        parts = BIG_CONVERSATION_PARTS if n == big_index else rng.randint(ws.size.min_parts,
                                                                           ws.size.max_parts)
        if n == big_index:
            ws.big_conversation_id = conv_id
            # updated within the last hour of `now`'s UTC day: its WARN (over the 500-part cap) lands on today's
            # partition, the one a window run always rewrites
            updated = max(updated, ws.now - 3600, ws.now - ws.now % DAY)
        conv_tags = tuple(rng.sample(range(len(ws.tags)), k=rng.choice([0, 0, 1, 2])))
        ws.part_plans[conv_id] = PartPlan(n, parts, created, updated, contact[0], contact[2], contact[3], contact[4])
        first_reply = created + rng.randint(60, 3 * 3600)
        # the draws below keep the order of the dict literal they once filled
        waiting = rng.randint(created, updated) if state == "open" and rng.random() < 0.5 else None
        read = rng.random() < 0.7
        priority = rng.choice(["none", "none", "low", "medium", "high", "urgent"])
        rating = (rng.randint(1, 5), rng.choice(["", "Great help!", "Très bien 👍"])) \
            if admin and state == "closed" and rng.random() < 0.3 else None
        ws.conversations.add(conv_id, [
            updated, n, conv_id, created, updated, contact, admin, team, state, conv_tags, parts, first_reply,
            waiting, read, priority, rating, rng.choice(["billing", "bug", "question", "ünïcode"]),
            rng.randint(0, 100), rng.randint(0, 2), False,
        ])


def render_conversation(ws: Workspace, row: list[Any]) -> dict[str, Any]:
    """A conversation in API shape from its row (as it was built; steering's edits are patches over it)."""
    (updated, n, conv_id, created, built_updated, contact, admin, team, state, tag_indexes, parts, first_reply,
     waiting, read, priority, rating, issue_type, priority_score, reopens, unanswered) = row
    contact_id, external_id, name, email, role = contact
    admins = ws.admins
    conv = {
        "type": "conversation",
        "id": conv_id,
        "title": None if n % 3 else f"Question #{n} — {COMPANY_WORDS[n % len(COMPANY_WORDS)]}",
        "created_at": created,
        "updated_at": updated,
        "waiting_since": waiting,
        "snoozed_until": built_updated + 3 * DAY if state == "snoozed" else None,
        "open": state != "closed",
        "state": state,
        "read": read,
        "priority": priority,
        "admin_assignee_id": int(admin["id"]) if admin else None,
        "team_assignee_id": int(team["id"]) if team else None,
        "tags": {"type": "tag.list", "tags": [
            {"type": "tag", "id": t["id"], "name": t["name"], "applied_at": created,
             "applied_by": {"type": "admin", "id": admins[0]["id"]}} for t in (ws.tags[i] for i in tag_indexes)]},
        "conversation_rating": {
            "rating": rating[0], "remark": rating[1],
            "created_at": built_updated, "updated_at": built_updated,
            "contact": {"type": "contact", "id": contact_id, "external_id": external_id},
            "teammate": {"type": "admin", "id": admin["id"]},
        } if rating else None,
        "source": {
            "type": "conversation",
            "id": str(403_918_000 + n),
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": BODIES[n % len(BODIES)],
            "author": {"type": role, "id": contact_id, "name": name, "email": email},
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": contact_id, "external_id": external_id}]},
        # the real API's key (the description says `teammates`): see real-payloads/README.md
        "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": admin["id"]}] if admin else []},
        "custom_attributes": {"issue_type": issue_type, "priority_score": priority_score},
        "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
        "sla_applied": None,
        "statistics": conversation_statistics(ws, conv_id, created),
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent_participated": False,
        "ai_agent": None,
    }
    if n % 7 == 3 and not unanswered:
        # the AI agent answered every seventh conversation: resolved (assumed or confirmed) or escalated
        conv["ai_agent_participated"] = True
        conv["ai_agent"] = {
            "source_type": "workflow", "source_title": "Fin answers", "last_answer_type": "ai_answer",
            "resolution_state": AI_OUTCOMES[(n // 7) % len(AI_OUTCOMES)], "rating": None, "rating_remark": None,
            "created_at": created, "updated_at": created,
            "content_sources": {"type": "content_source.list", "total_count": 0, "content_sources": []},
        }
    if unanswered:
        # only the customer's opening message (the source): no part, no admin reply, still waiting
        conv.update(state="open", open=True, read=False, snoozed_until=None, waiting_since=created,
                    conversation_rating=None)
        conv["teammates"] = {"type": "admin.list", "admins": []}
    return conv


def conversation_statistics(ws: Workspace, conv_id: str, created: int) -> dict[str, Any]:
    """The `statistics` of a conversation, following from its own parts as the support metrics define them
    (README "Support metrics"; wall-clock: the test workspace has no office hours), so that the metrics computed
    from the replicated parts can be checked against them. Cached per conversation and set of parts."""
    plan = ws.part_plans.get(conv_id)
    extra = ws.extra_part_count(conv_id)
    key = (conv_id, plan, extra)
    cached = ws.statistics_cache.get(key)
    if cached is None:
        parts = ws.conversation_parts(conv_id) if plan is not None else []
        cached = statistics_from_parts(created, parts)
        if len(ws.statistics_cache) >= STATISTICS_CACHE:
            ws.statistics_cache.clear()
        ws.statistics_cache[key] = cached
    return dict(cached)


STATISTICS_CACHE = 200_000


def statistics_from_parts(created: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Intercom's statistics of a conversation a contact opened at `created`, from all its parts (oldest first):
    events counted from the first contact reply on; a reply is a visible text part (not a note) by a human admin."""
    first = created  # every test-server conversation starts with the contact's own message (its source)
    after = [p for p in parts if p["created_at"] >= first]
    replies = [p["created_at"] for p in after if p["author"]["type"] == "admin" and p["part_type"] != "note"
               and (p["body"] is not None or p["redacted"])]
    assignments = [p["created_at"] for p in after if "assign" in p["part_type"]]
    closes = [p for p in after if p["part_type"] == "close"]
    admin_closes = [p for p in closes if p["author"]["type"] == "admin"]
    contact = [p["created_at"] for p in parts if p["author"]["type"] in ("user", "lead", "contact")]
    first_reply = replies[0] if replies else None
    before_reply = [a for a in assignments if first_reply is None or a <= first_reply]
    return {
        "type": "conversation_statistics",
        "time_to_assignment": before_reply[-1] - first if before_reply else None,
        "time_to_admin_reply": first_reply - first if replies else None,
        "time_to_first_close": closes[0]["created_at"] - first if closes else None,
        "time_to_last_close": closes[-1]["created_at"] - first if closes else None,
        "first_contact_reply_at": first,
        "first_assignment_at": assignments[0] if assignments else None,
        "first_admin_reply_at": first_reply,
        "first_close_at": closes[0]["created_at"] if closes else None,
        "last_assignment_at": assignments[-1] if assignments else None,
        "last_contact_reply_at": max([first, *contact]),
        "last_admin_reply_at": replies[-1] if replies else None,
        "last_close_at": closes[-1]["created_at"] if closes else None,
        "last_closed_by_id": admin_closes[-1]["author"]["id"] if admin_closes else None,
        "count_reopens": sum(p["part_type"] in ("open", "assign_and_reopen") and p["created_at"] > first
                             for p in parts),
        "count_assignments": len(assignments),
        "count_conversation_parts": len(parts),
    }


def contact_refs(ws: Workspace, conv_id: str) -> list[dict[str, Any]]:
    """The conversation's current `contacts.contacts` without rendering the whole conversation."""
    return contact_refs_of(ws.conversations, conv_id, 5)


def apply_boundaries(ws: Workspace) -> None:
    """Put one record of each kind exactly on the day-boundary instants tests need."""
    times = ws.boundary_times()
    for kind in KINDS:
        records = ws.records(kind)
        ids = list(islice((i for i in records if i != ws.big_conversation_id), len(times)))
        ws.boundary_ids[kind] = {}
        for (label, ts), record_id in zip(times.items(), ids, strict=True):
            records.set_updated(record_id, ts)
            ws.boundary_ids[kind][label] = record_id
            plan = ws.part_plans.get(record_id)
            if plan is not None:
                ws.part_plans[record_id] = replace(plan, last_at=ts)


def generate_parts(ws: Workspace, plan: PartPlan) -> list[dict[str, Any]]:
    """A conversation's original parts, oldest first, from its plan (same plan, same parts)."""
    rng = random.Random(ws.seed * 1_000_003 + plan.number)
    span = max(0, plan.last_at - plan.created_at)
    parts = []
    for k in range(plan.count):
        at = plan.created_at + (span * (k + 1)) // plan.count
        admin = ws.admins[rng.randrange(len(ws.admins))]
        part_type = PART_TYPES[rng.randrange(len(PART_TYPES))] if k else "comment"
        by_contact = part_type == "comment" and (k == 0 or rng.random() < 0.5)
        if by_contact:
            author = {"type": plan.contact_role, "id": plan.contact_id, "name": plan.contact_name,
                      "email": plan.contact_email}
        else:
            author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
        parts.append(make_part(f"{10_000_000_000 + plan.number * 100_000 + k}", part_type,
                                BODIES[rng.randrange(len(BODIES))] if part_type in ("comment", "note") else None,
                                at, author,
                                {"type": "admin", "id": admin["id"]} if part_type == "assignment" else None))
    return parts


def make_part(part_id: str, part_type: str, body: str | None, at: int, author: dict[str, Any],
              assigned_to: dict[str, Any] | None) -> dict[str, Any]:
    """One conversation part in the 2.16 shape."""
    return {
        "type": "conversation_part",
        "id": part_id,
        "part_type": part_type,
        "body": body,
        "created_at": at,
        "updated_at": at,
        "notified_at": at,
        "assigned_to": assigned_to,
        "author": author,
        "attachments": [],
        "external_id": None,
        "redacted": False,
        "email_message_metadata": None,
        "state": "closed" if part_type == "close" else "open",
        "tags": [],
        "event_details": None,
        "app_package_code": None,
    }
