-- Numerator and denominator of the indicators that count distinct procedures among the
-- dossiers received in a period (docs/indicator-rules.md, "QĐ 766 scorecard"): fee-bearing
-- procedures with a dossier paid online (QĐ 766 item 3.5b) and citizens' procedures with a
-- VNeID-verified dossier (item 4.5a). A dossier refused at the desk is in neither. Distinct
-- counts over the whole period, never sums of months. Incremental by period.
with

-- dossiers received in the periods this run builds, through the date index
outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    where received_date >= {{ first_day_to_build() }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

procedures as (

    select
        outcomes.agency_key,
        periods.period_id,
        count(distinct outcomes.procedure_code) filter (where outcomes.is_fee_bearing)
            as fee_procedures,
        count(distinct outcomes.procedure_code) filter (
            where outcomes.is_fee_bearing and outcomes.is_paid_online
        ) as fee_procedures_paid_online,
        count(distinct outcomes.procedure_code) filter (where outcomes.applicant_type = 'citizen')
            as citizen_procedures,
        count(distinct outcomes.procedure_code) filter (
            where outcomes.applicant_type = 'citizen' and outcomes.is_vneid_verified
        ) as citizen_procedures_vneid
    from outcomes
    inner join periods
        on outcomes.received_date between periods.period_start and periods.period_end
    where outcomes.is_refused_at_desk is not true
    group by 1, 2

),

final as (

    select
        procedures.agency_key,
        procedures.period_id,
        measures.indicator_code,
        measures.numerator::bigint as numerator,
        measures.denominator::bigint as denominator,
        {{ chiso_run_started_at() }} as _built_at
    from procedures
    cross join
        lateral (
            values
            (
                'pay.procedure_paid_rate',
                procedures.fee_procedures_paid_online,
                procedures.fee_procedures
            ),
            (
                'id.vneid_procedure_rate',
                procedures.citizen_procedures_vneid,
                procedures.citizen_procedures
            )
        ) as measures (indicator_code, numerator, denominator)

)

select * from final
