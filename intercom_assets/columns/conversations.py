"""Conversations (search results), their tags and contacts, and the workspace's conversation attributes.

The parts (GET /conversations/{id}) are declared in conversation_parts.py and re-exported here.
"""

from __future__ import annotations

from intercom_assets.columns.companies import COMPANY_FIELDS
from intercom_assets.columns.conversation_parts import CONVERSATION_PART_FIELDS
from intercom_assets.columns.shared import (
    ATTACHMENT,
    AUTHOR,
    CONTACT_REFERENCE,
    EMAIL_ADDRESS_HEADER,
    LINKED_OBJECTS,
    REFERENCE,
    TAG,
    TAG_FIELDS,
)
from intercom_assets.schemas import BOOL, FLOAT, INT, MAP, STRING, TIME, FieldType, col, list_of, struct

__all__ = [
    "CONVERSATION_ATTRIBUTE_FIELDS",
    "CONVERSATION_CONTACT_FIELDS",
    "CONVERSATION_FIELDS",
    "CONVERSATION_PART_FIELDS",
    "CONVERSATION_TAG_FIELDS",
]

_RESPONSE_TIME = struct(
    team_id=col(INT, "The id of the assigned team."),
    team_name=col(STRING, "The name of the assigned team (Unassigned when none)."),
    response_time=col(INT, "The team's first response time in seconds."),
)

STATISTICS = struct(
    type=col(STRING, "Always conversation_statistics."),
    time_to_assignment=col(INT, "Seconds until the last assignment before the first admin reply."),
    time_to_admin_reply=col(INT, "Seconds until the first admin reply, outside business hours excluded."),
    time_to_first_close=col(INT, "Seconds until the first close, outside business hours excluded."),
    time_to_last_close=col(INT, "Seconds until the last close, outside business hours excluded."),
    median_time_to_reply=col(INT, "Median seconds of admin replies after a contact reply."),
    first_contact_reply_at=col(TIME, "Time of the first text part from a contact."),
    first_assignment_at=col(TIME, "Time of the first assignment after first_contact_reply_at."),
    first_admin_reply_at=col(TIME, "Time of the first admin reply after first_contact_reply_at."),
    first_close_at=col(TIME, "Time of the first close after first_contact_reply_at."),
    last_assignment_at=col(TIME, "Time of the last assignment after first_contact_reply_at."),
    last_assignment_admin_reply_at=col(TIME, "Time of the first admin reply since the latest assignment."),
    last_contact_reply_at=col(TIME, "Time of the last part from a contact."),
    last_admin_reply_at=col(TIME, "Time of the last part from an admin."),
    last_close_at=col(TIME, "Time of the last close."),
    last_closed_by_id=col(STRING, "The id of the admin who last closed the conversation."),
    count_reopens=col(INT, "Reopens after first_contact_reply_at."),
    count_assignments=col(INT, "Assignments after first_contact_reply_at."),
    count_conversation_parts=col(INT, "Total number of conversation parts."),
    assigned_team_first_response_time=col(list_of(_RESPONSE_TIME), "First response time of each assigned team."),
    assigned_team_first_response_time_in_office_hours=col(
        list_of(_RESPONSE_TIME), "First response time of each assigned team within office hours."
    ),
    handling_time=col(INT, "Seconds from assignment to close."),
    adjusted_handling_time=col(INT, "Handling seconds excluding idle periods."),
)

SOURCE = struct(
    type=col(STRING, "The origin of the conversation."),
    id=col(STRING, "The id of the source message."),
    delivered_as=col(STRING, "How the conversation was initiated."),
    subject=col(STRING, "The message subject."),
    body=col(STRING, "The message body, which may contain HTML."),
    author=col(AUTHOR, "Who started the conversation: a contact, admin or bot."),
    attachments=col(list_of(ATTACHMENT), "The source message's attachments."),
    url=col(STRING, "The URL where the conversation was started."),
    redacted=col(BOOL, "Whether the source message has been redacted."),
    recipients=col(
        list_of(
            struct(
                type=col(STRING, "to, cc or bcc."),
                email=col(STRING, "The recipient's address."),
                drop_reason=col(STRING, "Why the recipient was dropped, if it was."),
            )
        ),
        "The source message's recipients (email conversations).",
    ),
    reply_to=col(
        list_of(struct(email=col(STRING, "The Reply-To address."), name=col(STRING, "Its display name."))),
        "The source message's Reply-To addresses (email conversations).",
    ),
    email_message_metadata=col(
        struct(
            message_id=col(STRING, "The email's Message-ID header."),
            subject=col(STRING, "The subject of the email."),
            email_address_headers=col(list_of(EMAIL_ADDRESS_HEADER), "The email's address headers."),
            history=col(STRING, "Quoted or forwarded history of the inbound email (HTML)."),
        ),
        "Email metadata, if the message was sent as an email.",
    ),
)

