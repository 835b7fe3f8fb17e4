-- One row per dossier with supplement requests (Mẫu 02, TT 01/2018/TT-VPCP): how many, the
-- due dates they record, and the working days the clock stood still for the answered ones.
-- A view: int_one_stop__dossier_outcomes reads it for the dossiers it recomputes, and the
-- filter on dossier_id reaches the supplements' index through the grouping.

with

supplements as (

    select * from {{ ref('stg_one_stop__supplements') }}

),

-- not materialized: each join reads the calendar through its indexes (int_calendar__days)
calendar_days as not materialized (

    select * from {{ ref('int_calendar__days') }}

),

final as (

    select
        supplements.dossier_id,
        count(*) as supplement_count,
        -- the due date the first request replaced: the first appointment, unless the vendor
        -- already rewrote it
        (array_agg(supplements.previous_due_at order by supplements.supplement_number))[1]
            as first_previous_due_at,
        -- the due date the last answered request issued: the current one, if the vendor
        -- left NgayHenTra empty
        (
            array_agg(supplements.new_due_at order by supplements.supplement_number desc)
            filter (
                where supplements.supplied_at is not null and supplements.new_due_at is not null
            )
        )[1] as last_new_due_at,
        -- the clock stops from the request to the applicant's answer
        coalesce(
            sum(supplied.working_day_number - requested.working_day_number)
            filter (where supplements.supplied_at is not null),
            0
        ) as paused_working_days
    from supplements
    left join calendar_days as requested
        on supplements.requested_at::date = requested.day
    left join calendar_days as supplied
        on supplements.supplied_at::date = supplied.day
    group by 1

)

select * from final
