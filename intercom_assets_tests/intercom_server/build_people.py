"""Builders of the directory (admins, teams, tags, segments), companies and contacts.

Functions of a Workspace rather than methods, so each resource's generator lives in a module of its own.
They consume the workspace's main generator in a fixed order: keep that order, or every seed's data changes.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .vocab import (
    COMPANY_ATTRIBUTES,
    COMPANY_BUILTINS,
    COMPANY_WORDS,
    CONTACT_ATTRIBUTES,
    CONTACT_BUILTINS,
    COUNTRIES,
    DAY,
    FIRST_NAMES,
    HISTORY_DAYS,
    INDUSTRIES,
    LAST_NAMES,
    PLANS,
    object_id,
)

if TYPE_CHECKING:
    from .workspace import Workspace


def build_admins_teams(ws: Workspace, rng: random.Random) -> None:
    """Admins with team memberships, and teams listing their admins."""
    size = ws.size
    admin_ids = [str(991_267_400 + i * 7) for i in range(size.admins)]
    team_ids = [str(5_017_600 + i * 3) for i in range(size.teams)]
    members: dict[str, list[str]] = {t: [] for t in team_ids}
    for i, admin_id in enumerate(admin_ids):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 3) % len(LAST_NAMES)]
        my_teams = sorted(set(rng.sample(team_ids, k=min(len(team_ids), rng.randint(0, 2)))))
        for t in my_teams:
            members[t].append(admin_id)
        ws.admins.append({
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
        ws.teams.append({
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


def build_tags_segments(ws: Workspace, rng: random.Random) -> None:
    """Tags, contact segments (with counts) and company segments."""
    size = ws.size
    start = ws.now - HISTORY_DAYS * DAY
    for i in range(size.tags):
        ws.tags.append({"type": "tag", "id": str(100 + i),
                          "name": ["VIP", "churn-risk", "beta", "Größe", "日本", "needs follow-up"][i % 6]
                          + ("" if i < 6 else f" {i}")})
    for i in range(size.segments):
        created = rng.randint(start, ws.now - 40 * DAY)
        ws.segments.append({
            "type": "segment",
            "id": object_id(created, rng),
            "name": ["Active users", "New leads", "Trial ending", "Power users ⚡", "Dormant"][i % 5] + f" {i}",
            "created_at": created,
            "updated_at": rng.randint(created, ws.now),
            "person_type": "user" if i % 2 == 0 else "contact",
        })
        ws.segment_counts[ws.segments[-1]["id"]] = rng.randint(0, ws.size.contacts // 3)
    for i in range(size.company_segments):
        created = rng.randint(start, ws.now - 40 * DAY)
        ws.company_segments.append({
            "type": "segment",
            "id": object_id(created, rng),
            "name": ["Enterprise accounts", "At-risk accounts", "EMEA", "Expansion", "Free tier"][i % 5] + f" {i}",
            "created_at": created,
            "updated_at": rng.randint(created, ws.now),
        })


def build_companies(ws: Workspace, rng: random.Random) -> None:
    """Companies in creation order, each embedding its tags and segments."""
    tags = ws.tags
    segments = ws.company_segments
    rows = []
    for recent in ws.recent_flags(rng, ws.size.companies):
        created, updated = ws.times(rng, recent)
        rows.append((created, updated))
    rows.sort()
    for n, (created, updated) in enumerate(rows):
        cid = object_id(created, rng)
        plan = rng.choice(PLANS + [None])
        company_tags = rng.sample(tags, k=rng.choice([0, 0, 1, 2]))
        company_segments = rng.sample(segments, k=rng.choice([0, 1, 1, 2]))
        word = COMPANY_WORDS[n % len(COMPANY_WORDS)]
        ws.companies[cid] = {
            "type": "company",
            "id": cid,
            "name": f"{word} {n}",
            "app_id": ws.app_id,
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


def build_contacts(ws: Workspace, rng: random.Random) -> None:
    """Users and leads (every fourth is a lead) in creation order."""
    company_ids = list(ws.companies)
    admin_ids = [a["id"] for a in ws.admins]
    rows = []
    for recent in ws.recent_flags(rng, ws.size.contacts):
        rows.append(ws.times(rng, recent))
    rows.sort()
    for n, (created, updated) in enumerate(rows):
        cid = object_id(created, rng)
        is_lead = n % 4 == 3
        first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
        last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
        has_name = rng.random() < 0.9
        email = None if is_lead and n % 8 == 7 else f"person{n}@{'mail' if n % 2 else 'corp'}.example.org"
        links = [] if is_lead or not company_ids else rng.sample(company_ids, k=rng.choice([0, 1, 1, 2]))
        contact_tags = rng.sample(ws.tags, k=rng.choice([0, 0, 1]))
        country, region, city = COUNTRIES[n % len(COUNTRIES)]
        seen = rng.randint(created, updated) if rng.random() < 0.8 else None
        ws.contacts[cid] = {
            "type": "contact",
            "id": cid,
            "external_id": None if is_lead else f"user-{n}",
            "workspace_id": ws.app_id,
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
            "tags": tag_list(cid, [t["id"] for t in contact_tags]),
            "notes": {"type": "list", "data": [], "url": f"/contacts/{cid}/notes", "total_count": 0,
                      "has_more": False},
            "companies": company_list(cid, links),
            "location": {"type": "location", "country": country, "region": region, "city": city},
            "social_profiles": {"data": []},
        }


def data_attributes(ws: Workspace, model: str) -> list[dict[str, Any]]:
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
    created = ws.now - 390 * DAY
    for i, (name, data_type, label) in enumerate(custom):
        attr = {"type": "data_attribute", "id": base_id + i, "name": name,
                "full_name": f"custom_attributes.{name}", "label": label, "description": label,
                "data_type": data_type, "api_writable": True, "ui_writable": True, "messenger_writable": False,
                "custom": True, "archived": False, "model": model, "created_at": created + i * DAY,
                "updated_at": created + i * DAY, "admin_id": ws.admins[0]["id"]}
        if name == "plan_tier":
            attr["options"] = ["free", "pro", "enterprise"]
        out.append(attr)
    return out


def tag_list(contact_id: str, tag_ids: list[str], total: int | None = None,
             has_more: bool = False) -> dict[str, Any]:
    """A contact's embedded `tags` (the real API's shape, with `type`); `total` may exceed the items shown."""
    return {"type": "list", "data": [{"type": "tag", "id": t, "url": f"/tags/{t}"} for t in tag_ids],
            "url": f"/contacts/{contact_id}/tags", "total_count": len(tag_ids) if total is None else total,
            "has_more": has_more}


def company_list(contact_id: str, company_ids: list[str], total: int | None = None,
                 has_more: bool = False) -> dict[str, Any]:
    """A contact's embedded `companies`; `total` may exceed the items shown."""
    return {"type": "list", "data": [{"id": c, "type": "company", "url": f"/companies/{c}"} for c in company_ids],
            "url": f"/contacts/{contact_id}/companies", "total_count": len(company_ids) if total is None else total,
            "has_more": has_more}
