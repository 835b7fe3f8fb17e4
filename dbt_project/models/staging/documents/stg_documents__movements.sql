-- One row per document an agency sent or received: renamed, typed and cleaned. Directions and
-- forms get English names; a code outside the documented set passes through lowercased so
-- the accepted_values tests name it instead of a silent null. The summary line (trích yếu) stays
-- in raw: it is free text that often names citizens.
-- Incremental by delivery (macros/incremental/restage.sql): a run restages the months
-- with new batches, so its cost follows the new month, not the history.
{{ config(
    unique_key='document_id',
    indexes=[
        {'columns': ['document_id']},
        {'columns': ['_built_at']},
        {'columns': ['_batch_id']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_vanished(source('documents', 'movements')) }}",
) }}
with

-- `source` and `latest_delivery` (macro staged_source): a movement repeated in what raw holds (re-
-- sent file) keeps its last copy
{{ staged_source(
    source('documents', 'movements'),
    latest_by=[
        "trim(don_vi)",
        "trim(ma_van_ban)",
        "lower(trim(huong))",
    ],
    upstream_key='trim(ma_van_ban)',
    key='document_id',
) }},

renamed as (

    select
        nullif(trim(don_vi), '') as agency_code,
        nullif(trim(ma_van_ban), '') as document_id,
        case lower(trim(huong))
            when 'di' then 'sent'
            when 'đi' then 'sent'
            when 'den' then 'received'
            when 'đến' then 'received'
            else nullif(lower(trim(huong)), '')
        end as direction,
        nullif(trim(so_ky_hieu), '') as document_number,
        nullif(trim(loai_van_ban), '') as document_type,
        nullif(trim(co_quan_ban_hanh), '') as issuing_agency,
        nullif(trim(noi_nhan), '') as recipients,
        raw.parse_vn_date(ngay_van_ban) as document_date,
        {{ parse_source_timestamp('ngay_gui_nhan') }} as sent_or_received_at,
        case lower(trim(hinh_thuc))
            when 'dien_tu' then 'electronic'
            when 'giay' then 'paper'
            when 'song_song' then 'both'
            else nullif(lower(trim(hinh_thuc)), '')
        end as form,
        raw.parse_vn_bool(co_chu_ky_so) as is_digitally_signed,
        raw.parse_vn_bool(qua_truc_lien_thong) as is_via_national_axis,
        raw.parse_vn_bool(noi_bo) as is_internal,
        raw.parse_vn_bool(do_mat) as is_secret,
        raw.parse_vn_date(han_xu_ly) as handling_due_date,
        {{ parse_source_timestamp('ngay_xu_ly') }} as handled_at,
        nullif(trim(ma_ho_so_cong_viec), '') as work_file_id,
        raw.parse_vn_bool(xu_ly_tren_mang) as is_work_file_handled_online,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

final as (

    select
        agency_code,
        document_id,
        direction,
        document_number,
        document_type,
        issuing_agency,
        recipients,
        document_date,
        sent_or_received_at,
        date_trunc('month', sent_or_received_at)::date as movement_month,
        form,
        is_digitally_signed,
        is_via_national_axis,
        is_internal,
        is_secret,
        handling_due_date,
        handled_at,
        work_file_id,
        is_work_file_handled_online,
        _batch_id,
        _extract_month,
        _loaded_at,
        {{ chiso_run_started_at() }} as _built_at
    from renamed

)

select * from final
