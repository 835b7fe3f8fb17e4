{#
    Staging, incremental by delivery (docs/incremental.md, "Staging: restage by delivery").

    raw keeps, per extract month, the rows of the deliveries that are current, and the ledger
    raw.ingest_batches says which batches those are (chiso ingest is raw's only writer). A new
    delivery replaces a month (or an agency's part of it). A staging model is incremental on
    that: a run restages only the months whose batches differ from the ones it holds.

      * restage_months(upstream): the extract months where the ledger's loaded batches and the
        model's batches differ (new deliveries, replaced or emptied months). A delivery with
        no rows that replaced none is left out: it changes nothing, and as it can never be
        among the model's batches it would otherwise restage its month at every build;
      * restage_months_literal(upstream): the same months as a date[] literal;
      * restage_filter(upstream, upstream_key, key): the raw rows of those months, except a
        key's copy older than one the model holds from another month (the latest copy of a
        key wins across months, as latest_delivery does on a full refresh). The model's
        unique_key is that key, so delete+insert replaces it wherever it was;
      * prune_vanished(upstream) (post-hook): deletes what the restaged months no longer
        hold, and the rows of batches the ledger no longer counts as loaded.

    A staging model calls restage_filter through staged_source() (macros/staging/) and
    prune_vanished as its post-hook. Downstream models follow the same scheme on _built_at
    instead of batches (downstream.sql).
#}

{# The extract months to restage: see the header. `staged` is the model's table (`this`). #}
{% macro restage_months(upstream, staged=none) -%}
    {%- set staged = this if staged is none else staged -%}
    {%- set ledger = source('ingest', 'batches') -%}
    {%- set target_table = upstream.schema ~ '.' ~ upstream.identifier -%}
    select ledger.extract_month
    from {{ ledger }} as ledger
    where ledger.target_table = '{{ target_table }}'
        and ledger.status = 'loaded'
        and ledger.extract_month is not null
        -- a delivery with no rows that replaced none (a changed dossier without supplements)
        -- changed nothing to stage; none of its rows can ever be staged, so without this its
        -- month would be restaged by every build, and every period since rebuilt with it
        and (ledger.row_count > 0 or coalesce(ledger.replaced_rows, 1) > 0)
        and ledger.batch_id not in ({{ distinct_values(staged, '_batch_id') }})
    union
    select (
        select held._extract_month from {{ staged }} as held
        where held._batch_id = gone.value
        limit 1
    )
    from ({{ distinct_values(staged, '_batch_id') }}) as gone
    where gone.value not in (
        select ledger.batch_id from {{ ledger }} as ledger
        where ledger.target_table = '{{ target_table }}' and ledger.status = 'loaded'
    )
{%- endmacro %}

{#
    restage_months(upstream) read when the model runs, as a date[] literal. Constants, not a
    subquery: PostgreSQL prunes partitions at plan time only for constants (a subquery's array
    leaves every monthly partition of raw in the scan), and with the month in hand it also
    plans the rest of the query for one month's rows rather than for the history's. While
    the months cannot be read (parsing), the subquery.
#}
{% macro restage_months_literal(upstream, staged=none) -%}
    {%- set staged = this if staged is none else staged -%}
    {%- if execute and load_relation(staged) is not none -%}
        {%- set months = run_query(restage_months(upstream, staged)).columns[0].values() -%}
        '{{ '{' ~ (months | map('string') | join(',')) ~ '}' }}'::date[]
    {%- else -%}
        array({{ restage_months(upstream, staged) | indent(4) }})
    {%- endif -%}
{%- endmacro %}

{#
    The `where` clause of a staging model's import CTE on an incremental run (nothing on a full
    build): the raw rows of the months to restage, except a key's copy older than the one the
    model holds from another month. `upstream_key` is the key as an expression on raw's
    columns, `key` the model's key column (its unique_key).
#}
{% macro restage_filter(upstream, upstream_key, key) -%}
    {%- if is_incremental() %}
    -- the months to restage, as constants so PostgreSQL prunes raw's monthly partitions
    where _extract_month = any({{ restage_months_literal(upstream) }})
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

{#
    A staging model's post-hook: deletes the rows of a restaged month that this run did not
    rewrite, and the rows of batches the ledger no longer counts as loaded. A no-op statement
    on a full refresh.
#}
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
                select gone.value
                from ({{ distinct_values(this, '_batch_id') | indent(16) }}) as gone
                where gone.value not in (
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
