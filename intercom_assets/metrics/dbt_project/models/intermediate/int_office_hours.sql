{#
  The open intervals of the office hours schedule the metrics use, in UTC epoch seconds, each with the open seconds
  of every earlier interval (`open_before_s`), so that the office seconds of [a, b) are clock(b) - clock(a) where
  clock(t) = open_before_s + least(t, close_s) - open_s of the last interval opening at or before t.

  The schedule: var office_hours_schedule (INTERCOM_OFFICE_HOURS_SCHEDULE: an id or a name), else the only or the
  first created one. Its weekly intervals count minutes from Monday 00:00 in its time zone; each is cut at local
  midnights, every local day of an exception (exception_date, or the same month and day every year when
  recurring_annually) loses its regular hours and gets the exception's own (custom_hours; none when closed), and
  local times become UTC instants day by day, so daylight-saving changes move the hours against UTC. A
  twenty_four_seven schedule is one interval that never closes. No schedule: no interval (the *_office_hours
  columns are then null).
#}
{% set wanted = var('office_hours_schedule', '') %}
with candidates as (
    select * from {{ ref('stg_office_hours_schedules') }}
    {% if wanted %}
    where schedule_id = '{{ wanted | replace("'", "''") }}' or schedule_name = '{{ wanted | replace("'", "''") }}'
    {% endif %}
),

schedule as (
    select * from candidates order by created_at nulls last, schedule_id limit 1
),

{% if wanted %}
-- a schedule named by the setting must exist (when the lake has any schedule at all)
checked as (
    select case
        when (select count(*) from candidates) = 0 and (select count(*) from {{ ref('stg_office_hours_schedules') }}) > 0
        then error('INTERCOM_OFFICE_HOURS_SCHEDULE={{ wanted | replace("'", "") }} names no office hours schedule')
    end as ok
),
{% endif %}

horizon as (
    -- every local day the data can need, with a week's margin each side
    select
        coalesce(least((select min(created_at) from {{ ref('stg_conversations') }}),
                       (select min(created_at) from {{ ref('stg_tickets') }}))::date, current_date) - 8 as first_day,
        greatest(current_date, coalesce(greatest((select max(updated_at) from {{ ref('stg_conversations') }}),
                                                 (select max(created_at) from {{ ref('stg_tickets') }}))::date,
                                         current_date)) + 8 as last_day
),

weeks as (
    select cast(w as date) as week_start
    from horizon, range(date_trunc('week', first_day), last_day + 1, interval 7 day) as t(w)
),

regular_intervals as (
    select unnest(time_intervals) as iv from schedule where not twenty_four_seven
),

-- each weekly interval cut at local midnights: (day of the week, start and end minute within that day)
regular_pieces as (
    select
        d as week_day,
        greatest(iv.start_minute, d * 1440) - d * 1440 as start_minute,
        least(iv.end_minute, (d + 1) * 1440) - d * 1440 as end_minute
    from regular_intervals,
        range(iv.start_minute // 1440, (iv.end_minute - 1) // 1440 + 1) as t(d)
    where iv.end_minute > iv.start_minute
),

exception_days as (
    -- every local date an exception applies to within the horizon
    select e.exception_date as day, e.exception_type, e.time_intervals
    from {{ ref('stg_office_hours_exceptions') }} as e, schedule as s, horizon as h
    where e.schedule_id = s.schedule_id and not e.recurring_annually
      and e.exception_date between h.first_day and h.last_day
    union all
    select
        try_cast(make_date(y::bigint, month(e.exception_date), day(e.exception_date)) as date) as day,
        e.exception_type, e.time_intervals
    from {{ ref('stg_office_hours_exceptions') }} as e, schedule as s, horizon as h,
        range(year(h.first_day), year(h.last_day) + 1) as t(y)
    where e.schedule_id = s.schedule_id and e.recurring_annually
),

local_intervals as (
    select cast(w.week_start + p.week_day * interval 1 day as date) as day, p.start_minute, p.end_minute
    from weeks as w, regular_pieces as p
    where cast(w.week_start + p.week_day * interval 1 day as date) not in (
        select day from exception_days where day is not null)
    union all
    select day, iv.start_minute, iv.end_minute
    from (select day, unnest(time_intervals) as iv from exception_days
          where exception_type = 'custom_hours' and day is not null)
),

utc_intervals as (
    select
        epoch(timezone(s.time_zone_name, cast(day as timestamp) + start_minute * interval 1 minute))::bigint as open_s,
        epoch(timezone(s.time_zone_name, cast(day as timestamp) + end_minute * interval 1 minute))::bigint as close_s
    from local_intervals, schedule as s
    union all
    select 0 as open_s, 253402300799 as close_s from schedule where twenty_four_seven
)

select
    open_s,
    close_s,
    coalesce(sum(close_s - open_s) over (order by open_s rows between unbounded preceding and 1 preceding), 0)
        as open_before_s
from utc_intervals
{% if wanted %}, checked{% endif %}
where close_s > open_s{% if wanted %} and checked.ok is null{% endif %}
