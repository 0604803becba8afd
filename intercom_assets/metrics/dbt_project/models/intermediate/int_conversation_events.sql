{#
  One row per conversation: the events its parts and opening message say happened (epoch seconds), as Intercom's
  statistics define them (counted from the first contact reply on) and as Fivetran's dbt_intercom does (ft_*).
  README "Support metrics" gives each definition.
#}
with conv as (
    select * from {{ ref('stg_conversations') }}
),

parts as (
    select * from {{ ref('stg_conversation_parts') }}
),

first_contact as (
    -- the opening message when a contact wrote it, else the contact's first visible text part
    select
        c.conversation_id,
        least(
            max(case when c.source_author_type in ('user', 'lead', 'contact') then c.created_s end),
            min(p.at_s) filter (where p.by_contact and p.is_visible_text)
        ) as first_contact_reply_s
    from conv as c
    left join parts as p on p.conversation_id = c.conversation_id
    group by c.conversation_id
),

events as (
    select
        f.conversation_id,
        f.first_contact_reply_s,
        min(p.at_s) filter (where p.by_admin and p.is_visible_text and p.at_s >= f.first_contact_reply_s)
            as first_admin_reply_s,
        arg_min(p.author_id, {'t': p.at_s, 'i': p.part_id}) filter (
            where p.by_admin and p.is_visible_text and p.at_s >= f.first_contact_reply_s) as first_admin_reply_by_id,
        min(p.at_s) filter (where p.is_assignment and p.at_s >= f.first_contact_reply_s) as first_assignment_s,
        max(p.at_s) filter (where p.is_assignment and p.at_s >= f.first_contact_reply_s) as last_assignment_s,
        count(p.part_id) filter (where p.is_assignment and p.at_s >= f.first_contact_reply_s) as count_assignments,
        min(p.at_s) filter (where p.is_close and p.at_s >= f.first_contact_reply_s) as first_close_s,
        max(p.at_s) filter (where p.is_close and p.at_s >= f.first_contact_reply_s) as last_close_s,
        arg_max(p.author_id, {'t': p.at_s, 'i': p.part_id}) filter (
            where p.is_close and p.by_admin and p.at_s >= f.first_contact_reply_s) as last_closed_by_id,
        count(p.part_id) filter (where p.is_reopen and p.at_s > f.first_contact_reply_s) as count_reopens,
        count(p.part_id) filter (where p.by_admin and p.is_visible_text) as admin_replies,
        count(p.part_id) filter (where p.by_bot and p.is_visible_text) as bot_replies,
        count(p.part_id) filter (where p.is_note) as notes,
        count(p.part_id) as parts_stored,
        max(p.conversation_total_parts) as parts_total,
        -- Fivetran dbt_intercom v1.6.1 (int_intercom__conversation_part_aggregates / _part_events)
        min(p.at_s) filter (where p.part_type = 'comment' and p.author_type in ('user', 'lead'))
            as ft_first_contact_reply_s,
        min(p.at_s) filter (where p.part_type in ('comment', 'assignment') and p.author_type = 'admin' and p.has_body)
            as ft_first_admin_response_s,
        min(p.at_s) filter (where p.part_type like '%assignment%') as ft_first_assignment_s,
        max(p.at_s) filter (where p.part_type like '%assignment%') as ft_last_assignment_s,
        count(p.part_id) filter (where p.part_type like '%assignment%') as ft_count_assignments,
        count(p.part_id) filter (where p.part_type = 'open') as ft_count_reopens,
        min(p.at_s) filter (where p.is_close) as ft_first_close_s,
        max(p.at_s) filter (where p.is_close) as ft_last_close_s,
        min(p.at_s) filter (where p.is_close and p.author_type = 'admin') as ft_first_admin_close_s,
        max(p.at_s) filter (where p.is_close and p.author_type = 'admin') as ft_last_admin_close_s,
        arg_max(p.author_id, {'t': p.at_s, 'i': p.part_id}) filter (where p.is_close and p.author_type = 'admin')
            as ft_last_close_by_admin_id
    from first_contact as f
    left join parts as p on p.conversation_id = f.conversation_id
    group by f.conversation_id, f.first_contact_reply_s
),

replay as (
    -- the state and admin assignee after each part, and when the next part came
    select
        conversation_id,
        at_s,
        lead(at_s) over (partition by conversation_id order by at_s, part_id) as next_s,
        last_value(case part_type when 'close' then 'closed' when 'snoozed' then 'snoozed'
                                  when 'open' then 'open' when 'assign_and_reopen' then 'open' end ignore nulls)
            over (partition by conversation_id order by at_s, part_id
                  rows between unbounded preceding and current row) as state_after,
        last_value(case when is_assignment then
                            case when assigned_to_type = 'admin' then assigned_to_id
                                 when assigned_to_type = 'team' then null else '' end end ignore nulls)
            over (partition by conversation_id order by at_s, part_id
                  rows between unbounded preceding and current row) as admin_after
    from parts
),

handling as (
    -- open and assigned to a teammate: not snoozed, closed or unassigned (Intercom's "handling time")
    select
        conversation_id,
        coalesce(sum(next_s - at_s) filter (
            where coalesce(state_after, 'open') = 'open' and coalesce(admin_after, '') <> ''), 0) as handling_s
    from replay
    group by conversation_id
)

select e.*, h.handling_s
from events as e
left join handling as h on h.conversation_id = e.conversation_id
