-- Agency × indicator × period × calendar × basis: the numerator, denominator and value of
-- every computed indicator (dim_indicator.in_mart), with the target of the agency's tier and
-- province for the period's year. Complete: every agency version active in a period gets a
-- row for every indicator (zeros, null value, where nothing happened), plus a version that
-- ended but still has activity in the period (dossiers it accepted, resolved later).
-- basis = 'as_reported' keeps the agencies of the time; 'restated' moves each agency's
-- numerators and denominators to today's agencies (int_agencies__restatement_map) and
-- recomputes the ratios, so the values can be fractional counts there; a restated row has a
-- target only when every unit moved into it had today's unit's tier and province.
-- Incremental: a run with build_month set replaces only the periods that overlap that month.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='period_id',
        on_schema_change='fail',
        indexes=[{'columns': ['period_id']}, {'columns': ['_built_at']}],
    )
}}

with

-- only the periods this run builds, read through each table's period_id index: the rest of
-- the history is not needed (everything below joins int_periods__to_build)
counts as (

    select * from {{ ref('int_indicator_counts__dossiers') }}
    where {{ in_periods_to_build('period_id') }}
    union all
    select * from {{ ref('int_indicator_counts__services') }}
    where {{ in_periods_to_build('period_id') }}
    union all
    select * from {{ ref('int_indicator_counts__documents') }}
    where {{ in_periods_to_build('period_id') }}
    union all
    select * from {{ ref('int_indicator_counts__aggregate_reports') }}
    where {{ in_periods_to_build('period_id') }}
    union all
    select * from {{ ref('int_indicator_counts__procedures') }}
    where {{ in_periods_to_build('period_id') }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

province_units as (

    select * from {{ ref('ref_admin_units') }}
    where unit_level = 'province'

),

-- a province's plan is for the province unit its code named when the plan began: code 31 was
-- Hải Phòng before 1 July 2025 and the merged Hải Phòng after, so a 2021–2025 plan of the
-- former is not the merged city's
targets as (

    select
        targets.*,
        province_units.unit_key as province_unit_key
    from {{ ref('ref_indicator_targets') }} as targets
    left join province_units
        on targets.province_code = province_units.unit_code
        and make_date(targets.year_from, 1, 1)
        between province_units.valid_from and coalesce(province_units.valid_to, '9999-12-31')

),

restatement_map as (

    select * from {{ ref('int_agencies__restatement_map') }}

),

spine as (

    select
        agencies.agency_key,
        periods.period_id
    from periods
    inner join agencies
        on periods.period_end >= agencies.valid_from
        and periods.period_start <= coalesce(agencies.valid_to, '9999-12-31'::date)

    union

    select distinct
        counts.agency_key,
        counts.period_id
    from counts
    where counts.agency_key is not null

),

as_reported as (

    select
        'as_reported' as basis,
        spine.agency_key,
        indicators.indicator_code,
        spine.period_id,
        coalesce(counts.numerator, 0)::numeric as numerator,
        case
            when indicators.unit <> 'count' then coalesce(counts.denominator, 0)::numeric
        end as denominator,
        true as targets_apply
    from spine
    cross join indicators
    left join counts
        on spine.agency_key = counts.agency_key
        and spine.period_id = counts.period_id
        and indicators.indicator_code = counts.indicator_code
    where indicators.in_mart

),

restated as (

    select
        'restated' as basis,
        restatement_map.current_agency_key as agency_key,
        as_reported.indicator_code,
        as_reported.period_id,
        sum(as_reported.numerator * restatement_map.share) as numerator,
        sum(as_reported.denominator * restatement_map.share) as denominator,
        -- a target is a plan for the units that did the work: a restated row carries one only
        -- when every unit moved into it had today's unit's tier and province
        bool_and(
            contributors.tier = current_units.tier
            and contributors.province_code = current_units.province_code
        ) as targets_apply
    from as_reported
    inner join restatement_map
        on as_reported.agency_key = restatement_map.agency_key
    inner join agencies as contributors
        on as_reported.agency_key = contributors.agency_key
    inner join agencies as current_units
        on restatement_map.current_agency_key = current_units.agency_key
    group by 1, 2, 3, 4

),

both_bases as (

    select * from as_reported
    union all
    select * from restated

),

joined as (

    select
        both_bases.basis,
        both_bases.agency_key,
        agencies.agency_code,
        agencies.tier,
        agencies.province_code,
        -- the province unit the agency version belongs to (its code, when the version began)
        province_units.unit_key as province_unit_key,
        both_bases.indicator_code,
        indicators.unit,
        both_bases.period_id,
        periods.calendar,
        periods.period_type,
        periods.period_key,
        periods.period_start,
        periods.period_end,
        periods.closing_month,
        periods.is_complete,
        both_bases.numerator,
        both_bases.denominator,
        -- an indicator that accumulates over time is judged on years only (dim_indicator)
        both_bases.targets_apply
        and (indicators.target_period = 'period' or periods.period_type = 'year')
            as targets_apply,
        case
            when indicators.unit = 'count' then both_bases.numerator
            else round(both_bases.numerator / nullif(both_bases.denominator, 0), 6)
        end as value
    from both_bases
    inner join agencies
        on both_bases.agency_key = agencies.agency_key
    left join province_units
        on agencies.province_code = province_units.unit_code
        and agencies.valid_from
        between province_units.valid_from and coalesce(province_units.valid_to, '9999-12-31')
    inner join indicators
        on both_bases.indicator_code = indicators.indicator_code
    inner join periods
        on both_bases.period_id = periods.period_id

),

targeted as (

    select
        joined.*,
        -- the province's own plan first, else the national target
        coalesce(province_targets.target_value, national_targets.target_value) as target_value,
        case
            when province_targets.target_value is not null then province_targets.comparator
            else national_targets.comparator
        end as target_comparator
    from joined
    left join targets as province_targets
        on joined.indicator_code = province_targets.indicator_code
        and joined.targets_apply
        and joined.tier = province_targets.tier
        and joined.province_unit_key = province_targets.province_unit_key
        and extract(year from joined.closing_month)
        between province_targets.year_from and province_targets.year_to
    left join targets as national_targets
        on joined.indicator_code = national_targets.indicator_code
        and joined.targets_apply
        and joined.tier = national_targets.tier
        and national_targets.province_code is null
        and extract(year from joined.closing_month)
        between national_targets.year_from and national_targets.year_to

),

final as (

    select
        basis,
        agency_key,
        agency_code,
        indicator_code,
        unit,
        period_id,
        calendar,
        period_type,
        period_key,
        period_start,
        period_end,
        closing_month,
        is_complete,
        numerator::numeric(20, 6) as numerator,
        denominator::numeric(20, 6) as denominator,
        value::numeric(20, 6) as value,
        target_value::numeric(8, 4) as target_value,
        target_comparator,
        case
            when value is null or target_value is null then null
            when target_comparator = '>=' then value >= target_value
            when target_comparator = '<=' then value <= target_value
        end as target_met,
        {{ chiso_run_started_at() }} as _built_at
    from targeted

)

select * from final
