-- One row per dossier with its due dates side by side (docs/indicator-rules.md, "Due dates"):
-- the vendor's current NgayHenTra, the first appointment, the first appointment moved by the
-- legitimate pauses for supplements, the rules' date (acceptance + the procedure's legal time
-- limit + the pauses, in working days) and the official date timeliness is judged on: the
-- rules', else the first appointment's, else the current one. A date the vendor rewrote after
-- a delay apology (Mẫu 04) is kept as due_date and never used to judge.
-- Incremental by touched keys (macros/incremental/downstream.sql), like the outcomes it
-- feeds: a dossier is recomputed when its record or a supplement request changed, or when its
-- procedure's time limit reached the catalogue after it was built. The catalogue is read by
-- two index probes per dossier.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='dossier_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['_extract_month']},
        {'columns': ['agency_code', 'procedure_code']},
    ],
    post_hook="{{ prune_missing_keys(ref('stg_one_stop__dossiers'), 'kept.dossier_id = built.dossier_id') }}",
) }}

{#- the dossiers still without a rules' due date of a procedure whose time limit first
    reached staging since this model's last build: the pairs are few, found by one pass over
    the staged catalogue, then the dossiers through the index on the pair -#}
{%- set limit_arrived -%}
    (select waiting.dossier_id, arrived._built_at
    from (
        select agency_code, procedure_code, max(_built_at) as _built_at
        from {{ ref('stg_portal__service_catalogue') }}
        where time_limit_working_days is not null
        group by 1, 2
        having min(_built_at) > (select max(built._built_at) from {{ this }} as built)
    ) as arrived
    inner join {{ this }} as waiting
        on arrived.agency_code = waiting.agency_code and arrived.procedure_code = waiting.procedure_code
    where waiting.rules_due_date is null) as limit_arrived
{%- endset %}
{%- set touched = [
    [ref('stg_one_stop__dossiers'), 'dossier_id'],
    [ref('stg_one_stop__supplements'), 'dossier_id'],
    [limit_arrived, 'dossier_id'],
] %}

with

dossiers as (

    select * from {{ ref('stg_one_stop__dossiers') }}
    {{ touched_filter('dossier_id', touched) }}

),

supplement_pauses as (

    select * from {{ ref('int_one_stop__supplement_pauses') }}

),

-- the agency that received the dossier, as its first progress update names it: a dossier
-- handed to a successor (1 March, 1 July 2025) carries the successor's code, and its time
-- limit is the receiver's
receivers as (

    select distinct on (progress_events.dossier_id)
        progress_events.dossier_id,
        progress_events.agency_code,
        progress_events.event_sequence
    from {{ ref('stg_one_stop__progress_events') }} as progress_events
    inner join dossiers
        on progress_events.dossier_id = dossiers.dossier_id
    where progress_events.agency_code is not null
    order by 1 asc, 3 asc

),

-- not materialized: each join reads the calendar through its indexes (int_calendar__days)
calendar_days as not materialized (

    select * from {{ ref('int_calendar__days') }}

),

appointments as (

    select
        dossiers.dossier_id,
        coalesce(receivers.agency_code, dossiers.agency_code) as agency_code,
        dossiers.procedure_code,
        dossiers.received_date,
        dossiers._extract_month,
        -- NgayHenTra; when empty, what the supplement requests say it was
        coalesce(
            dossiers.due_at,
            supplement_pauses.last_new_due_at,
            supplement_pauses.first_previous_due_at
        )::date as due_date,
        case
            when dossiers.due_at is not null then 'recorded'
            when
                coalesce(supplement_pauses.last_new_due_at, supplement_pauses.first_previous_due_at)
                is not null
                then 'supplement_request'
            else 'missing'
        end as due_date_basis,
        coalesce(supplement_pauses.first_previous_due_at, dossiers.due_at)::date
            as original_due_date,
        -- what a pause moves: the date the first request replaced (a NgayHenTra beside
        -- answered requests is already moved)
        supplement_pauses.first_previous_due_at::date as replaced_due_date,
        coalesce(supplement_pauses.supplement_count, 0) as supplement_count,
        coalesce(supplement_pauses.paused_working_days, 0) as paused_working_days,
        -- the time limit in the agency's catalogue at acceptance: the latest snapshot on or
        -- before it that states one, else the earliest that does
        coalesce(stated_before.time_limit_working_days, stated_after.time_limit_working_days)
            as time_limit_working_days
    from dossiers
    left join receivers
        on dossiers.dossier_id = receivers.dossier_id
    left join supplement_pauses
        on dossiers.dossier_id = supplement_pauses.dossier_id
    left join lateral (
        select
            catalogue.time_limit_working_days,
            catalogue.snapshot_date
        from {{ ref('stg_portal__service_catalogue') }} as catalogue
        where
            catalogue.agency_code = coalesce(receivers.agency_code, dossiers.agency_code)
            and catalogue.procedure_code = dossiers.procedure_code
            and catalogue.snapshot_date <= dossiers.received_date
            and catalogue.time_limit_working_days is not null
        order by 2 desc
        limit 1
    ) as stated_before on true
    left join lateral (
        select
            catalogue.time_limit_working_days,
            catalogue.snapshot_date
        from {{ ref('stg_portal__service_catalogue') }} as catalogue
        where
            catalogue.agency_code = coalesce(receivers.agency_code, dossiers.agency_code)
            and catalogue.procedure_code = dossiers.procedure_code
            and catalogue.time_limit_working_days is not null
        order by 2 asc
        limit 1
    ) as stated_after on stated_before.time_limit_working_days is null

),

moved as (

    select
        appointments.*,
        -- the first appointment moved by the paused working days
        case
            when appointments.paused_working_days = 0 then appointments.original_due_date
            else moved_due.day
        end as computed_due_date,
        rules_due.day as rules_due_date
    from appointments
    left join calendar_days as received_day
        on appointments.received_date = received_day.day
    left join calendar_days as replaced_due_day
        on appointments.replaced_due_date = replaced_due_day.day
    left join calendar_days as moved_due
        on moved_due.is_working_day
        and replaced_due_day.working_day_number + appointments.paused_working_days
        = moved_due.working_day_number
    left join calendar_days as rules_due
        on rules_due.is_working_day
        and received_day.working_day_number + appointments.time_limit_working_days
        + appointments.paused_working_days = rules_due.working_day_number

),

final as (

    select
        dossier_id,
        due_date,
        due_date_basis,
        original_due_date,
        computed_due_date,
        time_limit_working_days,
        rules_due_date,
        coalesce(rules_due_date, computed_due_date, due_date) as official_due_date,
        case
            when rules_due_date is not null then 'time_limit'
            when computed_due_date is not null then 'first_appointment'
            when due_date is not null then 'current_appointment'
            else 'missing'
        end as official_due_basis,
        -- the current date, the first appointment moved by the pauses and the rules' date do
        -- not all agree: a date rewritten after an apology, or a pause counted otherwise
        case
            when coalesce(rules_due_date, computed_due_date, due_date) is not null
                then (
                    select count(distinct known.day) as known_dates
                    from unnest(array[due_date, computed_due_date, rules_due_date]) as known (day)
                ) > 1
        end as due_dates_disagree,
        supplement_count,
        paused_working_days,
        agency_code,
        procedure_code,
        _extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from moved

)

select * from final
