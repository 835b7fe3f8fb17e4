{#
    Counts and marts, incremental by period (docs/incremental.md, "Counts and marts: replace
    the periods to build"). int_periods__to_build holds the periods a run computes
    (build_window_filter, with build_month / build_month_start); the period-incremental models
    (int_indicator_counts__*, fct_indicator_values, mart_kpi_monthly, mart_kpi_rollups) are
    delete+insert by period_id and read their inputs for those periods only
    (first_day_to_build, in_periods_to_build).
#}

{#
    The periods a run computes (docs/indicator-rules.md, "Periods"): every period that overlaps
    the data, or, when the variable build_month ('YYYY-MM') is set, only those that also overlap
    that month's calendar month or official 15→14 window (or, for a range build, those
    overlapping the days of build_days), plus those ending on or after
    `rebuilt_from` (the earliest day of the records this run rewrote: a re-delivered earlier
    month changes every later stock). A monthly run given rebuild_through() rebuilds those
    later periods only up to it (the end of the latest published month, or of the run's: a
    later month's build computes its own periods; without it, a backfill's every build would
    rebuild the years raw already holds). Used by the incremental models and the intermediate
    counts, so a monthly run costs in proportion to its month.
    `periods` is the relation or CTE holding dim_period rows; `first_day` / `last_day` are SQL
    expressions bounding the data.
#}
{% macro build_window_filter(periods, first_day, last_day, rebuilt_from='null::date') -%}
    {{ periods }}.period_start <= {{ last_day }}
    and {{ periods }}.period_end >= {{ first_day }}
    {%- if build_month() %}
    and (
        (
            {{ periods }}.period_start <= ({{ build_month_start() }} + interval '1 month' - interval '1 day')::date
            and {{ periods }}.period_end >= ({{ build_month_start() }} - interval '1 month' + interval '14 days')::date
        )
        or (
            {{ periods }}.period_end >= {{ rebuilt_from }}
            {%- if rebuild_through() %}
            and {{ periods }}.period_start <= '{{ rebuild_through() }}'::date
            {%- endif %}
        )
    )
    {%- elif build_days() %}
    {%- set days = build_days() %}
    and (
        (
            {{ periods }}.period_start <= '{{ days[1] }}'::date
            and {{ periods }}.period_end >= '{{ days[0] }}'::date
        )
        or {{ periods }}.period_end >= {{ rebuilt_from }}
    )
    {%- endif %}
{%- endmacro %}

{#
    The days of a range build (chiso.transform.dbt.build with `days`: what a changed target or
    annual index touches, chiso/reference/changes.py): the environment variables
    CHISO_BUILD_FROM and CHISO_BUILD_TO ('YYYY-MM-DD'), read when nodes run, as build_month is.
    None when unset; a malformed day fails the build, naming the variable.
#}
{% macro build_days() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set first = env_var('CHISO_BUILD_FROM', '') -%}
    {%- set last = env_var('CHISO_BUILD_TO', '') -%}
    {%- if not first and not last -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set day = modules.re.compile('^[0-9]{4}-[0-9]{2}-[0-9]{2}$') -%}
    {%- if not (day.match(first) and day.match(last)) -%}
        {{- exceptions.raise_compiler_error("CHISO_BUILD_FROM and CHISO_BUILD_TO must both be YYYY-MM-DD days") -}}
    {%- endif -%}
    {{- return([first, last]) -}}
{%- endmacro %}

{#
    The last day a monthly run rebuilds later periods to (chiso.transform.dbt.rebuild_through):
    the environment variable CHISO_REBUILD_THROUGH ('YYYY-MM-DD'), read when nodes run. None
    when unset (every later period the rewritten records reach is rebuilt); a malformed day
    fails the build, naming the variable.
#}
{% macro rebuild_through() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set through = env_var('CHISO_REBUILD_THROUGH', '') -%}
    {%- if not through -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', through) -%}
        {{- exceptions.raise_compiler_error("CHISO_REBUILD_THROUGH must be a YYYY-MM-DD day") -}}
    {%- endif -%}
    {{- return(through) -}}
{%- endmacro %}

{% macro build_month_start() -%}
    {%- set month = build_month() -%}
    {%- if month is none -%}
    null::date
    {%- else -%}
    {#- a malformed value fails the cast with PostgreSQL's message naming it -#}
    ('{{ month }}' || '-01')::date
    {%- endif -%}
{%- endmacro %}

{#
    The month of a monthly run: the variable build_month, else the environment variable
    CHISO_BUILD_MONTH (what `chiso` sets). The environment is preferred by the pipeline because a
    changed --vars value makes dbt drop its partial parse and re-parse the whole project (about
    5 s here, every month, twice with the freshness check). It is read only when nodes run, not
    while dbt parses: an env var read at parse time ties the reading files to its value, and a
    new month would re-parse them (about 1 s).
#}
{% macro build_month() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set month = var('build_month', none) or env_var('CHISO_BUILD_MONTH', '') -%}
    {{- return(month if month else none) -}}
{%- endmacro %}

{#
    The first day of the periods this run builds (a scalar subquery on int_periods__to_build):
    a record dated before it, by every date a model counts it by, is in none of them, so the
    models filter on it to read their year through a date index instead of the history.
#}
{% macro first_day_to_build() -%}
    (select min(to_build.period_start) as first_day from {{ ref('int_periods__to_build') }} as to_build)
{%- endmacro %}

{#
    `<column> = any(array(<the period_id of every period this run builds>))`: a predicate keeping
    the rows of a period-incremental model (keyed by period_id) that this run rebuilds. An
    array, computed once, rather than `in (subquery)`, so PostgreSQL reads the rows through the
    column's index instead of the model's history.
#}
{% macro in_periods_to_build(column='period_id') -%}
    {{ column }} = any(array(
            select to_build.period_id from {{ ref('int_periods__to_build') }} as to_build
        ))
{%- endmacro %}
