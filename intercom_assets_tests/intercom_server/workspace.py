"""Seeded synthetic Intercom workspace in the shapes of the 2.16 OpenAPI description.

The data is deterministic for a (seed, scale, now, timezone) so tests can assert exact counts,
and it carries the awkward cases that break extractors: old records updated recently, nulls where
the description does not allow them, mixed-type custom attributes, unicode and HTML bodies, a
conversation with more than 500 parts, and timestamps exactly on UTC and workspace midnights.
Conversation parts are generated on demand from a per-conversation seed to keep large scale cheap.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAY = 86_400
HISTORY_DAYS = 400
RECENT_DAYS = 30
RECENT_SHARE = 0.15
BIG_CONVERSATION_PARTS = 612
KINDS = ("contacts", "companies", "conversations")


@dataclass(frozen=True)
class ScaleSpec:
    """Sizes of one scale."""

    contacts: int
    companies: int
    conversations: int
    min_parts: int
    max_parts: int
    admins: int
    teams: int
    tags: int
    segments: int
    company_segments: int


SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(600, 150, 300, 3, 8, 12, 4, 15, 8, 5),
    "medium": ScaleSpec(30_000, 6_000, 9_000, 4, 12, 40, 8, 40, 16, 10),
    "large": ScaleSpec(100_000, 20_000, 30_000, 6, 14, 80, 12, 80, 24, 15),
}

FIRST_NAMES = ["Ada", "Zoë", "José", "Ольга", "李", "Søren", "Amélie", "Oluwaseun", "Nguyễn", "Mia",
               "Liam", "Noah", "Émile", "Björk", "Aiyana", "Dmitri", "Ngozi", "Yuki", "Fatima", "Chloé"]
LAST_NAMES = ["Lovelace", "Ångström", "García", "Иванова", "小龙", "Kierkegaard", "Poulain", "Adeyemi",
              "Văn An", "O'Brien", "Müller", "Dupont", "Gudmundsdottir", "Kowalski", "Tanaka", "Haddad"]
COMPANY_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne",
                 "Soylent", "Vandelay", "Pied Piper", "Müller & Söhne", "Zürich Labs", "東京 Trading", "Café Olé"]
INDUSTRIES = ["SaaS", "ecommerce", "Fintech", "Healthcare", "Education", "Logistics", "Media"]
PLANS = [("plan_basic", "Basic"), ("plan_pro", "Pro"), ("plan_enterprise", "Enterprise")]
COUNTRIES = [("United States", "California", "San Francisco"), ("Ireland", "Leinster", "Dublin"),
             ("Germany", "Bavaria", "München"), ("Japan", "Tokyo", "Shibuya"), ("Brazil", "São Paulo", "Campinas"),
             (None, None, None)]
BODIES = [
    "<p>Hi there 👋 I can't log in since this morning.</p>",
    "<p>Grüße aus München! Die Rechnung für <b>März</b> fehlt.</p>",
    "<p>你好，我的账单有问题。</p>",
    "<p>Can you check <a href=\"https://example.com/order?id=1&amp;x=2\">this order</a>?</p>",
    "<p>Line one<br>Line two &amp; a half &lt;tag&gt;</p>",
    "<p>مرحبا، أحتاج إلى مساعدة في حسابي</p>",
    "<p>Merci beaucoup — ça marche maintenant ✅</p>",
    "<p>Thanks!</p>",
    "<ul><li>step 1</li><li>step 2</li></ul><p>still broken 😞</p>",
    "<p>Quote: \"it's fine\" \\ backslash and tab\tinside</p>",
]
PART_TYPES = ["comment", "comment", "comment", "note", "assignment", "open", "close", "snoozed"]

CONTACT_ATTRIBUTES: list[tuple[str, str, str]] = [
    ("plan_tier", "string", "Plan tier"),
    ("seats", "integer", "Seats"),
    ("mrr", "float", "Monthly recurring revenue"),
    ("beta_user", "boolean", "Beta user"),
    ("last_nps", "integer", "Last NPS score"),
    ("favourite_colour", "string", "Favourite colour (ünïcödé)"),
    ("trial_ends_at", "date", "Trial ends at"),
]
COMPANY_ATTRIBUTES: list[tuple[str, str, str]] = [
    ("account_tier", "string", "Account tier"),
    ("employee_band", "integer", "Employee band"),
    ("health_score", "float", "Health score"),
    ("is_enterprise", "boolean", "Enterprise account"),
    ("renewal_owner", "string", "Renewal owner"),
]
CONTACT_BUILTINS: list[tuple[str, str, str, str]] = [
    ("name", "name", "string", "Name"),
    ("email", "email", "string", "Email"),
    ("phone", "phone", "string", "Phone"),
    ("external_id", "external_id", "string", "User ID"),
    ("role", "role", "string", "Role"),
    ("created_at", "created_at", "date", "Signed up"),
    ("updated_at", "updated_at", "date", "Updated at"),
    ("last_seen_at", "last_seen_at", "date", "Last seen"),
    ("owner_id", "owner_id", "integer", "Owner"),
    ("unsubscribed_from_emails", "unsubscribed_from_emails", "boolean", "Unsubscribed from emails"),
    ("name", "location.country", "string", "Country"),
    ("name", "location.city", "string", "City"),
]
COMPANY_BUILTINS: list[tuple[str, str, str, str]] = [
    ("name", "name", "string", "Company name"),
    ("company_id", "company_id", "string", "Company ID"),
    ("last_request_at", "last_request_at", "date", "Company last seen"),
    ("remote_created_at", "remote_created_at", "date", "Company created at"),
    ("user_count", "user_count", "integer", "People"),
    ("session_count", "session_count", "integer", "Company web sessions"),
    ("name", "plan.name", "string", "Plan"),
    ("monthly_spend", "monthly_spend", "float", "Monthly Spend"),
    ("size", "size", "integer", "Company size"),
    ("industry", "industry", "string", "Company industry"),
    ("website", "website", "string", "Company website"),
]


@dataclass(frozen=True)
class _PartPlan:
    """What is needed to regenerate a conversation's original parts deterministically."""

    number: int
    count: int
    created_at: int
    last_at: int
    contact_id: str
    contact_name: str | None
    contact_email: str | None
    contact_role: str


