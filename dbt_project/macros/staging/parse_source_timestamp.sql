{#- Source systems send local (Asia/Ho_Chi_Minh) timestamps as text in several layouts.
    Parsing is one definition shared with ingest validation: the SQL function
    raw.parse_vn_timestamp (chiso/migrations/R__parsing_functions.sql) accepts exactly the documented
    day-first layouts and returns null for anything else, so a value ingest accepted always
    parses here. -#}
{% macro parse_source_timestamp(column) -%}
    raw.parse_vn_timestamp({{ column }})
{%- endmacro %}
