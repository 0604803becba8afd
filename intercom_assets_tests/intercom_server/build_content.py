"""Help center (help centers, collections, articles), news (newsfeeds, news items), subscription types, away
status reasons, conversation attributes, and the `/me` admin: small resources, each from its own generator.

Articles, collections and news items are spread over the history like the other records (15 % updated in
the last 30 days); away status reasons include soft-deleted ones (`deleted: true`), as the API lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .store import dict_row
from .vocab import BODIES, DAY, HISTORY_DAYS, sub_rng

if TYPE_CHECKING:
    from .workspace import Workspace

ARTICLE_TITLES = ["Getting started", "Réinitialiser votre mot de passe", "Billing FAQ", "Exporting your data",
                  "SSO with Okta", "请求书的下载方法", "Troubleshooting the mobile app 📱", "Keyboard shortcuts"]
COLLECTION_NAMES = ["Getting started", "Billing & invoices", "Integrations", "Sécurité", "API", "Mobile",
                    "Troubleshooting", "アカウント"]
NEWS_TITLES = ["New: dark mode 🌙", "Faster exports", "Nouveauté : factures en PDF", "We moved to a new region",
               "Maintenance window this weekend", "API 2.16 is live"]
AWAY_REASONS: list[tuple[str, str, bool]] = [
    ("On a break", "☕", False), ("In a meeting", "📅", False), ("Out for lunch", "🥪", False),
    ("Focus time", "🎧", False), ("On holiday", "🌴", True), ("Training (old)", "🎓", True),
]
SUBSCRIPTIONS: list[tuple[str, str, str, list[str]]] = [
    ("Newsletters", "live", "opt_out", ["email"]), ("Product updates", "live", "opt_out", ["email", "sms_message"]),
    ("Offres partenaires", "live", "opt_in", ["email"]), ("Beta programme", "draft", "opt_in", ["email"]),
    ("Old digest", "archived", "opt_out", ["email"]),
]
# (name, data type, archived, extra fields)
CONVERSATION_ATTRIBUTES: list[tuple[str, str, bool, dict[str, Any]]] = [
    ("issue_type", "list", False, {"options": ["billing", "bug", "question", "ünïcode"]}),
    ("priority_score", "integer", False, {}),
    ("Resolution notes", "string", False, {"multiline": True}),
    ("Refund amount", "decimal", False, {}),
    ("Escalated", "boolean", False, {}),
    ("Follow-up date", "datetime", False, {}),
    ("Linked order", "relationship", False, {"reference": {"type": "one", "object_type_id": "Order"}}),
    ("Evidence", "files", False, {}),
    ("Legacy region", "string", True, {"multiline": False}),
]


def build_content(ws: Workspace) -> None:
    """Everything in this module, in a fixed order."""
    _help_center(ws)
    _news(ws)
    _settings(ws)


def _help_center(ws: Workspace) -> None:
    rng = sub_rng(ws.seed, "help-center")
    size = ws.size
    start = ws.now - (HISTORY_DAYS + 30) * DAY
    for i in range(size.help_centers):
        created = start + i * 7 * DAY
        ws.help_centers.append({
            "id": str(70 + i), "workspace_id": ws.app_id, "created_at": created,
            "updated_at": rng.randint(created, ws.now - DAY), "identifier": f"help-{i}",
            "website_turned_on": i == 0 or rng.random() < 0.5, "display_name": f"Help Center {i + 1}",
            "url": f"https://help{i}.example.com", "custom_domain": f"help{i}.example.com" if i == 0 else None,
            "default": i == 0, "locales": ["en", "fr"] if i == 0 else ["en"],
        })
    parents: list[str] = []
    for n, recent in enumerate(ws.recent_flags(rng, size.collections)):
        created, updated = ws.times(rng, recent)
        collection_id = str(10_521_500 + n)
        section = bool(parents) and rng.random() < 0.3
        parent = rng.choice(parents) if section else None
        name = COLLECTION_NAMES[n % len(COLLECTION_NAMES)] + ("" if n < len(COLLECTION_NAMES) else f" {n}")
        ws.collections.add(collection_id, dict_row(len(ws.collections), {
            "id": collection_id, "workspace_id": ws.app_id, "name": name,
            "description": None if n % 3 == 2 else f"Everything about {name.lower()}",
            "created_at": created, "updated_at": updated,
            "url": f"https://help0.example.com/en/collections/{collection_id}", "icon": "book-bookmark",
            "order": n + 1, "default_locale": "en", "translated_content": None, "parent_id": parent,
            "help_center_id": None if section else int(ws.help_centers[n % len(ws.help_centers)]["id"]),
        }))
        if not section:
            parents.append(collection_id)
    collection_ids = [int(c) for c in ws.collections]
    admin_ids = [int(a["id"]) for a in ws.admins]
    for n, recent in enumerate(ws.recent_flags(rng, size.articles)):
        created, updated = ws.times(rng, recent)
        article_id = str(9_930_000 + n * 3)
        published = rng.random() < 0.8
        parent = rng.choice(collection_ids) if collection_ids and rng.random() < 0.85 else None
        author = rng.choice(admin_ids)
        title = ARTICLE_TITLES[n % len(ARTICLE_TITLES)] + ("" if n < len(ARTICLE_TITLES) else f" ({n})")
        ws.articles.add(article_id, dict_row(len(ws.articles), {
            "type": "article", "id": article_id, "workspace_id": ws.app_id, "title": title,
            "description": "" if n % 5 == 0 else f"How to: {title.lower()}", "body": BODIES[n % len(BODIES)],
            "author_id": author, "state": "published" if published else "draft",
            "created_at": created, "updated_at": updated,
            "url": f"https://help0.example.com/en/articles/{article_id}" if published else None,
            "parent_id": parent, "parent_type": "collection" if parent else None,
            "parent_ids": [parent] if parent else [], "default_locale": "en", "translated_content": None,
            "tags": {"type": "tag.list", "tags": []}, "created_by_id": author,
            "updated_by_id": rng.choice(admin_ids), "has_unpublished_changes": published and rng.random() < 0.1,
        }))


def _news(ws: Workspace) -> None:
    rng = sub_rng(ws.seed, "news")
    start = ws.now - (HISTORY_DAYS + 30) * DAY
    for i in range(ws.size.newsfeeds):
        created = start + i * 3 * DAY
        ws.newsfeeds.append({"id": str(68 + i), "type": "newsfeed",
                             "name": ["Visitor Feed", "Customer Feed", "Beta testers", "Partners"][i % 4],
                             "created_at": created, "updated_at": rng.randint(created, ws.now - 60 * DAY)})
    admin_ids = [int(a["id"]) for a in ws.admins]
    for n, recent in enumerate(ws.recent_flags(rng, ws.size.news_items)):
        created, updated = ws.times(rng, recent)
        live = rng.random() < 0.75
        feeds = rng.sample(ws.newsfeeds, k=rng.randint(1, len(ws.newsfeeds))) if live else []
        item_id = str(29 + n)
        ws.news_items.add(item_id, dict_row(len(ws.news_items), {
            "id": item_id, "type": "news-item", "workspace_id": ws.app_id,
            "title": NEWS_TITLES[n % len(NEWS_TITLES)], "body": BODIES[(n + 3) % len(BODIES)],
            "sender_id": rng.choice(admin_ids), "state": "live" if live else "draft",
            "labels": rng.sample(["Product Update", "Nouveauté", "Fix", None], k=rng.randint(0, 2)),
            "cover_image_url": f"https://static.example.com/news/{item_id}.jpg" if rng.random() < 0.4 else None,
            "reactions": ["👍", "🎉", "❤️", None][: rng.randint(0, 4)], "deliver_silently": rng.random() < 0.2,
            "created_at": created, "updated_at": updated,
            "newsfeed_assignments": [{"newsfeed_id": int(f["id"]), "published_at": created + 3600} for f in feeds],
        }))


def _settings(ws: Workspace) -> None:
    rng = sub_rng(ws.seed, "settings")
    created = ws.now - (HISTORY_DAYS + 60) * DAY
    for i, (label, emoji, deleted) in enumerate(AWAY_REASONS):
        ws.away_status_reasons.append({
            "type": "away_status_reason", "id": str(1_200 + i), "label": label, "emoji": emoji, "order": i + 1,
            "deleted": deleted, "created_at": created + i * DAY,
            "updated_at": rng.randint(created + i * DAY, ws.now - 30 * DAY)})
    live_reasons = [r["id"] for r in ws.away_status_reasons if not r["deleted"]]
    for admin in ws.admins:
        if admin["away_mode_enabled"]:
            admin["away_status_reason_id"] = int(rng.choice(live_reasons))  # an integer here, a string id there
    for i, (name, state, consent, content_types) in enumerate(SUBSCRIPTIONS):
        translation = {"name": name, "description": f"{name}: what we send and how often", "locale": "en"}
        ws.subscription_types.append({
            "type": "subscription", "id": str(135 + i), "state": state, "consent_type": consent,
            "default_translation": translation, "translations": [translation] + (
                [{"name": f"{name} (FR)", "description": "Ce que nous envoyons", "locale": "fr"}] if i % 2 else []),
            "content_types": content_types})
    team_ids = [t["id"] for t in ws.teams]
    for i, (name, data_type, archived, extra) in enumerate(CONVERSATION_ATTRIBUTES):
        attr_created = created + (i * 20 + 30) * DAY
        attr: dict[str, Any] = {
            "type": "conversation_attribute", "id": 2 + i, "name": name, "description": "" if i % 2 else name,
            "data_type": data_type, "required": i == 0, "archived": archived,
            "visible_to_team_ids": rng.sample(team_ids, k=min(len(team_ids), i % 3)),
            "created_at": attr_created, "updated_at": rng.randint(attr_created, ws.now - DAY),
            "admin_id": ws.admins[i % len(ws.admins)]["id"]}
        if "options" in extra:
            attr["options"] = [{"id": f"{i:08x}-e5f6-7890-abcd-{k:012x}", "label": label, "archived": False}
                               for k, label in enumerate(extra["options"])]
        else:
            attr.update(extra)
        ws.conversation_attributes.append(attr)


def me(ws: Workspace) -> dict[str, Any]:
    """GET /me: the first admin, its `app` naming the workspace's time zone (the one contact search uses)."""
    admin = ws.admins[0]
    return {
        "type": "admin", "id": admin["id"], "email": admin["email"], "name": admin["name"],
        "email_verified": True, "job_title": admin["job_title"], "away_mode_enabled": admin["away_mode_enabled"],
        "away_mode_reassign": admin["away_mode_reassign"], "has_inbox_seat": admin["has_inbox_seat"],
        "team_ids": admin["team_ids"],
        "avatar": {"type": "avatar", "image_url": f"https://static.example.com/admins/{admin['id']}.png"},
        "app": {"type": "app", "id_code": ws.app_id, "name": f"Synthetic workspace {ws.seed}",
                "created_at": ws.now - (HISTORY_DAYS + 90) * DAY, "secure": False, "identity_verification": False,
                "timezone": ws.timezone, "region": "US"},
    }
