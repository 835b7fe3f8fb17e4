-- The share of an agency's figures each successor takes in the restated basis
-- (docs/indicator-rules.md, "Restated series"), one row per ref_agency_lineage edge. A split
-- agency's figures go where its own dossiers went: a dossier handed over goes to the
-- successor its first handover names; any other to the successors whose catalogue, from the
-- split on, lists its procedure (its field), shared among them; equal shares only when no
-- dossier of the agency says. A single successor takes everything.
-- Incremental: a run writes only the edges whose share moved (their _built_at is the run's),
-- and int_periods__to_build then rebuilds every period, since the restated history moved.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['from_agency_key', 'to_agency_key'],
    on_schema_change='fail',
    indexes=[{'columns': ['_built_at']}],
) }}

with

lineage as (

    select * from {{ ref('ref_agency_lineage') }}

),

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}

),

offerings as (

    select * from {{ ref('int_portal__offerings') }}

),

edges as (

    select
        from_agency_key,
        to_agency_key,
        effective_date,
        count(*) over (partition by from_agency_key) as successor_count
    from lineage

),

split_dossiers as (

    select
        outcomes.dossier_id,
        outcomes.agency_key,
        outcomes.procedure_code,
        -- the successor of the first handover ('<day> <agency_key>,…')
        split_part(split_part(outcomes.custody_path, ',', 1), ' ', 2) as handed_to
    from outcomes
    where outcomes.agency_key in (
            select edges.from_agency_key from edges
            where edges.successor_count > 1
        )

),

named as (

    select
        split_dossiers.dossier_id,
        edges.from_agency_key,
        edges.to_agency_key,
        1.0::numeric as weight,
        true as is_named
    from split_dossiers
    inner join edges
        on
        split_dossiers.agency_key = edges.from_agency_key
        and split_dossiers.handed_to = edges.to_agency_key

),

-- never handed over: the successors that list its procedure after the split, shared
by_field as (

    select
        split_dossiers.dossier_id,
        edges.from_agency_key,
        edges.to_agency_key,
        1.0 / count(*) over (partition by split_dossiers.dossier_id) as weight,
        false as is_named
    from split_dossiers
    inner join edges
        on split_dossiers.agency_key = edges.from_agency_key
    where
        not exists (
            select named.dossier_id from named
            where named.dossier_id = split_dossiers.dossier_id
        )
        and exists (
            select offerings.procedure_code from offerings
            where
                offerings.agency_key = edges.to_agency_key
                and offerings.procedure_code = split_dossiers.procedure_code
                and offerings.snapshot_date >= edges.effective_date
        )

),

weights as (

    select
        from_agency_key,
        to_agency_key,
        sum(weight) filter (where is_named) as named_dossiers,
        sum(weight) filter (where not is_named) as field_dossiers
    from (
        select * from named
        union all
        select * from by_field
    ) as assigned_dossiers
    group by 1, 2

),

evidence as (

    select
        edges.from_agency_key,
        edges.to_agency_key,
        edges.successor_count,
        coalesce(weights.named_dossiers, 0) as named_dossiers,
        coalesce(weights.field_dossiers, 0) as field_dossiers
    from edges
    left join weights
        on
        edges.from_agency_key = weights.from_agency_key
        and edges.to_agency_key = weights.to_agency_key

),

assigned as (

    select
        *,
        sum(named_dossiers + field_dossiers) over (partition by from_agency_key) as dossiers
    from evidence

),

final as (

    select
        from_agency_key,
        to_agency_key,
        named_dossiers::integer as named_dossiers,
        field_dossiers::numeric(14, 4) as field_dossiers,
        case
            when successor_count = 1 then 'only_successor'
            when dossiers > 0 then 'dossiers'
            else 'equal'
        end as share_basis,
        case
            when successor_count = 1 then 1
            when dossiers > 0 then (named_dossiers + field_dossiers) / dossiers
            else 1.0 / successor_count
        end::numeric(12, 10) as share,
        {{ chiso_run_started_at() }} as _built_at
    from assigned

)

select * from final
{% if is_incremental() %}
    -- only the edges whose share moved
    where not exists (
            select built.share from {{ this }} as built
            where
                built.from_agency_key = final.from_agency_key
                and built.to_agency_key = final.to_agency_key
                and built.share = final.share
                and built.share_basis = final.share_basis
        )
{% endif %}
