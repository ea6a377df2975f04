{#- What this project needs to run on the Spark engine as well as on DuckDB (MESH_ENGINES). -#}

{#- Before any model: the input ports as views over their current files. The platform plans them
    as this domain (access, pinned major, masking) before dbt starts and leaves the statements in a
    file whose query the session's `spark.mesh.port_views` setting holds. Nothing on DuckDB, whose
    port plugin serves the sources itself. -#}
{% macro mesh_port_views() %}
  {%- if execute and target.type == 'spark' -%}
    {%- set query = run_query("SET spark.mesh.port_views").columns[1].values()[0] -%}
    {%- for row in run_query(query) -%}
      {%- do run_query(row[0]) -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}

{#- The contract's column types are DuckDB's names (the generated yml); Spark has no length-less
    VARCHAR: dbt's contract check casts to the yml's types, so a VARCHAR is Spark's STRING. -#}
{% macro spark__cast(expression, data_type) -%}
  {%- set spark_type = 'string' if data_type | trim | lower in ('varchar', 'text') else data_type -%}
  cast({{ expression }} as {{ spark_type }})
{%- endmacro %}
