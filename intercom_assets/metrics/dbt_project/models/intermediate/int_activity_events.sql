{#
  What teammates and teams did, one row per event, with the UTC day it counts on: an assignment to an admin or a
  team, a visible admin reply, an admin's close (from the parts), a conversation's first admin reply and last close
  (from conversation_metrics, with their durations). A part's team is the team it was last assigned to at that
  time, else the conversation's current team; a conversation-level event counts for its current team.
#}
with parts as (
    select
        p.*,
        coalesce(
            last_value(case when p.is_assignment and p.assigned_to_type = 'team' then p.assigned_to_id end ignore nulls)
                over (partition by p.conversation_id order by p.at_s, p.part_id
                      rows between unbounded preceding and current row),
            c.team_assignee_id) as team_id
    from {{ ref('stg_conversation_parts') }} as p
    join {{ ref('stg_conversations') }} as c on c.conversation_id = p.conversation_id
),

m as (
    select * from {{ ref('conversation_metrics') }}
)

select 'assigned' as kind, assigned_to_id as admin_id, null::varchar as team_id, conversation_id,
       cast(created_at as date) as day, null::double as seconds, null::double as office_seconds
from parts where is_assignment and assigned_to_type = 'admin'
union all
select 'assigned', null, assigned_to_id, conversation_id, cast(created_at as date), null, null
from parts where is_assignment and assigned_to_type = 'team'
union all
select 'reply', author_id, team_id, conversation_id, cast(created_at as date), null, null
from parts where by_admin and is_visible_text
union all
select 'closed', author_id, team_id, conversation_id, cast(created_at as date), null, null
from parts where is_close and by_admin
union all
select 'first_response', first_admin_reply_by_id, team_assignee_id, conversation_id, cast(first_admin_reply_at as date),
       time_to_admin_reply, time_to_admin_reply_office_hours
from m where first_admin_reply_at is not null
union all
select 'time_to_close', last_closed_by_id, team_assignee_id, conversation_id, cast(last_close_at as date),
       time_to_last_close, time_to_last_close_office_hours
from m where last_close_at is not null and first_contact_reply_at is not null
