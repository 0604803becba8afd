{# Seconds to a timestamp, and Fivetran's minutes (seconds / 60, two decimals). #}
{% macro ts(seconds) -%}
  to_timestamp({{ seconds }})
{%- endmacro %}

{% macro ft_minutes(start_s, end_s) -%}
  round(({{ end_s }} - {{ start_s }}) / 60.0, 2)
{%- endmacro %}
