{# The figures of company_metrics and contact_metrics over the group's rows of conversation_metrics (alias m). #}
{% macro conversation_group_metrics() %}
    count(distinct m.conversation_id) as conversations,
    count(distinct m.conversation_id) filter (where m.state = 'closed') as conversations_closed,
    quantile_cont(m.time_to_admin_reply, 0.5) as median_first_response_time,
    quantile_cont(m.time_to_admin_reply_office_hours, 0.5) as median_first_response_time_office_hours,
    quantile_cont(m.time_to_last_close, 0.5) as median_time_to_close,
    quantile_cont(m.time_to_last_close_office_hours, 0.5) as median_time_to_close_office_hours,
    count(m.rating) as ratings,
    avg(m.rating) as average_rating,
    count(*) filter (where m.rating >= 4) / nullif(count(m.rating), 0) as share_ratings_4_or_5,
    -- Fivetran's intercom__company_metrics figures, in its units
    count(distinct m.conversation_id) filter (where m.state = 'closed') as total_conversations_closed_fivetran,
    round(avg(m.parts_stored), 2) as average_conversation_parts_fivetran,
    avg(m.rating) as average_conversation_rating_fivetran,
    round(quantile_cont(m.count_reopens_fivetran, 0.5), 2) as median_conversations_reopened_fivetran,
    round(quantile_cont(m.time_to_first_response_minutes_fivetran, 0.5), 2)
        as median_time_to_first_response_time_minutes_fivetran,
    round(quantile_cont(m.time_to_last_close_minutes_fivetran, 0.5), 2) as median_time_to_last_close_minutes_fivetran
{% endmacro %}
