{% do source('intercom', 'admins') %}
{% if lake_has('admins', 'snapshot') %}
select id as admin_id, name as admin_name from {{ lake_read('admins', 'snapshot') }}
{% else %}
select null::varchar as admin_id, null::varchar as admin_name limit 0
{% endif %}