def to_unix(value: datetime | int | float) -> int:
    """Unix seconds from an aware datetime or a number (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(value)


def object_id(created_at: int, rng: random.Random) -> str:
    """A Mongo-ObjectId-like 24-hex id whose first 8 hex digits are the creation time, as Intercom's."""
    return f"{created_at & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


class Workspace:
    """The workspace's records in API shape, plus thread-safe mutation helpers used by tests."""

    def __init__(self, seed: int = 1, scale: str = "small", now: datetime | None = None,
                 timezone: str = "America/Los_Angeles") -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        self.seed = seed
        self.scale = scale
        self.size = SCALES[scale]
        self.now = to_unix(now if now is not None else datetime.now(UTC))
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.app_id = f"app{seed:05d}x"
        self.lock = threading.RLock()
        self.generation = 0
        self.contacts: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.admins: list[dict[str, Any]] = []
        self.teams: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.segments: list[dict[str, Any]] = []
        self.company_segments: list[dict[str, Any]] = []
        self.segment_counts: dict[str, int] = {}
        self.boundary_ids: dict[str, dict[str, str]] = {}
        self.big_conversation_id = ""
        self._part_plans: dict[str, _PartPlan] = {}
        self._extra_parts: dict[str, list[dict[str, Any]]] = {}
        self._next_extra_part = 0
        self._rng = random.Random(seed)
        self._build()

    # ---- time helpers -------------------------------------------------------------------------
    def day_start(self, day: date) -> int:
        """Unix seconds of the workspace-time-zone midnight that starts `day`."""
        return int(datetime.combine(day, time(0), tzinfo=self.tz).timestamp())

    def local_day(self, ts: int) -> date:
        """The workspace-time-zone calendar day that contains `ts`."""
        return datetime.fromtimestamp(ts, self.tz).date()

    def boundary_times(self) -> dict[str, int]:
        """The exact instants the boundary records are updated at (all inside the last 30 days)."""
        day = self.local_day(self.now - 3 * DAY)
        utc_day = datetime.fromtimestamp(self.now - 3 * DAY, UTC).date()
        return {
            "utc_midnight": int(datetime.combine(utc_day, time(0), tzinfo=UTC).timestamp()),
            "tz_midnight": self.day_start(day),
            "tz_235959": self.day_start(day + timedelta(days=1)) - 1,
            "tz_next_midnight": self.day_start(day + timedelta(days=1)),
        }

    # ---- generation ---------------------------------------------------------------------------
    def _times(self, rng: random.Random, recent: bool) -> tuple[int, int]:
        """(created_at, updated_at): 15 % are updated in the last 30 days, most of them created long ago."""
        start = self.now - HISTORY_DAYS * DAY
        cutoff = self.now - RECENT_DAYS * DAY
        if recent:
            if rng.random() < 0.3:
                created = rng.randint(cutoff, self.now - 3600)
            else:
                created = rng.randint(start, cutoff - DAY)
            updated = rng.randint(max(created, cutoff + 1), self.now - 1)
        else:
            created = rng.randint(start, cutoff - 2 * DAY)
            updated = rng.randint(created, min(created + 120 * DAY, cutoff - DAY))
        return created, updated

    def _recent_flags(self, rng: random.Random, count: int) -> list[bool]:
        recent = round(count * RECENT_SHARE)
        flags = [True] * recent + [False] * (count - recent)
        rng.shuffle(flags)
        return flags

    def _build(self) -> None:
        rng = self._rng
        self._build_admins_teams(rng)
        self._build_tags_segments(rng)
        self._build_companies(rng)
        self._build_contacts(rng)
        self._build_conversations(rng)
        self._apply_boundaries()

    def _build_admins_teams(self, rng: random.Random) -> None:
        size = self.size
        admin_ids = [str(991_267_400 + i * 7) for i in range(size.admins)]
        team_ids = [str(5_017_600 + i * 3) for i in range(size.teams)]
        members: dict[str, list[str]] = {t: [] for t in team_ids}
        for i, admin_id in enumerate(admin_ids):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            last = LAST_NAMES[(i * 3) % len(LAST_NAMES)]
            my_teams = sorted(set(rng.sample(team_ids, k=min(len(team_ids), rng.randint(0, 2)))))
            for t in my_teams:
                members[t].append(admin_id)
            self.admins.append({
                "type": "admin",
                "id": admin_id,
                "name": f"{first} {last}",
                "email": f"admin{i}@example-support.com",
                "job_title": rng.choice(["Support Engineer", "Team Lead", "Customer Success", ""]),
                "away_mode_enabled": rng.random() < 0.1,
                "away_mode_reassign": rng.random() < 0.05,
                "away_status_reason_id": None,
                "has_inbox_seat": rng.random() < 0.9,
                "team_ids": [int(t) for t in my_teams],
                "avatar": None,
                "team_priority_level": {"primary_team_ids": [int(t) for t in my_teams[:1]] or None,
                                        "secondary_team_ids": [int(t) for t in my_teams[1:]] or None},
            })
        for i, team_id in enumerate(team_ids):
            admin_ints = [int(a) for a in members[team_id]]
            self.teams.append({
                "type": "team",
                "id": team_id,
                "name": ["Tier 1 Support", "Billing", "Équipe Europe", "Onboarding", "VIP 🌟", "Escalations",
                         "APAC", "Sales", "Partners", "Night shift", "Weekend", "Product"][i % 12],
                "admin_ids": admin_ints,
                "admin_priority_level": {"primary_admin_ids": admin_ints[:2] or None,
                                         "secondary_admin_ids": admin_ints[2:] or None},
                "assignment_limit": rng.choice([None, 5, 10]),
                "distribution_method": rng.choice(["round_robin", "balanced", None]),
            })

    def _build_tags_segments(self, rng: random.Random) -> None:
        size = self.size
        start = self.now - HISTORY_DAYS * DAY
        for i in range(size.tags):
            self.tags.append({"type": "tag", "id": str(100 + i),
                              "name": ["VIP", "churn-risk", "beta", "Größe", "日本", "needs follow-up"][i % 6]
                              + ("" if i < 6 else f" {i}")})
        for i in range(size.segments):
            created = rng.randint(start, self.now - 40 * DAY)
            self.segments.append({
                "type": "segment",
                "id": object_id(created, rng),
                "name": ["Active users", "New leads", "Trial ending", "Power users ⚡", "Dormant"][i % 5] + f" {i}",
                "created_at": created,
                "updated_at": rng.randint(created, self.now),
                "person_type": "user" if i % 2 == 0 else "contact",
            })
            self.segment_counts[self.segments[-1]["id"]] = rng.randint(0, self.size.contacts // 3)
        for i in range(size.company_segments):
            created = rng.randint(start, self.now - 40 * DAY)
            self.company_segments.append({
                "type": "segment",
                "id": object_id(created, rng),
                "name": ["Enterprise accounts", "At-risk accounts", "EMEA", "Expansion", "Free tier"][i % 5] + f" {i}",
                "created_at": created,
                "updated_at": rng.randint(created, self.now),
            })

    def _build_companies(self, rng: random.Random) -> None:
        tags = self.tags
        segments = self.company_segments
        rows = []
        for recent in self._recent_flags(rng, self.size.companies):
            created, updated = self._times(rng, recent)
            rows.append((created, updated))
        rows.sort()
        for n, (created, updated) in enumerate(rows):
            cid = object_id(created, rng)
            plan = rng.choice(PLANS + [None])
            company_tags = rng.sample(tags, k=rng.choice([0, 0, 1, 2]))
            company_segments = rng.sample(segments, k=rng.choice([0, 1, 1, 2]))
            word = COMPANY_WORDS[n % len(COMPANY_WORDS)]
            self.companies[cid] = {
                "type": "company",
                "id": cid,
                "name": f"{word} {n}",
                "app_id": self.app_id,
                "plan": {"type": "plan", "id": plan[0], "name": plan[1]} if plan else {},
                "company_id": f"cmp-{n:06d}",
                "remote_created_at": created - rng.randint(0, 400) * DAY,
                "created_at": created,
                "updated_at": updated,
                "last_request_at": rng.randint(created, max(created, updated)),
                "size": rng.randint(1, 5000),
                "website": None if n % 5 == 0 else f"https://www.{word.lower().replace(' ', '')}{n}.example.com",
                "industry": INDUSTRIES[n % len(INDUSTRIES)],
                "monthly_spend": rng.randint(0, 25_000),
                "session_count": rng.randint(0, 10_000),
                "user_count": rng.randint(0, 300),
                "custom_attributes": {
                    "account_tier": rng.choice(["gold", "silver", "bronze"]),
                    "employee_band": rng.randint(1, 8),
                    "health_score": round(rng.uniform(0, 100), 2),
                    "is_enterprise": rng.random() < 0.2,
                    "renewal_owner": None if n % 3 == 0 else f"Owner {n % 17}",
                },
                "tags": {"type": "tag.list",
                         "tags": [{"type": "tag", "id": t["id"], "name": t["name"]} for t in company_tags]},
                "segments": {"type": "segment.list", "segments": [dict(s) for s in company_segments]},
            }

    def _build_contacts(self, rng: random.Random) -> None:
        company_ids = list(self.companies)
        admin_ids = [a["id"] for a in self.admins]
        rows = []
        for recent in self._recent_flags(rng, self.size.contacts):
            rows.append(self._times(rng, recent))
        rows.sort()
        for n, (created, updated) in enumerate(rows):
            cid = object_id(created, rng)
            is_lead = n % 4 == 3
            first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
            last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
            has_name = rng.random() < 0.9
            email = None if is_lead and n % 8 == 7 else f"person{n}@{'mail' if n % 2 else 'corp'}.example.org"
            links = [] if is_lead or not company_ids else rng.sample(company_ids, k=rng.choice([0, 1, 1, 2]))
            contact_tags = rng.sample(self.tags, k=rng.choice([0, 0, 1]))
            country, region, city = COUNTRIES[n % len(COUNTRIES)]
            seen = rng.randint(created, updated) if rng.random() < 0.8 else None
            self.contacts[cid] = {
                "type": "contact",
                "id": cid,
                "external_id": None if is_lead else f"user-{n}",
                "workspace_id": self.app_id,
                "role": "lead" if is_lead else "user",
                "email": email,
                "email_domain": email.split("@", 1)[1] if email else None,
                "phone": f"+1415555{n % 10000:04d}" if rng.random() < 0.3 else None,
                "name": f"{first} {last}" if has_name else None,
                "owner_id": rng.choice(admin_ids) if rng.random() < 0.3 else None,
                "has_hard_bounced": rng.random() < 0.02,
                "marked_email_as_spam": rng.random() < 0.01,
                "unsubscribed_from_emails": rng.random() < 0.1,
                "created_at": created,
                "updated_at": updated,
                "signed_up_at": None if is_lead else created,
                "last_seen_at": seen,
                "last_replied_at": rng.randint(created, updated) if rng.random() < 0.4 else None,
                "last_contacted_at": rng.randint(created, updated) if rng.random() < 0.5 else None,
                "last_email_opened_at": None,
                "last_email_clicked_at": None,
                "language_override": rng.choice([None, None, "fr", "de", "ja"]),
                "browser": rng.choice(["chrome", "firefox", "safari", None]),
                "browser_version": rng.choice(["120.0", "17.2", None]),
                "browser_language": rng.choice(["en", "de", "fr", "ja", None]),
                "os": rng.choice(["OS X 14.1", "Windows 11", "Android 14", None]),
                "android_app_name": None,
                "android_app_version": None,
                "android_device": None,
                "android_os_version": None,
                "android_sdk_version": None,
                "android_last_seen_at": None,
                "ios_app_name": None,
                "ios_app_version": None,
                "ios_device": None,
                "ios_os_version": None,
                "ios_sdk_version": None,
                "ios_last_seen_at": None,
                "custom_attributes": {
                    "plan_tier": rng.choice(["free", "pro", "enterprise", None]),
                    "seats": rng.randint(1, 500),
                    "mrr": round(rng.uniform(0, 5000), 2),
                    "beta_user": rng.random() < 0.3,
                    "last_nps": rng.choice([None, 0, 7, 9, 10]),
                    "favourite_colour": rng.choice(["blue", "vert", "赤", "🟣", ""]),
                    "trial_ends_at": created + 14 * DAY if rng.random() < 0.2 else None,
                },
                "avatar": {"type": "avatar", "image_url": f"https://static.example.com/avatars/{n}.png"}
                if rng.random() < 0.2 else None,
                "tags": {"data": [{"type": "tag", "id": t["id"], "url": f"/tags/{t['id']}"} for t in contact_tags],
                         "url": f"/contacts/{cid}/tags", "total_count": len(contact_tags), "has_more": False},
                "notes": {"data": [], "url": f"/contacts/{cid}/notes", "total_count": 0, "has_more": False},
                "companies": {"data": [{"id": c, "type": "company", "url": f"/companies/{c}"} for c in links],
                              "url": f"/contacts/{cid}/companies", "total_count": len(links), "has_more": False},
                "location": {"type": "location", "country": country, "region": region, "city": city},
                "social_profiles": {"data": []},
            }

    def _build_conversations(self, rng: random.Random) -> None:
        contacts = list(self.contacts.values())
        admins = self.admins
        rows = []
        for recent in self._recent_flags(rng, self.size.conversations):
            rows.append(self._times(rng, recent))
        rows.sort()
        big_index = len(rows) - 1 - len(rows) // 7
        for n, (created, updated) in enumerate(rows):
            conv_id = str(200_963_802_000_000 + n * 13 + rng.randint(0, 12))
            contact = contacts[rng.randrange(len(contacts))]
            admin = admins[rng.randrange(len(admins))] if rng.random() < 0.8 else None
            team = self.teams[rng.randrange(len(self.teams))] if rng.random() < 0.6 else None
            state = rng.choice(["open", "closed", "closed", "snoozed"])
            parts = BIG_CONVERSATION_PARTS if n == big_index else rng.randint(self.size.min_parts,
                                                                               self.size.max_parts)
            if n == big_index:
                self.big_conversation_id = conv_id
                updated = max(updated, self.now - 2 * DAY)
            conv_tags = rng.sample(self.tags, k=rng.choice([0, 0, 1, 2]))
            plan = _PartPlan(n, parts, created, updated, contact["id"], contact["name"], contact["email"],
                             contact["role"])
            self._part_plans[conv_id] = plan
            body = BODIES[n % len(BODIES)]
            first_reply = created + rng.randint(60, 3 * 3600)
            self.conversations[conv_id] = {
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
                "teammates": {"type": "admin.list",
                              "teammates": [{"type": "admin", "id": admin["id"]}] if admin else []},
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

    def _apply_boundaries(self) -> None:
        """Put one record of each kind exactly on the day-boundary instants tests need."""
        times = self.boundary_times()
        for kind in KINDS:
            records = getattr(self, kind)
            ids = [i for i in records if i != self.big_conversation_id][:len(times)]
            self.boundary_ids[kind] = {}
            for (label, ts), record_id in zip(times.items(), ids, strict=True):
                records[record_id]["updated_at"] = ts
                self.boundary_ids[kind][label] = record_id
                plan = self._part_plans.get(record_id)
                if plan is not None:
                    self._part_plans[record_id] = _PartPlan(
                        plan.number, plan.count, plan.created_at, ts, plan.contact_id, plan.contact_name,
                        plan.contact_email, plan.contact_role)

    # ---- reads --------------------------------------------------------------------------------
    def data_attributes(self, model: str) -> list[dict[str, Any]]:
        """Data attributes of a model: built-ins (no id, `name` may repeat) then custom ones (with ids)."""
        if model not in ("contact", "company"):
            raise ValueError(f"unknown data attribute model {model!r}")
        builtins = CONTACT_BUILTINS if model == "contact" else COMPANY_BUILTINS
        custom = CONTACT_ATTRIBUTES if model == "contact" else COMPANY_ATTRIBUTES
        out: list[dict[str, Any]] = []
        for name, full_name, data_type, label in builtins:
            out.append({"type": "data_attribute", "name": name, "full_name": full_name, "label": label,
                        "description": f"The {label.lower()}", "data_type": data_type,
                        "api_writable": full_name in ("name", "email", "phone", "website", "size"),
                        "ui_writable": False, "messenger_writable": True, "custom": False, "archived": False,
                        "model": model})
        base_id = 12_800_000 if model == "contact" else 12_900_000
        created = self.now - 390 * DAY
        for i, (name, data_type, label) in enumerate(custom):
            attr = {"type": "data_attribute", "id": base_id + i, "name": name,
                    "full_name": f"custom_attributes.{name}", "label": label, "description": label,
                    "data_type": data_type, "api_writable": True, "ui_writable": True, "messenger_writable": False,
                    "custom": True, "archived": False, "model": model, "created_at": created + i * DAY,
                    "updated_at": created + i * DAY, "admin_id": self.admins[0]["id"]}
            if name == "plan_tier":
                attr["options"] = ["free", "pro", "enterprise"]
            out.append(attr)
        return out

    def conversation_parts(self, conv_id: str) -> list[dict[str, Any]]:
        """ALL parts of a conversation, oldest first (the API shows only the newest 500)."""
        with self.lock:
            plan = self._part_plans[conv_id]
            extra = list(self._extra_parts.get(conv_id, ()))
        return self._generate_parts(plan) + extra

    def _generate_parts(self, plan: _PartPlan) -> list[dict[str, Any]]:
        rng = random.Random(self.seed * 1_000_003 + plan.number)
        span = max(0, plan.last_at - plan.created_at)
        parts = []
        for k in range(plan.count):
            at = plan.created_at + (span * (k + 1)) // plan.count
            admin = self.admins[rng.randrange(len(self.admins))]
            part_type = PART_TYPES[rng.randrange(len(PART_TYPES))] if k else "comment"
            by_contact = part_type == "comment" and (k == 0 or rng.random() < 0.5)
            if by_contact:
                author = {"type": plan.contact_role, "id": plan.contact_id, "name": plan.contact_name,
                          "email": plan.contact_email}
            else:
                author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
            parts.append(self._part(f"{10_000_000_000 + plan.number * 100_000 + k}", part_type,
                                    BODIES[rng.randrange(len(BODIES))] if part_type in ("comment", "note") else None,
                                    at, author,
                                    {"type": "admin", "id": admin["id"]} if part_type == "assignment" else None))
        return parts

    @staticmethod
    def _part(part_id: str, part_type: str, body: str | None, at: int, author: dict[str, Any],
              assigned_to: dict[str, Any] | None) -> dict[str, Any]:
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

    def records(self, kind: str) -> dict[str, dict[str, Any]]:
        """The dict of records of a kind (contacts, companies, conversations)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        return getattr(self, kind)

    # ---- mutations ----------------------------------------------------------------------------
    def touch(self, kind: str, record_id: str, updated_at: datetime | int) -> None:
        """Set a record's updated_at (simulates an edit)."""
        ts = to_unix(updated_at)
        with self.lock:
            records = self.records(kind)
            if record_id not in records:
                raise KeyError(f"no {kind} record {record_id!r}")
            records[record_id]["updated_at"] = ts
            self.generation += 1

    def add_parts(self, conv_id: str, n: int, at: datetime | int) -> list[dict[str, Any]]:
        """Append n admin comments at `at`; bumps the conversation's updated_at and part count."""
        ts = to_unix(at)
        with self.lock:
            conv = self.conversations[conv_id]
            admin = self.admins[0]
            author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
            new = []
            for _ in range(n):
                self._next_extra_part += 1
                new.append(self._part(str(90_000_000_000 + self._next_extra_part), "comment",
                                      f"<p>Follow-up #{self._next_extra_part} ✉️</p>", ts, author, None))
            self._extra_parts.setdefault(conv_id, []).extend(new)
            conv["updated_at"] = ts
            conv["statistics"] = dict(conv["statistics"],
                                      count_conversation_parts=conv["statistics"]["count_conversation_parts"] + n)
            self.generation += 1
            return new

    def bump_fraction(self, fraction: float, at: datetime | int, seed: int) -> dict[str, list[str]]:
        """Touch a seeded `fraction` of contacts, companies and conversations; returns the ids by kind."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        rng = random.Random(seed)
        out: dict[str, list[str]] = {}
        with self.lock:
            for kind in KINDS:
                ids = list(self.records(kind))
                chosen = rng.sample(ids, k=round(len(ids) * fraction))
                for record_id in chosen:
                    self.touch(kind, record_id, at)
                out[kind] = chosen
        return out

    def snapshot(self, kind: str) -> list[dict[str, Any]]:
        """The current records of a kind, in id order of creation, taken under the lock."""
        with self.lock:
            return list(self.records(kind).values())

    def counts(self) -> dict[str, int]:
        return {kind: len(self.records(kind)) for kind in KINDS}

    def ids(self, kind: str) -> Iterable[str]:
        return list(self.records(kind))
