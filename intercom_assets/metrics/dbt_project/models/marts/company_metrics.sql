{{ config(location=metrics_location('company_metrics')) }}
-- One row per company with conversations: those of its contacts (every contact of a conversation counts, and a
-- contact in several companies counts for each). Fivetran links through the first contact author only.
with links as (
    select distinct cc.conversation_id, k.company_id
    from {{ ref('stg_conversation_contacts') }} as cc
    join {{ ref('stg_contact_companies') }} as k on k.contact_id = cc.contact_id
)
select co.company_id, co.company_name, {{ conversation_group_metrics() }}
from links as l
join {{ ref('conversation_metrics') }} as m on m.conversation_id = l.conversation_id
join {{ ref('stg_companies') }} as co on co.company_id = l.company_id
group by co.company_id, co.company_name
order by co.company_id
