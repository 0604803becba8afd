"""Builders of the directory (admins, teams, tags, segments), companies and contacts.

Functions of a Workspace rather than methods, so each resource's generator lives in a module of its own.
They consume the workspace's main generator in a fixed order: keep that order, or every seed's data changes.
Companies and contacts are stored as rows of the values drawn (store.py); render_company/render_contact turn
a row back into the API shape.
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
    """Companies in creation order, each embedding its tags and segments (kept as rows: see render_company)."""
    tag_count = len(ws.tags)
    segment_count = len(ws.company_segments)
    rows = []
    for recent in ws.recent_flags(rng, ws.size.companies):
        created, updated = ws.times(rng, recent)
        rows.append((created, updated))
    rows.sort()
    for n, (created, updated) in enumerate(rows):
        cid = object_id(created, rng)
        plan = rng.choice(PLANS + [None])
        company_tags = tuple(rng.sample(range(tag_count), k=rng.choice([0, 0, 1, 2])))
        company_segments = tuple(rng.sample(range(segment_count), k=rng.choice([0, 1, 1, 2])))
        # the draws below keep the order of the dict literal they once filled
        ws.companies.add(cid, [
            updated, n, cid, created, plan, company_tags, company_segments,
            created - rng.randint(0, 400) * DAY,  # remote_created_at
            rng.randint(created, max(created, updated)),  # last_request_at
            rng.randint(1, 5000), rng.randint(0, 25_000), rng.randint(0, 10_000), rng.randint(0, 300),
            rng.choice(["gold", "silver", "bronze"]), rng.randint(1, 8), round(rng.uniform(0, 100), 2),
            rng.random() < 0.2,
        ])


def render_company(ws: Workspace, row: list[Any]) -> dict[str, Any]:
    """A company in API shape from its row."""
    (updated, n, cid, created, plan, tag_indexes, segment_indexes, remote_created, last_request, size,
     monthly_spend, session_count, user_count, tier, band, health, enterprise) = row
    word = COMPANY_WORDS[n % len(COMPANY_WORDS)]
    tags = [ws.tags[i] for i in tag_indexes]
    return {
        "type": "company",
        "id": cid,
        "name": f"{word} {n}",
        "app_id": ws.app_id,
        "plan": {"type": "plan", "id": plan[0], "name": plan[1]} if plan else {},
        "company_id": f"cmp-{n:06d}",
        "remote_created_at": remote_created,
        "created_at": created,
        "updated_at": updated,
        "last_request_at": last_request,
        "size": size,
        "website": None if n % 5 == 0 else f"https://www.{word.lower().replace(' ', '')}{n}.example.com",
        "industry": INDUSTRIES[n % len(INDUSTRIES)],
        "monthly_spend": monthly_spend,
        "session_count": session_count,
        "user_count": user_count,
        "custom_attributes": {
            "account_tier": tier,
            "employee_band": band,
            "health_score": health,
            "is_enterprise": enterprise,
            "renewal_owner": None if n % 3 == 0 else f"Owner {n % 17}",
        },
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": t["id"], "name": t["name"]} for t in tags]},
        "segments": {"type": "segment.list", "segments": [dict(ws.company_segments[i]) for i in segment_indexes]},
    }


def build_contacts(ws: Workspace, rng: random.Random) -> None:
    """Users and leads (every fourth is a lead) in creation order (kept as rows: see render_contact)."""
    company_ids = list(ws.companies)
    admin_ids = [a["id"] for a in ws.admins]
    tag_ids = [t["id"] for t in ws.tags]
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
        links = () if is_lead or not company_ids else tuple(rng.sample(company_ids, k=rng.choice([0, 1, 1, 2])))
        contact_tags = tuple(tag_ids[i] for i in rng.sample(range(len(tag_ids)), k=rng.choice([0, 0, 1])))
        seen = rng.randint(created, updated) if rng.random() < 0.8 else None
        # the draws below keep the order of the dict literal they once filled
        ws.contacts.add(cid, [
            updated, n, cid, created, first, last, has_name, links, contact_tags, seen,
            rng.random() < 0.3,  # has a phone
            rng.choice(admin_ids) if rng.random() < 0.3 else None,  # owner_id
            rng.random() < 0.02, rng.random() < 0.01, rng.random() < 0.1,  # bounced, spam, unsubscribed
            rng.randint(created, updated) if rng.random() < 0.4 else None,  # last_replied_at
            rng.randint(created, updated) if rng.random() < 0.5 else None,  # last_contacted_at
            rng.choice([None, None, "fr", "de", "ja"]),
            rng.choice(["chrome", "firefox", "safari", None]),
            rng.choice(["120.0", "17.2", None]),
            rng.choice(["en", "de", "fr", "ja", None]),
            rng.choice(["OS X 14.1", "Windows 11", "Android 14", None]),
            rng.choice(["free", "pro", "enterprise", None]),
            rng.randint(1, 500),
            round(rng.uniform(0, 5000), 2),
            rng.random() < 0.3,
            rng.choice([None, 0, 7, 9, 10]),
            rng.choice(["blue", "vert", "赤", "🟣", ""]),
            rng.random() < 0.2,  # has a trial end
            rng.random() < 0.2,  # has an avatar
        ])


def contact_email(n: int) -> str | None:
    return None if n % 4 == 3 and n % 8 == 7 else f"person{n}@{'mail' if n % 2 else 'corp'}.example.org"


def contact_identity(row: list[Any]) -> tuple[str, str | None, str | None, str | None, str]:
    """(id, external_id, name, email, role) of a contact row, without rendering the whole contact."""
    n, cid, first, last, has_name = row[1], row[2], row[4], row[5], row[6]
    is_lead = n % 4 == 3
    return (cid, None if is_lead else f"user-{n}", f"{first} {last}" if has_name else None, contact_email(n),
            "lead" if is_lead else "user")


def contact_refs_of(records: Any, record_id: str, contact_column: int) -> list[dict[str, Any]]:
    """A conversation's or ticket's current `contacts.contacts`, without rendering the whole record: the
    patched list if one was set, else the contact its row was built with (in `contact_column`)."""
    patched = records.patched(record_id, "contacts")
    if patched is not None:
        return patched["contacts"]
    contact = records.row(record_id)[contact_column]
    return [{"type": "contact", "id": contact[0], "external_id": contact[1]}]


def contact_links(row: list[Any]) -> tuple[str, ...]:
    """The company ids a contact was created with (its embedded list unless patched)."""
    return row[7]


def render_contact(ws: Workspace, row: list[Any]) -> dict[str, Any]:
    """A contact in API shape from its row."""
    (updated, n, cid, created, first, last, has_name, links, tag_ids, seen, phone, owner, bounced, spam, unsub,
     replied, contacted, language, browser, browser_version, browser_language, os_name, plan_tier, seats, mrr, beta,
     nps, colour, trial, avatar) = row
    is_lead = n % 4 == 3
    email = contact_email(n)
    country, region, city = COUNTRIES[n % len(COUNTRIES)]
    return {
        "type": "contact",
        "id": cid,
        "external_id": None if is_lead else f"user-{n}",
        "workspace_id": ws.app_id,
        "role": "lead" if is_lead else "user",
        "email": email,
        "email_domain": email.split("@", 1)[1] if email else None,
        "phone": f"+1415555{n % 10000:04d}" if phone else None,
        "name": f"{first} {last}" if has_name else None,
        "owner_id": owner,
        "has_hard_bounced": bounced,
        "marked_email_as_spam": spam,
        "unsubscribed_from_emails": unsub,
        "created_at": created,
        "updated_at": updated,
        "signed_up_at": None if is_lead else created,
        "last_seen_at": seen,
        "last_replied_at": replied,
        "last_contacted_at": contacted,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": language,
        "browser": browser,
        "browser_version": browser_version,
        "browser_language": browser_language,
        "os": os_name,
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
            "plan_tier": plan_tier,
            "seats": seats,
            "mrr": mrr,
            "beta_user": beta,
            "last_nps": nps,
            "favourite_colour": colour,
            "trial_ends_at": created + 14 * DAY if trial else None,
        },
        "avatar": {"type": "avatar", "image_url": f"https://static.example.com/avatars/{n}.png"} if avatar else None,
        "tags": tag_list(cid, list(tag_ids)),
        "notes": {"type": "list", "data": [], "url": f"/contacts/{cid}/notes", "total_count": 0, "has_more": False},
        "companies": company_list(cid, list(links)),
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
