-- Numerator and denominator of each one-stop indicator per agency and calendar month.
-- Rates are never stored here: every roll-up divides sums of these counts.
with

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}

),

received as (

    select
        agency_code,
        received_month as period_month,
        'dossier.online_rate_l34' as indicator_code,
        count(*) filter (where is_level_3_4 and is_online) as numerator,
        count(*) filter (where is_level_3_4) as denominator
    from outcomes
    group by 1, 2

),

resolved as (

    select
        agency_code,
        finished_month as period_month,
        count(*) filter (where timeliness = 'early') as early,
        count(*) filter (where timeliness = 'late') as late,
        count(*) as resolved
    from outcomes
    where is_resolved and finished_month is not null
    group by 1, 2

),

unpivoted as (

    select
        agency_code,
        period_month,
        indicator_code,
        numerator,
        denominator
    from received

    union all

    select
        agency_code,
        period_month,
        'dossier.early_rate' as indicator_code,
        early as numerator,
        resolved as denominator
    from resolved

    union all

    select
        agency_code,
        period_month,
        'dossier.late_rate' as indicator_code,
        late as numerator,
        resolved as denominator
    from resolved

),

final as (

    select
        agency_code,
        period_month,
        indicator_code,
        numerator::bigint as numerator,
        denominator::bigint as denominator
    from unpivoted

)

select * from final
