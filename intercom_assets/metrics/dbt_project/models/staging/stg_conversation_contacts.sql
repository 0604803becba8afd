{% do source('intercom', 'conversation_contacts') %}
{% if lake_has('conversation_contacts', 'current') %}
select distinct conversation_id, id as contact_id from {{ lake_read('conversation_contacts', 'current') }}
{% else %}
select null::varchar as conversation_id, null::varchar as contact_id limit 0
{% endif %}
