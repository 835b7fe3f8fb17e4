{#
  The planner's statistics of every table a build writes, refreshed by that build.

  An incremental run deletes and inserts a month (or a period) at a time. Until autovacuum
  samples the table again, the planner's statistics know nothing of the month just inserted,
  so it estimates a filter on that month at one row. Joins over the month then run as nested
  loops: Great Expectations' uniqueness check on stg_portal__service_catalogue's new month
  (5,641 rows, joined to its own counts) took 13 s that way, and 0.01 s once the table was
  analyzed. A table rebuilt whole has no statistics at all until then. Every read right after
  the build is of what it wrote (the models downstream, the gate), so the build analyzes it.
  The project's post-hook (dbt_project.yml), so no model can forget it; a model's own
  post-hooks run after it (dbt appends them), such as prune_vanished, which removes only the
  rows of withdrawn deliveries. Views have no statistics of their own.
#}
{% macro analyze_after_build() -%}
    {%- if config.get('materialized') in ('incremental', 'table') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
