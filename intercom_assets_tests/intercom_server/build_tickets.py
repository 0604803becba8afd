"""Ticket types, ticket states, tickets, and their parts (regenerated on demand from a per-ticket plan).

Shapes follow the 2.16 description's examples where they differ from its schemas (the examples are recorded
from the live API): a ticket type's `ticket_type_attributes` is `{"type": "list", "data": [...]}`, attribute
`input_options` may be null, unassigned tickets say 0 (not null) for `admin_assignee_id`/`team_assignee_id`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .build_people import contact_identity, contact_refs_of
from .vocab import BIG_TICKET_PARTS, BODIES, DAY, HISTORY_DAYS, sub_rng

if TYPE_CHECKING:
    from .workspace import Workspace

TICKET_ID_BASE = 215_431_000_000_000
CATEGORY_TERMS = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}
"""What ticket search's `category` field compares against (the description: search terms, not names)."""

# (name, category, icon, archived, [(attribute name, data type)])
TICKET_TYPES: list[tuple[str, str, str, bool, list[tuple[str, str]]]] = [
    ("Customer question", "Customer", "💬", False, [("Severity", "list"), ("Order number", "integer")]),
    ("Refund request", "Customer", "💸", False, [("Refund amount", "decimal"), ("Affects billing", "boolean")]),
    ("Bug report", "Tracker", "🐞", False, [("Severity", "list"), ("Screenshot", "files")]),
    ("Billing investigation", "Back-office", "🧾", False, [("Invoice number", "string")]),
    ("Onboarding (old)", "Customer", "🎓", True, []),
]
# (category, internal label, external label, archived)
TICKET_STATES: list[tuple[str, str, str, bool]] = [
    ("submitted", "Submitted", "Submitted", False),
    ("in_progress", "In progress", "In progress", False),
    ("in_progress", "With dev team", "In progress", False),
    ("waiting_on_customer", "Waiting on customer", "Waiting on you", False),
    ("resolved", "Resolved", "Resolved", False),
    ("resolved", "Closed as duplicate", "Resolved", True),
]
STATE_PATHS: dict[str, list[tuple[str, str]]] = {
    "submitted": [],
    "in_progress": [("submitted", "in_progress")],
    "waiting_on_customer": [("submitted", "in_progress"), ("in_progress", "waiting_on_customer")],
    "resolved": [("submitted", "in_progress"), ("in_progress", "resolved")],
}
TITLES = ["Can't export invoices", "Refund for order #{n}", "Le bouton « Payer » ne répond pas", "請求書が届かない",
          "App crashes on login 📱", "Wrong VAT on invoice", "Need SSO set up", "Data import stuck at 99%"]
SEVERITIES = ["Low", "Medium", "High", "Critical 🔥"]


@dataclass(frozen=True, slots=True)
class TicketPlan:
    """What is needed to regenerate a ticket's original parts deterministically."""

    number: int
    count: int
    created_at: int
    last_at: int
    contact_id: str
    contact_name: str | None
    contact_email: str | None
    final_state: str


def build_ticket_types(ws: Workspace) -> None:
    """Ticket types (with their attributes) and ticket states, created before the history starts."""
    rng = sub_rng(ws.seed, "ticket-types")
    created = ws.now - (HISTORY_DAYS + 20) * DAY
    workspace_id = ws.app_id
    states_short = []
    for i, (category, internal, external, archived) in enumerate(TICKET_STATES):
        states_short.append({"type": "ticket_state", "id": str(8_300 + i), "category": category,
                             "internal_label": internal, "external_label": external, "_archived": archived})
    attr_id = 160
    for i, (name, category, icon, archived, custom) in enumerate(TICKET_TYPES):
        type_id = str(40 + i)
        updated = rng.randint(created, ws.now - 40 * DAY)
        attributes = []
        for order, (attr_name, data_type, multiline) in enumerate(
                [("_default_title_", "string", False), ("_default_description_", "string", True)]
                + [(n, t, False) for n, t in custom]):
            attributes.append({
                "type": "ticket_type_attribute", "id": str(attr_id), "workspace_id": workspace_id,
                "name": attr_name, "description": "" if attr_name.startswith("_") else f"{attr_name} of the ticket",
                "data_type": data_type,
                "input_options": _input_options(data_type, multiline),
                "order": order, "required_to_create": attr_name == "_default_title_",
                "required_to_create_for_contacts": False, "visible_on_create": True,
                "visible_to_contacts": not attr_name.startswith("Invoice"), "default": attr_name.startswith("_"),
                "ticket_type_id": int(type_id), "archived": False, "created_at": created, "updated_at": updated,
            })
            attr_id += 1
        embedded = {"type": "ticket_type", "id": type_id, "category": category, "name": name,
                    "description": f"{name} — raised from the Inbox or the Messenger", "icon": icon,
                    "workspace_id": workspace_id, "archived": archived, "created_at": created, "updated_at": updated,
                    "is_internal": category == "Back-office",
                    "ticket_type_attributes": {"type": "list", "data": attributes}}
        ws.ticket_types.append(embedded)
    for state in states_short:
        archived = state.pop("_archived")
        ws.ticket_states.append(dict(state, archived=archived, ticket_types={"type": "list", "data": [
            {k: t[k] for k in ("type", "id", "name", "description", "icon", "archived", "is_internal", "category")}
            for t in ws.ticket_types]}))


