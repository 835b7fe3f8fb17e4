-- The annual composite indices (section E: Vietnam ICT Index, provincial DTI) as published:
-- one row per indicator × province × year × methodology version, with the score and the rank.
-- They are loaded, never computed, and never compared across versions: the structure of an
-- index changes between versions, so every query must fix index_version.
with

index_values as (

    select * from {{ ref('ref_annual_index_values') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

final as (

    select
        index_values.indicator_code,
        indicators.indicator_name_vi,
        index_values.province_code,
        index_values.year,
        index_values.index_version,
        index_values.value::numeric(12, 4) as value,
        index_values.rank,
        index_values.rank_of,
        index_values.source_document
    from index_values
    inner join indicators
        on index_values.indicator_code = indicators.indicator_code

)

select * from final
