{% do source('intercom', 'ticket_parts') %}
{% if lake_has('ticket_parts', 'current') %}
select
    ticket_id,
    id as part_id,
    part_type,
    epoch(created_at)::bigint as at_s,
    previous_ticket_state,
    ticket_state,
    ticket_total_parts
from {{ lake_read('ticket_parts', 'current') }}
{% else %}
select null::varchar as ticket_id, null::varchar as part_id, null::varchar as part_type, null::bigint as at_s,
    null::varchar as previous_ticket_state, null::varchar as ticket_state, null::bigint as ticket_total_parts
limit 0
{% endif %}
