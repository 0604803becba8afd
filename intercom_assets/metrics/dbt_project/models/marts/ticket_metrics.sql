{{ config(location=metrics_location('ticket_metrics')) }}
{#
  One row per ticket: seconds spent in each state category (submitted, in_progress, waiting_on_customer, resolved)
  from its creation until it was last read, replayed from its state-change parts; the time to its first and last
  resolution. Where the 500-part cap hides early parts (parts_capped) the first state's time is unknown: the
  replay starts at the oldest stored change.
#}
with t as (
    select * from {{ ref('stg_tickets') }}
),

changes as (
    select ticket_id, part_id, at_s, previous_ticket_state, ticket_state
    from {{ ref('stg_ticket_parts') }}
    where ticket_state is not null and ticket_state is distinct from previous_ticket_state
),

parts as (
    select ticket_id, count(*) as parts_stored, max(ticket_total_parts) as parts_total
    from {{ ref('stg_ticket_parts') }}
    group by ticket_id
),

first_change as (
    select ticket_id, arg_min(previous_ticket_state, at_s) as initial_state from changes group by ticket_id
),

spans as (
    -- from creation in the first state, then from each change in the state it entered
    select t.ticket_id, t.created_s as from_s, coalesce(f.initial_state, t.state_category) as state
    from t left join first_change as f on f.ticket_id = t.ticket_id
    union all
    select ticket_id, at_s, ticket_state from changes
),

timed as (
    select
        s.ticket_id,
        s.state,
        s.from_s,
        coalesce(lead(s.from_s) over (partition by s.ticket_id order by s.from_s), t.as_of_s) - s.from_s as seconds
    from spans as s
    join t on t.ticket_id = s.ticket_id
)

select
    t.ticket_id,
    t.ticket_category,
    t.ticket_type,
    t.state_category,
    t.admin_assignee_id,
    t.team_assignee_id,
    t.created_at,
    coalesce(sum(greatest(d.seconds, 0)) filter (where d.state = 'submitted'), 0) as seconds_submitted,
    coalesce(sum(greatest(d.seconds, 0)) filter (where d.state = 'in_progress'), 0) as seconds_in_progress,
    coalesce(sum(greatest(d.seconds, 0)) filter (where d.state = 'waiting_on_customer'), 0)
        as seconds_waiting_on_customer,
    coalesce(sum(greatest(d.seconds, 0)) filter (where d.state = 'resolved'), 0) as seconds_resolved,
    min(d.from_s) filter (where d.state = 'resolved' and d.from_s > t.created_s) - t.created_s
        as time_to_first_resolution,
    case when t.state_category = 'resolved'
         then max(d.from_s) filter (where d.state = 'resolved' and d.from_s > t.created_s) - t.created_s
    end as time_to_resolution,
    coalesce(p.parts_stored, 0) as parts_stored,
    coalesce(p.parts_total, 0) > coalesce(p.parts_stored, 0) as parts_capped
from t
left join timed as d on d.ticket_id = t.ticket_id
left join parts as p on p.ticket_id = t.ticket_id
group by t.ticket_id, t.ticket_category, t.ticket_type, t.state_category, t.admin_assignee_id,
    t.team_assignee_id, t.created_at, t.created_s, p.parts_stored, p.parts_total
order by t.ticket_id
