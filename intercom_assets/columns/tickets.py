"""Tickets (POST /tickets/search), their parts (GET /tickets/{id}), ticket types and ticket states."""

from __future__ import annotations

from intercom_assets.columns.shared import ATTACHMENT, AUTHOR, CONTACT_REFERENCE, LINKED_OBJECTS, REFERENCE
from intercom_assets.schemas import BOOL, INT, JSON, MAP, STRING, TIME, FieldType, col, list_of, struct

_STATE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always ticket_state."),
    "id": col(STRING, "The id of the ticket state."),
    "category": col(STRING, "The category of the state: submitted, in_progress, waiting_on_customer or resolved."),
    "internal_label": col(STRING, "The state's label for teammates."),
    "external_label": col(STRING, "The state's label for customers."),
}

TICKET_TYPE_ATTRIBUTE = struct(
    type=col(STRING, "Always ticket_type_attribute."),
    id=col(STRING, "The id of the ticket type attribute."),
    workspace_id=col(STRING, "The id of the workspace."),
    name=col(STRING, "The name of the attribute."),
    description=col(STRING, "The description of the attribute."),
    data_type=col(STRING, "string, list, integer, decimal, boolean, datetime or files."),
    input_options=col(JSON, "The attribute's input options (shape varies by data type)."),
    order=col(INT, "The order of the attribute among the others."),
    required_to_create=col(BOOL, "Whether teammates must fill it in."),
    required_to_create_for_contacts=col(BOOL, "Whether contacts must fill it in."),
    visible_on_create=col(BOOL, "Whether teammates see it."),
    visible_to_contacts=col(BOOL, "Whether contacts see it."),
    default=col(BOOL, "Whether the attribute is built in."),
    ticket_type_id=col(INT, "The id of the ticket type it belongs to."),
    archived=col(BOOL, "Whether the attribute is archived."),
    created_at=col(TIME, "When the attribute was created."),
    updated_at=col(TIME, "When the attribute was last updated."),
)

TICKET_TYPE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always ticket_type."),
    "id": col(STRING, "The id of the ticket type."),
    "category": col(STRING, "The category: Customer, Back-office or Tracker."),
    "name": col(STRING, "The name of the ticket type."),
    "description": col(STRING, "The description of the ticket type."),
    "icon": col(STRING, "The icon of the ticket type."),
    "workspace_id": col(STRING, "The id of the workspace the ticket type belongs to."),
    "is_internal": col(BOOL, "Whether the ticket type is internal (in the description's examples)."),
    "ticket_type_attributes": col(
        struct(
            _aliases={"ticket_type_attributes": "data"},
            type=col(STRING, "Always list."),
            data=col(list_of(TICKET_TYPE_ATTRIBUTE), "The attributes (the described `ticket_type_attributes` too)."),
        ),
        "The attributes a ticket of this type captures.",
    ),
    "ticket_states": col(
        struct(type=col(STRING, "Always list."), data=col(list_of(struct(**_STATE_FIELDS)), "The states.")),
        "The states a ticket of this type can be in.",
    ),
    "archived": col(BOOL, "Whether the ticket type is archived."),
    "created_at": col(TIME, "When the ticket type was created."),
    "updated_at": col(TIME, "When the ticket type was last updated."),
}

TICKET_STATE_FIELDS: dict[str, FieldType] = {
    **_STATE_FIELDS,
    "archived": col(BOOL, "Whether the ticket state is archived."),
    "ticket_types": col(
        struct(type=col(STRING, "Always list."), data=col(list_of(struct(**TICKET_TYPE_FIELDS)), "The types.")),
        "The ticket types that use this state.",
    ),
}

_PART_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always ticket_part."),
    "id": col(STRING, "The id of the ticket part."),
    "part_type": col(STRING, "The type of ticket part."),
    "body": col(STRING, "The message body, which may contain HTML."),
    "previous_ticket_state": col(STRING, "The ticket's state before this part."),
    "ticket_state": col(STRING, "The ticket's state."),
    "created_at": col(TIME, "When the part was created."),
    "updated_at": col(TIME, "When the part was last updated."),
    "assigned_to": col(REFERENCE, "The admin the ticket was assigned to by this part, if any."),
    "author": col(AUTHOR, "Who wrote or triggered the part: a bot, admin, team or user."),
    "attachments": col(list_of(ATTACHMENT), "The part's attachments."),
    "external_id": col(STRING, "The external id of the part."),
    "redacted": col(BOOL, "Whether the part has been redacted."),
    "app_package_code": col(STRING, "The app package code, if the part was created via API."),
    "updated_attribute_data": col(
        struct(
            attribute=col(
                struct(
                    type=col(STRING, "Always attribute."),
                    id=col(STRING, "The attribute's id."),
                    label=col(STRING, "The attribute's name."),
                ),
                "The attribute that was updated.",
            ),
            value=col(
                struct(
                    type=col(STRING, "Always value."),
                    id=col(JSON, "The value or list option id, or a list of file ids (JSON)."),
                    label=col(JSON, "The display value, or a list of file names (JSON)."),
                ),
                "The attribute's new value.",
            ),
        ),
        "The attribute an attribute-update part changed.",
    ),
}

TICKET_PART_FIELDS: dict[str, FieldType] = {
    **_PART_FIELDS,
    "ticket_id": col(STRING, "The id of the ticket the part belongs to."),
    "ticket_updated_at": col(TIME, "The ticket's updated_at: the part's partition day."),
    "ticket_total_parts": col(INT, "How many parts the ticket has (the API returns at most 500)."),
}

TICKET_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always ticket."),
    "id": col(STRING, "The id of the ticket, given by Intercom."),
    "ticket_id": col(STRING, "The ticket's id in the Inbox and Messenger (not for API queries)."),
    "category": col(STRING, "The category: Customer, Back-office or Tracker."),
    "ticket_attributes": col(MAP, "The ticket's attributes by name (JSON object)."),
    "ticket_state": col(struct(**_STATE_FIELDS), "The state the ticket is in."),
    "ticket_type": col(struct(**TICKET_TYPE_FIELDS), "The type of the ticket."),
    "contacts": col(
        struct(type=col(STRING, "Always contact.list."), contacts=col(list_of(CONTACT_REFERENCE), "The contacts.")),
        "The contacts the ticket affects.",
    ),
    "admin_assignee_id": col(STRING, "The id of the assigned admin (0 when unassigned)."),
    "team_assignee_id": col(STRING, "The id of the assigned team (0 when unassigned)."),
    "created_at": col(TIME, "When the ticket was created."),
    "updated_at": col(TIME, "When the ticket was last updated."),
    "open": col(BOOL, "Whether the ticket is open."),
    "snoozed_until": col(TIME, "When a snoozed ticket reopens."),
    "linked_objects": col(LINKED_OBJECTS, "Linked conversations and tickets."),
    "ticket_parts": col(
        struct(
            type=col(STRING, "Always ticket_part.list."),
            ticket_parts=col(list_of(struct(**_PART_FIELDS)), "The parts (ticket_parts holds them as rows too)."),
            total_count=col(INT, "How many parts the ticket has."),
        ),
        "The ticket's parts, when the search returns them.",
    ),
    "is_shared": col(BOOL, "Whether the ticket is shared with the customer."),
    "previous_ticket_state_id": col(STRING, "The id of the state before the latest state change."),
}
