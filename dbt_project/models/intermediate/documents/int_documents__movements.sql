-- One row per document movement with its agency version (by the sent/received date) and the
-- flags the document indicators count (docs/indicator-rules.md, "Documents"). Secret
-- documents stay here, flagged, and are left out of every indicator downstream.
-- A table: several indicator models read it, each over many periods.
-- Incremental (macros/incremental/downstream.sql): a run recomputes the keys whose upstream
-- rows were rebuilt since, so its cost follows the new month, not the history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='document_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['document_id']},
        {'columns': ['_built_at']},
        {'columns': ['movement_date']},
        {'columns': ['handling_due_date']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('stg_documents__movements'), 'kept.document_id = built.document_id') }}",
) }}

with

movements as (

    select * from {{ ref('stg_documents__movements') }}
    {{ touched_filter('document_id', [[ref('stg_documents__movements'), 'document_id']]) }}

),

code_versions as (

    select * from {{ ref('int_agencies__code_versions') }}

),

final as (

    select
        movements.document_id,
        code_versions.agency_key,
        movements.agency_code,
        movements.direction,
        movements.document_type,
        movements.sent_or_received_at::date as movement_date,
        movements.form,
        movements.form in ('electronic', 'both') as is_electronic,
        coalesce(movements.is_digitally_signed, false) as is_digitally_signed,
        coalesce(movements.is_via_national_axis, false) as is_via_national_axis,
        coalesce(movements.is_internal, false) as is_internal,
        coalesce(movements.is_secret, false) as is_secret,
        movements.handling_due_date,
        movements.handled_at::date as handled_date,
        movements.work_file_id,
        coalesce(movements.is_work_file_handled_online, false) as is_work_file_handled_online,
        movements._extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from movements
    left join code_versions
        on movements.agency_code = code_versions.agency_code
        and movements.sent_or_received_at::date
        between code_versions.covers_from and code_versions.covers_to

)

select * from final
