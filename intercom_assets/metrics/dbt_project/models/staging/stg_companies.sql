{% do source('intercom', 'companies') %}
{% if lake_has('companies', 'current') %}
select id as company_id, name as company_name from {{ lake_read('companies', 'current') }}
{% else %}
select null::varchar as company_id, null::varchar as company_name limit 0
{% endif %}
