"""The 2.16 resources added after the core ones: calls (with transcripts), a conversation's handling events and
side conversations, notes on contacts and companies, a contact's segments and subscriptions, macros, office hours
(with exceptions), brands, sender addresses, internal articles, content snippets, audiences, AI pages and import
sources, data connectors (with failed runs), help center redirects and the activity log's event types.

Per-record lists are a function of (seed, record id, the record's times), drawn when asked, so they cost nothing
at xlarge until read; calls are drawn once over the conversations (3 %, at least 40). Times follow the
description: Unix seconds,
except macros, data connectors, their runs and handling events, which it gives as ISO-8601 text. Notes added with
`add_contact_note` do not move the contact's updated_at (the description does not say that a note does).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .activity import ACTIVITY_TYPES
from .store import CREATED
from .vocab import DAY, sub_rng

if TYPE_CHECKING:
    from .workspace import Workspace

CALL_SHARE = 0.03
MIN_CALLS = 40  # at least this many calls at the small scale, so a short window meets some
NOTE_BODIES = ("<p>Called about the invoice 📞 — <b>follow up</b> Friday</p>", "<p>VIP 🌟 asked for a demo</p>",
               "<p>Prefers email; café owner ☕ &amp; reseller</p>", "<p>Renewal at risk ⚠️</p>")


def iso(ts: int) -> str:
    """Unix seconds as the description's ISO-8601 text (`2025-07-17T11:18:08.000Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _between(rng: Any, low: int, high: int) -> int:
    return rng.randint(low, max(low, high))


