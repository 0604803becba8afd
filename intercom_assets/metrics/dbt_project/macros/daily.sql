{# The daily figures of admin_daily_metrics and team_daily_metrics, grouped by `actor` (admin_id or team_id). #}
{% macro daily_metrics(actor) %}
select
    {{ actor }},
    day,
    count(distinct conversation_id) filter (where kind = 'assigned') as conversations_assigned,
    count(distinct conversation_id) filter (where kind = 'reply') as conversations_participated,
    count(*) filter (where kind = 'reply') as replies_sent,
    count(distinct conversation_id) filter (where kind = 'closed') as conversations_closed,
    count(*) filter (where kind = 'first_response') as first_responses,
    quantile_cont(seconds, 0.5) filter (where kind = 'first_response') as median_first_response_time,
    quantile_cont(seconds, 0.9) filter (where kind = 'first_response') as p90_first_response_time,
    quantile_cont(office_seconds, 0.5) filter (where kind = 'first_response')
        as median_first_response_time_office_hours,
    quantile_cont(office_seconds, 0.9) filter (where kind = 'first_response')
        as p90_first_response_time_office_hours,
    count(*) filter (where kind = 'time_to_close') as last_closes,
    quantile_cont(seconds, 0.5) filter (where kind = 'time_to_close') as median_time_to_close,
    quantile_cont(seconds, 0.9) filter (where kind = 'time_to_close') as p90_time_to_close,
    quantile_cont(office_seconds, 0.5) filter (where kind = 'time_to_close') as median_time_to_close_office_hours,
    quantile_cont(office_seconds, 0.9) filter (where kind = 'time_to_close') as p90_time_to_close_office_hours
from {{ ref('int_activity_events') }}
where {{ actor }} is not null and day is not null
group by {{ actor }}, day
{% endmacro %}
