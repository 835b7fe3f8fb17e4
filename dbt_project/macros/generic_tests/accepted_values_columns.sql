{#-
    Rows where any of the given columns holds a value outside its accepted list fail;
    `unexpected_columns` names which. Nulls are accepted, as in dbt's accepted_values. Values
    compare as text, so one list serves integer and text columns alike. One scan per model
    instead of one `accepted_values` test per column (each a dbt node, about 0.1 s of fixed
    cost in every monthly build), as not_null_columns does for nulls. Contracted marts carry
    the same rule as check constraints instead, which PostgreSQL enforces on every insert.
-#}
{% test accepted_values_columns(model, columns) %}
{%- set conditions = [] -%}
{%- for column, values in columns.items() -%}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do conditions.append((column, column ~ "::text not in (" ~ literals | join(", ") ~ ")")) -%}
{%- endfor %}
select
    array_remove(
        array[
            {%- for column, condition in conditions %}
            case when {{ condition }} then '{{ column }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ],
        null
    ) as unexpected_columns,
    *
from {{ model }}
where
    {%- for column, condition in conditions %}
    {{ "or " if not loop.first }}{{ condition }}
    {%- endfor %}
{% endtest %}
