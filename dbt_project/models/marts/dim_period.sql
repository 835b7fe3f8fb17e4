-- Every reporting period of the calendar's range (vars calendar_first_day, calendar_last_day)
-- in both calendars (docs/indicator-rules.md, "Periods"): calendar months, quarters, halves
-- and years, and the official report windows of NĐ 09/2019/NĐ-CP, which run from the 15th of
-- the previous month to the 14th. Both
-- calendars use the same period_key ('2025-03', '2025-Q1', '2025-H1', '2025'); period_id
-- ('official:2025-Q1') tells them apart.
with

months as (

    select
        generate_series(
            date_trunc('month', '{{ var("calendar_first_day") }}'::date),
            date_trunc('month', '{{ var("calendar_last_day") }}'::date),
            interval '1 month'
        )::date as month_start

),

-- one row per month and the longer periods ending with it
spans as (

    select
        'month' as period_type,
        month_start as first_month,
        month_start as last_month,
        to_char(month_start, 'YYYY-MM') as period_key
    from months

    union all

    select
        'quarter' as period_type,
        month_start as first_month,
        (month_start + interval '2 months')::date as last_month,
        to_char(month_start, 'YYYY') || '-Q' || extract(quarter from month_start) as period_key
    from months
    where extract(month from month_start) in (1, 4, 7, 10)

    union all

    select
        'half' as period_type,
        month_start as first_month,
        (month_start + interval '5 months')::date as last_month,
        to_char(month_start, 'YYYY')
        || case when extract(month from month_start) = 1 then '-H1' else '-H2' end as period_key
    from months
    where extract(month from month_start) in (1, 7)

    union all

    select
        'year' as period_type,
        month_start as first_month,
        (month_start + interval '11 months')::date as last_month,
        to_char(month_start, 'YYYY') as period_key
    from months
    where extract(month from month_start) = 1

),

calendars as (

    select
        'calendar' as calendar,
        period_type,
        period_key,
        first_month,
        last_month,
        first_month as period_start,
        (last_month + interval '1 month' - interval '1 day')::date as period_end
    from spans

    union all

    select
        'official' as calendar,
        period_type,
        period_key,
        first_month,
        last_month,
        (first_month - interval '1 month' + interval '14 days')::date as period_start,
        (last_month + interval '13 days')::date as period_end
    from spans

),

final as (

    select
        calendar || ':' || period_key as period_id,
        calendar,
        period_type,
        period_key,
        period_start,
        period_end,
        (period_end - period_start + 1)::int as day_count,
        extract(year from last_month)::int as year,
        case when extract(month from last_month) <= 6 then 1 else 2 end as half,
        case when period_type in ('month', 'quarter') then extract(quarter from last_month)::int end
            as quarter,
        case when period_type = 'month' then extract(month from last_month)::int end as month,
        -- the month the period closes with: a monthly mart's period_month
        last_month as closing_month,
        case period_type
            when 'month' then 'Tháng ' || to_char(last_month, 'MM/YYYY')
            when
                'quarter'
                then 'Quý '
                    || extract(quarter from last_month)
                    || '/'
                    || to_char(last_month, 'YYYY')
            when 'half'
                then
                    case
                        when extract(month from last_month) <= 6 then '6 tháng đầu năm ' else
                            '6 tháng cuối năm '
                    end
                    || to_char(last_month, 'YYYY')
            else 'Năm ' || to_char(last_month, 'YYYY')
        end
        || case
            when calendar = 'official'
                then ' (kỳ báo cáo '
                    || to_char(period_start, 'DD/MM/YYYY')
                    || '–'
                    || to_char(period_end, 'DD/MM/YYYY')
                    || ')'
            else ''
        end as period_name_vi
    from calendars

)

select * from final
