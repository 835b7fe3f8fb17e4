-- ref_annual_index_values.csv as loaded: Annual indices (ICT Index, DTI) and ranks per province,
-- with their source.
with

source as (

    select * from {{ source('reference', 'annual_index_values') }}

),

final as (

    select
        indicator_code,
        province_code,
        year,
        index_version,
        value,
        rank,
        rank_of,
        source_document
    from source

)

select * from final
