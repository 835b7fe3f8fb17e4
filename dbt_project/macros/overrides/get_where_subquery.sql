{#
    OVERRIDE of dbt's built-in get_where_subquery (README.md in this folder), which wraps the
    relation a generic test reads. A test on an incremental model that carries _built_at
    checks the rows its latest build wrote, not the whole history: a monthly run then tests
    the month it built, and a full refresh (every row written by one build) tests everything.
    A test of a raw table that feeds an incremental staging model reads the extract months the
    build is about to restage (chiso_staging_of). The keys those rows replaced were deleted by
    the build's delete+insert, so uniqueness against older rows holds by construction.
    `--vars '{test_all_rows: true}'` tests every row. A test's own `where` config still applies.
    Helpers: macros/incremental/tested_rows.sql and helpers.sql.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and not var('test_all_rows', false) -%}
        {%- set staging = chiso_staging_of(relation) -%}
        {%- if chiso_is_built_incrementally(relation) -%}
            {%- do conditions.append('_built_at = ' ~ chiso_latest_built_at(relation)) -%}
        {%- elif staging is not none -%}
            {%- do conditions.append(
                '_extract_month = any(' ~ restage_months_literal(relation, staging) ~ ')'
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
