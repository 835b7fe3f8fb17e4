{#-
    Rows where any of the given columns is null fail; `null_columns` names which. One scan per
    model instead of one `not_null` test (and one dbt node, about 0.1 s of fixed cost) per column:
    the monthly build runs every test, so the count of tests is most of what it costs.
-#}
{% test not_null_columns(model, columns) %}
select
    array_remove(
        array[
            {%- for column in columns %}
            case when {{ column }} is null then '{{ column }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ],
        null
    ) as null_columns,
    *
from {{ model }}
where
    {%- for column in columns %}
    {{ "or " if not loop.first }}{{ column }} is null
    {%- endfor %}
{% endtest %}
