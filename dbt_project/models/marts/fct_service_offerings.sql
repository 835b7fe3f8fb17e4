-- Monthly snapshot fact of the online-service catalogue: one row per agency version ×
-- procedure × calendar month, as the agency's last catalogue snapshot of that month shows it
-- (level, effective level, fully-online eligibility, national-portal integration, payment).
-- Incremental (macros/incremental/downstream.sql): a run rewrites the keys whose upstream
-- rows were rebuilt since, so its cost follows the new month, not the history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_month',
    on_schema_change='fail',
    indexes=[
        {'columns': ['snapshot_month']},
        {'columns': ['_built_at']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('int_portal__offerings'), \"kept.snapshot_date >= built.snapshot_month and kept.snapshot_date < (built.snapshot_month + interval '1 month')::date\") }}",
) }}
with

offerings as (

    select * from {{ ref('int_portal__offerings') }}
    {{ touched_filter("date_trunc('month', snapshot_date)::date", [
        [ref('int_portal__offerings'), "date_trunc('month', snapshot_date)::date"],
    ]) }}

),

last_of_month as (

    select
        agency_key,
        date_trunc('month', snapshot_date)::date as snapshot_month,
        max(snapshot_date) as snapshot_date
    from offerings
    group by 1, 2

),

final as (

    select
        last_of_month.snapshot_month,
        offerings.agency_key,
        offerings.agency_code,
        offerings.procedure_code,
        offerings.snapshot_date,
        offerings.procedure_level,
        offerings.service_level,
        offerings.effective_level,
        offerings.is_full_online_eligible,
        offerings.is_on_national_portal,
        offerings.has_online_payment,
        offerings.is_fee_bearing,
        offerings._extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from last_of_month
    inner join offerings
        on last_of_month.agency_key = offerings.agency_key
        and last_of_month.snapshot_date = offerings.snapshot_date

)

select * from final
