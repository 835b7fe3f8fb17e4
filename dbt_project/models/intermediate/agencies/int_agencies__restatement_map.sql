-- How each agency version's figures move to the agencies that exist now (restated basis,
-- docs/indicator-rules.md): ref_agency_lineage followed transitively, multiplying shares.
-- A split predecessor's figures go to its successors as its own dossiers went
-- (int_agencies__split_shares: handed over, or by the field their catalogue lists; equal
-- shares only where no dossier says); a successor that takes nothing is left out; a current
-- agency, or one that ended with no recorded successor, maps to itself. The shares of each
-- agency sum to 1, so totals over a province are the same as reported and restated.
with recursive

agencies as (

    select * from {{ ref('ref_agencies') }}

),

edges as (

    select
        from_agency_key,
        to_agency_key,
        share
    from {{ ref('int_agencies__split_shares') }}
    where share > 0

),

paths (agency_key, current_agency_key, share, hops) as (

    select
        agency_key,
        agency_key as current_agency_key,
        1.0::numeric as share,
        0 as hops
    from agencies

    union all

    select
        paths.agency_key,
        edges.to_agency_key as current_agency_key,
        paths.share * edges.share as share,
        paths.hops + 1 as hops
    from paths
    inner join edges
        on paths.current_agency_key = edges.from_agency_key
    where paths.hops < 10

),

final as (

    select
        paths.agency_key,
        paths.current_agency_key,
        sum(paths.share)::numeric(12, 10) as share
    from paths
    where not exists (
            select edges.from_agency_key
            from edges
            where edges.from_agency_key = paths.current_agency_key
        )
    group by 1, 2

)

select * from final
