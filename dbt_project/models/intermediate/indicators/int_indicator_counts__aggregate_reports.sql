-- dossier.onestop_coverage per agency version and calendar period (docs/indicator-rules.md,
-- "Aggregate reports"): over the months of the period whose summary report has a row for the
-- agency, the dossiers the e-one-stop system holds as received (dossier.received's count) over
-- the received dossiers the report prints, which also counts those handled outside the system.
-- Months without a report are left out of both; a period without any has no row (0 / 0).
-- All the agency's dossiers are at least those the system holds: a month whose report prints
-- fewer counts the system's (the checks mart warns about that report), so the share is ≤ 1.
-- A table, incremental by period like the other counts.

with

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

report_rows as (

    select * from {{ ref('int_one_stop__aggregate_report_rows') }}
    where row_kind = 'body' and agency_key is not null and received_count is not null

),

-- dossiers received in the periods this run builds, through the date index
outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    where received_date >= {{ first_day_to_build() }}

),

reported_months as (

    select
        report_rows.agency_key,
        report_rows.report_month,
        sum(report_rows.received_count) as printed_received
    from report_rows
    group by 1, 2

),

-- what the e-one-stop system holds for each reported agency-month
held as (

    select
        reported_months.agency_key,
        reported_months.report_month,
        reported_months.printed_received,
        count(outcomes.dossier_id) as received
    from reported_months
    left join outcomes
        on reported_months.agency_key = outcomes.agency_key
        and reported_months.report_month <= outcomes.received_date
        and reported_months.report_month + interval '1 month' > outcomes.received_date
    group by 1, 2, 3

),

final as (

    select
        held.agency_key,
        periods.period_id,
        'dossier.onestop_coverage' as indicator_code,
        sum(held.received)::bigint as numerator,
        sum(greatest(held.printed_received, held.received))::bigint as denominator,
        {{ chiso_run_started_at() }} as _built_at
    from held
    inner join periods
        on periods.calendar = 'calendar'
        and held.report_month between periods.period_start and periods.period_end
    group by 1, 2

)

select * from final
