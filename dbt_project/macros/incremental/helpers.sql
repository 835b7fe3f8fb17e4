{#
    Shared by the incremental macros: the run's _built_at, a relation's latest _built_at, and
    the distinct values of an indexed column read one index probe at a time.
#}

{#
    The run's start as a timestamptz literal: every row a run writes carries it as _built_at.
    (dbt always defines run_started_at; sqlfluff's jinja templater does not, hence the else.)
#}
{% macro chiso_run_started_at() -%}
    {%- if run_started_at is defined -%}
    '{{ run_started_at.isoformat() }}'::timestamptz
    {%- else -%}
    '2000-01-01 00:00:00+00'::timestamptz
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

{#
    The distinct non-null values of `column` in `relation`, as a column named `value`, read
    from an index on the column one value at a time (a loose index scan): a few dozen index
    probes instead of a scan of the history.
#}
{% macro distinct_values(relation, column) -%}
    with recursive found as (
        (
            select held.{{ column }} as value from {{ relation }} as held
            where held.{{ column }} is not null
            order by held.{{ column }}
            limit 1
        )
        union all
        select (
            select following.{{ column }} from {{ relation }} as following
            where following.{{ column }} > found.value
            order by following.{{ column }}
            limit 1
        )
        from found
        where found.value is not null
    )
    select found.value from found where found.value is not null
{%- endmacro %}
