-- Numerator and denominator of every document indicator per agency version and period
-- (docs/indicator-rules.md, "Documents"); secret documents are left out of all of them.
-- A table, incremental by period: a run replaces the periods of int_periods__to_build, and
-- the tests read the table instead of recomputing the counts each.
with

-- a movement counts in a period by its date or its handling deadline: only those on or after
-- the first day of the periods this run builds are read, through the date indexes
movements as (

    select * from {{ ref('int_documents__movements') }}
    where
        movement_date >= {{ first_day_to_build() }}
        or handling_due_date >= {{ first_day_to_build() }}

),

periods as (

    select * from {{ ref('int_periods__to_build') }}

),

open_movements as (

    select * from movements
    where not is_secret

),

by_movement_date as (

    select
        open_movements.agency_key,
        periods.period_id,
        count(*) filter (where open_movements.direction = 'sent' and open_movements.is_internal)
            as internal_sent,
        count(*) filter (
            where open_movements.direction = 'sent' and open_movements.is_internal
            and open_movements.form = 'electronic'
        ) as internal_sent_electronic,
        count(*) filter (where open_movements.direction = 'sent' and not open_movements.is_internal)
            as official_sent,
        count(*) filter (
            where open_movements.direction = 'sent' and not open_movements.is_internal
            and open_movements.form = 'both'
        ) as official_sent_parallel,
        count(*) filter (
            where open_movements.direction = 'sent' and not open_movements.is_internal
            and open_movements.form = 'electronic'
        ) as official_sent_electronic,
        count(*) filter (where open_movements.direction = 'sent' and open_movements.is_electronic)
            as electronic_sent,
        count(*) filter (
            where open_movements.direction = 'sent' and open_movements.is_electronic
            and open_movements.is_digitally_signed
        ) as electronic_sent_signed,
        count(*) filter (where not open_movements.is_internal) as official_moved,
        count(*) filter (
            where not open_movements.is_internal and open_movements.is_via_national_axis
        )
            as official_moved_via_axis,
        count(distinct open_movements.work_file_id) as work_files,
        count(distinct open_movements.work_file_id) filter (
            where open_movements.is_work_file_handled_online
        ) as work_files_online
    from open_movements
    inner join periods
        on open_movements.movement_date between periods.period_start and periods.period_end
    group by 1, 2

),

by_deadline as (

    select
        open_movements.agency_key,
        periods.period_id,
        count(*) as with_deadline,
        count(*) filter (where open_movements.handled_date <= open_movements.handling_due_date)
            as handled_by_deadline
    from open_movements
    inner join periods
        on open_movements.handling_due_date between periods.period_start and periods.period_end
    group by 1, 2

),

unpivoted as (

    select
        by_movement_date.agency_key,
        by_movement_date.period_id,
        measures.indicator_code,
        measures.numerator,
        measures.denominator
    from by_movement_date
    cross join
        lateral (
            values
            (
                'doc.internal_electronic_rate',
                by_movement_date.internal_sent_electronic,
                by_movement_date.internal_sent
            ),
            (
                'doc.official_parallel_rate',
                by_movement_date.official_sent_parallel,
                by_movement_date.official_sent
            ),
            (
                'doc.official_electronic_rate',
                by_movement_date.official_sent_electronic,
                by_movement_date.official_sent
            ),
            (
                'doc.signed_rate',
                by_movement_date.electronic_sent_signed,
                by_movement_date.electronic_sent
            ),
            (
                'doc.axis_rate',
                by_movement_date.official_moved_via_axis,
                by_movement_date.official_moved
            ),
            (
                'doc.workfile_online_rate',
                by_movement_date.work_files_online,
                by_movement_date.work_files
            )
        ) as measures (indicator_code, numerator, denominator)

    union all

    select
        by_deadline.agency_key,
        by_deadline.period_id,
        'doc.ontime_rate' as indicator_code,
        by_deadline.handled_by_deadline as numerator,
        by_deadline.with_deadline as denominator
    from by_deadline

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
