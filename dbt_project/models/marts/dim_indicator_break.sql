-- Declared breaks (reference/ref_indicator_breaks.csv): the months an indicator is not
-- comparable with the month before, national or one province's, with the indicator's name.
-- The gate's volume check leaves these indicator-months out; the report prints no change from
-- the previous month for them, and says why. Published whole with the dimensions.
with

breaks as (

    select * from {{ ref('ref_indicator_breaks') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

final as (

    select
        breaks.indicator_code,
        indicators.indicator_name_vi,
        breaks.province_code,
        breaks.break_month,
        breaks.description,
        breaks.legal_basis
    from breaks
    inner join indicators
        on breaks.indicator_code = indicators.indicator_code

)

select * from final
