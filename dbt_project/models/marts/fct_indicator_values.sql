-- Agency × indicator × calendar month, complete: every agency active in a month gets a row for
-- every computed indicator (dim_indicator.in_mart), with zero counts and a null value where
-- nothing happened.
with

counts as (

    select * from {{ ref('int_indicator_counts__agency_monthly') }}

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

indicators as (

    select * from {{ ref('dim_indicator') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

dossiers as (

    select * from {{ ref('stg_one_stop__dossiers') }}

),

data_months as (

    select
        min(received_month) as first_month,
        max(received_month) as last_month
    from dossiers

),

spine as (

    select
        agencies.agency_code,
        indicators.indicator_code,
        periods.period_start as period_month
    from periods
    inner join data_months
        on periods.period_start between data_months.first_month and data_months.last_month
    inner join agencies
        on periods.period_end >= agencies.valid_from
        and periods.period_start <= coalesce(agencies.valid_to, '9999-12-31')
    cross join indicators
    -- the catalogue holds every indicator; only those computed so far get rows
    where indicators.in_mart

),

final as (

    select
        spine.agency_code,
        spine.indicator_code,
        spine.period_month,
        'calendar' as calendar,
        coalesce(counts.numerator, 0)::bigint as numerator,
        coalesce(counts.denominator, 0)::bigint as denominator,
        round(counts.numerator::numeric / nullif(counts.denominator, 0), 6) as value
    from spine
    left join counts
        on spine.agency_code = counts.agency_code
        and spine.indicator_code = counts.indicator_code
        and spine.period_month = counts.period_month

)

select * from final
