"""Workspace configuration and knowledge lists of the 2.16 API: macros, office hours, brands, sender addresses,
internal articles, content snippets, audiences, AI content sources and pages, data connectors (and their runs),
help center redirects and the activity log's event types. Property names are the 2.16 description's.
"""

from __future__ import annotations

from intercom_assets.schemas import BOOL, INT, STRING, TIME, FieldType, col, list_of, struct

__all__ = [
    "ACTIVITY_LOG_EVENT_TYPE_FIELDS", "AI_CONTENT_IMPORT_SOURCE_FIELDS", "AI_EXTERNAL_PAGE_FIELDS", "AUDIENCE_FIELDS",
    "BRAND_FIELDS", "CONTENT_SNIPPET_FIELDS", "DATA_CONNECTOR_EXECUTION_RESULT_FIELDS", "DATA_CONNECTOR_FIELDS",
    "EMAIL_SETTING_FIELDS", "HELP_CENTER_REDIRECT_FIELDS", "INTERNAL_ARTICLE_FIELDS", "MACRO_FIELDS",
    "OFFICE_HOURS_EXCEPTION_FIELDS", "OFFICE_HOURS_SCHEDULE_FIELDS",
]


def _stamps(what: str) -> dict[str, FieldType]:
    return {"created_at": col(TIME, f"When the {what} was created."),
            "updated_at": col(TIME, f"When the {what} was last updated.")}


_AI_AVAILABILITY: dict[str, FieldType] = {
    "ai_chatbot_availability": col(BOOL, "Whether Fin (the AI agent) may use it."),
    "ai_copilot_availability": col(BOOL, "Whether Copilot may use it."),
    "ai_sales_agent_availability": col(BOOL, "Whether the AI sales agent may use it."),
}

MACRO_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always macro."),
    "id": col(STRING, "The id of the macro."),
    "name": col(STRING, "The macro's name."),
    "body": col(STRING, "The reply as HTML, placeholders as `<attribute key=… default=…/>`."),
    "body_text": col(STRING, "The reply as plain text, placeholders as `{{…}}`."),
    **_stamps("macro"),
    "visible_to": col(STRING, "Who can use it: everyone or specific_teams."),
    "visible_to_team_ids": col(list_of(STRING), "The teams that can use it (specific_teams)."),
    "available_on": col(list_of(STRING), "Where it can be used: inbox, messenger."),
}

_INTERVAL = struct(
    start_minute=col(INT, "Start, in minutes from Monday 00:00 (schedules) or from midnight (exceptions)."),
    end_minute=col(INT, "End, in the same minutes."),
    day_of_week=col(INT, "The day of the week the interval starts on (0 = Monday)."),
)

OFFICE_HOURS_SCHEDULE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always office_hours_schedule."),
    "id": col(STRING, "The id of the schedule."),
    "name": col(STRING, "The schedule's name."),
    "time_zone_name": col(STRING, "The IANA time zone the intervals are in."),
    "time_intervals": col(list_of(_INTERVAL), "The weekly open intervals."),
    "twenty_four_seven": col(BOOL, "Whether the team is always open."),
    **_stamps("schedule"),
}

OFFICE_HOURS_EXCEPTION_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always office_hours_exception."),
    "id": col(STRING, "The id of the exception."),
    "office_hours_schedule_id": col(STRING, "The schedule it changes."),
    "exception_date": col(STRING, "The day it applies to (YYYY-MM-DD, in the schedule's zone)."),
    "exception_type": col(STRING, "closed or custom_hours."),
    "name": col(STRING, "Its name (a holiday)."),
    "time_intervals": col(list_of(_INTERVAL), "The open intervals that day (custom_hours), from midnight."),
    "recurring_annually": col(BOOL, "Whether it comes back every year."),
    **_stamps("exception"),
}

BRAND_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always brand."),
    "id": col(STRING, "The id of the brand."),
    "name": col(STRING, "The brand's name."),
    "is_default": col(BOOL, "Whether it is the workspace's default brand."),
    **_stamps("brand"),
    "help_center_id": col(STRING, "The brand's help center."),
    "default_address_settings_id": col(STRING, "The brand's default sender address (email_settings)."),
}

EMAIL_SETTING_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always email_setting."),
    "id": col(STRING, "The id of the sender address setting."),
    "email": col(STRING, "The sender address."),
    "verified": col(BOOL, "Whether the address is verified."),
    "domain": col(STRING, "The address's domain."),
    "brand_id": col(STRING, "The brand it sends for."),
    "forwarding_enabled": col(BOOL, "Whether mail forwarded to it is received."),
    "forwarded_email_last_received_at": col(TIME, "When forwarded mail last arrived."),
    **_stamps("setting"),
}

INTERNAL_ARTICLE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always internal_article."),
    "id": col(STRING, "The id of the internal article."),
    "title": col(STRING, "The title."),
    "body": col(STRING, "The body as HTML."),
    "body_markdown": col(STRING, "The body as Markdown."),
    "owner_id": col(INT, "The admin who owns it."),
    "author_id": col(INT, "The admin who wrote it."),
    **_stamps("article"),
    "locale": col(STRING, "Its language."),
    "audience_ids": col(list_of(INT), "The audiences it is for."),
    **_AI_AVAILABILITY,
}

