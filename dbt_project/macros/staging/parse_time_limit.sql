{#- A procedure's legal time limit (thời hạn giải quyết) as catalogues print it, in working
    days: "15", "15 ngày làm việc", "Không quá 05 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp
    lệ" give 15 and 5, "Trong ngày" gives 0 (decided the day it is accepted). Anything else
    (calendar days, hours, a prose clause) gives null: the dossier's due date is then taken
    from its first appointment, never guessed (docs/indicator-rules.md, "Due dates"). -#}
{% macro parse_time_limit(column) -%}
    case
        when trim({{ column }}) ~ '^\d{1,3}$' then trim({{ column }})::int
        when lower({{ column }}) ~ '\d{1,3}\s*ngày\s*làm\s*việc'
            then substring(lower({{ column }}) from '(\d{1,3})\s*ngày\s*làm\s*việc')::int
        when lower({{ column }}) ~ '^\s*(ngay\s+)?trong\s+ngày\s*$' then 0
    end
{%- endmacro %}
