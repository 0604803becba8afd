{#
  Materialization `lake_parquet`: the model's rows as ONE Parquet file at config `location` (made by
  metrics_location: {root}/metrics/<model>/part-0.parquet), written to a hidden temporary beside it and renamed into
  place (the lake's rule: a reader never sees half a file), and a view of that file for the models downstream. An
  empty model writes a file with no row. The functions lake_prepare_folder and lake_move come from the plugin
  intercom_assets.metrics.lake_files (profiles.yml).
#}
{% materialization lake_parquet, adapter='duckdb' %}
  {%- set location = config.require('location') -%}
  {%- set folder = location.rsplit('/', 1)[0] -%}
  {%- set temporary = folder ~ '/.' ~ location.rsplit('/', 1)[1] ~ '.tmp' -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set staged = make_intermediate_relation(this.incorporate(type='table'), suffix='__lake_tmp') -%}
  {%- set existing = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {{ drop_relation_if_exists(load_cached_relation(staged)) }}

  {% call statement('stage') -%}
    create table {{ staged }} as ({{ sql }})
  {%- endcall %}
  {% call statement('prepare') -%}
    select lake_prepare_folder('{{ location }}')
  {%- endcall %}
  {% call statement('write') -%}
    copy {{ staged }} to '{{ temporary }}' (format parquet, compression zstd)
  {%- endcall %}
  {% call statement('move') -%}
    select lake_move('{{ temporary }}', '{{ location }}')
  {%- endcall %}
  {% if existing is not none and existing.type != 'view' %}
    {{ drop_relation_if_exists(existing) }}
  {% endif %}
  {% call statement('main') -%}
    create or replace view {{ target_relation }} as select * from read_parquet('{{ location }}')
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(staged) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