class NewerResources:
    """The newer resources over one workspace (lists built at start, per-record lists drawn when read)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.lock = threading.Lock()
        self._calls: list[dict[str, Any]] | None = None
        self.added_contact_notes: dict[str, list[dict[str, Any]]] = {}
        rng = sub_rng(ws.seed, "newer")
        now, admins = ws.now, ws.admins
        admin_id = [a["id"] for a in admins]
        self.macros = [{
            "type": "macro", "id": str(9000 + n), "name": f"Macro {n}: order status",
            "body": f"<p>Hi <attribute key=\"user.name\" default=\"there\"/>, update #{n} 🚚</p>",
            "body_text": f"Hi {{{{user.name|fallback:\"there\"}}}}, update #{n} 🚚",
            "created_at": iso(now - (400 - n * 12) * DAY), "updated_at": iso(now - (n * 37 % 90) * DAY - n * 3600),
            "visible_to": "everyone" if n % 3 else "specific_teams",
            "visible_to_team_ids": [] if n % 3 else [t["id"] for t in ws.teams[:1]],
            "available_on": ["inbox", "messenger"] if n % 2 else ["inbox"],
        } for n in range(30)]
        self.macros.sort(key=lambda m: (m["updated_at"], m["id"]), reverse=True)
        self.office_hours_schedules = [{
            "type": "office_hours_schedule", "id": str(120 + i), "name": name, "time_zone_name": ws.timezone,
            "time_intervals": [{"start_minute": d * 1440 + 540, "end_minute": d * 1440 + 1020, "day_of_week": d}
                               for d in range(5 if i == 0 else 7)],
            "twenty_four_seven": False, "created_at": now - 300 * DAY, "updated_at": now - (20 + i) * DAY,
        } for i, name in enumerate(("Standard Support Hours", "Weekend Cover"))]
        self.office_hours_exceptions = {s["id"]: [
            {"type": "office_hours_exception", "id": f"{s['id']}1", "office_hours_schedule_id": s["id"],
             "exception_date": "2026-12-25", "exception_type": "closed", "name": "Christmas Day",
             "time_intervals": None, "recurring_annually": True, "created_at": now - 90 * DAY,
             "updated_at": now - 90 * DAY},
            {"type": "office_hours_exception", "id": f"{s['id']}2", "office_hours_schedule_id": s["id"],
             "exception_date": "2026-12-24", "exception_type": "custom_hours", "name": "Christmas Eve",
             "time_intervals": [{"start_minute": 540, "end_minute": 780, "day_of_week": 3}],
             "recurring_annually": True, "created_at": now - 60 * DAY, "updated_at": now - 5 * DAY},
        ] for s in self.office_hours_schedules}
        self.brands = [{
            "type": "brand", "id": str(9 + i), "name": name, "is_default": i == 0, "created_at": now - 500 * DAY,
            "updated_at": now - (40 - i) * DAY, "help_center_id": ws.help_centers[i % len(ws.help_centers)]["id"],
            "default_address_settings_id": str(1 + i),
        } for i, name in enumerate(("Acme", "Acme Pro"))]
        self.email_settings = [{
            "type": "email_setting", "id": str(1 + i), "email": f"{box}@acme.example", "verified": i < 2,
            "domain": "acme.example", "brand_id": self.brands[min(i, 1)]["id"], "forwarding_enabled": i == 0,
            "forwarded_email_last_received_at": now - DAY if i == 0 else None, "created_at": now - 450 * DAY,
            "updated_at": now - (10 + i) * DAY,
        } for i, box in enumerate(("support", "hello", "billing"))]
        self.internal_articles = [{
            "type": "internal_article", "id": str(3300 + n), "title": f"Runbook {n} ✅",
            "body": f"<p>Step {n}: escalate to tier 2</p>", "body_markdown": f"Step {n}: escalate to tier 2",
            "owner_id": int(admin_id[n % len(admin_id)]), "author_id": int(admin_id[0]),
            "created_at": now - (300 - n) * DAY, "updated_at": now - n * 7 * DAY, "locale": "en",
            "audience_ids": [1] if n % 2 else [], "ai_chatbot_availability": n % 2 == 0,
            "ai_copilot_availability": True, "ai_sales_agent_availability": False,
        } for n in range(12)]
        self.content_snippets = [{
            "type": "content_snippet", "id": str(500 + n), "title": f"Snippet {n}", "locale": "en",
            "json_blocks": [{"type": "paragraph", "text": f"Refunds take {n + 3} days 💸"}],
            "body_markdown": f"Refunds take {n + 3} days 💸", "chatbot_availability": 1, "copilot_availability": 1,
            "ai_chatbot_availability": True, "ai_copilot_availability": n % 2 == 0,
            "ai_sales_agent_availability": False,
            "created_at": now - 200 * DAY, "updated_at": now - n * DAY, "audience_ids": [1, 2] if n == 0 else [],
        } for n in range(7)]
        self.audiences = [{
            "type": "audience", "id": str(1 + n), "name": f"Audience {n}",
            "predicates": [{"attribute": "company.name", "type": "string", "comparison": "contains",
                            "value": "Acme"}],
            "role_predicates": [{"attribute": "role", "type": "role", "comparison": "eq", "value": "user"}],
            "created_at": now - 100 * DAY, "updated_at": now - n * 3 * DAY,
        } for n in range(4)]
        self.content_import_sources = [{
            "type": "content_import_source", "id": 7700 + n, "last_synced_at": now - (n + 1) * 3600,
            "sync_behavior": ("automatic", "api")[n], "status": "active", "url": f"https://docs{n}.example.com",
            "created_at": now - 80 * DAY, "updated_at": now - DAY, "audience_ids": [],
        } for n in range(2)]
        self.external_pages = [{
            "type": "external_page", "id": str(88_000 + n), "title": f"Docs page {n}",
            "html": f"<h1>Page {n}</h1><p>Résumé ✨</p>", "url": f"https://docs0.example.com/p/{n}",
            "ai_agent_availability": True, "ai_copilot_availability": True, "ai_sales_agent_availability": False,
            "fin_availability": True, "locale": "en", "source_id": 7700 + n % 2, "external_id": f"ext-{n}",
            "created_at": now - 60 * DAY, "updated_at": now - n * DAY, "last_ingested_at": now - n * DAY,
        } for n in range(15)]
        self.data_connectors = [{
            "type": "data_connector", "id": str(12_345 + n), "name": f"Connector {n}",
            "description": "Fetches order status" if n else None, "state": ("live", "draft", "live")[n],
            "http_method": "post" if n % 2 == 0 else "get", "direct_fin_usage": n == 0,
            "created_by_admin_id": admin_id[0], "updated_by_admin_id": admin_id[-1],
            "created_at": iso(now - 200 * DAY), "updated_at": iso(now - (n + 1) * DAY),
            "execution_results_url": f"/data_connectors/{12_345 + n}/execution_results",
        } for n in range(3)]
        self.execution_results = {c["id"]: [] for c in self.data_connectors}
        for k in range(120):
            connector = self.data_connectors[k % 2]
            ok = rng.random() > 0.25  # a quarter of the runs fail
            at = now - rng.randint(60, 20 * DAY)
            run = {
                "type": "data_connector.execution", "id": str(99_000 + k), "data_connector_id": connector["id"],
                "success": ok, "http_status": 200 if ok else rng.choice((None, 500, 502)), "http_method": "post",
                "execution_time_ms": rng.randint(40, 900), "source_type": "workflow", "source_id": "5001",
                "created_at": iso(at), "request_url": "https://api.vendor.example/hook",
            }
            if not ok:  # as the description's example: a successful run carries no error fields
                run.update(error_type="3rd_party_error", error_message="Connection refused")
            self.execution_results[connector["id"]].append(run)
        for runs in self.execution_results.values():
            runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        self.redirects = {hc["id"]: [{
            "id": f"{hc['id']}{n:03d}", "type": "help_center_redirect", "from_url": f"https://old.example/{n}",
            "locale": "en", "help_center_id": hc["id"], "target_type": "article", "target_id": str(100 + n),
            "created_at": now - 50 * DAY, "updated_at": now - n * DAY,
        } for n in range(5)] for hc in ws.help_centers}
        self.event_types = sorted({name for name, _ in ACTIVITY_TYPES})

    # ---- calls --------------------------------------------------------------------------------
    def calls(self) -> list[dict[str, Any]]:
        """Calls on about 3 % of the conversations (at least 40), drawn once (in conversation order)."""
        with self.lock:
            if self._calls is None:
                self._calls = self._draw_calls()
            return self._calls

    def _draw_calls(self) -> list[dict[str, Any]]:
        ws, rng = self.ws, sub_rng(self.ws.seed, "calls")
        store, calls = ws.conversations, []
        ids = ws.ids("conversations")
        share = max(CALL_SHARE, MIN_CALLS / max(1, len(ids)))
        for n, conv_id in enumerate(ids):
            if rng.random() >= share:
                continue
            created, updated = store.row(conv_id)[CREATED], store.updated_at(conv_id)
            # the call ends shortly before the conversation's last update (the call's own notes bumped it)
            start = max(created, updated - rng.randint(600, 3600))
            ended = min(updated, start + rng.randint(60, 590))
            calls.append({
                "type": "call", "id": str(700_000 + n), "conversation_id": conv_id,
                "admin_id": ws.admins[n % len(ws.admins)]["id"], "contact_id": None, "state": "completed",
                "initiated_at": start, "answered_at": start + 4, "ended_at": ended, "created_at": start,
                "updated_at": min(ended, ws.now),
                "recording_url": f"https://api.intercom.io/calls/{700_000 + n}/recording",
                "transcription_url": None, "call_type": "phone", "direction": ("inbound", "outbound")[n % 2],
                "ended_reason": "hung_up", "phone": f"+1555{n % 10_000_000:07d}", "fin_recording_url": None,
                "fin_transcription_url": None,
            })
        return calls

    def transcript(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        """A short transcript (none for every fourth call: `transcript_status` not_available)."""
        if int(call["id"]) % 4 == 0:
            return []
        return [{"speaker": ("agent", "customer")[i % 2], "text": ("Hello! 👋", "My order is late", "Let me check")[i],
                 "start_time": i * 4.5, "end_time": i * 4.5 + 4} for i in range(3)]

    # ---- per-record lists ---------------------------------------------------------------------
    def _times(self, record: dict[str, Any]) -> tuple[int, int]:
        return int(record.get("created_at") or self.ws.now), int(record.get("updated_at") or self.ws.now)

    def notes(self, kind: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Notes on 15 % of contacts (10 % of companies), written between the record's creation and update."""
        rng = sub_rng(self.ws.seed, f"notes/{record['id']}")
        if rng.random() >= (0.15 if kind == "contact" else 0.10):
            return list(self.added_contact_notes.get(record["id"], ()))
        created, updated = self._times(record)
        admin = self.ws.admins[rng.randrange(len(self.ws.admins))]
        notes = [{
            "type": "note", "id": str(rng.randrange(10**9)), "created_at": _between(rng, created, updated),
            kind: {"type": kind, "id": record["id"]},
            "author": {k: admin.get(k) for k in ("type", "id", "name", "email", "away_mode_enabled",
                                                 "away_mode_reassign")},
            "body": rng.choice(NOTE_BODIES),
        } for _ in range(rng.randint(1, 3))]
        notes.sort(key=lambda note: note["created_at"], reverse=True)
        return [*self.added_contact_notes.get(record["id"], ()), *notes]

    def contact_segments(self, contact: dict[str, Any]) -> list[dict[str, Any]]:
        rng = sub_rng(self.ws.seed, f"segments/{contact['id']}")
        segments = [s for s in self.ws.segments if s.get("person_type") in (None, contact.get("role"))]
        return [dict(s) for s in rng.sample(segments, k=min(len(segments), rng.randint(0, 2)))]

    def contact_subscriptions(self, contact: dict[str, Any]) -> list[dict[str, Any]]:
        rng = sub_rng(self.ws.seed, f"subscriptions/{contact['id']}")
        types = self.ws.subscription_types
        return [dict(t) for t in rng.sample(types, k=min(len(types), rng.randint(0, 2)))]

    def handling_events(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        """Pause/resume pairs on 20 % of the conversations."""
        rng = sub_rng(self.ws.seed, f"handling/{conversation['id']}")
        if rng.random() >= 0.20:
            return []
        created, updated = self._times(conversation)
        admin = self.ws.admins[rng.randrange(len(self.ws.admins))]
        teammate = {"type": "admin", "id": int(admin["id"]), "name": admin["name"], "email": admin["email"]}
        events = []
        for _ in range(rng.randint(1, 2)):
            paused = _between(rng, created, updated - 1)
            events.append({"teammate": teammate, "type": "paused", "timestamp": iso(paused), "reason": "Lunch 🍕"})
            resumed = _between(rng, paused + 1, updated)
            events.append({"teammate": teammate, "type": "resumed", "timestamp": iso(resumed)})
        return events

    def side_conversations(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        """One or two internal threads on 8 % of the conversations, each with a few parts."""
        rng = sub_rng(self.ws.seed, f"side/{conversation['id']}")
        if rng.random() >= 0.08:
            return []
        created, updated = self._times(conversation)
        admin = self.ws.admins[rng.randrange(len(self.ws.admins))]
        sides = []
        for _ in range(rng.randint(1, 2)):
            side_id = str(rng.randrange(10**9))
            parts = [{
                "type": "conversation_part", "id": str(rng.randrange(10**10)), "part_type": "comment",
                "body": f"<p>Internal note {p} 🔒</p>",
                "author": {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]},
                "created_at": (at := _between(rng, created, updated)), "updated_at": at,
            } for p in range(rng.randint(1, 3))]
            sides.append({"side_conversation_id": side_id, "conversation_parts": parts, "total_count": len(parts)})
        return sides
