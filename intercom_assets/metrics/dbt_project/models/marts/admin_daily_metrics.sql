{{ config(location=metrics_location('admin_daily_metrics')) }}
-- One row per teammate and UTC day with any activity (README "Support metrics": each figure's definition).
with daily as (
    {{ daily_metrics('admin_id') }}
)
select d.admin_id, a.admin_name, d.* exclude (admin_id)
from daily as d
left join {{ ref('stg_admins') }} as a on a.admin_id = d.admin_id
order by d.admin_id, d.day
