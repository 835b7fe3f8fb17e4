-- The dossier counts of fct_indicator_values (as reported, calendar months) must equal a
-- recount of fct_dossiers per agency version and month: received by acceptance month (the
-- receiving agency), resolved / withdrawn / returned by finish month (the agency holding it).
-- Any row returned is a disagreement between the indicator formulas and the fact table.
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    {{ latest_build_only(ref('fct_indicator_values')) }}

),

dossiers as (

    select * from {{ ref('fct_dossiers') }}

),

-- the calendar months the build covered
built_months as (

    select distinct indicator_values.closing_month as period_month
    from indicator_values
    where indicator_values.calendar = 'calendar' and indicator_values.period_type = 'month'

),

-- the dossiers counted in those months, read through the month indexes, not the history
counted_dossiers as (

    select dossiers.*
    from dossiers
    where
        dossiers.received_month = any(array(select built_months.period_month from built_months))
        or dossiers.finished_month = any(
            array(select built_months.period_month from built_months)
        )

),

recount as (

    select
        agency_key,
        received_month as period_month,
        'dossier.received' as indicator_code,
        count(*) as dossiers
    from counted_dossiers
    group by 1, 2

    union all

    select
        finish_agency_key as agency_key,
        finished_month as period_month,
        'dossier.' || outcome as indicator_code,
        count(*) as dossiers
    from counted_dossiers
    where outcome in ('resolved', 'withdrawn', 'returned')
    group by 1, 2, 3

),

reported as (

    select
        agency_key,
        closing_month as period_month,
        indicator_code,
        numerator
    from indicator_values
    where
        basis = 'as_reported'
        and calendar = 'calendar'
        and period_type = 'month'
        and indicator_code in (
            'dossier.received', 'dossier.resolved', 'dossier.withdrawn', 'dossier.returned'
        )

),

final as (

    select
        coalesce(reported.agency_key, recount.agency_key) as agency_key,
        coalesce(reported.period_month, recount.period_month) as period_month,
        coalesce(reported.indicator_code, recount.indicator_code) as indicator_code,
        reported.numerator as reported,
        recount.dossiers as recounted
    from reported
    full outer join recount
        on reported.agency_key = recount.agency_key
        and reported.period_month = recount.period_month
        and reported.indicator_code = recount.indicator_code
    where coalesce(reported.period_month, recount.period_month) in (
            select built_months.period_month from built_months
        )

)

select * from final
where coalesce(reported, 0) <> coalesce(recounted, 0)
