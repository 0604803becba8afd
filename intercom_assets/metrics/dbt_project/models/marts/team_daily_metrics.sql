{{ config(location=metrics_location('team_daily_metrics')) }}
-- One row per team and UTC day with any activity (README "Support metrics": each figure's definition).
with daily as (
    {{ daily_metrics('team_id') }}
)
select d.team_id, t.team_name, d.* exclude (team_id)
from daily as d
left join {{ ref('stg_teams') }} as t on t.team_id = d.team_id
order by d.team_id, d.day
