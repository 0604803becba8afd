"""Help center content (articles, collections, help centers) and news (news items, newsfeeds)."""

from __future__ import annotations

from intercom_assets.columns.shared import TAG
from intercom_assets.schemas import BOOL, FLOAT, INT, STRING, TIME, FieldType, Struct, col, list_of, struct

# The locales the 2.16 description enumerates for translated content (fixed keys, so typed, not a map).
LOCALES = (
    "ar", "bg", "bs", "ca", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "he", "hr", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "mn", "nb", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "tr", "vi", "pt-BR",
    "zh-CN", "zh-TW",
)  # fmt: skip

ARTICLE_CONTENT = struct(
    type=col(STRING, "Always article_content."),
    title=col(STRING, "The title of the article."),
    description=col(STRING, "The description of the article."),
    body=col(STRING, "The body of the article in HTML."),
    body_markdown=col(STRING, "The body of the article in markdown."),
    author_id=col(INT, "The id of the article's author."),
    state=col(STRING, "published or draft."),
    created_at=col(TIME, "When this locale's content was created."),
    updated_at=col(TIME, "When this locale's content was last updated."),
    has_unpublished_changes=col(BOOL, "Whether a draft is staged on top of the published content."),
    draft_updated_at=col(TIME, "When the staged draft was last edited."),
    url=col(STRING, "The URL of the article in this locale."),
    audience_ids=col(list_of(INT), "The audiences this content targets for Fin AI Agent."),
    ai_chatbot_availability=col(BOOL, "Whether AI Chatbot can use it."),
    ai_copilot_availability=col(BOOL, "Whether AI Copilot can use it."),
    ai_sales_agent_availability=col(BOOL, "Whether AI Sales Agent can use it."),
    created_by_id=col(INT, "The teammate who created this content."),
    updated_by_id=col(INT, "The teammate who last updated this content."),
)
GROUP_CONTENT = struct(
    type=col(STRING, "Always group_content."),
    name=col(STRING, "The name of the collection or section."),
    description=col(STRING, "The description of the collection."),
)


def translated(content: Struct, kind: str) -> Struct:
    """Content by locale: `type` and one field per described locale."""
    return struct(type=col(STRING, f"Always {kind}."), **{locale: content for locale in LOCALES})


ARTICLE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always article."),
    "id": col(STRING, "The id of the article."),
    "workspace_id": col(STRING, "The id of the workspace the article belongs to."),
    "title": col(STRING, "The title (of the default language's content)."),
    "description": col(STRING, "The description (of the default language's content)."),
    "body": col(STRING, "The body in HTML (of the default language's content)."),
    "body_markdown": col(STRING, "The body in markdown (of the default language's content)."),
    "author_id": col(INT, "The id of the author (a teammate)."),
    "state": col(STRING, "published or draft."),
    "created_at": col(TIME, "When the article was created."),
    "updated_at": col(TIME, "When the article was last updated."),
    "has_unpublished_changes": col(BOOL, "Whether a draft is staged on top of the published article."),
    "draft_updated_at": col(TIME, "When the staged draft was last edited."),
    "url": col(STRING, "The URL of the article."),
    "parent_ids": col(list_of(INT), "The ids of the collections or sections holding the article."),
    "ai_chatbot_availability": col(BOOL, "Whether AI Chatbot can use the article."),
    "ai_copilot_availability": col(BOOL, "Whether AI Copilot can use the article."),
    "ai_sales_agent_availability": col(BOOL, "Whether AI Sales Agent can use the article."),
    "created_by_id": col(INT, "The teammate who created the article."),
    "updated_by_id": col(INT, "The teammate who last updated the article."),
    "exclude_from_article_suggestions": col(BOOL, "Whether Fin AI Agent leaves it out of suggestions."),
    "help_center_audience": col(STRING, "Who can view it in the Help Center: everyone or restricted."),
    "scheduled_publish_at": col(TIME, "When the article is scheduled to be published."),
    "scheduled_unpublish_at": col(TIME, "When the article is scheduled to be unpublished."),
    "default_locale": col(STRING, "The help center's default locale (multilingual help centers)."),
    "translated_content": col(translated(ARTICLE_CONTENT, "article_translated_content"), "The content by locale."),
    "tags": col(struct(type=col(STRING, "Always tag.list."), tags=col(list_of(TAG), "The tags.")), "The tags."),
    "statistics": col(
        struct(
            type=col(STRING, "Always article_statistics."),
            views=col(INT, "Total views."),
            conversions=col(INT, "Conversations started from the article."),
            reactions=col(INT, "Total reactions."),
            happy_reaction_percentage=col(FLOAT, "Share of happy reactions."),
            neutral_reaction_percentage=col(FLOAT, "Share of neutral reactions."),
            sad_reaction_percentage=col(FLOAT, "Share of sad reactions."),
            fin_involvements=col(INT, "Conversations in which Fin AI Agent used the article."),
            fin_resolutions=col(INT, "Conversations Fin AI Agent resolved with the article."),
            fin_resolution_rate=col(FLOAT, "Percentage of Fin involvements that resolved."),
        ),
        "The article's statistics (GET /articles/{id}).",
    ),
}

