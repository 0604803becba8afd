{% do source('intercom', 'contact_companies') %}
{% if lake_has('contact_companies', 'current') %}
select distinct contact_id, id as company_id from {{ lake_read('contact_companies', 'current') }}
{% else %}
select null::varchar as contact_id, null::varchar as company_id limit 0
{% endif %}
