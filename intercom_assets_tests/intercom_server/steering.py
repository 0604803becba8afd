"""Thread-safe mutations of a Workspace: the edits, deletions and merges tests make happen mid-run.

Each one does what Intercom does to the visible data: an edit moves `updated_at`; a deletion takes the
record out of every list, search and scroll (and makes its GET answer 404); a merge moves the lead's
conversations to the user, updated at the time of the merge, and records it in the user's merge history.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from typing import Any

from .build_conversations import contact_refs, make_part
from .build_people import company_list
from .build_tickets import make_ticket_part, ticket_refs
from .vocab import KINDS, to_unix


class Steering:
    """Mixin of Workspace (which provides the record dicts, `lock` and `generation`)."""

    # ---- edits --------------------------------------------------------------------------------
    def touch(self, kind: str, record_id: str, updated_at: datetime | int) -> None:
        """Set a record's updated_at (simulates an edit); kind is one of RECORD_KINDS."""
        ts = to_unix(updated_at)
        with self.lock:
            records = self.records(kind)
            if record_id not in records:
                raise KeyError(f"no {kind} record {record_id!r}")
            records.set_updated(record_id, ts)
            self.generation += 1

    def add_parts(self, conv_id: str, n: int, at: datetime | int) -> list[dict[str, Any]]:
        """Append n admin comments at `at`; bumps the conversation's updated_at and part count."""
        ts = to_unix(at)
        with self.lock:
            if conv_id not in self.conversations:
                raise KeyError(conv_id)
            author = self._admin_author()
            new = []
            for _ in range(n):
                self._next_extra_part += 1
                new.append(make_part(str(90_000_000_000 + self._next_extra_part), "comment",
                                     f"<p>Follow-up #{self._next_extra_part} ✉️</p>", ts, author, None))
            self._extra_parts.setdefault(conv_id, []).extend(new)
            self.conversations.set_updated(conv_id, ts)  # its statistics follow from its parts
            self.generation += 1
            return new

    def add_ticket_parts(self, ticket_id: str, n: int, at: datetime | int) -> list[dict[str, Any]]:
        """Append n admin comments to a ticket at `at`; bumps the ticket's updated_at."""
        ts = to_unix(at)
        with self.lock:
            if ticket_id not in self.tickets:
                raise KeyError(ticket_id)
            author = self._admin_author()
            new = []
            for _ in range(n):
                self._next_extra_part += 1
                new.append(make_ticket_part(str(95_000_000_000 + self._next_extra_part), "comment",
                                            f"<p>Ticket follow-up #{self._next_extra_part} 🎫</p>", ts, author))
            self._extra_ticket_parts.setdefault(ticket_id, []).extend(new)
            self.tickets.set_updated(ticket_id, ts)
            self.generation += 1
            return new

    def bump_fraction(self, fraction: float, at: datetime | int, seed: int,
                      kinds: tuple[str, ...] = KINDS) -> dict[str, list[str]]:
        """Touch a seeded `fraction` of each kind (contacts, companies, conversations by default)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        rng = random.Random(seed)
        out: dict[str, list[str]] = {}
        with self.lock:
            for kind in kinds:
                ids = list(self.records(kind))
                chosen = rng.sample(ids, k=round(len(ids) * fraction))
                for record_id in chosen:
                    self.touch(kind, record_id, at)
                out[kind] = chosen
        return out

    # ---- deletions and merges -----------------------------------------------------------------
    def delete_contact(self, contact_id: str, at: datetime | int) -> None:
        """Delete a contact: it leaves list and search, and GET /contacts/{id} answers 404."""
        ts = to_unix(at)
        with self.lock:
            if self.contacts.pop(contact_id, None) is None:
                raise KeyError(f"no live contact {contact_id!r}")
            self.deleted_contacts[contact_id] = ts
            self.contact_tag_ids.pop(contact_id, None)
            self.contact_company_ids.pop(contact_id, None)
            self.generation += 1

    def merge_contact(self, lead_id: str, user_id: str, at: datetime | int) -> list[str]:
        """Merge a lead into a user (as POST /contacts/merge): returns the ids of the conversations moved.

        The lead leaves list and search (GET answers 410, or 404 with the server's knob); its
        conversations (and tickets) now name the user and are updated at `at`; the user is updated at `at`
        and its merge history names the lead.
        """
        ts = to_unix(at)
        with self.lock:
            lead, user = self.contacts.get(lead_id), self.contacts.get(user_id)
            if lead is None or user is None:
                raise KeyError(f"both contacts must be live: {lead_id!r}, {user_id!r}")
            if lead["role"] != "lead" or user["role"] != "user":
                raise ValueError("only a lead can be merged, and only into a user")
            moved = [cid for cid in self.conversations
                     if any(c["id"] == lead_id for c in contact_refs(self, cid))]
            for conv_id in moved:
                self.move_conversation(conv_id, lead_id, user, ts)
            for ticket_id in [t for t in self.tickets if any(c["id"] == lead_id for c in ticket_refs(self, t))]:
                self._move_ticket(ticket_id, lead_id, user, ts)
            self.contacts.pop(lead_id)
            self.record_merge(lead_id, "lead", user, ts)
            self.generation += 1
            return moved

    def delete_conversation(self, conv_id: str, at: datetime | int, metrics_retained: bool = False) -> None:
        """Delete a conversation: it leaves list and search, GET answers 404, and /conversations/deleted lists it."""
        ts = to_unix(at)
        with self.lock:
            if self.conversations.pop(conv_id, None) is None:
                raise KeyError(f"no live conversation {conv_id!r}")
            self.part_plans.pop(conv_id, None)
            self._extra_parts.pop(conv_id, None)
            self.deleted_conversations[conv_id] = {"deleted_at": ts, "metrics_retained": metrics_retained}
            self.generation += 1

    def delete_ticket(self, ticket_id: str, at: datetime | int) -> None:
        """Delete a ticket (DELETE /tickets/{id}, 2.13+): it leaves search and GET answers 404; no list says so."""
        ts = to_unix(at)
        with self.lock:
            if self.tickets.pop(ticket_id, None) is None:
                raise KeyError(f"no live ticket {ticket_id!r}")
            self.deleted_tickets[ticket_id] = ts
            self.generation += 1

    def delete_company(self, company_id: str, at: datetime | int) -> list[str]:
        """Delete (archive) a company: it leaves the scroll, GET answers 404, and its contacts are detached.

        Returns the ids of the contacts detached; as on Intercom, their updated_at does not move.
        """
        ts = to_unix(at)
        with self.lock:
            if self.companies.pop(company_id, None) is None:
                raise KeyError(f"no live company {company_id!r}")
            self.deleted_companies[company_id] = ts
            detached = []
            for contact_id in self.contacts:
                shown = self.embedded_company_ids(contact_id)
                full = self.contact_company_ids.get(contact_id)
                if company_id not in shown and not (full and company_id in full):
                    continue
                detached.append(contact_id)
                embedded = self.contacts[contact_id]["companies"]
                kept = [c for c in shown if c != company_id]
                total = embedded["total_count"] - 1
                self.contacts.patch(contact_id, companies=company_list(
                    contact_id, kept, total, embedded["has_more"] and total > len(kept)))
                if full:
                    full.remove(company_id)
            self.generation += 1
            return detached

    # ---- helpers shared with the seeded history -----------------------------------------------
    def move_conversation(self, conv_id: str, from_id: str, user: dict[str, Any], ts: int) -> None:
        """Re-point a conversation from a merged-away contact to the surviving user, updated at `ts`."""
        conv = self.conversations[conv_id]
        ref = {"type": "contact", "id": user["id"], "external_id": user["external_id"]}
        refs = [c for c in conv["contacts"]["contacts"] if c["id"] not in (from_id, user["id"])]
        self.conversations.patch(conv_id, contacts={"type": "contact.list", "contacts": [ref, *refs]})
        source = conv["source"]
        if source["author"]["id"] == from_id:
            self.conversations.patch(conv_id, source=dict(
                source, author={"type": "user", "id": user["id"], "name": user["name"], "email": user["email"]}))
        plan = self.part_plans.get(conv_id)
        if plan is not None and plan.contact_id == from_id:
            self.part_plans[conv_id] = replace(plan, contact_id=user["id"], contact_name=user["name"],
                                               contact_email=user["email"], contact_role="user")
        self.conversations.set_updated(conv_id, max(conv["updated_at"], ts))

    def _move_ticket(self, ticket_id: str, from_id: str, user: dict[str, Any], ts: int) -> None:
        """Tickets are conversations underneath: a merge moves them to the user too, updated at `ts`."""
        refs = [c for c in ticket_refs(self, ticket_id) if c["id"] not in (from_id, user["id"])]
        self.tickets.patch(ticket_id, contacts={"type": "contact.list", "contacts": [
            {"type": "contact", "id": user["id"], "external_id": user["external_id"]}, *refs]})
        plan = self.ticket_plans.get(ticket_id)
        if plan is not None and plan.contact_id == from_id:
            self.ticket_plans[ticket_id] = replace(plan, contact_id=user["id"], contact_name=user["name"],
                                                   contact_email=user["email"])
        self.tickets.set_updated(ticket_id, max(self.tickets.updated_at(ticket_id), ts))

    def record_merge(self, lead_id: str, role: str, user: dict[str, Any], ts: int) -> None:
        """Remember a merge: the merged-away id points at the user, whose merge history names it."""
        self.merged_contacts[lead_id] = {"into": user["id"], "merged_at": ts, "role": role}
        self.merge_history.setdefault(user["id"], []).append(
            {"type": "merge_history", "source_contact_id": lead_id, "source_contact_role": role, "merged_at": ts})
        self.contacts.set_updated(user["id"], max(self.contacts.updated_at(user["id"]), ts))

    def merge_target(self, contact_id: str) -> str | None:
        """The live contact a merged-away id ended up in (following merge chains), or None."""
        seen = 0
        target = None
        while contact_id in self.merged_contacts and seen < 4:
            contact_id = target = self.merged_contacts[contact_id]["into"]
            seen += 1
        return target

    def _admin_author(self) -> dict[str, Any]:
        admin = self.admins[0]
        return {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
