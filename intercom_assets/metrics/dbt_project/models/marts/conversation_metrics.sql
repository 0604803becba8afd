{{ config(location=metrics_location('conversation_metrics')) }}
{#
  One row per conversation of the current state. Durations in seconds, from the first contact reply, wall-clock
  and within office hours (int_office_hours); *_fivetran columns as Fivetran's dbt_intercom computes them. Where
  the 500-part cap hides a conversation's first parts, its first events and counts come from Intercom's own
  statistics (metrics_source = 'statistics').
#}
with conv as (
    select * from {{ ref('stg_conversations') }}
),

ev as (
    select
        e.*,
        c.parts_total_known > e.parts_stored as parts_capped
    from {{ ref('int_conversation_events') }} as e
    join (select conversation_id, coalesce(statistics_count_parts, 0) as parts_total_known from conv) as c
        on c.conversation_id = e.conversation_id
),

chosen as (
    select
        ev.*,
        case when ev.parts_capped then 'statistics' else 'parts' end as metrics_source,
        case when ev.parts_capped then coalesce(c.statistics_first_contact_reply_s, ev.first_contact_reply_s)
             else ev.first_contact_reply_s end as fcr_s,
        case when ev.parts_capped then coalesce(c.statistics_first_admin_reply_s, ev.first_admin_reply_s)
             else ev.first_admin_reply_s end as far_s,
        case when ev.parts_capped then coalesce(c.statistics_first_assignment_s, ev.first_assignment_s)
             else ev.first_assignment_s end as fas_s,
        case when ev.parts_capped then coalesce(c.statistics_first_close_s, ev.first_close_s)
             else ev.first_close_s end as fcl_s,
        case when ev.parts_capped then coalesce(c.statistics_count_reopens, ev.count_reopens)
             else ev.count_reopens end as reopens,
        case when ev.parts_capped then coalesce(c.statistics_count_assignments, ev.count_assignments)
             else ev.count_assignments end as assignments
    from ev
    join conv as c on c.conversation_id = ev.conversation_id
),

stamps as (
    unpivot (select conversation_id, fcr_s, far_s, fas_s, fcl_s, last_close_s from chosen)
    on fcr_s, far_s, fas_s, fcl_s, last_close_s into name stamp value at_s
),

clocked as (
    -- office seconds since the calendar's start at each event (see int_office_hours)
    select
        s.conversation_id,
        s.stamp,
        coalesce(o.open_before_s + least(s.at_s, o.close_s) - o.open_s, 0) as clock_s
    from stamps as s
    asof left join {{ ref('int_office_hours') }} as o on s.at_s >= o.open_s
),

clock as (
    select
        conversation_id,
        max(clock_s) filter (where stamp = 'fcr_s') as fcr_clock,
        max(clock_s) filter (where stamp = 'far_s') as far_clock,
        max(clock_s) filter (where stamp = 'fas_s') as fas_clock,
        max(clock_s) filter (where stamp = 'fcl_s') as fcl_clock,
        max(clock_s) filter (where stamp = 'last_close_s') as lcl_clock
    from clocked
    group by conversation_id
),

has_schedule as (
    select count(*) > 0 as yes from {{ ref('int_office_hours') }}
)

select
    c.conversation_id,
    c.created_at,
    c.updated_at,
    c.state,
    c.channel,
    c.delivered_as,
    c.admin_assignee_id,
    a.admin_name as admin_assignee_name,
    c.team_assignee_id,
    t.team_name as team_assignee_name,
    c.tags,
    {{ ts('e.fcr_s') }} as first_contact_reply_at,
    {{ ts('e.fas_s') }} as first_assignment_at,
    {{ ts('e.last_assignment_s') }} as last_assignment_at,
    {{ ts('e.far_s') }} as first_admin_reply_at,
    case when not e.parts_capped then e.first_admin_reply_by_id end as first_admin_reply_by_id,
    {{ ts('e.fcl_s') }} as first_close_at,
    {{ ts('e.last_close_s') }} as last_close_at,
    e.last_closed_by_id,
    e.fas_s - e.fcr_s as time_to_first_assignment,
    e.far_s - e.fcr_s as time_to_admin_reply,
    e.fcl_s - e.fcr_s as time_to_first_close,
    e.last_close_s - e.fcr_s as time_to_last_close,
    case when hs.yes and e.fas_s is not null then k.fas_clock - k.fcr_clock end
        as time_to_first_assignment_office_hours,
    case when hs.yes and e.far_s is not null then k.far_clock - k.fcr_clock end as time_to_admin_reply_office_hours,
    case when hs.yes and e.fcl_s is not null then k.fcl_clock - k.fcr_clock end as time_to_first_close_office_hours,
    case when hs.yes and e.last_close_s is not null then k.lcl_clock - k.fcr_clock end
        as time_to_last_close_office_hours,
    e.reopens as count_reopens,
    e.assignments as count_assignments,
    e.admin_replies,
    e.bot_replies,
    e.notes,
    e.parts_stored,
    coalesce(c.statistics_count_parts, e.parts_total, e.parts_stored) as parts_total,
    e.parts_capped,
    e.metrics_source,
    case when c.state = 'closed' then e.handling_s end as handling_time,
    c.rating,
    c.rating_remark,
    c.rating_created_at,
    c.rated_admin_id,
    c.ai_agent_participated,
    c.ai_agent_source_type,
    c.ai_agent_resolution_state,
    c.ai_agent_rating,
    -- the AI agent resolved it: it took part (not in a preview) and the resolution was assumed or confirmed
    coalesce(c.ai_agent_participated
             and coalesce(c.ai_agent_source_type, '') not in ('fin_preview', 'workflow_preview')
             and c.ai_agent_resolution_state in ('assumed_resolution', 'confirmed_resolution'), false)
        as ai_agent_resolved,
    c.sla_name,
    c.sla_status,
    {{ ts('e.ft_first_contact_reply_s') }} as first_contact_reply_at_fivetran,
    {{ ts('e.ft_first_admin_response_s') }} as first_admin_response_at_fivetran,
    {{ ts('e.ft_first_close_s') }} as first_close_at_fivetran,
    {{ ts('e.ft_last_close_s') }} as last_close_at_fivetran,
    {{ ts('e.ft_first_admin_close_s') }} as first_admin_close_at_fivetran,
    {{ ts('e.ft_last_admin_close_s') }} as last_admin_close_at_fivetran,
    e.ft_last_close_by_admin_id as last_close_by_admin_id_fivetran,
    e.ft_count_reopens as count_reopens_fivetran,
    e.ft_count_assignments as count_assignments_fivetran,
    {{ ft_minutes('c.created_s', 'e.ft_first_assignment_s') }} as time_to_first_assignment_minutes_fivetran,
    {{ ft_minutes('c.created_s', 'e.ft_first_admin_response_s') }} as time_to_first_response_minutes_fivetran,
    {{ ft_minutes('c.created_s', 'e.ft_last_assignment_s') }} as time_to_last_assignment_minutes_fivetran,
    {{ ft_minutes('e.ft_first_contact_reply_s', 'e.ft_first_close_s') }} as time_to_first_close_minutes_fivetran,
    {{ ft_minutes('e.ft_first_contact_reply_s', 'e.ft_first_admin_close_s') }}
        as time_to_admin_first_close_minutes_fivetran,
    {{ ft_minutes('e.ft_first_contact_reply_s', 'e.ft_last_close_s') }} as time_to_last_close_minutes_fivetran,
    {{ ft_minutes('e.ft_first_contact_reply_s', 'e.ft_last_admin_close_s') }}
        as time_to_admin_last_close_minutes_fivetran
from conv as c
join chosen as e on e.conversation_id = c.conversation_id
left join clock as k on k.conversation_id = c.conversation_id
left join {{ ref('stg_admins') }} as a on a.admin_id = c.admin_assignee_id
left join {{ ref('stg_teams') }} as t on t.team_id = c.team_assignee_id
cross join has_schedule as hs
order by c.conversation_id
