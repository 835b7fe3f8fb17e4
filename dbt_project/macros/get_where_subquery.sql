{#
    Overrides dbt's get_where_subquery, which wraps the model a generic test reads. A test on
    an incremental model that carries _built_at checks the rows its latest build wrote, not
    the whole history: a monthly run then tests the month it built, and a full refresh (every
    row written by one build) tests everything. A test of a raw table that feeds an incremental
    staging model reads the extract months the build is about to restage (chiso_staging_of). The keys those rows replaced were deleted by
    the build's delete+insert, so uniqueness against older rows holds by construction.
    `--vars '{test_all_rows: true}'` tests every row. A test's own `where` config still applies.
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

{#
    The existing table of the incremental staging model fed by the raw table `relation`
    (raw.<x> feeds stg_<x>), or none. A test of a raw source reads the extract months that
    model is about to restage (restage_months): the rows this build will stage, in the
    partitions holding them, where the whole of raw would grow with every month.
#}
{% macro chiso_staging_of(relation) -%}
    {%- if relation is not string and relation.schema == 'raw' -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model'
                and node.config.materialized == 'incremental'
                and node.name == 'stg_' ~ relation.identifier -%}
                {%- do return(adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.alias or node.name
                )) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{# Whether `relation` is an incremental model of this project with a _built_at column. #}
{% macro chiso_is_built_incrementally(relation) -%}
    {%- if relation is not string and relation.identifier -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model'
                and node.config.materialized == 'incremental'
                and (node.alias or node.name) == relation.identifier
                and node.schema == relation.schema
                and '_built_at' in node.columns -%}
                {%- do return(true) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(false) -%}
{%- endmacro %}

{#
    For singular tests: `where` the rows of the relation's latest build (as get_where_subquery
    does for generic tests), or nothing with the var test_all_rows.
#}
{% macro latest_build_only(relation) -%}
    {%- if not var('test_all_rows', false) -%}
    where _built_at = {{ chiso_latest_built_at(relation) }}
    {%- endif -%}
{%- endmacro %}

{#
    The latest _built_at of `relation` (among rows built before `before`, a SQL timestamptz,
    if given), as a literal read when the node runs; '-infinity' if it has no such row.
    A literal, not a subquery: PostgreSQL plans `_built_at = (subquery)` or `> (subquery)`
    from the column's statistics, which after a full refresh say that one value covers every
    row, so it reads the whole table; given the value, it sees how few rows carry it and reads
    the _built_at index instead. While the value cannot be read (parsing, or no table yet),
    the same expression as a subquery.
#}
{% macro chiso_latest_built_at(relation, before=none) -%}
    {%- set query -%}
        select coalesce(max(_built_at), '-infinity')::text from {{ relation }}
        {%- if before %} where _built_at < {{ before }}{% endif %}
    {%- endset -%}
    {%- if execute and load_relation(relation) is not none -%}
        '{{ run_query(query).columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        ({{ query }})
    {%- endif -%}
{%- endmacro %}
