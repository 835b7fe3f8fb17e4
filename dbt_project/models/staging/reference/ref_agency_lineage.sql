-- ref_agency_lineage.csv as loaded: Which agency continues an ended one, whole or in part, from
-- which day.
with

source as (

    select * from {{ source('reference', 'agency_lineage') }}

),

final as (

    select
        from_agency_key,
        to_agency_key,
        relation,
        effective_date
    from source

)

select * from final
