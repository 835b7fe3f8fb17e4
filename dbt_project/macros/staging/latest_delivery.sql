{#
    The rows of `relation` with, per key, only the copy landed last (highest _load_seq): a
    record repeated in what raw holds (a re-sent file, a duplicate API page) counts once.
    `partition_by` lists the SQL expressions of the key, written as staging derives them so
    the uniqueness tests on the staged key hold.
#}
{% macro latest_delivery(relation, partition_by) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by | join(', ') }}
                order by _load_seq desc
            ) as _delivery_rank
        from {{ relation }}
    ) as ranked
    where _delivery_rank = 1
{%- endmacro %}