AI_AGENT = struct(
    source_type=col(STRING, "What triggered the AI Agent's involvement."),
    source_title=col(STRING, "The title of that source."),
    last_answer_type=col(STRING, "The type of the AI Agent's last answer."),
    resolution_state=col(STRING, "The AI Agent's resolution state."),
    rating=col(INT, "The customer's rating of the AI Agent, 1-5."),
    rating_remark=col(STRING, "The customer's remark with that rating."),
    created_at=col(TIME, "When the AI Agent rating was created."),
    updated_at=col(TIME, "When the AI Agent rating was last updated."),
    content_sources=col(
        struct(
            type=col(STRING, "Always content_source.list."),
            total_count=col(INT, "How many content sources the AI Agent used."),
            content_sources=list_of(
                struct(
                    content_type=col(STRING, "The type of the content source."),
                    url=col(STRING, "The teammate URL of the content source."),
                    title=col(STRING, "The title of the content source."),
                    locale=col(STRING, "The language code of the content source."),
                )
            ),
        ),
        "The content sources the AI Agent used.",
    ),
)

SCORECARD = struct(
    scorecard_id=col(STRING, "The id of the scorecard definition."),
    scorecard_version_id=col(STRING, "The id of the scorecard version that produced the result."),
    name=col(STRING, "The name of the scorecard."),
    scorecard_type=col(STRING, "The type of scorecard."),
    passed=col(BOOL, "Whether the conversation passed."),
    score=col(FLOAT, "The scorecard's score."),
    ai_score=col(FLOAT, "The score of the AI evaluation, if any."),
    evaluated_at=col(TIME, "When the scorecard was last evaluated."),
    reviewed_teammate=col(
        struct(type=col(STRING, "ai or admin."), admin_id=col(STRING, "The reviewed admin's id.")),
        "Whose handling was reviewed.",
    ),
    evaluators=col(
        list_of(
            struct(
                evaluator_id=col(STRING, "The id of the evaluator (criterion)."),
                result=col(
                    struct(
                        value=col(STRING, "The selected value."),
                        source=col(STRING, "Where the result came from (ai or human)."),
                        reasoning=col(STRING, "Why."),
                        reason_ids=col(list_of(STRING), "Structured reasons."),
                        other_text=col(STRING, "The reviewer's free text."),
                    ),
                    "The evaluator's result.",
                ),
            )
        ),
        "Each evaluator's result.",
    ),
)

# A ticket as the real API embeds it in a conversation (not in the 2.16 description).
CONVERSATION_TICKET = struct(
    type=col(STRING, "Always ticket."),
    id=col(STRING, "The ticket's id."),
    url=col(STRING, "The ticket's URL in the Intercom app."),
    custom_attributes=col(MAP, "The ticket's attributes as {name: {type, value}} (JSON object)."),
    state=col(STRING, "The ticket's state category."),
    ticket_custom_state_admin_label=col(STRING, "The ticket state's label for teammates."),
    ticket_custom_state_user_label=col(STRING, "The ticket state's label for customers."),
    ticket_type=col(STRING, "The name of the ticket type."),
    ticket_type_description=col(STRING, "The description of the ticket type."),
    ticket_type_emoji=col(STRING, "The emoji of the ticket type."),
)