def _input_options(data_type: str, multiline: bool) -> dict[str, Any] | None:
    """What the type's form offers; null for most types, as the live API's examples show."""
    if data_type == "string":
        return {"multiline": multiline}
    if data_type == "list":
        return {"list_options": [{"label": s} for s in SEVERITIES]}
    return None


def ticket_types_with_states(ws: Workspace) -> list[dict[str, Any]]:
    """GET /ticket_types items: each type with the states it can be in (all live ones)."""
    states = {"type": "list", "data": [state_ref(s) for s in ws.ticket_states if not s["archived"]]}
    return [dict(t, ticket_states=states) for t in ws.ticket_types]


def state_ref(state: dict[str, Any]) -> dict[str, Any]:
    """A ticket state as embedded in a ticket (without `archived` and `ticket_types`)."""
    return {k: state[k] for k in ("type", "id", "category", "internal_label", "external_label")}


def build_tickets(ws: Workspace) -> None:
    """Tickets over the history (15 % updated in the last 30 days), kept as rows (see render_ticket); one has
    more parts than the API shows."""
    rng = sub_rng(ws.seed, "tickets")
    contact_rows = [row for _, row in ws.contacts.rows()]
    conv_ids = list(ws.conversations)
    live_types = [t for t in ws.ticket_types if not t["archived"]]
    old_types = [t for t in ws.ticket_types if t["archived"]]
    states = {s["id"]: state_ref(s) for s in ws.ticket_states}
    by_category: dict[str, list[dict[str, Any]]] = {}
    for s in ws.ticket_states:
        by_category.setdefault(s["category"], []).append(states[s["id"]])
    rows = sorted(ws.times(rng, recent) for recent in ws.recent_flags(rng, ws.size.tickets))
    big_index = len(rows) - 1 - len(rows) // 5
    for n, (created, updated) in enumerate(rows):
        ticket_id = str(TICKET_ID_BASE + n * 11 + rng.randint(0, 10))
        old = created < ws.now - 300 * DAY and old_types and rng.random() < 0.3
        ticket_type = rng.choice(old_types if old else live_types)
        final = rng.choice(["submitted", "in_progress", "waiting_on_customer", "resolved", "resolved", "resolved"])
        state = rng.choice(by_category[final])
        contact = contact_identity(contact_rows[rng.randrange(len(contact_rows))])
        admin = ws.admins[rng.randrange(len(ws.admins))] if rng.random() < 0.75 else None
        team = ws.teams[rng.randrange(len(ws.teams))] if rng.random() < 0.5 else None
        parts = BIG_TICKET_PARTS if n == big_index else rng.randint(ws.size.min_ticket_parts, ws.size.max_ticket_parts)
        if n == big_index:
            ws.big_ticket_id = ticket_id
            updated = max(updated, ws.now - 2 * DAY)
        ws.ticket_plans[ticket_id] = TicketPlan(n, parts, created, updated, contact[0], contact[2], contact[3], final)
        linked = (conv_ids[rng.randrange(len(conv_ids))],) if conv_ids and rng.random() < 0.3 else ()
        path = STATE_PATHS[final]
        attributes = _attributes(rng, ticket_type, n)
        previous = rng.choice(by_category[path[-1][0]])["id"] if path else None
        snoozed = final == "waiting_on_customer" and rng.random() < 0.3
        ws.tickets.add(ticket_id, [updated, n, ticket_id, created, updated, ticket_type, state, contact, admin, team,
                                   final, linked, attributes, previous, snoozed])


