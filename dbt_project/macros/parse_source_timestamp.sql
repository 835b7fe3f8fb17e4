{#- Source systems send local (Asia/Ho_Chi_Minh) timestamps as text in several layouts.
    Parse the known ones explicitly, day-first, and never guess month-first; anything else
    becomes null and is caught by the not-null / date-order tests downstream. -#}
{% macro parse_source_timestamp(column) -%}
    case
        when {{ column }} ~ '^\d{14}$'
            then to_timestamp({{ column }}, 'YYYYMMDDHH24MISS')::timestamp
        when {{ column }} ~ '^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$'
            then to_timestamp({{ column }}, 'DD/MM/YYYY HH24:MI:SS')::timestamp
        when {{ column }} ~ '^\d{1,2}/\d{1,2}/\d{4}$'
            then to_timestamp({{ column }}, 'DD/MM/YYYY')::timestamp
        when {{ column }} ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$'
            then {{ column }}::timestamp
    end
{%- endmacro %}
