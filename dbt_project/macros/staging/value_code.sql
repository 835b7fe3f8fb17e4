{#- A coded field's code, from the word or code the source printed (raw.value_codes, written by
    ingest from the vocabularies: chiso/ingest/vocabulary.py). `value` is the trimmed text;
    `codes` the alias of its join_value_codes. Rows landed before raw.value_codes existed have
    no entry there and held codes only (their ingest refused anything else): their digits
    stand for themselves. -#}
{% macro value_code(codes, value) -%}
    coalesce({{ codes }}.code, case when {{ value }} ~ '^[0-9]{1,9}$' then ({{ value }})::int::text end)
{%- endmacro %}

{#- The left join of raw.value_codes (imported as the CTE `value_codes`) for one coded field. -#}
{% macro join_value_codes(codes, field, value) -%}
    left join value_codes as {{ codes }}
        on
            {{ codes }}.field = '{{ field }}'
            and {{ value }} = {{ codes }}.value
{%- endmacro %}
