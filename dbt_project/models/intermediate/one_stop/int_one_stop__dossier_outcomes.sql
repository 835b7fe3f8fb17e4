-- One row per dossier: how and when it ended, its due dates, timeliness, pauses and working
-- days (docs/indicator-rules.md, "Dossiers"); the agency version that received it and who
-- held it after. Incremental by touched keys (macros/incremental/downstream.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='dossier_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['received_date']},
        {'columns': ['finish_date']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('stg_one_stop__dossiers'), 'kept.dossier_id = built.dossier_id') }}",
) }}

{#- a dossier is recomputed when its record, a supplement request, a progress update or its
    due dates (int_one_stop__dossier_deadlines: a time limit that arrived later) changed -#}
{%- set touched = [
    [ref('stg_one_stop__dossiers'), 'dossier_id'],
    [ref('stg_one_stop__supplements'), 'dossier_id'],
    [ref('stg_one_stop__progress_events'), 'dossier_id'],
    [ref('int_one_stop__dossier_deadlines'), 'dossier_id'],
] %}

with

dossiers as (

    select * from {{ ref('stg_one_stop__dossiers') }}
    {{ touched_filter('dossier_id', touched) }}

),

supplements as (

    select * from {{ ref('stg_one_stop__supplements') }}
    {{ touched_filter('dossier_id', touched) }}

),

progress_events as (

    select * from {{ ref('stg_one_stop__progress_events') }}
    {{ touched_filter('dossier_id', touched) }}

),

-- not materialized: each join reads the calendar through its indexes (int_calendar__days)
calendar_days as not materialized (

    select * from {{ ref('int_calendar__days') }}

),

code_versions as (

    select * from {{ ref('int_agencies__code_versions') }}

),

deadlines as (

    select * from {{ ref('int_one_stop__dossier_deadlines') }}
    {{ touched_filter('dossier_id', touched) }}

),

-- when the dossier closed, as its progress updates (CapNhatTienDo) say: for a vendor export
-- that leaves both end dates empty
closing_events as (

    select
        dossier_id,
        min(occurred_at) as closed_at
    from progress_events
    where status_code in (7, 8, 9, 10)
    group by 1

),

classified as (

    select
        dossiers.*,
        case
            when dossiers.status in ('resolved', 'result_returned') then 'resolved'
            when dossiers.status = 'withdrawn' then 'withdrawn'
            when dossiers.status in ('not_accepted', 'stopped') then 'returned'
            else 'open'
        end as outcome,
        closing_events.closed_at
    from dossiers
    left join closing_events
        on dossiers.dossier_id = closing_events.dossier_id

),

dated as (

    select
        *,
        -- a closed dossier's end: NgayKetThucXuLy, else NgayTra, else the progress update that
        -- closed it, else its last change in the source (it had closed by then), and only
        -- then its acceptance date; finish_date_basis says which
        case
            when outcome = 'open' then null
            when status = 'not_accepted' then received_date
            else
                coalesce(
                    finished_processing_at::date,
                    returned_at::date,
                    closed_at::date,
                    source_updated_at::date,
                    received_date
                )
        end as finish_date,
        case
            when outcome = 'open' then null
            when status = 'not_accepted' then 'refused_at_desk'
            when finished_processing_at is not null then 'processing_finished'
            when returned_at is not null then 'result_returned'
            when closed_at is not null then 'progress_event'
            when source_updated_at is not null then 'last_update'
            else 'receipt_date'
        end as finish_date_basis
    from classified

),

-- who acted when, by the agency version each progress update names on its day (1 March,
-- 1 July 2025; a merged city's department kept its code): a new version is a handover only
-- while the dossier is open (a flat export prints the dossier's code on every update)
acting as (

    select
        progress_events.dossier_id,
        progress_events.agency_code,
        code_versions.agency_key,
        progress_events.occurred_at::date as acted_on,
        progress_events.event_sequence,
        progress_events.occurred_at <= coalesce(closing_events.closed_at, 'infinity')
        and coalesce(code_versions.agency_key, progress_events.agency_code)
        <> lag(coalesce(code_versions.agency_key, progress_events.agency_code)) over (
            partition by progress_events.dossier_id order by progress_events.event_sequence
        ) as is_handover
    from progress_events
    left join code_versions
        on progress_events.agency_code = code_versions.agency_code
        and progress_events.occurred_at::date
        between code_versions.covers_from and code_versions.covers_to
    left join closing_events
        on progress_events.dossier_id = closing_events.dossier_id
    where progress_events.agency_code is not null and progress_events.occurred_at is not null

),

-- the agency that received the dossier, and the days it passed on and to whom (null: never)
custody as (

    select
        dossier_id,
        (array_agg(agency_code order by event_sequence))[1] as received_by,
        min(acted_on) filter (where is_handover) as first_passed_on,
        string_agg(acted_on::text || ' ' || agency_key, ',' order by event_sequence) filter (
            where is_handover
        ) as passed_to
    from acting
    group by 1

),

-- QĐ 766 item 2.1 counts the requests made before the dossier finished
requests_by_finish as (

    select
        dated.dossier_id,
        count(*) as supplement_count
    from dated
    inner join supplements
        on dated.dossier_id = supplements.dossier_id
        and supplements.requested_at::date <= dated.finish_date
    group by 1

),

-- the working days the applicant held a closed dossier: from each request to its answer, or
-- to the finish when none came (the clock stays stopped), never past the finish
held as (

    select
        dated.dossier_id,
        sum(greatest(0, held_to.working_day_number - requested.working_day_number))
            as paused_days_to_finish
    from dated
    inner join supplements
        on dated.dossier_id = supplements.dossier_id
    inner join calendar_days as requested
        on supplements.requested_at::date = requested.day
    inner join calendar_days as held_to
        on least(coalesce(supplements.supplied_at::date, dated.finish_date), dated.finish_date)
        = held_to.day
    where dated.finish_date is not null
    group by 1

),

final as (

    select
        dated.dossier_id,
        code_versions.agency_key,
        dated.agency_code,
        custody.first_passed_on as custody_from,
        custody.passed_to as custody_path,
        dated.procedure_code,
        dated.field_code,
        dated.procedure_level,
        dated.service_level,
        {{ effective_level('dated.procedure_level', 'dated.service_level') }} as effective_level,
        dated.channel,
        dated.status,
        dated.outcome,
        -- refused at the desk (status 3): never accepted, so in no rate (counted as received)
        dated.status = 'not_accepted' as is_refused_at_desk,
        dated.received_at,
        dated.received_date,
        dated.finish_date,
        dated.finish_date_basis,
        deadlines.due_date,
        deadlines.due_date_basis,
        deadlines.original_due_date,
        deadlines.computed_due_date,
        deadlines.time_limit_working_days,
        deadlines.rules_due_date,
        deadlines.official_due_date,
        deadlines.official_due_basis,
        deadlines.due_dates_disagree,
        case
            when dated.outcome <> 'resolved' or deadlines.official_due_date is null then null
            when dated.finish_date < deadlines.official_due_date then 'early'
            when dated.finish_date = deadlines.official_due_date then 'on_time'
            else 'late'
        end as timeliness,
        deadlines.supplement_count,
        coalesce(requests_by_finish.supplement_count, 0) as supplements_by_finish,
        deadlines.paused_working_days,
        case
            when dated.outcome = 'resolved'
                then finish_day.working_day_number - received_day.working_day_number
        end as working_days_to_finish,
        -- the processing time (avg_processing_days): without the days the applicant held it
        case
            when dated.outcome = 'resolved'
                then greatest(
                        0,
                        finish_day.working_day_number - received_day.working_day_number
                        - coalesce(held.paused_days_to_finish, 0)
                    )
        end as processing_working_days,
        dated.channel = 'online' as is_online,
        dated.channel = 'bcci' as is_bcci,
        coalesce(dated.is_result_by_post, false) as is_result_by_post,
        coalesce(dated.fee_vnd, 0) > 0 as is_fee_bearing,
        coalesce(dated.is_paid_online, false) as is_paid_online,
        coalesce(dated.has_digitised_components, false) as has_digitised_components,
        coalesce(dated.has_electronic_result, false) as has_electronic_result,
        coalesce(dated.reuses_digitised_data, false) as reuses_digitised_data,
        coalesce(dated.is_vneid_verified, false) as is_vneid_verified,
        dated.applicant_type,
        dated._extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from dated
    -- an unknown code leaves agency_key null, which the not_null test reports
    left join custody
        on dated.dossier_id = custody.dossier_id
    left join deadlines
        on dated.dossier_id = deadlines.dossier_id
    left join code_versions
        on coalesce(custody.received_by, dated.agency_code) = code_versions.agency_code
        and dated.received_date between code_versions.covers_from and code_versions.covers_to
    left join requests_by_finish
        on dated.dossier_id = requests_by_finish.dossier_id
    left join held
        on dated.dossier_id = held.dossier_id
    left join calendar_days as received_day
        on dated.received_date = received_day.day
    left join calendar_days as finish_day
        on dated.finish_date = finish_day.day

)

select * from final
