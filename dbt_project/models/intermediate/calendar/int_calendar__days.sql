-- Every day of the calendar's range (vars calendar_first_day, calendar_last_day) with its
-- working-day flag and a running working-day number, so that working-day arithmetic is a
-- lookup: working days in (a, b] = number(b) - number(a).
-- Working days are Monday–Friday minus the statutory holidays (ref_public_holidays, generated
-- from the `holidays` package), then the announced swaps of ref_holiday_overrides, which win.
-- A table: several indicator models read it, each over many periods. Indexed on the day and
-- on the working-day number, and analysed: a model joining it per dossier looks a day up
-- instead of scanning the calendar's 9,500 days once per dossier.
{{ config(
    materialized='table',
    indexes=[
        {'columns': ['day'], 'unique': True},
        {'columns': ['working_day_number', 'is_working_day']},
    ],
) }}

with

holidays as (

    select * from {{ ref('ref_public_holidays') }}

),

overrides as (

    select * from {{ ref('ref_holiday_overrides') }}

),

days as (

    select
        generate_series(
            '{{ var("calendar_first_day") }}'::date,
            '{{ var("calendar_last_day") }}'::date,
            interval '1 day'
        )::date as day

),

flagged as (

    select
        days.day,
        coalesce(
            not overrides.is_day_off,
            extract(isodow from days.day) < 6 and holidays.day is null
        ) as is_working_day
    from days
    left join holidays
        on days.day = holidays.day
    left join overrides
        on days.day = overrides.day

),

final as (

    select
        day,
        is_working_day,
        sum(case when is_working_day then 1 else 0 end) over (order by day)::int
            as working_day_number
    from flagged

)

select * from final
