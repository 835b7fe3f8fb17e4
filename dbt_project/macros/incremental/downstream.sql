{#
    Intermediate models and facts, incremental by key (docs/incremental.md, "Downstream:
    recompute the touched keys").

    Every row an incremental model writes carries the run's start as _built_at. A downstream
    model recomputes the keys of the upstream rows built after it last was, and its post-hook
    deletes the keys that vanished upstream:

      * touched_filter(column, upstreams) / touched_keys(upstreams): the keys to recompute;
      * built_since_last_build(alias): the upstream rows built since this model last was;
      * prune_missing_keys(upstream, match) (post-hook): deletes the keys gone upstream,
        checking only the extract months rewritten_months(upstream) returns;
      * withdrawn_offerings(alias, upstream): int_portal__catalogue_current's pairs whose
        snapshot row a re-delivery withdrew.
#}

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

{# `where <column> in (touched_keys(upstreams))` on an incremental run; nothing otherwise. #}
{% macro touched_filter(column, upstreams) -%}
    {%- if is_incremental() %}
    where {{ column }} in (
        {{- touched_keys(upstreams) | indent(4) }}
    )
    {%- endif %}
{%- endmacro %}

{# `where <alias>._built_at > <this model's latest build>` on an incremental run; nothing otherwise. #}
{% macro built_since_last_build(alias) -%}
    {%- if is_incremental() %}
    where {{ alias }}._built_at > {{ chiso_latest_built_at(this) }}
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
