"""Sizes, vocabularies and small helpers shared by the workspace builders.

Kept apart from the builders so each resource module stays small and the scales live in one place. Every scale
runs the same code: records are stored as compact rows (store.py) and bulky children are generated on demand,
which is what lets `xlarge` (a million contacts) fit in about 1.5 GiB.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

DAY = 86_400
HISTORY_DAYS = 400
RECENT_DAYS = 30
RECENT_SHARE = 0.15
BIG_CONVERSATION_PARTS = 612
BIG_TICKET_PARTS = 537
EMBEDDED_LIST_LIMIT = 10
KINDS = ("contacts", "companies", "conversations")


@dataclass(frozen=True)
class ScaleSpec:
    """Sizes of one scale (record counts are the LIVE records; deleted and merged ones come on top)."""

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
    tickets: int = 0
    min_ticket_parts: int = 2
    max_ticket_parts: int = 6
    articles: int = 0
    collections: int = 0
    help_centers: int = 1
    news_items: int = 0
    newsfeeds: int = 2
    activity_per_day: int = 5
    deleted_conversations: int = 0
    deleted_contacts: int = 0
    merged_leads: int = 0
    deleted_companies: int = 0


SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(600, 150, 300, 3, 8, 12, 4, 15, 8, 5, tickets=120, min_ticket_parts=2, max_ticket_parts=6,
                       articles=40, collections=8, help_centers=2, news_items=25, newsfeeds=3, activity_per_day=6,
                       deleted_conversations=6, deleted_contacts=4, merged_leads=4, deleted_companies=3),
    "medium": ScaleSpec(30_000, 6_000, 9_000, 4, 12, 40, 8, 40, 16, 10, tickets=2_500, min_ticket_parts=3,
                        max_ticket_parts=8, articles=300, collections=24, help_centers=2, news_items=120, newsfeeds=3,
                        activity_per_day=30, deleted_conversations=60, deleted_contacts=40, merged_leads=40,
                        deleted_companies=12),
    "large": ScaleSpec(100_000, 20_000, 30_000, 6, 14, 80, 12, 80, 24, 15, tickets=8_000, min_ticket_parts=3,
                       max_ticket_parts=10, articles=1_200, collections=60, help_centers=3, news_items=400, newsfeeds=4,
                       activity_per_day=80, deleted_conversations=200, deleted_contacts=120, merged_leads=120,
                       deleted_companies=40),
    # the benchmark's ceiling: ~8 parts a conversation (4..12; 10 % have none) over the same 400 days
    "xlarge": ScaleSpec(1_000_000, 100_000, 300_000, 4, 12, 200, 20, 150, 40, 25, tickets=80_000, min_ticket_parts=3,
                        max_ticket_parts=10, articles=3_000, collections=120, help_centers=4, news_items=800,
                        newsfeeds=4, activity_per_day=200, deleted_conversations=2_000, deleted_contacts=1_200,
                        merged_leads=1_200, deleted_companies=200),
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


def sub_rng(seed: int, label: str) -> random.Random:
    """A generator of its own for one builder, so adding a resource never reshuffles the others' data."""
    return random.Random(f"{seed}/{label}")

