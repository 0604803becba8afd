{% do source('intercom', 'tickets') %}
{% if lake_has('tickets', 'current') %}
select
    id as ticket_id,
    category as ticket_category,
    ticket_type.name as ticket_type,
    ticket_state.category as state_category,
    "open",
    nullif(nullif(admin_assignee_id, '0'), '') as admin_assignee_id,
    nullif(nullif(team_assignee_id, '0'), '') as team_assignee_id,
    created_at,
    epoch(created_at)::bigint as created_s,
    -- the ticket's current state lasts until it was read
    epoch(coalesce(_extracted_at, updated_at))::bigint as as_of_s
from {{ lake_read('tickets', 'current') }}
{% else %}
select null::varchar as ticket_id, null::varchar as ticket_category, null::varchar as ticket_type,
    null::varchar as state_category, null::boolean as "open", null::varchar as admin_assignee_id,
    null::varchar as team_assignee_id, null::timestamptz as created_at, null::bigint as created_s,
    null::bigint as as_of_s
limit 0
{% endif %}
