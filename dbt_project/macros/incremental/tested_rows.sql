{#
    Which rows a test of an incremental model reads (docs/incremental.md, "Tests"): the
    helpers of the get_where_subquery override (macros/overrides/) for generic tests, and
    latest_build_only for singular tests. `--vars '{test_all_rows: true}'` tests every row.
#}

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
