-- The monthly KPI mart as built for audit: one row per agency × indicator × month with names,
-- tier and the tier's target for the year (the province's own plan, else the national one).
-- `chiso publish` copies a validated month of it into marts.mart_kpi_monthly.
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

targets as (

    select * from {{ ref('ref_indicator_targets') }}

),

joined as (

    select
        indicator_values.period_month,
        indicator_values.agency_code,
        agencies.agency_name,
        agencies.province_code,
        agencies.province_name,
        agencies.tier,
        agencies.tier_name_vi,
        indicator_values.indicator_code,
        indicators.indicator_name_vi,
        indicators.direction,
        indicator_values.numerator,
        indicator_values.denominator,
        indicator_values.value,
        -- the province's own plan first, else the national target
        coalesce(province_targets.target_value, national_targets.target_value) as target_value,
        case
            when province_targets.target_value is not null then province_targets.comparator
            else national_targets.comparator
        end as target_comparator
    from indicator_values
    inner join agencies
        -- codes are reused across the 2025 restructuring: pick the version valid that month
        on indicator_values.agency_code = agencies.agency_code
        and indicator_values.period_month <= coalesce(agencies.valid_to, '9999-12-31')
        and (indicator_values.period_month + interval '1 month')::date > agencies.valid_from
    inner join indicators
        on indicator_values.indicator_code = indicators.indicator_code
    left join targets as province_targets
        on indicator_values.indicator_code = province_targets.indicator_code
        and agencies.tier = province_targets.tier
        and agencies.province_code = province_targets.province_code
        and extract(year from indicator_values.period_month)
        between province_targets.year_from and province_targets.year_to
    left join targets as national_targets
        on indicator_values.indicator_code = national_targets.indicator_code
        and agencies.tier = national_targets.tier
        and national_targets.province_code is null
        and extract(year from indicator_values.period_month)
        between national_targets.year_from and national_targets.year_to

),

final as (

    select
        period_month,
        agency_code,
        agency_name,
        province_code,
        province_name,
        tier,
        tier_name_vi,
        indicator_code,
        indicator_name_vi,
        numerator,
        denominator,
        value,
        target_value,
        case
            when value is null or target_value is null then null
            when target_comparator = '>=' then value >= target_value
            when target_comparator = '<=' then value <= target_value
        end as target_met
    from joined

)

select * from final
