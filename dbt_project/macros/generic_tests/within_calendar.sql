{#- Dates outside the working-day calendar's range (vars calendar_first_day, calendar_last_day)
    fail: working days, holidays and reporting periods exist only inside it, so a date beyond
    would be counted with no holidays and in no period. Nulls pass. -#}
{% test within_calendar(model, column_name) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    {{ column_name }} < '{{ var("calendar_first_day") }}'::date
    or {{ column_name }} > '{{ var("calendar_last_day") }}'::date
  )
{% endtest %}
