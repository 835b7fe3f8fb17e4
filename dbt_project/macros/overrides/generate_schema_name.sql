{#- OVERRIDE of dbt's built-in generate_schema_name (README.md in this folder): use the
    configured schema name as is (staging, intermediate, audit), not <target>_<name>: the
    warehouse has fixed schemas with their own grants. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
