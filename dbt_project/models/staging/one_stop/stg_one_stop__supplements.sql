-- One row per supplement request (yêu cầu bổ sung) on a dossier: renamed and typed.
-- Incremental by delivery (macros/incremental/restage.sql): a run restages the months
-- with new batches, so its cost follows the new month, not the history.
{{ config(
    unique_key='dossier_id',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['_batch_id']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_vanished(source('one_stop', 'supplements')) }}",
) }}
with

-- `source` and `latest_delivery` (macro staged_source): a request repeated in what raw holds (re-
-- sent file, duplicate page) keeps its last copy
{{ staged_source(
    source('one_stop', 'supplements'),
    latest_by=[
        "trim(ma_ho_so)",
        "raw.parse_vn_int(lan_bo_sung)",
    ],
    upstream_key='trim(ma_ho_so)',
    key='dossier_id',
) }},

renamed as (

    select
        nullif(trim(ma_ho_so), '') as dossier_id,
        raw.parse_vn_int(lan_bo_sung)::int as supplement_number,
        nullif(trim(don_vi_xu_ly), '') as agency_code,
        {{ parse_source_timestamp('ngay_yeu_cau') }} as requested_at,
        {{ parse_source_timestamp('ngay_bo_sung') }} as supplied_at,
        {{ parse_source_timestamp('ngay_hen_tra_cu') }} as previous_due_at,
        {{ parse_source_timestamp('ngay_hen_tra_moi') }} as new_due_at,
        nullif(trim(ly_do), '') as reason,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

final as (

    select
        dossier_id,
        supplement_number,
        agency_code,
        requested_at,
        supplied_at,
        previous_due_at,
        new_due_at,
        reason,
        date_trunc('month', requested_at)::date as requested_month,
        _batch_id,
        _extract_month,
        _loaded_at,
        {{ chiso_run_started_at() }} as _built_at
    from renamed

)

select * from final
