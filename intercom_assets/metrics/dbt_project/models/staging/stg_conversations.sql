{% do source('intercom', 'conversations') %}
{% if lake_has('conversations', 'current') %}
select
    id as conversation_id,
    created_at,
    updated_at,
    epoch(created_at)::bigint as created_s,
    state,
    nullif(nullif(admin_assignee_id, '0'), '') as admin_assignee_id,
    nullif(nullif(team_assignee_id, '0'), '') as team_assignee_id,
    "source".type as channel,
    "source".delivered_as as delivered_as,
    "source".author.type as source_author_type,
    conversation_rating.rating as rating,
    conversation_rating.remark as rating_remark,
    conversation_rating.created_at as rating_created_at,
    conversation_rating.teammate.id as rated_admin_id,
    coalesce(ai_agent_participated, false) as ai_agent_participated,
    ai_agent.source_type as ai_agent_source_type,
    ai_agent.resolution_state as ai_agent_resolution_state,
    ai_agent.rating as ai_agent_rating,
    sla_applied.sla_name as sla_name,
    sla_applied.sla_status as sla_status,
    list_sort(list_transform(tags.tags, lambda t: t.name)) as tags,
    statistics.count_conversation_parts as statistics_count_parts,
    -- Intercom's own figures: the fallback where the 500-part cap hides a conversation's first parts
    epoch(statistics.first_contact_reply_at)::bigint as statistics_first_contact_reply_s,
    epoch(statistics.first_admin_reply_at)::bigint as statistics_first_admin_reply_s,
    epoch(statistics.first_assignment_at)::bigint as statistics_first_assignment_s,
    epoch(statistics.first_close_at)::bigint as statistics_first_close_s,
    statistics.count_reopens as statistics_count_reopens,
    statistics.count_assignments as statistics_count_assignments
from {{ lake_read('conversations', 'current') }}
{% else %}
select null::varchar as conversation_id, null::timestamptz as created_at, null::timestamptz as updated_at,
    null::bigint as created_s, null::varchar as state, null::varchar as admin_assignee_id,
    null::varchar as team_assignee_id, null::varchar as channel, null::varchar as delivered_as,
    null::varchar as source_author_type, null::bigint as rating, null::varchar as rating_remark,
    null::timestamptz as rating_created_at, null::varchar as rated_admin_id, null::boolean as ai_agent_participated,
    null::varchar as ai_agent_source_type, null::varchar as ai_agent_resolution_state, null::bigint as ai_agent_rating,
    null::varchar as sla_name, null::varchar as sla_status, null::varchar[] as tags,
    null::bigint as statistics_count_parts, null::bigint as statistics_first_contact_reply_s,
    null::bigint as statistics_first_admin_reply_s, null::bigint as statistics_first_assignment_s,
    null::bigint as statistics_first_close_s, null::bigint as statistics_count_reopens,
    null::bigint as statistics_count_assignments
limit 0
{% endif %}
