-- ref_public_holidays.csv as loaded: Statutory public holidays, as the `holidays` package lists
-- them.
with

source as (

    select * from {{ source('reference', 'public_holidays') }}

),

final as (

    select
        day,
        holiday_name,
        source
    from source

)

select * from final