CONVERSATION_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always conversation."),
    "id": col(STRING, "The id of the conversation."),
    "title": col(STRING, "The title given to the conversation."),
    "created_at": col(TIME, "When the conversation was created."),
    "updated_at": col(TIME, "When the conversation was last updated."),
    "waiting_since": col(TIME, "Since when the contact has waited for a reply (null after an admin's reply)."),
    "snoozed_until": col(TIME, "When a snoozed conversation reopens."),
    "open": col(BOOL, "Whether the conversation is open."),
    "state": col(STRING, "open, closed or snoozed."),
    "read": col(BOOL, "Whether the conversation has been read."),
    "priority": col(STRING, "The priority: none, low, medium, high or urgent."),
    "admin_assignee_id": col(STRING, "The id of the assigned admin (0 when unassigned)."),
    "team_assignee_id": col(STRING, "The id of the assigned team (0 when unassigned)."),
    "company": col(struct(**COMPANY_FIELDS), "The company associated with the conversation."),
    "tags": col(
        struct(type=col(STRING, "Always tag.list."), tags=col(list_of(TAG), "The tags.")),
        "The tags on the conversation.",
    ),
    "topics": col(
        struct(
            type=col(STRING, "Always topic.list."),
            topics=list_of(
                struct(
                    type=col(STRING, "Always topic."), id=col(STRING, "The topic's id."), name=col(STRING, "Its name.")
                )
            ),
            total_count=col(INT, "How many topics."),
        ),
        "The topics detected in the conversation (sent by the real API).",
    ),
    "conversation_rating": col(
        struct(
            rating=col(INT, "The rating, 1 to 5."),
            remark=col(STRING, "The remark added to the rating."),
            created_at=col(TIME, "When the rating was requested."),
            updated_at=col(TIME, "When the rating was last updated."),
            contact=col(CONTACT_REFERENCE, "The contact who rated."),
            teammate=col(REFERENCE, "The admin who was rated."),
        ),
        "The contact's rating and remark, and the admin rated.",
    ),
    "source": col(SOURCE, "The message that started the conversation."),
    "contacts": col(
        struct(type=col(STRING, "Always contact.list."), contacts=col(list_of(CONTACT_REFERENCE), "The contacts.")),
        "The contacts (users or leads) in the conversation.",
    ),
    "teammates": col(
        struct(
            _aliases={"teammates": "admins"},
            type=col(STRING, "Always admin.list."),
            admins=col(list_of(REFERENCE), "The admins (the description's `teammates` list lands here too)."),
        ),
        "The teammates who wrote at least one part of the conversation.",
    ),
    "custom_attributes": col(MAP, "The conversation's custom attributes (JSON object)."),
    "first_contact_reply": col(
        struct(
            created_at=col(TIME, "When the contact first replied."),
            type=col(STRING, "The type of that reply."),
            url=col(STRING, "The URL of that reply."),
        ),
        "The contact's first message.",
    ),
    "sla_applied": col(
        struct(
            type=col(STRING, "Always sla_applied."),
            sla_name=col(STRING, "The name of the SLA."),
            sla_status=col(STRING, "hit, missed, cancelled or active."),
        ),
        "The SLA applied to the conversation.",
    ),
    "statistics": col(STATISTICS, "Reporting timestamps and metrics of the conversation."),
    "conversation_parts": col(
        struct(
            type=col(STRING, "Always conversation_part.list."),
            total_count=col(INT, "How many parts the conversation has."),
        ),
        "The summary of the conversation's parts, when the answer gives one (the parts are conversation_parts rows).",
    ),
    "linked_objects": col(LINKED_OBJECTS, "Linked conversations and tickets."),
    "ticket": col(CONVERSATION_TICKET, "The ticket the conversation is, if any (sent by the real API)."),
    "ai_agent_participated": col(BOOL, "Whether the AI Agent participated."),
    "ai_agent": col(AI_AGENT, "The AI Agent's involvement."),
    "sales_agent_participated": col(BOOL, "Whether the Sales Agent participated."),
    "sales_agent": col(
        struct(
            outcome=col(STRING, "The fixed outcome of the sales agent interaction."),
            routing_outcome=col(STRING, "The user-defined routing outcome selected."),
            collected_data=col(MAP, "The memory fields the sales agent collected (JSON object)."),
        ),
        "The Sales Agent's involvement.",
    ),
    "channel": col(
        struct(initial=col(STRING, "The channel it started in."), current=col(STRING, "Its current channel.")),
        "The channel of the conversation.",
    ),
    "external_references": col(
        list_of(struct(type=col(STRING, "The external system."), id=col(STRING, "The record's id there."))),
        "Records in an external helpdesk or CRM this conversation links to.",
    ),
    "monitor_evaluations": col(
        list_of(
            struct(
                monitor_id=col(STRING, "The id of the monitor."),
                monitor_name=col(STRING, "The monitor's name at evaluation."),
                monitor_type=col(STRING, "The monitor's type."),
                result=col(STRING, "The evaluation outcome."),
                explanation=col(STRING, "The monitor's reasoning."),
                evaluated_at=col(TIME, "When the monitor evaluated the conversation."),
            )
        ),
        "QA monitor evaluations (only with include_monitors=true).",
    ),
    "scorecards": col(list_of(SCORECARD), "QA scorecard results (only with include_scorecards=true)."),
}

_CONVERSATION_LINK: dict[str, FieldType] = {
    "conversation_id": col(STRING, "The id of the conversation."),
    "conversation_updated_at": col(TIME, "The conversation's updated_at: the version this row was read from."),
}

CONVERSATION_TAG_FIELDS: dict[str, FieldType] = {**TAG_FIELDS, **_CONVERSATION_LINK}

CONVERSATION_CONTACT_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always contact."),
    "id": col(STRING, "The contact's id, given by Intercom."),
    "external_id": col(STRING, "The contact's id, provided by the client."),
    **_CONVERSATION_LINK,
}

CONVERSATION_ATTRIBUTE_FIELDS: dict[str, FieldType] = {
    "type": col(STRING, "Always conversation_attribute."),
    "id": col(STRING, "The id of the conversation attribute."),
    "name": col(STRING, "The name of the attribute."),
    "description": col(STRING, "The attribute's description."),
    "data_type": col(STRING, "string, integer, list, decimal, boolean, datetime, relationship or files."),
    "required": col(BOOL, "Whether the attribute is required."),
    "visible_to_team_ids": col(list_of(STRING), "The teams that can see it (empty: every team)."),
    "archived": col(BOOL, "Whether the attribute is archived."),
    "created_at": col(TIME, "When the attribute was created."),
    "updated_at": col(TIME, "When the attribute was last updated."),
    "admin_id": col(STRING, "The admin who created the attribute."),
    "multiline": col(BOOL, "Whether a string attribute is multiline."),
    "options": col(
        list_of(
            struct(
                id=col(STRING, "The option's UUID."),
                label=col(STRING, "The option's label."),
                archived=col(BOOL, "Whether the option is archived."),
            )
        ),
        "A list attribute's options.",
    ),
    "reference": col(
        struct(type=col(STRING, "one or many."), object_type_id=col(STRING, "The related custom object type.")),
        "A relationship attribute's target.",
    ),
}