CONTENT_SNIPPET_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always content_snippet."),
    "id": col(STRING, "The id of the snippet."),
    "title": col(STRING, "The title."),
    "locale": col(STRING, "Its language."),
    "json_blocks": col(list_of(struct(type=col(STRING, "The block's kind (paragraph, heading ...)."),
                                      text=col(STRING, "The block's text."))),
                       "The content as blocks (other block fields go to `_extra`)."),
    "body_markdown": col(STRING, "The content as Markdown."),
    "chatbot_availability": col(INT, "Fin availability (legacy flag)."),
    "copilot_availability": col(INT, "Copilot availability (legacy flag)."),
    **_AI_AVAILABILITY,
    **_stamps("snippet"),
    "audience_ids": col(list_of(INT), "The audiences it is for."),
}

_PREDICATE = struct(
    attribute=col(STRING, "The attribute filtered on."),
    type=col(STRING, "The attribute's type."),
    comparison=col(STRING, "The comparison."),
    value=col(STRING, "The value compared against."),
)

AUDIENCE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always audience."),
    "id": col(STRING, "The id of the audience."),
    "name": col(STRING, "The audience's name."),
    "predicates": col(list_of(_PREDICATE), "The conditions on contacts."),
    "role_predicates": col(list_of(_PREDICATE), "The conditions on the contact's role."),
    **_stamps("audience"),
}

AI_EXTERNAL_PAGE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always external_page."),
    "id": col(STRING, "The id of the page."),
    "title": col(STRING, "The page's title."),
    "html": col(STRING, "The page's content as HTML."),
    "url": col(STRING, "Where the page lives."),
    "ai_agent_availability": col(BOOL, "Whether Fin may use it."),
    "ai_copilot_availability": col(BOOL, "Whether Copilot may use it."),
    "ai_sales_agent_availability": col(BOOL, "Whether the AI sales agent may use it."),
    "fin_availability": col(BOOL, "Whether Fin may use it (older flag)."),
    "locale": col(STRING, "Its language."),
    "source_id": col(INT, "The content import source it came from."),
    "external_id": col(STRING, "Its id in the source system."),
    **_stamps("page"),
    "last_ingested_at": col(TIME, "When Intercom last read it."),
}

AI_CONTENT_IMPORT_SOURCE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always content_import_source."),
    "id": col(STRING, "The id of the source."),
    "last_synced_at": col(TIME, "When it was last synced."),
    "sync_behavior": col(STRING, "How it syncs: api, automatic or manual."),
    "status": col(STRING, "active or deactivated."),
    "url": col(STRING, "The source's URL."),
    **_stamps("source"),
    "audience_ids": col(list_of(INT), "The audiences its pages are for."),
}

DATA_CONNECTOR_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always data_connector."),
    "id": col(STRING, "The id of the data connector."),
    "name": col(STRING, "Its name."),
    "description": col(STRING, "What it does."),
    "state": col(STRING, "draft or live."),
    "http_method": col(STRING, "The HTTP method it calls with."),
    "direct_fin_usage": col(BOOL, "Whether Fin calls it directly."),
    "created_by_admin_id": col(STRING, "The admin who created it."),
    "updated_by_admin_id": col(STRING, "The admin who last changed it."),
    **_stamps("connector"),
    "execution_results_url": col(STRING, "The API path of its execution results."),
}

DATA_CONNECTOR_EXECUTION_RESULT_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always data_connector.execution."),
    "id": col(STRING, "The id of the execution."),
    "data_connector_id": col(STRING, "The data connector that ran."),
    "success": col(BOOL, "Whether it succeeded."),
    "http_status": col(INT, "The HTTP status the call answered, if any."),
    "http_method": col(STRING, "The HTTP method used."),
    "error_type": col(STRING, "The kind of failure, if it failed."),
    "error_message": col(STRING, "The failure's message, if it failed."),
    "execution_time_ms": col(INT, "How long it took."),
    "source_type": col(STRING, "What ran it: workflow, inbox, fin…"),
    "source_id": col(STRING, "The id of what ran it."),
    "conversation_id": col(STRING, "The conversation it ran for, if any."),
    "created_at": col(TIME, "When it ran: its partition day."),
    "request_url": col(STRING, "The URL called."),
    "request_body": col(STRING, "The request body (only with include_bodies=true)."),
    "response_body": col(STRING, "The response body (only with include_bodies=true)."),
    "raw_response_body": col(STRING, "The raw response body (only with include_bodies=true)."),
}

HELP_CENTER_REDIRECT_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always help_center_redirect."),
    "id": col(STRING, "The id of the redirect."),
    "from_url": col(STRING, "The URL redirected."),
    "locale": col(STRING, "Its language."),
    "help_center_id": col(STRING, "The help center it belongs to."),
    "target_type": col(STRING, "What it points at (article, collection)."),
    "target_id": col(STRING, "The id of what it points at."),
    **_stamps("redirect"),
}

ACTIVITY_LOG_EVENT_TYPE_FIELDS: dict[str, FieldType] = {
    "id": col(STRING, "The event type's name (the list gives bare names: the name is the key)."),
}
