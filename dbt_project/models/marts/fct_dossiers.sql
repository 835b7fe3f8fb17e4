-- One row per dossier: the atomic fact every one-stop indicator is computed from, with its
-- agency version, outcome, dates, timeliness class, supplement requests and the flags the
-- indicators count (docs/indicator-rules.md). No personal data: the applicant is not here.
-- Incremental (macros/incremental/downstream.sql): a run rewrites the keys whose upstream
-- rows were rebuilt since, so its cost follows the new month, not the history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='dossier_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['_extract_month']},
        {'columns': ['received_month']},
        {'columns': ['finished_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('int_one_stop__dossier_outcomes'), 'kept.dossier_id = built.dossier_id') }}",
) }}
with

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    {{ touched_filter('dossier_id', [[ref('int_one_stop__dossier_outcomes'), 'dossier_id']]) }}

),

final as (

    select
        dossier_id,
        agency_key,
        -- the agency holding it when it finished: a dossier handed to a successor (1 March,
        -- 1 July 2025) is resolved by the successor
        case when finish_date is not null then {{ holder_on('', 'finish_date') }} end
            as finish_agency_key,
        agency_code,
        procedure_code,
        channel,
        status,
        outcome,
        effective_level,
        received_date,
        finish_date,
        date_trunc('month', received_date)::date as received_month,
        date_trunc('month', finish_date)::date as finished_month,
        due_date,
        original_due_date,
        computed_due_date,
        rules_due_date,
        official_due_date,
        official_due_basis,
        due_dates_disagree,
        timeliness,
        supplement_count,
        supplements_by_finish,
        paused_working_days,
        working_days_to_finish,
        is_online,
        is_bcci,
        is_result_by_post,
        is_fee_bearing,
        is_paid_online,
        has_digitised_components,
        has_electronic_result,
        reuses_digitised_data,
        is_vneid_verified,
        _extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from outcomes

)

select * from final
