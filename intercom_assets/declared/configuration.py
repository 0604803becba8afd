"""Tables of the 2.16 workspace configuration and knowledge lists: macros, office hours (and their exceptions),
brands, sender addresses, internal articles, content snippets, audiences, AI content sources and external pages,
data connectors, help center redirects and the activity log's event types.

Snapshots but `macros`: these lists are small, state no order and take no time parameter, so a windowed read
would read them whole anyway; a daily copy is what a reader of a configuration wants. `macros` comes newest
first and takes `updated_since`: it is read from the window's start only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intercom_assets.columns.configuration import (
    ACTIVITY_LOG_EVENT_TYPE_FIELDS,
    AI_CONTENT_IMPORT_SOURCE_FIELDS,
    AI_EXTERNAL_PAGE_FIELDS,
    AUDIENCE_FIELDS,
    BRAND_FIELDS,
    CONTENT_SNIPPET_FIELDS,
    DATA_CONNECTOR_EXECUTION_RESULT_FIELDS,
    DATA_CONNECTOR_FIELDS,
    EMAIL_SETTING_FIELDS,
    HELP_CENTER_REDIRECT_FIELDS,
    INTERNAL_ARTICLE_FIELDS,
    MACRO_FIELDS,
    OFFICE_HOURS_EXCEPTION_FIELDS,
    OFFICE_HOURS_SCHEDULE_FIELDS,
)
from intercom_assets.declarations import BY_ID, Children, Source, TableSpec
from intercom_assets.declared.build import child_table, snapshot_list, snapshot_table, windowed_table
from intercom_assets.schemas import TIME, col

OFFICE_HOURS_SCHEDULES = snapshot_list("office_hours_schedules", "/office_hours_schedules", "data")
HELP_CENTERS = snapshot_list("help_centers", "/help_center/help_centers", "data")
OFFICE_HOURS_EXCEPTIONS = Source("office_hours_exceptions_by_id", BY_ID,
                                 "/office_hours_schedules/{id}/office_hours_exceptions", "data")
DATA_CONNECTORS = snapshot_list("data_connectors", "/data_connectors", "data")
# Without start_ts/end_ts the API answers the last hour only: the run asks for its window.
EXECUTION_RESULTS = Source("data_connector_runs_by_id", BY_ID, "/data_connectors/{id}/execution_results", "data",
                           {"per_page": "30"}, window_params=("start_ts", "end_ts"))
HELP_CENTER_REDIRECTS = Source("help_center_redirects_by_id", BY_ID, "/help_center/help_centers/{id}/redirects",
                               "data", {"per_page": "250"})


def event_type_rows(name: Any) -> Iterable[dict[str, Any]]:
    """The event-type list gives bare names: each is a row keyed by itself."""
    if isinstance(name, str):
        yield {"id": name}


def _snapshot(name: str, path: str, fields: dict, what: str, described_by: str, list_key: str = "data",
              params: dict[str, str] | None = None) -> TableSpec:
    return snapshot_table(name, snapshot_list(name, path, list_key, params), fields, what,
                          described_by=described_by)


def _per_snapshot_parent(name: str, parent: str, prefix: str, fetch: Source, fields: dict, what: str,
                         described_by: str, source: Source) -> TableSpec:
    return child_table(
        name, Children(parent, prefix, fetch=fetch), source,
        {**fields, f"{prefix}_updated_at": col(TIME, f"The {parent} record's updated_at when this was read.")},
        f"Daily snapshot of {what}, from {fetch.request} for each of the {parent}.", key=("id",),
        described_by=described_by, snapshot=True,
    )


CONFIGURATION_TABLES: tuple[TableSpec, ...] = (
    windowed_table("macros", "/macros", MACRO_FIELDS, "Macros (saved replies)", newest_first=True,
                   described_by="macro", since_param="updated_since", params={"per_page": "150"}),
    snapshot_table("office_hours_schedules", OFFICE_HOURS_SCHEDULES, OFFICE_HOURS_SCHEDULE_FIELDS,
                   "office hours schedules", described_by="office_hours_schedule"),
    _per_snapshot_parent("office_hours_exceptions", "office_hours_schedules", "office_hours_schedule",
                         OFFICE_HOURS_EXCEPTIONS, OFFICE_HOURS_EXCEPTION_FIELDS,
                         "office hours exceptions (holidays, custom hours)", "office_hours_exception",
                         OFFICE_HOURS_SCHEDULES),
    _snapshot("brands", "/brands", BRAND_FIELDS, "brands", "brand"),
    _snapshot("email_settings", "/emails", EMAIL_SETTING_FIELDS, "sender email addresses", "email_setting"),
    _snapshot("internal_articles", "/internal_articles", INTERNAL_ARTICLE_FIELDS, "internal articles",
              "internal_article_list_item", params={"per_page": "150"}),
    _snapshot("content_snippets", "/content_snippets", CONTENT_SNIPPET_FIELDS, "content snippets",
              "content_snippet", params={"per_page": "150"}),
    _snapshot("audiences", "/audiences", AUDIENCE_FIELDS, "audiences", "audience", params={"per_page": "150"}),
    _snapshot("ai_external_pages", "/ai/external_pages", AI_EXTERNAL_PAGE_FIELDS, "AI external pages",
              "external_page"),
    _snapshot("ai_content_import_sources", "/ai/content_import_sources", AI_CONTENT_IMPORT_SOURCE_FIELDS,
              "AI content import sources", "content_import_source"),
    snapshot_table("data_connectors", DATA_CONNECTORS, DATA_CONNECTOR_FIELDS, "data connectors",
                   described_by="data_connector"),
    child_table(
        "data_connector_execution_results",
        Children("data_connectors", "data_connector", fetch=EXECUTION_RESULTS, records=True), DATA_CONNECTORS,
        {**DATA_CONNECTOR_EXECUTION_RESULT_FIELDS,
         "data_connector_updated_at": col(TIME, "The data connector's updated_at when its runs were read.")},
        "Each run of each data connector in the run's range (failed ones with their error), from GET "
        "/data_connectors/{id}/execution_results?start_ts=&end_ts=; a run lands in the day of its created_at.",
        key=("id",), described_by="data_connector_execution_result", partition_column="created_at",
    ),
    _per_snapshot_parent("help_center_redirects", "help_centers", "help_center", HELP_CENTER_REDIRECTS,
                         HELP_CENTER_REDIRECT_FIELDS, "help center URL redirects", "help_center_redirect",
                         HELP_CENTERS),
    snapshot_table("activity_log_event_types",
                   snapshot_list("activity_log_event_types", "/admins/activity_log_event_types", "event_types"),
                   ACTIVITY_LOG_EVENT_TYPE_FIELDS, "activity log event types (the names)", rows=event_type_rows,
                   described_by="activity_log_event_type_list"),
)
