{#
    The periods a run computes (docs/indicator-rules.md, "Periods"): every period that overlaps
    the data, or, when the variable build_month ('YYYY-MM') is set, only those that also overlap
    that month's calendar month or official 15→14 window, plus those ending on or after
    `rebuilt_from` (the earliest day of the records this run rewrote: a re-delivered earlier
    month changes every later stock). Used by the incremental models and the intermediate
    counts, so a monthly run costs in proportion to its month.
    `periods` is the relation or CTE holding dim_period rows; `first_day` / `last_day` are SQL
    expressions bounding the data.
#}
{% macro build_window_filter(periods, first_day, last_day, rebuilt_from='null::date') -%}
    {{ periods }}.period_start <= {{ last_day }}
    and {{ periods }}.period_end >= {{ first_day }}
    {%- if var('build_month', none) %}
    and (
        (
            {{ periods }}.period_start <= ({{ build_month_start() }} + interval '1 month' - interval '1 day')::date
            and {{ periods }}.period_end >= ({{ build_month_start() }} - interval '1 month' + interval '14 days')::date
        )
        or {{ periods }}.period_end >= {{ rebuilt_from }}
    )
    {%- endif %}
{%- endmacro %}

{% macro build_month_start() -%}
    {%- set month = var('build_month', none) -%}
    {%- if month is none -%}
    null::date
    {%- else -%}
    {#- a malformed value fails the cast with PostgreSQL's message naming it -#}
    ('{{ month }}' || '-01')::date
    {%- endif -%}
{%- endmacro %}
