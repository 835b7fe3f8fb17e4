{#
    Overrides dbt's get_where_subquery, which wraps the model a generic test reads. A test on
    an incremental model that carries _built_at checks the rows its latest build wrote, not
    the whole history: a monthly run then tests the month it built, and a full refresh (every
    row written by one build) tests everything. The keys those rows replaced were deleted by
    the build's delete+insert, so uniqueness against older rows holds by construction.
    `--vars '{test_all_rows: true}'` tests every row. A test's own `where` config still applies.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and not var('test_all_rows', false) and chiso_is_built_incrementally(relation) -%}
        {%- do conditions.append(
            '_built_at = (select max(_built_at) from ' ~ relation ~ ')'
        ) -%}
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
    where _built_at = (select max(_built_at) from {{ relation }})
    {%- endif -%}
{%- endmacro %}
