"""Builders of conversations and their parts (parts are regenerated on demand from a per-conversation plan)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .vocab import BIG_CONVERSATION_PARTS, BODIES, COMPANY_WORDS, DAY, KINDS, PART_TYPES

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclass(frozen=True)
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


def build_conversations(ws: Workspace, rng: random.Random) -> None:
    """Conversations in creation order; one (the "big" one) has more parts than the API shows."""
    contacts = list(ws.contacts.values())
    admins = ws.admins
    rows = []
    for recent in ws.recent_flags(rng, ws.size.conversations):
        rows.append(ws.times(rng, recent))
    rows.sort()
    big_index = len(rows) - 1 - len(rows) // 7
    for n, (created, updated) in enumerate(rows):
        conv_id = str(200_963_802_000_000 + n * 13 + rng.randint(0, 12))
        contact = contacts[rng.randrange(len(contacts))]
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
        conv_tags = rng.sample(ws.tags, k=rng.choice([0, 0, 1, 2]))
        plan = PartPlan(n, parts, created, updated, contact["id"], contact["name"], contact["email"],
                         contact["role"])
        ws.part_plans[conv_id] = plan
        body = BODIES[n % len(BODIES)]
        first_reply = created + rng.randint(60, 3 * 3600)
        ws.conversations[conv_id] = {
            "type": "conversation",
            "id": conv_id,
            "title": None if n % 3 else f"Question #{n} — {COMPANY_WORDS[n % len(COMPANY_WORDS)]}",
            "created_at": created,
            "updated_at": updated,
            "waiting_since": rng.randint(created, updated) if state == "open" and rng.random() < 0.5 else None,
            "snoozed_until": updated + 3 * DAY if state == "snoozed" else None,
            "open": state != "closed",
            "state": state,
            "read": rng.random() < 0.7,
            "priority": rng.choice(["none", "none", "low", "medium", "high", "urgent"]),
            "admin_assignee_id": int(admin["id"]) if admin else None,
            "team_assignee_id": int(team["id"]) if team else None,
            "tags": {"type": "tag.list", "tags": [
                {"type": "tag", "id": t["id"], "name": t["name"], "applied_at": created,
                 "applied_by": {"type": "admin", "id": admins[0]["id"]}} for t in conv_tags]},
            "conversation_rating": {
                "rating": rng.randint(1, 5), "remark": rng.choice(["", "Great help!", "Très bien 👍"]),
                "created_at": updated, "updated_at": updated,
                "contact": {"type": "contact", "id": contact["id"], "external_id": contact["external_id"]},
                "teammate": {"type": "admin", "id": admin["id"]},
            } if admin and state == "closed" and rng.random() < 0.3 else None,
            "source": {
                "type": "conversation",
                "id": str(403_918_000 + n),
                "delivered_as": "customer_initiated",
                "subject": "",
                "body": body,
                "author": {"type": contact["role"], "id": contact["id"], "name": contact["name"],
                           "email": contact["email"]},
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {"type": "contact.list", "contacts": [
                {"type": "contact", "id": contact["id"], "external_id": contact["external_id"]}]},
            # the real API's key (the description says `teammates`): see real-payloads/README.md
            "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": admin["id"]}] if admin else []},
            "custom_attributes": {"issue_type": rng.choice(["billing", "bug", "question", "ünïcode"]),
                                  "priority_score": rng.randint(0, 100)},
            "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
            "sla_applied": None,
            "statistics": {
                "type": "conversation_statistics",
                "time_to_assignment": 0,
                "time_to_admin_reply": first_reply - created,
                "first_contact_reply_at": created,
                "first_admin_reply_at": first_reply,
                "last_contact_reply_at": created,
                "count_reopens": rng.randint(0, 2),
                "count_assignments": 1 if admin else 0,
                "count_conversation_parts": parts,
            },
            "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
            "ai_agent_participated": False,
            "ai_agent": None,
        }


def apply_boundaries(ws: Workspace) -> None:
    """Put one record of each kind exactly on the day-boundary instants tests need."""
    times = ws.boundary_times()
    for kind in KINDS:
        records = getattr(ws, kind)
        ids = [i for i in records if i != ws.big_conversation_id][:len(times)]
        ws.boundary_ids[kind] = {}
        for (label, ts), record_id in zip(times.items(), ids, strict=True):
            records[record_id]["updated_at"] = ts
            ws.boundary_ids[kind][label] = record_id
            plan = ws.part_plans.get(record_id)
            if plan is not None:
                ws.part_plans[record_id] = PartPlan(
                    plan.number, plan.count, plan.created_at, ts, plan.contact_id, plan.contact_name,
                    plan.contact_email, plan.contact_role)


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
