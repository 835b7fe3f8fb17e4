-- One row per document movement (sent or received) with its agency version and the flags the
-- document indicators count. Secret documents are kept and flagged (is_secret); indicators
-- leave them out. The summary line (trích yếu) stays in raw.
-- Incremental (macros/incremental/downstream.sql): a run rewrites the keys whose upstream
-- rows were rebuilt since, so its cost follows the new month, not the history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='document_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['document_id']},
        {'columns': ['_built_at']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('int_documents__movements'), 'kept.document_id = built.document_id') }}",
) }}
with

movements as (

    select * from {{ ref('int_documents__movements') }}
    {{ touched_filter('document_id', [[ref('int_documents__movements'), 'document_id']]) }}

),

final as (

    select
        document_id,
        agency_key,
        agency_code,
        direction,
        document_type,
        movement_date,
        date_trunc('month', movement_date)::date as movement_month,
        form,
        is_electronic,
        is_digitally_signed,
        is_via_national_axis,
        is_internal,
        is_secret,
        handling_due_date,
        handled_date,
        work_file_id,
        is_work_file_handled_online,
        _extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from movements

)

select * from final
