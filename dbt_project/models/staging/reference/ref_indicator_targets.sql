-- ref_indicator_targets.csv as loaded: Each indicator's target per province, tier and years, with
-- the plan that sets it.
with

source as (

    select * from {{ source('reference', 'indicator_targets') }}

),

final as (

    select
        indicator_code,
        province_code,
        tier,
        year_from,
        year_to,
        target_value,
        comparator,
        source_document,
        denominator_in_source
    from source

)

select * from final
