-- One row per document movement (sent or received) with its agency version and the flags the
-- document indicators count. Secret documents are kept and flagged (is_secret); indicators
-- leave them out. The summary line (trích yếu) stays in raw.
with

movements as (

    select * from {{ ref('int_documents__movements') }}

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
        is_work_file_handled_online
    from movements

)

select * from final
