-- One row per dossier: the atomic fact every one-stop indicator is computed from, with its
-- agency version, outcome, dates, timeliness class, supplement requests and the flags the
-- indicators count (docs/indicator-rules.md). No personal data: the applicant is not here.
with

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}

),

final as (

    select
        dossier_id,
        agency_key,
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
        is_vneid_verified
    from outcomes

)

select * from final
