{#
    Incremental models that follow deliveries (docs/architecture.md, "Incremental builds").

    raw keeps, per extract month, the rows of the deliveries that are current, and the ledger
    raw.ingest_batches says which batches those are (chiso ingest is raw's only writer). A new
    delivery replaces a month (or an agency's part of it). A staging model is incremental on
    that: a run restages only the months whose batches differ from the ones it holds.

      * restage_months(upstream): the extract months where the ledger's loaded batches and the
        model's batches differ (new deliveries, replaced or emptied months);
      * restage_filter(upstream, upstream_key, key): the raw rows of those months, except a
        key's copy older than one the model holds from another month (the latest copy of a
        key wins across months, as latest_delivery does on a full refresh). The model's
        unique_key is that key, so delete+insert replaces it wherever it was;
      * prune_vanished(upstream) (post-hook): deletes what the restaged months no longer
        hold, and the rows of batches the ledger no longer counts as loaded.

    Downstream incremental models follow the same scheme on _built_at instead of batches:
    touched_keys() selects the keys of upstream rows built after this model last was.
#}

{% macro restage_months(upstream) -%}
    {%- set ledger = source('ingest', 'batches') -%}
    {%- set target_table = upstream.schema ~ '.' ~ upstream.identifier -%}
    select ledger.extract_month
    from {{ ledger }} as ledger
    where ledger.target_table = '{{ target_table }}'
        and ledger.status = 'loaded'
        and ledger.extract_month is not null
        and ledger.batch_id not in ({{ staged_batches(this) }})
    union
    select (
        select staged._extract_month from {{ this }} as staged
        where staged._batch_id = gone._batch_id
        limit 1
    )
    from ({{ staged_batches(this) }}) as gone
    where gone._batch_id not in (
        select ledger.batch_id from {{ ledger }} as ledger
        where ledger.target_table = '{{ target_table }}' and ledger.status = 'loaded'
    )
{%- endmacro %}

{#
    The distinct _batch_id values of `relation`, read from its _batch_id index one value at a
    time (a loose index scan): a few dozen index probes instead of a scan of the history.
#}
{% macro staged_batches(relation) -%}
    with recursive staged_batch as (
        (select _batch_id from {{ relation }} order by _batch_id limit 1)
        union all
        select (
            select following._batch_id from {{ relation }} as following
            where following._batch_id > staged_batch._batch_id
            order by following._batch_id
            limit 1
        )
        from staged_batch
        where staged_batch._batch_id is not null
    )
    select staged_batch._batch_id from staged_batch where staged_batch._batch_id is not null
{%- endmacro %}

{% macro restage_filter(upstream, upstream_key, key) -%}
    {%- if is_incremental() %}
    -- the months to restage, as an array so PostgreSQL prunes raw's monthly partitions
    where _extract_month = any(array({{ restage_months(upstream) | indent(4) }}))
    {%- if key != '_extract_month' %}
        -- a copy of the key delivered later for another month stays (latest wins)
        and not exists (
            select 1 from {{ this }} as staged
            where staged.{{ key }} = {{ upstream_key }}
                and staged._extract_month <> {{ upstream }}._extract_month
                and staged._loaded_at > {{ upstream }}._loaded_at
        )
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro prune_vanished(upstream) -%}
    {%- if is_incremental() -%}
    {%- set ledger = source('ingest', 'batches') -%}
    -- rows of a restaged month that this run did not rewrite, and rows of batches no longer
    -- loaded (replaced or emptied months): their records left raw
    delete from {{ this }} as built
    where built._built_at <> {{ chiso_run_started_at() }}
        and (
            -- arrays, not `in (subquery)`: an array is computed once, so PostgreSQL can read
            -- both through their indexes (a BitmapOr) instead of scanning the whole table
            built._extract_month = any(array(
                select distinct restaged._extract_month from {{ this }} as restaged
                where restaged._built_at = {{ chiso_run_started_at() }}
            ))
            or built._batch_id = any(array(
                select gone._batch_id
                from ({{ staged_batches(this) | indent(16) }}) as gone
                where gone._batch_id not in (
                    select ledger.batch_id from {{ ledger }} as ledger
                    where ledger.target_table = '{{ upstream.schema ~ '.' ~ upstream.identifier }}'
                        and ledger.status = 'loaded'
                )
            ))
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#
    The keys of `upstreams` (list of [relation, key expression]) built after this model was
    last built: what a downstream incremental model recomputes. On a full refresh, every key.
#}
{% macro touched_keys(upstreams) -%}
    {%- for upstream, key in upstreams %}
    select {{ key }} from {{ upstream }}
    where _built_at > (select coalesce(max(_built_at), '-infinity') from {{ this }})
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{# `where <column> in (touched_keys(upstreams))` on an incremental run; nothing otherwise. #}
{% macro touched_filter(column, upstreams) -%}
    {%- if is_incremental() %}
    where {{ column }} in (
        {{- touched_keys(upstreams) | indent(4) }}
    )
    {%- endif %}
{%- endmacro %}

{#
    Deletes the rows whose key no longer exists upstream (a record a re-delivery dropped):
    a downstream model's post-hook.
#}
{% macro prune_missing_keys(upstream, upstream_key, key) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where not exists (
        select 1 from {{ upstream }} as kept where {{ upstream_key }} = built.{{ key }}
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

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
