{{ config(location=metrics_location('contact_metrics')) }}
-- One row per contact with conversations (a contact of the current state: a deleted or merged-away one has none).
select ct.contact_id, ct.contact_role, {{ conversation_group_metrics() }}
from {{ ref('stg_conversation_contacts') }} as cc
join {{ ref('conversation_metrics') }} as m on m.conversation_id = cc.conversation_id
join {{ ref('stg_contacts') }} as ct on ct.contact_id = cc.contact_id
group by ct.contact_id, ct.contact_role
order by ct.contact_id
