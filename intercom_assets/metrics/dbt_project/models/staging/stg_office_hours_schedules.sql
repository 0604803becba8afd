{% do source('intercom', 'office_hours_schedules') %}
{% if lake_has('office_hours_schedules', 'snapshot') %}
select
    id as schedule_id,
    name as schedule_name,
    time_zone_name,
    coalesce(twenty_four_seven, false) as twenty_four_seven,
    time_intervals,
    created_at
from {{ lake_read('office_hours_schedules', 'snapshot') }}
{% else %}
select null::varchar as schedule_id, null::varchar as schedule_name, null::varchar as time_zone_name,
    null::boolean as twenty_four_seven,
    null::struct(start_minute bigint, end_minute bigint, day_of_week bigint)[] as time_intervals,
    null::timestamptz as created_at
limit 0
{% endif %}
