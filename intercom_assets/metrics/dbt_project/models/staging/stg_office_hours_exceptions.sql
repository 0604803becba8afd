{% do source('intercom', 'office_hours_exceptions') %}
{% if lake_has('office_hours_exceptions', 'snapshot') %}
select
    office_hours_schedule_id as schedule_id,
    cast(exception_date as date) as exception_date,
    exception_type,
    time_intervals,
    coalesce(recurring_annually, false) as recurring_annually
from {{ lake_read('office_hours_exceptions', 'snapshot') }}
{% else %}
select null::varchar as schedule_id, null::date as exception_date, null::varchar as exception_type,
    null::struct(start_minute bigint, end_minute bigint, day_of_week bigint)[] as time_intervals,
    null::boolean as recurring_annually
limit 0
{% endif %}
