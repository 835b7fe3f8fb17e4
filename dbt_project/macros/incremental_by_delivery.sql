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

{% macro restage_months(upstream, staged=none) -%}
    {%- set staged = this if staged is none else staged -%}
    {%- set ledger = source('ingest', 'batches') -%}
    {%- set target_table = upstream.schema ~ '.' ~ upstream.identifier -%}
    select ledger.extract_month
    from {{ ledger }} as ledger
    where ledger.target_table = '{{ target_table }}'
        and ledger.status = 'loaded'
        and ledger.extract_month is not null
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

{#
    The keys of `upstreams` (list of [relation, key expression]) built after this model was
    last built: what a downstream incremental model recomputes. On a full refresh, every key.
#}
{% macro touched_keys(upstreams) -%}
    {%- for upstream, key in upstreams %}
    select {{ key }} from {{ upstream }}
    where _built_at > {{ chiso_latest_built_at(this) }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{# `where <alias>._built_at > <this model's latest build>` on an incremental run; nothing otherwise. #}
{% macro built_since_last_build(alias) -%}
    {%- if is_incremental() %}
    where {{ alias }}._built_at > {{ chiso_latest_built_at(this) }}
    {%- endif %}
{%- endmacro %}

{#
    int_portal__catalogue_current's second source of pairs to look at again, on an incremental
    run: a current row (agency × procedure) whose snapshot row a re-delivery withdrew from
    `upstream` (read as `alias`). The pair's latest remaining snapshot then takes its place,
    or prune_missing_keys drops it when none is left. Only the months upstream rewrote are
    checked (rewritten_months).
#}
{% macro withdrawn_offerings(alias, upstream) -%}
    {%- if is_incremental() %}
    union
    select
        held.agency_code,
        held.procedure_code
    from {{ this }} as held
    where
        held._extract_month = any({{ rewritten_months(upstream) }})
        and not exists (
            select 1 from {{ alias }} as kept
            where
                kept.agency_code = held.agency_code
                and kept.procedure_code = held.procedure_code
                and kept.snapshot_date = held.snapshot_date
        )
    {%- endif %}
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
    a downstream model's post-hook. `match` is the condition tying a row of the model (alias
    `built`) to an upstream row (alias `kept`).

    A key can only vanish from an extract month that upstream rewrote since this model's
    previous build, or from a month upstream no longer holds at all; so only the rows of
    those months are checked, and a monthly run does not anti-join the whole history. Both
    relations carry _extract_month with an index on it.
#}
{% macro prune_missing_keys(upstream, match) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where built._extract_month = any({{ rewritten_months(upstream) }})
        and not exists (
            select 1 from {{ upstream }} as kept where {{ match }}
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#
    The extract months a key of this model can have vanished from since its previous build,
    as an array: the months of upstream rows rebuilt since then, and the months this model
    holds that upstream no longer holds at all.
#}
{% macro rewritten_months(upstream) -%}
    array(
            select rebuilt._extract_month from {{ upstream }} as rebuilt
            where rebuilt._built_at > {{ chiso_latest_built_at(this, chiso_run_started_at()) }}
            union
            select held.value from ({{ distinct_values(this, '_extract_month') | indent(12) }}) as held
            where held.value not in ({{ distinct_values(upstream, '_extract_month') | indent(12) }})
        )
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

