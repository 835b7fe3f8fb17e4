-- Province and tier roll-ups of every indicator, period, calendar and basis: ratios of sums
-- (Σ numerator / Σ denominator over the agencies), never averages of rates; counts add up.
-- Targets do not roll up, so there are none here. 'province' rows sum every agency of the
-- province; 'tier' rows sum the agencies of one tier within the province. In the restated
-- basis the province is the current one (Hải Dương's figures appear under Hải Phòng).
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

-- only the periods this run builds, through fct_indicator_values' period_id index
indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
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

in_window as (

    select
        indicator_values.*,
        agencies.province_code,
        agencies.province_name,
        agencies.tier
    from indicator_values
    inner join periods
        on indicator_values.period_id = periods.period_id
    inner join agencies
        on indicator_values.agency_key = agencies.agency_key

),

grouped as (

    select
        basis,
        period_id,
        calendar,
        period_type,
        period_key,
        closing_month,
        'province' as rollup_level,
        province_code,
        province_name,
        null::text as tier,
        indicator_code,
        count(*) as agencies,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from in_window
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

    union all

    select
        basis,
        period_id,
        calendar,
        period_type,
        period_key,
        closing_month,
        'tier' as rollup_level,
        province_code,
        province_name,
        tier,
        indicator_code,
        count(*) as agencies,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from in_window
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

),

final as (

    select
        grouped.basis,
        grouped.period_id,
        grouped.calendar,
        grouped.period_type,
        grouped.period_key,
        grouped.closing_month,
        grouped.rollup_level,
        grouped.province_code,
        grouped.province_name,
        grouped.tier,
        grouped.indicator_code,
        indicators.indicator_name_vi,
        indicators.unit,
        grouped.agencies::int as agencies,
        grouped.numerator::numeric(20, 6) as numerator,
        grouped.denominator::numeric(20, 6) as denominator,
        case
            when indicators.unit = 'count' then grouped.numerator
            else round(grouped.numerator / nullif(grouped.denominator, 0), 6)
        end::numeric(20, 6) as value,
        {{ chiso_run_started_at() }} as _built_at
    from grouped
    inner join indicators
        on grouped.indicator_code = indicators.indicator_code

)

select * from final
