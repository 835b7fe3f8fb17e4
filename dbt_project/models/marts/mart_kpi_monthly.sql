-- The monthly KPI mart as built for audit: one row per agency version × indicator × month ×
-- calendar ('calendar' months and the 'official' 15→14 report windows), as reported, with
-- names, the previous month's value and the change, the rank among the province's agencies of
-- the same tier (best first, by the indicator's direction), and the target status.
-- `chiso publish` copies a validated month into marts.mart_kpi_monthly. Incremental like
-- fct_indicator_values.
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

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

all_periods as (

    select * from {{ ref('dim_period') }}

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

-- the months being built and the month before each, for the previous value
monthly_history as (

    select indicator_values.*
    from indicator_values
    where
        indicator_values.basis = 'as_reported'
        and indicator_values.period_type = 'month'
        and indicator_values.closing_month >= (
            select (min(periods.closing_month) - interval '1 month')::date from periods
        )
        -- the same months as period ids, so the period_id index reads them, not the history
        and indicator_values.period_id = any(array(
            select all_periods.period_id
            from all_periods
            where
                all_periods.period_type = 'month'
                and all_periods.closing_month >= (
                    select (min(periods.closing_month) - interval '1 month')::date from periods
                )
        ))

),

with_previous as (

    select
        monthly_history.*,
        lag(monthly_history.value) over (
            partition by
                monthly_history.agency_key,
                monthly_history.indicator_code,
                monthly_history.calendar
            order by monthly_history.closing_month
        ) as previous_value,
        lag(monthly_history.closing_month) over (
            partition by
                monthly_history.agency_key,
                monthly_history.indicator_code,
                monthly_history.calendar
            order by monthly_history.closing_month
        ) as previous_month
    from monthly_history

),

monthly as (

    select with_previous.*
    from with_previous
    inner join periods
        on with_previous.period_id = periods.period_id

),

joined as (

    select
        monthly.closing_month as period_month,
        monthly.calendar,
        monthly.period_id,
        monthly.period_start,
        monthly.period_end,
        monthly.is_complete,
        monthly.agency_key,
        monthly.agency_code,
        agencies.agency_name,
        agencies.province_code,
        agencies.province_name,
        agencies.tier,
        agencies.tier_name_vi,
        monthly.indicator_code,
        indicators.indicator_name_vi,
        indicators.unit,
        indicators.direction,
        monthly.numerator,
        monthly.denominator,
        monthly.value,
        -- a gap in the agency's months leaves no previous value
        case
            when monthly.previous_month = (monthly.closing_month - interval '1 month')::date
                then monthly.previous_value
        end as previous_value,
        monthly.target_value,
        monthly.target_comparator,
        monthly.target_met
    from monthly
    inner join agencies
        on monthly.agency_key = agencies.agency_key
    inner join indicators
        on monthly.indicator_code = indicators.indicator_code

),

ranked as (

    select
        *,
        -- among the agencies of the same tier in the same province, best first; volumes
        -- (direction neutral: received, resolved …) are not performance and are not ranked
        case
            when value is not null and direction <> 'neutral'
                then rank() over (
                        partition by period_id, indicator_code, province_code, tier
                        order by
                            case when direction = 'lower_is_better' then value end asc nulls last,
                            case when direction = 'higher_is_better' then value end desc nulls last
                    )
        end as rank_in_tier,
        case
            when direction <> 'neutral'
                then count(value) over (
                        partition by period_id, indicator_code, province_code, tier
                    )
        end as ranked_in_tier
    from joined

),

final as (

    select
        period_month,
        calendar,
        period_id,
        period_start,
        period_end,
        is_complete,
        agency_key,
        agency_code,
        agency_name,
        province_code,
        province_name,
        tier,
        tier_name_vi,
        indicator_code,
        indicator_name_vi,
        unit,
        numerator,
        denominator,
        value,
        previous_value::numeric(20, 6) as previous_value,
        (value - previous_value)::numeric(20, 6) as value_change,
        rank_in_tier::int as rank_in_tier,
        ranked_in_tier::int as ranked_in_tier,
        target_value,
        target_met,
        case
            when target_value is null then 'no_target'
            when value is null then 'no_data'
            when target_met then 'met'
            else 'not_met'
        end as target_status,
        {{ chiso_run_started_at() }} as _built_at
    from ranked

)

select * from final
