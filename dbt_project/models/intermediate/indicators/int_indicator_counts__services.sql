-- Numerator and denominator of the online-service indicators per agency version and period
-- (docs/indicator-rules.md, "Online services"): provision, use, national-portal integration
-- and fully-online provision from the agency's catalogue snapshot of the period (its latest
-- snapshot on or before the period's end), the fully-online dossier rate from the dossiers
-- received in the period, and satisfaction from the portal's monthly usage figures.
-- A table, incremental by period: a run replaces the periods of int_periods__to_build, and
-- the tests read the table instead of recomputing the counts each.
with

-- not materialized: read by (agency, latest snapshot date) through the index, not copied whole
offerings as not materialized (

    select * from {{ ref('int_portal__offerings') }}

),

-- dossiers received in the periods this run builds (the only use), through the date index
outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    where received_date >= {{ first_day_to_build() }}

),

usage as (

    select * from {{ ref('stg_portal__usage') }}

),

agencies as (

    select * from {{ ref('ref_agencies') }}

),

code_versions as (

    select * from {{ ref('int_agencies__code_versions') }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

-- each agency's latest catalogue snapshot on or before the period's end, one index probe per
-- agency and period; an agency version that has ended gets no catalogue values for later
-- periods
period_snapshots as (

    select
        agencies.agency_key,
        periods.period_id,
        latest.snapshot_date
    from periods
    inner join agencies
        on coalesce(agencies.valid_to, '9999-12-31'::date) >= periods.period_start
    -- ordered by the whole (agency_key, snapshot_date) index, so that index is the only one
    -- that yields the row without a sort: with a fresh table in a parallel build (statistics,
    -- no visibility map yet) the planner otherwise walked the snapshot-date index backwards
    -- filtering the agency, 95,000 rows per probe (220 s instead of 15 s on five years)
    cross join
        lateral (
            select
                offerings.agency_key,
                offerings.snapshot_date
            from offerings
            where
                offerings.agency_key = agencies.agency_key
                and offerings.snapshot_date <= periods.period_end
            order by 1 desc, 2 desc
            limit 1
        ) as latest

),

period_offerings as (

    select
        period_snapshots.period_id,
        offerings.*
    from period_snapshots
    inner join offerings
        on period_snapshots.agency_key = offerings.agency_key
        and period_snapshots.snapshot_date = offerings.snapshot_date

),

online_use as (

    select distinct
        outcomes.agency_key,
        periods.period_id,
        outcomes.procedure_code
    from outcomes
    inner join periods
        on outcomes.received_date between periods.period_start and periods.period_end
    where outcomes.is_online

),

provision as (

    select
        period_offerings.agency_key,
        period_offerings.period_id,
        count(*) as offerings,
        count(*) filter (where period_offerings.effective_level >= 3) as offerings_l34,
        count(*) filter (where period_offerings.effective_level = 4) as offerings_l4,
        count(*) filter (where period_offerings.effective_level = 3) as offerings_l3,
        count(*) filter (
            where period_offerings.effective_level = 3 and online_use.procedure_code is not null
        )
            as offerings_l3_used,
        count(*) filter (
            where period_offerings.effective_level = 4 and online_use.procedure_code is not null
        )
            as offerings_l4_used,
        count(*) filter (
            where period_offerings.effective_level >= 3 and period_offerings.is_on_national_portal
        )
            as offerings_l34_national,
        count(*) filter (where period_offerings.is_full_online_eligible) as offerings_eligible,
        count(*) filter (
            where period_offerings.is_full_online_eligible and period_offerings.effective_level = 4
        )
            as offerings_eligible_full_online,
        count(*) filter (where period_offerings.is_fee_bearing) as offerings_fee,
        count(*) filter (
            where period_offerings.is_fee_bearing and period_offerings.has_online_payment
        ) as offerings_fee_payment
    from period_offerings
    left join online_use
        on period_offerings.agency_key = online_use.agency_key
        and period_offerings.period_id = online_use.period_id
        and period_offerings.procedure_code = online_use.procedure_code
    group by 1, 2

),

-- dossiers received (a dossier refused at the desk was never accepted: in none) and those
-- processed fully online: online, of a procedure the period's snapshot offers toàn trình
-- (effective level 4); over the eligible procedures' dossiers (dossier.full_online_rate) and
-- over all of them, as QĐ 942/QĐ-TTg counts "hồ sơ trực tuyến toàn trình trên tổng số hồ sơ"
-- (dossier.full_online_share)
full_online_dossiers as (

    select
        outcomes.agency_key,
        periods.period_id,
        count(*) as received,
        count(*) filter (where period_offerings.is_full_online_eligible) as eligible_dossiers,
        count(*) filter (where outcomes.is_online and period_offerings.effective_level = 4)
            as full_online,
        count(*) filter (
            where period_offerings.is_full_online_eligible
            and outcomes.is_online and period_offerings.effective_level = 4
        ) as eligible_full_online
    from outcomes
    inner join periods
        on outcomes.received_date between periods.period_start and periods.period_end
    left join period_offerings
        on outcomes.agency_key = period_offerings.agency_key
        and periods.period_id = period_offerings.period_id
        and outcomes.procedure_code = period_offerings.procedure_code
    where outcomes.is_refused_at_desk is not true
    group by 1, 2

),

-- monthly figures belong to the period holding the first day of their month
satisfaction as (

    select
        code_versions.agency_key,
        periods.period_id,
        coalesce(sum(usage.satisfied_ratings), 0) as satisfied_ratings,
        coalesce(sum(usage.ratings), 0) as ratings
    from usage
    inner join code_versions
        on usage.agency_code = code_versions.agency_code
        and usage.usage_month between code_versions.covers_from and code_versions.covers_to
    inner join periods
        on usage.usage_month between periods.period_start and periods.period_end
    group by 1, 2

),

unpivoted as (

    select
        provision.agency_key,
        provision.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from provision
    cross join
        lateral (
            values
            ('svc.l3_provision', provision.offerings_l34, provision.offerings),
            ('svc.l4_provision', provision.offerings_l4, provision.offerings),
            ('svc.l3_used', provision.offerings_l3_used, provision.offerings_l3),
            ('svc.l4_used', provision.offerings_l4_used, provision.offerings_l4),
            ('svc.national_integration', provision.offerings_l34_national, provision.offerings_l34),
            (
                'svc.full_online_eligible',
                provision.offerings_eligible_full_online,
                provision.offerings_eligible
            ),
            ('pay.procedure_payment_rate', provision.offerings_fee_payment, provision.offerings_fee)
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        full_online_dossiers.agency_key,
        full_online_dossiers.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from full_online_dossiers
    cross join
        lateral (
            values
            (
                'dossier.full_online_rate',
                full_online_dossiers.eligible_full_online,
                full_online_dossiers.eligible_dossiers
            ),
            (
                'dossier.full_online_share',
                full_online_dossiers.full_online,
                full_online_dossiers.received
            )
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        satisfaction.agency_key,
        satisfaction.period_id,
        'sat.rate' as indicator_code,
        satisfaction.satisfied_ratings as numerator,
        satisfaction.ratings as denominator
    from satisfaction

),

final as (

    select
        agency_key,
        period_id,
        indicator_code,
        numerator::bigint as numerator,
        denominator::bigint as denominator,
        {{ chiso_run_started_at() }} as _built_at
    from unpivoted

)

select * from final
