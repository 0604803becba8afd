{# One row per stored part, with the author and part-type tests every metric shares (README "Support metrics"). #}
{% do source('intercom', 'conversation_parts') %}
{% if lake_has('conversation_parts', 'current') %}
select
    conversation_id,
    id as part_id,
    part_type,
    created_at,
    epoch(created_at)::bigint as at_s,
    author.type as author_type,
    author.id as author_id,
    assigned_to.type as assigned_to_type,
    assigned_to.id as assigned_to_id,
    state,
    body is not null as has_body,
    conversation_total_parts,
    author.type in ('user', 'lead', 'contact') as by_contact,
    author.type = 'admin' and not coalesce(author.from_ai_agent, false) as by_admin,
    author.type = 'bot' or coalesce(author.from_ai_agent, false) as by_bot,
    -- a text the customer sees: anything but a note, with a body (a redacted part keeps none)
    part_type <> 'note' and (body is not null or coalesce(redacted, false)) as is_visible_text,
    part_type like '%assign%' as is_assignment,
    part_type in ('open', 'assign_and_reopen') as is_reopen,
    part_type = 'close' as is_close,
    part_type = 'note' as is_note
from {{ lake_read('conversation_parts', 'current') }}
{% else %}
select null::varchar as conversation_id, null::varchar as part_id, null::varchar as part_type,
    null::timestamptz as created_at, null::bigint as at_s, null::varchar as author_type, null::varchar as author_id,
    null::varchar as assigned_to_type, null::varchar as assigned_to_id, null::varchar as state,
    null::boolean as has_body, null::bigint as conversation_total_parts, null::boolean as by_contact,
    null::boolean as by_admin, null::boolean as by_bot, null::boolean as is_visible_text,
    null::boolean as is_assignment, null::boolean as is_reopen, null::boolean as is_close, null::boolean as is_note
limit 0
{% endif %}
