{% do source('intercom', 'teams') %}
{% if lake_has('teams', 'snapshot') %}
select id as team_id, name as team_name from {{ lake_read('teams', 'snapshot') }}
{% else %}
select null::varchar as team_id, null::varchar as team_name limit 0
{% endif %}
