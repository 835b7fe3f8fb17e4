-- The leaders' dashboard's rows, ready to read (infra/superset/dashboard/): every rate indicator
-- × month × calendar × basis, for the province, each tier and each agency. Totals are
-- mart_kpi_rollups' (ratios of sums, both bases); agencies are mart_kpi_monthly's (as
-- reported), each one twice: under its tier, and under the whole province ('Toàn tỉnh'). A
-- tier's target is the one every agency of the tier shares (none otherwise, and none for a
-- province), the assessment and the labels are worked out here, so a dashboard query reads
-- only the rows its filters leave (bench/readers.py measures it against the facts).
-- Incremental by month period like the marts it reads.
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

rollups as (

    select * from {{ ref('mart_kpi_rollups') }}
    where {{ in_periods_to_build('period_id') }}

),

monthly as (

    select * from {{ ref('mart_kpi_monthly') }}
    where {{ in_periods_to_build('period_id') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

tiers as (

    select distinct
        tier,
        tier_name_vi
    from agencies

),

-- a tier's target, when every agency of the tier (in the province, that month and calendar)
-- has the same one: the monthly report's rule
tier_targets as (

    select
        period_id,
        province_code,
        tier,
        indicator_code,
        min(target_value) as target_value
    from monthly
    where unit = 'ratio'
    group by 1, 2, 3, 4
    having
        count(target_value) = count(*)
        and min(target_value) = max(target_value)

),

totals as (

    select
        rollups.period_id,
        rollups.closing_month as period_month,
        rollups.calendar,
        rollups.basis,
        rollups.province_code,
        rollups.province_name,
        coalesce(rollups.tier, 'province') as scope,
        coalesce(tiers.tier_name_vi, 'Toàn tỉnh') as scope_name,
        'total' as row_kind,
        rollups.province_code as unit_key,
        null::text as agency_key,
        null::text as agency_code,
        null::text as agency_name,
        null::text as tier_name_vi,
        null::int as rank_in_tier,
        rollups.indicator_code,
        rollups.indicator_name_vi,
        rollups.value,
        tier_targets.target_value
    from rollups
    left join tiers
        on rollups.tier = tiers.tier
    left join tier_targets
        on
        rollups.period_id = tier_targets.period_id
        and rollups.province_code = tier_targets.province_code
        and rollups.tier = tier_targets.tier
        and rollups.indicator_code = tier_targets.indicator_code
    where rollups.period_type = 'month' and rollups.unit = 'ratio'

),

agency_rows as (

    select
        monthly.period_id,
        monthly.period_month,
        monthly.calendar,
        'as_reported' as basis,
        monthly.province_code,
        monthly.province_name,
        scopes.scope,
        scopes.scope_name,
        'agency' as row_kind,
        monthly.agency_key as unit_key,
        monthly.agency_key,
        monthly.agency_code,
        monthly.agency_name,
        monthly.tier_name_vi,
        monthly.rank_in_tier,
        monthly.indicator_code,
        monthly.indicator_name_vi,
        monthly.value,
        monthly.target_value
    from monthly
    cross join
        lateral (
            values (monthly.tier, monthly.tier_name_vi), ('province', 'Toàn tỉnh')
        ) as scopes (scope, scope_name)
    where monthly.unit = 'ratio'

),

unioned as (

    select * from totals
    union all
    select * from agency_rows

),

assessed as (

    select
        unioned.*,
        case
            when unioned.target_value is null then 'no_target'
            when unioned.value is null then 'no_data'
            when
                (indicators.direction = 'lower_is_better' and unioned.value <= unioned.target_value)
                or (
                    indicators.direction <> 'lower_is_better'
                    and unioned.value >= unioned.target_value
                )
                then 'met'
            -- within five points of the target: the report's amber light
            when abs(unioned.value - unioned.target_value) < 0.05 then 'near'
            else 'not_met'
        end as target_status,
        -- best first whatever the indicator's direction
        case indicators.direction
            when 'lower_is_better' then unioned.value
            else -unioned.value
        end as rank_key
    from unioned
    inner join indicators
        on unioned.indicator_code = indicators.indicator_code

),

final as (

    select
        period_month,
        period_id,
        calendar,
        case calendar
            when 'calendar' then 'Tháng dương lịch'
            else 'Kỳ báo cáo (15 tháng trước → 14)'
        end as calendar_name,
        basis,
        case basis
            when 'as_reported' then 'Như đã báo cáo'
            else 'Tính lại theo đơn vị hiện nay'
        end as basis_name,
        province_code,
        province_name,
        scope,
        scope_name,
        row_kind,
        unit_key,
        agency_key,
        agency_code,
        agency_name,
        tier_name_vi,
        rank_in_tier,
        indicator_code,
        indicator_name_vi,
        value::numeric(20, 6) as value,
        target_value::numeric(8, 4) as target_value,
        target_status,
        case target_status
            when 'met' then 'Đạt'
            when 'near' then 'Gần đạt'
            when 'not_met' then 'Chưa đạt'
            when 'no_data' then 'Chưa có số liệu'
            else 'Không có mục tiêu'
        end as target_status_name,
        rank_key::numeric(20, 6) as rank_key,
        {{ chiso_run_started_at() }} as _built_at
    from assessed

)

select * from final
