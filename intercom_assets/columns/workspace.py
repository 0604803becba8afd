"""Workspace-level lists: admins, teams, tags, data attributes, activity logs, subscription types, away reasons.

Segments are declared in shared.py (SEGMENT_FIELDS), since companies embed them too.
"""

from __future__ import annotations

from intercom_assets.columns.shared import ADMIN_FIELDS, TAG_FIELDS
from intercom_assets.schemas import BOOL, INT, JSON, STRING, TIME, FieldType, col, list_of, struct

__all__ = [
    "ACTIVITY_LOG_FIELDS",
    "ADMIN_FIELDS",
    "AWAY_STATUS_REASON_FIELDS",
    "DATA_ATTRIBUTE_FIELDS",
    "SUBSCRIPTION_TYPE_FIELDS",
    "TAG_FIELDS",
    "TEAM_FIELDS",
]

DATA_ATTRIBUTE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always data_attribute."),
    "id": col(STRING, "The API id of a custom attribute, else `<model>:<full_name>` (built-ins have no id)."),
    "api_id": col(INT, "The id Intercom gives a custom attribute (null for built-ins)."),
    "model": col(STRING, "contact for user/lead attributes, company for company attributes."),
    "name": col(STRING, "The name of the attribute."),
    "full_name": col(STRING, "The full name: the name, or a dotted path for a nested attribute."),
    "label": col(STRING, "The attribute's name in the UI."),
    "description": col(STRING, "The attribute's description."),
    "data_type": col(STRING, "The data type of the attribute."),
    "options": col(list_of(STRING), "The predefined options for the attribute's value."),
    "api_writable": col(BOOL, "Whether the API can update the attribute."),
    "messenger_writable": col(BOOL, "Whether the Messenger can update the attribute."),
    "ui_writable": col(BOOL, "Whether the UI can update the attribute."),
    "custom": col(BOOL, "Whether this is a custom data attribute."),
    "archived": col(BOOL, "Whether the attribute is archived (custom attributes only)."),
    "created_at": col(TIME, "When the attribute was created."),
    "updated_at": col(TIME, "When the attribute was last updated."),
    "admin_id": col(STRING, "The admin who created the attribute (custom attributes only)."),
}

TEAM_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always team."),
    "id": col(STRING, "The id of the team."),
    "name": col(STRING, "The name of the team."),
    "admin_ids": col(list_of(INT), "The ids of the admins in the team."),
    "admin_priority_level": col(
        struct(
            primary_admin_ids=col(list_of(INT), "The team's primary admin ids."),
            secondary_admin_ids=col(list_of(INT), "The team's secondary admin ids."),
        ),
        "The admins' priority levels in the team.",
    ),
    "assignment_limit": col(INT, "The team's assignment limit (load-balanced teams only)."),
    "distribution_method": col(STRING, "How assignments are distributed among the members."),
}

ACTIVITY_LOG_FIELDS: dict[str, FieldType] = {
    "id": col(STRING, "The id of the activity."),
    "performed_by": col(
        struct(
            type=col(STRING, "Always admin."),
            id=col(STRING, "The id of the admin."),
            email=col(STRING, "The email of the admin."),
            ip=col(STRING, "The IP address of the admin."),
        ),
        "The admin involved in the activity.",
    ),
    "metadata": col(
        struct(
            sign_in_method=col(STRING, "How the admin signed in."),
            external_id=col(STRING, "The contact's id, provided by the client."),
            away_mode=col(BOOL, "Whether the admin went away (true) or came back (false)."),
            away_status_reason=col(STRING, "Why the admin is away."),
            reassign_conversations=col(BOOL, "Whether conversations are reassigned while away."),
            source=col(STRING, "The action that initiated the status change."),
            auto_changed=col(STRING, "Whether the status changed automatically or manually."),
            update_by=col(INT, "The id of the admin who initiated the activity."),
            update_by_name=col(STRING, "The name of that admin."),
            previous_state=col(STRING, "The state before the change: idle or occupied."),
            new_state=col(STRING, "The state after the change: idle or occupied."),
            threshold_minutes=col(INT, "The inactivity window used to classify the admin, in minutes."),
            last_activity_at=col(TIME, "The admin's last recorded activity."),
            auto=col(BOOL, "Whether the state was derived automatically."),
            setting_type=col(STRING, "The group of workspace settings changed."),
            changes=col(JSON, "The settings changed, by name, each {before, after} (values vary by setting)."),
            conversation_assignment_limit=col(INT, "The admin's conversation assignment limit."),
            ticket_assignment_limit=col(INT, "The admin's ticket assignment limit."),
            team=col(struct(id=col(INT, "The team's id."), name=col(STRING, "Its name.")), "The team changed."),
            team_assignment_limit=col(INT, "The team's assignment limit (null if removed)."),
            enabled=col(BOOL, "Whether the setting is enabled."),
            mode=col(STRING, "The mode of the setting."),
            consent_id=col(INT, "The id of the impersonation consent."),
            expired_at=col(STRING, "When the impersonation consent expires (ISO 8601 text)."),
            message=col(
                struct(id=col(STRING, "The message's id."), title=col(STRING, "Its title.")),
                "The message the activity concerns (in the description's examples).",
            ),
            before=col(JSON, "Settings or values before the change (shape varies by activity type)."),
            after=col(JSON, "Settings or values after the change (shape varies by activity type)."),
        ),
        "Further data about the activity.",
    ),
    "created_at": col(TIME, "When the activity happened."),
    "activity_type": col(STRING, "The type of the activity."),
    "activity_description": col(STRING, "A sentence or two describing the activity."),
}

_TRANSLATION = struct(
    name=col(STRING, "The localised name."),
    description=col(STRING, "The localised description."),
    locale=col(STRING, "The two-letter language code."),
)

SUBSCRIPTION_TYPE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always subscription."),
    "id": col(STRING, "The id of the subscription type."),
    "state": col(STRING, "The state of the subscription type: live, draft or archived."),
    "default_translation": col(_TRANSLATION, "The name and description in the default language."),
    "translations": col(list_of(_TRANSLATION), "The name and description in each available locale."),
    "consent_type": col(STRING, "The type of consent: opt_out or opt_in."),
    "content_types": col(list_of(STRING), "The message types it covers: email or sms_message."),
}

AWAY_STATUS_REASON_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always away_status_reason."),
    "id": col(STRING, "The id of the away status reason."),
    "label": col(STRING, "The text shown for the reason."),
    "emoji": col(STRING, "The emoji of the reason."),
    "order": col(INT, "The display order of the reason."),
    "deleted": col(BOOL, "Whether the reason has been soft deleted."),
    "created_at": col(TIME, "When the reason was created."),
    "updated_at": col(TIME, "When the reason was last updated."),
}
