{# Only ids and roles: the metrics carry no personal data beyond a contact's id. #}
{% do source('intercom', 'contacts') %}
{% if lake_has('contacts', 'current') %}
select id as contact_id, role as contact_role from {{ lake_read('contacts', 'current') }}
{% else %}
select null::varchar as contact_id, null::varchar as contact_role limit 0
{% endif %}
