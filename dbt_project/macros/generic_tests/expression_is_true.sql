{#- Rows for which a boolean SQL expression is false fail the test (dbt_utils-style; the
    package hub is unreachable here, so the few generic tests we need live in the project). -#}
{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
