-- ref_agencies.csv as loaded: Agencies, one row per version: a code reused after the 2025
-- restructuring is a new one.
with

source as (

    select * from {{ source('reference', 'agencies') }}

),

final as (

    select
        agency_code,
        agency_name,
        tier,
        province_code,
        province_name,
        parent_agency_code,
        valid_from,
        valid_to,
        agency_key,
        unit_key,
        agency_kind
    from source

)

select * from final
