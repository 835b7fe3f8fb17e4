-- ref_holiday_overrides.csv as loaded: Announced day-off swaps and make-up working days; they win
-- over the holidays.
with

source as (

    select * from {{ source('reference', 'holiday_overrides') }}

),

final as (

    select
        day,
        is_day_off,
        description,
        legal_basis
    from source

)

select * from final
