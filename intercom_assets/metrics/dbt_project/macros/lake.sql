{# Where the lake is (var lake_root, which Dagster passes: the storage resource's absolute root; else
   INTERCOM_PARQUET_ROOT; else data/intercom, relative to the folder dbt runs in), and how the models read it: a
   table that has no file yet reads as empty. #}

{% macro lake_root() -%}
  {{ var('lake_root', env_var('INTERCOM_PARQUET_ROOT', 'data/intercom')) | replace("'", "''") }}
{%- endmacro %}

{% macro metrics_location(model_name) -%}
  {{ lake_root() }}/metrics/{{ model_name }}/part-0.parquet
{%- endmacro %}

{# The files of a source table: a current state (current/<table>/date=*/) or a snapshot table's day folders. #}
{% macro lake_glob(table, kind) -%}
  {%- if kind == 'current' -%}{{ lake_root() }}/current/{{ table }}/*/*.parquet
  {%- else -%}{{ lake_root() }}/{{ table }}/*/*.parquet{%- endif -%}
{%- endmacro %}

{# True when the table has at least one file (always true while dbt parses, so that source() is recorded). #}
{% macro lake_has(table, kind) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {%- set found = run_query("select count(*) from glob('" ~ lake_glob(table, kind) ~ "')").columns[0].values()[0] -%}
  {{ return(found > 0) }}
{%- endmacro %}

{# A subquery over the table's rows: every current-state row, or a snapshot table's latest day only. #}
{% macro lake_read(table, kind) -%}
  {%- set files = "read_parquet('" ~ lake_glob(table, kind) ~ "', hive_partitioning = true, union_by_name = true)" -%}
  {%- if kind == 'current' -%}
  (select * from {{ files }})
  {%- else -%}
  (select * from {{ files }} where "date" = (select max("date") from {{ files }}))
  {%- endif -%}
{%- endmacro %}
