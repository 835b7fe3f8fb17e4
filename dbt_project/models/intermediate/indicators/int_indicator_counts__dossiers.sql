-- Numerator and denominator of every one-stop indicator per agency version and period (both
-- calendars) from the dossiers, never from the months (docs/indicator-rules.md, "Dossiers"):
-- stocks at the period's end, distinct counts over it. Incremental by period.
with

-- only dossiers that can count in the periods built (by the date indexes: a year, not all)
outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    where
        finish_date is null
        or finish_date >= {{ first_day_to_build() }}
        or received_date >= {{ first_day_to_build() }}

),

supplements as (

    select * from {{ ref('stg_one_stop__supplements') }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

procedure_results as (

    select * from {{ ref('int_portal__procedure_results') }}

),

-- every dossier received, refused at the desk (status 3) or not, as dossier.received counts
received_all as (

    select
        outcomes.agency_key,
        periods.period_id,
        count(*) as received
    from outcomes
    inner join periods
        on outcomes.received_date between periods.period_start and periods.period_end
    group by 1, 2

),

-- flows on the acceptance date for the rates: a dossier refused at the desk is in none
received as (

    select
        outcomes.agency_key,
        periods.period_id,
        count(*) as received,
        count(*) filter (where outcomes.effective_level in (3, 4)) as received_l34,
        count(*) filter (where outcomes.effective_level in (3, 4) and outcomes.is_online)
            as received_l34_online,
        count(*) filter (where outcomes.is_bcci) as received_bcci,
        count(*) filter (
            where outcomes.is_bcci
            and outcomes.outcome = 'resolved'
            and outcomes.finish_date <= periods.period_end
        ) as received_bcci_resolved,
        count(distinct outcomes.procedure_code) as procedures_received,
        count(distinct outcomes.procedure_code) filter (
            where outcomes.is_bcci or outcomes.is_result_by_post
        ) as procedures_bcci,
        count(*) filter (where outcomes.is_fee_bearing) as fee_bearing,
        count(*) filter (where outcomes.is_fee_bearing and outcomes.is_paid_online)
            as fee_bearing_paid_online,
        count(*) filter (where outcomes.has_digitised_components) as digitised,
        count(*) filter (where outcomes.reuses_digitised_data) as reusing,
        count(*) filter (where outcomes.is_online) as received_online,
        count(*) filter (where outcomes.is_online and outcomes.is_vneid_verified)
            as received_online_vneid
    from outcomes
    inner join periods
        on outcomes.received_date between periods.period_start and periods.period_end
    where outcomes.is_refused_at_desk is not true
    group by 1, 2

),

finished as (

    select
        {{ holder_on('outcomes', 'outcomes.finish_date') }} as agency_key,
        periods.period_id,
        count(*) filter (where outcomes.outcome = 'resolved') as resolved,
        count(*) filter (where outcomes.timeliness = 'early') as resolved_early,
        count(*) filter (where outcomes.timeliness = 'on_time') as resolved_on_time,
        count(*) filter (where outcomes.timeliness = 'late') as resolved_late,
        count(*) filter (
            where outcomes.outcome = 'resolved'
            and outcomes.finish_date <= outcomes.official_due_date
            and outcomes.supplements_by_finish <= 1
        ) as resolved_timely_766,
        coalesce(
            sum(outcomes.processing_working_days) filter (where outcomes.outcome = 'resolved'), 0
        )
            as resolved_working_days,
        -- QĐ 766 item 4.1: dossiers of procedures that return a result (no_result: "Không có")
        count(*) filter (where outcomes.outcome = 'resolved' and no_result.procedure_code is null)
            as resolved_returning,
        count(*) filter (
            where outcomes.outcome = 'resolved' and outcomes.has_electronic_result
            and no_result.procedure_code is null
        ) as resolved_with_eresult,
        count(*) filter (where outcomes.outcome = 'withdrawn') as withdrawn,
        count(*) filter (where outcomes.outcome = 'returned') as returned
    from outcomes
    inner join periods
        on outcomes.finish_date between periods.period_start and periods.period_end
    left join procedure_results as no_result
        on outcomes.procedure_code = no_result.procedure_code and not no_result.returns_result
    group by 1, 2

),

open_at_end as (

    select
        {{ holder_on('outcomes', 'periods.period_end') }} as agency_key,
        outcomes.dossier_id,
        outcomes.official_due_date as due_date,  -- never a date rewritten after an apology
        periods.period_id,
        periods.period_end
    from outcomes
    inner join periods
        on outcomes.received_date <= periods.period_end
        and (outcomes.finish_date is null or outcomes.finish_date > periods.period_end)

),

open_requests as (

    select
        open_at_end.period_id,
        open_at_end.dossier_id,
        count(*) as requested,
        bool_or(
            supplements.supplied_at is null
            or supplements.supplied_at::date > open_at_end.period_end
        ) as is_paused
    from open_at_end
    inner join supplements
        on open_at_end.dossier_id = supplements.dossier_id
        and supplements.requested_at::date <= open_at_end.period_end
    group by 1, 2

),

-- stocks at the end of the period
stocks as (

    select
        open_at_end.agency_key,
        open_at_end.period_id,
        count(*) as in_progress,
        -- paused for a supplement: neither overdue nor behind (766 2.1: a 2nd request is late)
        count(*) filter (
            where open_at_end.due_date < open_at_end.period_end
            and open_requests.is_paused is not true
        ) as open_overdue,
        count(*) filter (where open_requests.is_paused) as paused,
        count(*) filter (
            where (open_at_end.due_date >= open_at_end.period_end or open_requests.is_paused)
            and coalesce(open_requests.requested, 0) <= 1
        ) as open_timely_766
    from open_at_end
    left join open_requests
        on open_at_end.period_id = open_requests.period_id
        and open_at_end.dossier_id = open_requests.dossier_id
    group by 1, 2

),

carried_over as (

    select
        {{ holder_on('outcomes', 'periods.period_start') }} as agency_key,
        periods.period_id,
        count(*) as carried_over
    from outcomes
    inner join periods
        on outcomes.received_date < periods.period_start
        and (outcomes.finish_date is null or outcomes.finish_date >= periods.period_start)
    group by 1, 2

),

unpivoted as (

    select
        received.agency_key,
        received.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from received
    cross join
        lateral (
            values
            ('dossier.online_rate_l34', received.received_l34_online, received.received_l34),
            ('bcci.received_rate', received.received_bcci, received.received),
            ('bcci.resolved_rate', received.received_bcci_resolved, received.received_bcci),
            ('bcci.procedure_rate', received.procedures_bcci, received.procedures_received),
            ('pay.online_rate', received.fee_bearing_paid_online, received.fee_bearing),
            ('digit.dossier_rate', received.digitised, received.received),
            ('digit.reuse_rate', received.reusing, received.received),
            ('id.vneid_rate', received.received_online_vneid, received.received_online)
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        received_all.agency_key,
        received_all.period_id,
        'dossier.received' as indicator_code,
        received_all.received as numerator,
        null::bigint as denominator
    from received_all

    union all

    select
        finished.agency_key,
        finished.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from finished
    cross join
        lateral (
            values
            ('dossier.resolved', finished.resolved, null::bigint),
            ('dossier.withdrawn', finished.withdrawn, null::bigint),
            ('dossier.returned', finished.returned, null::bigint),
            ('dossier.early_rate', finished.resolved_early, finished.resolved),
            ('dossier.ontime_rate', finished.resolved_on_time, finished.resolved),
            ('dossier.late_rate', finished.resolved_late, finished.resolved),
            ('dossier.avg_processing_days', finished.resolved_working_days, finished.resolved),
            ('digit.eresult_rate', finished.resolved_with_eresult, finished.resolved_returning),
            -- resolved half of 766 item 2.1; the open half comes from the stocks
            ('dossier.timely_766', finished.resolved_timely_766, finished.resolved)
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        stocks.agency_key,
        stocks.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from stocks
    cross join
        lateral (
            values
            ('dossier.in_progress', stocks.in_progress, null::bigint),
            ('dossier.open_overdue', stocks.open_overdue, null::bigint),
            ('dossier.paused', stocks.paused, null::bigint),
            ('dossier.timely_766', stocks.open_timely_766, stocks.in_progress)
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        carried_over.agency_key,
        carried_over.period_id,
        'dossier.carried_over' as indicator_code,
        carried_over.carried_over as numerator,
        null::bigint as denominator
    from carried_over

),

final as (

    select
        agency_key,
        period_id,
        indicator_code,
        sum(numerator)::bigint as numerator,
        sum(denominator)::bigint as denominator,
        {{ chiso_run_started_at() }} as _built_at
    from unpivoted
    group by 1, 2, 3

)

select * from final
