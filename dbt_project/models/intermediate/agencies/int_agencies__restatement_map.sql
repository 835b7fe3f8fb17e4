-- How each agency version's figures move to the agencies that exist now (restated basis,
-- docs/indicator-rules.md): ref_agency_lineage followed transitively, multiplying shares.
-- A predecessor's figures are split in equal shares among its successors (the sources give
-- no better key: a split district's dossiers do not say which new commune took them over);
-- a current agency, or one that ended with no recorded successor, maps to itself. The shares
-- of each agency sum to 1, so totals over a
-- province are the same as reported and restated.
with recursive

agencies as (

    select * from {{ ref('ref_agencies') }}

),

lineage as (

    select * from {{ ref('ref_agency_lineage') }}

),

edges as (

    select
        from_agency_key,
        to_agency_key,
        1.0 / count(*) over (partition by from_agency_key) as share
    from lineage

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