def render_ticket(ws: Workspace, row: list[Any]) -> dict[str, Any]:
    """A ticket in API shape from its row."""
    (updated, n, ticket_id, created, built_updated, ticket_type, state, contact, admin, team, final, linked,
     attributes, previous, snoozed) = row
    ticket: dict[str, Any] = {
        "type": "ticket",
        "id": ticket_id,
        "ticket_id": str(n + 1),
        "category": ticket_type["category"],
        "ticket_attributes": dict(attributes),
        "ticket_state": state,
        "ticket_type": ticket_type,
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": contact[0], "external_id": contact[1]}]},
        "admin_assignee_id": int(admin["id"]) if admin else 0,
        "team_assignee_id": int(team["id"]) if team else 0,
        "created_at": created,
        "updated_at": updated,
        "open": final != "resolved",
        "linked_objects": {"type": "list", "data": [{"type": "conversation", "id": c, "category": None}
                                                    for c in linked],
                           "total_count": len(linked), "has_more": False},
        "is_shared": ticket_type["category"] == "Customer",
        "previous_ticket_state_id": previous,
    }
    if snoozed:
        ticket["snoozed_until"] = built_updated + 2 * DAY
    return ticket


def ticket_refs(ws: Workspace, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's current `contacts.contacts` without rendering the whole ticket."""
    return contact_refs_of(ws.tickets, ticket_id, 7)


def _attributes(rng: random.Random, ticket_type: dict[str, Any], n: int) -> dict[str, Any]:
    """The open `ticket_attributes` map: default title/description plus the type's own attributes."""
    out: dict[str, Any] = {"_default_title_": TITLES[n % len(TITLES)].format(n=n),
                           "_default_description_": BODIES[n % len(BODIES)] if n % 4 else None}
    for attr in ticket_type["ticket_type_attributes"]["data"]:
        name, data_type = attr["name"], attr["data_type"]
        if name.startswith("_") or rng.random() < 0.15:
            continue
        if data_type == "list":
            out[name] = rng.choice(SEVERITIES)
        elif data_type == "integer":
            out[name] = rng.randint(1000, 99_999)
        elif data_type == "decimal":
            out[name] = round(rng.uniform(1, 900), 2)
        elif data_type == "boolean":
            out[name] = rng.random() < 0.5
        elif data_type == "files":
            out[name] = [{"type": "upload", "name": f"screenshot-{n}.png", "url": f"https://files.example.com/{n}.png",
                          "content_type": "image/png", "filesize": rng.randint(10_000, 900_000),
                          "width": 1280, "height": 800}] if rng.random() < 0.6 else []
        else:
            out[name] = f"INV-{rng.randint(10_000, 99_999)}"
    return out


def generate_ticket_parts(ws: Workspace, plan: TicketPlan) -> list[dict[str, Any]]:
    """A ticket's original parts, oldest first; its state changes end in the ticket's current state."""
    rng = random.Random(ws.seed * 1_000_033 + plan.number)
    transitions = STATE_PATHS[plan.final_state]
    at_index = {((i + 1) * plan.count) // (len(transitions) + 1): t for i, t in enumerate(transitions)}
    span = max(0, plan.last_at - plan.created_at)
    contact_author: dict[str, Any] = {"type": "user", "id": plan.contact_id, "name": plan.contact_name}
    if plan.contact_email:
        contact_author["email"] = plan.contact_email
    parts = []
    for k in range(plan.count):
        at = plan.created_at + (span * (k + 1)) // plan.count
        admin = ws.admins[rng.randrange(len(ws.admins))]
        admin_author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
        part_id = str(20_000_000_000 + plan.number * 100_000 + k)
        if k in at_index:
            previous, current = at_index[k]
            part = make_ticket_part(part_id, "ticket_state_updated_by_admin", None, at, admin_author)
            part.update(previous_ticket_state=previous, ticket_state=current)
        else:
            part_type = rng.choice(["comment", "comment", "note", "assignment"])
            by_contact = part_type == "comment" and rng.random() < 0.5
            body = BODIES[rng.randrange(len(BODIES))] if part_type != "assignment" else None
            part = make_ticket_part(part_id, part_type, body, at, contact_author if by_contact else admin_author)
            if part_type == "assignment":
                part["assigned_to"] = {"type": "admin", "id": admin["id"]}
        parts.append(part)
    return parts


def make_ticket_part(part_id: str, part_type: str, body: str | None, at: int,
                     author: dict[str, Any]) -> dict[str, Any]:
    """One ticket part in the 2.16 shape (no null where the description does not allow one)."""
    return {"type": "ticket_part", "id": part_id, "part_type": part_type, "body": body, "created_at": at,
            "updated_at": at, "author": author, "attachments": [], "external_id": None, "redacted": False}
