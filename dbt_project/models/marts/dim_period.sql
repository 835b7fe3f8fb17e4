-- Calendar months. The official 15→14 report windows and longer periods arrive with the
-- period calendar of the star schema; the key already says which calendar a row belongs to.
with

months as (

    select
        generate_series(
            '2015-01-01'::date, '2030-12-01'::date, interval '1 month'
        )::date as period_start

),

final as (

    select
        to_char(period_start, 'YYYY-MM') as period_key,
        'calendar' as calendar,
        'month' as period_type,
        period_start,
        (period_start + interval '1 month' - interval '1 day')::date as period_end,
        extract(year from period_start)::int as year,
        extract(quarter from period_start)::int as quarter,
        extract(month from period_start)::int as month,
        'Tháng ' || to_char(period_start, 'MM/YYYY') as period_name_vi
    from months

)

select * from final