COLLECTION_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always collection."),
    "id": col(STRING, "The id of the collection."),
    "workspace_id": col(STRING, "The id of the workspace the collection belongs to."),
    "name": col(STRING, "The name (of the default language's content)."),
    "description": col(STRING, "The description (of the default language's content)."),
    "created_at": col(TIME, "When the collection was created."),
    "updated_at": col(TIME, "When the collection was last updated."),
    "url": col(STRING, "The URL of the collection."),
    "icon": col(STRING, "The icon of the collection."),
    "order": col(INT, "Its order among its siblings, from 0."),
    "default_locale": col(STRING, "The help center's default locale (multilingual help centers)."),
    "translated_content": col(translated(GROUP_CONTENT, "group_translated_content"), "The content by locale."),
    "parent_id": col(STRING, "The id of the parent collection (null at the first level)."),
    "help_center_id": col(INT, "The id of the help center the collection is in."),
}

HELP_CENTER_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always help_center."),
    "id": col(STRING, "The id of the help center."),
    "workspace_id": col(STRING, "The id of the workspace the help center belongs to."),
    "created_at": col(TIME, "When the help center was created."),
    "updated_at": col(TIME, "When the help center was last updated."),
    "identifier": col(STRING, "The identifier used in the help center's URL."),
    "website_turned_on": col(BOOL, "Whether the help center is turned on."),
    "display_name": col(STRING, "The name teammates see."),
    "url": col(STRING, "The help center's URL (on the custom domain, if any)."),
    "custom_domain": col(STRING, "The custom domain configured for the help center."),
    "default": col(BOOL, "Whether it is the workspace's default help center."),
    "locales": col(list_of(STRING), "The locales the help center is available in."),
}

NEWS_ITEM_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always news-item."),
    "id": col(STRING, "The id of the news item."),
    "workspace_id": col(STRING, "The id of the workspace the news item belongs to."),
    "title": col(STRING, "The title of the news item."),
    "body": col(STRING, "The body, which may contain HTML."),
    "sender_id": col(INT, "The id of the teammate who sends it."),
    "state": col(STRING, "draft or live."),
    "newsfeed_assignments": col(
        list_of(
            struct(
                newsfeed_id=col(INT, "The id of the newsfeed."),
                published_at=col(TIME, "When it was published on that newsfeed."),
            )
        ),
        "The newsfeeds the item is assigned to.",
    ),
    "labels": col(list_of(STRING), "Labels shown to users to categorize it."),
    "cover_image_url": col(STRING, "The URL of the cover image."),
    "reactions": col(list_of(STRING), "The emoji reactions offered (empty: reactions off)."),
    "deliver_silently": col(BOOL, "Whether it appears without a notification badge."),
    "created_at": col(TIME, "When the news item was created."),
    "updated_at": col(TIME, "When the news item was last updated."),
}

NEWSFEED_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always newsfeed."),
    "id": col(STRING, "The id of the newsfeed."),
    "name": col(STRING, "The name of the newsfeed (never shown to users)."),
    "created_at": col(TIME, "When the newsfeed was created."),
    "updated_at": col(TIME, "When the newsfeed was last updated."),
}
