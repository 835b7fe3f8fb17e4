{#
    The first two CTEs of every staging model, `source` and `latest_delivery`:

        source as (
            select * from <upstream>
            <restage_filter(upstream, upstream_key, key): on an incremental run, only the
             extract months to restage (macros/incremental/restage.sql)>
        ),
        latest_delivery as (
            <latest_delivery('source', latest_by): per key, the copy landed last>
        )

    The model goes on with `, renamed as (select ... from latest_delivery)`. An incremental
    model passes upstream_key and key; a staging view passes neither and reads all of raw.
#}
{% macro staged_source(upstream, latest_by, upstream_key=none, key=none) -%}
source as (

    select * from {{ upstream }}
    {%- if upstream_key is not none %}
    {{ restage_filter(upstream, upstream_key, key) }}
    {%- endif %}

),

latest_delivery as (

    {{ latest_delivery('source', latest_by) }}

)
{%- endmacro %}
