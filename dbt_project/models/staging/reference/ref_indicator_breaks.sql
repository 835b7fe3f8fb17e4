-- ref_indicator_breaks.csv as loaded: declared breaks, the months an indicator is not
-- comparable with the month before.
with

source as (

    select * from {{ source('reference', 'indicator_breaks') }}

),

final as (

    select
        indicator_code,
        province_code,
        break_month,
        description,
        legal_basis
    from source

)

select * from final
