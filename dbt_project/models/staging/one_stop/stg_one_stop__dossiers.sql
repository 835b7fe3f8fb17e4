-- One row per dossier: renamed, typed and cleaned; personal data (name, ID number, phone,
-- e-mail) is dropped here and never leaves raw. The applicant's ID number survives only as a
-- keyed hash (applicant_key), to count returning applicants without knowing who they are.
-- A table, not a view: the keyed hash needs the key, which only dbt's session holds, so it is
-- computed once at build time and readers (GX, BI, analysts) never need the key. Incremental
-- by delivery (macros/incremental/restage.sql): a run restages the months with new
-- batches, so its cost follows the new month, not the history.
{{ config(
    unique_key='dossier_id',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['_batch_id']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_vanished(source('one_stop', 'dossiers')) }}",
) }}

with

-- `source` and `latest_delivery` (macro staged_source): a dossier repeated in a delivery (duplicate
-- API page, re-sent file) keeps its last copy
{{ staged_source(
    source('one_stop', 'dossiers'),
    latest_by=[
        "trim(ma_ho_so)",
    ],
    upstream_key='trim(ma_ho_so)',
    key='dossier_id',
) }},

renamed as (

    select
        trim(ma_ho_so) as dossier_id,
        trim(ma_tthc) as procedure_code,
        trim(ten_tthc) as procedure_name,
        trim(ma_linh_vuc) as field_code,
        trim(ten_linh_vuc) as field_name,
        -- levels 1–4 until 2022; 'toan_trinh' / 'mot_phan' after NĐ 42/2022
        case when trim(muc_do) ~ '^[1-4]$' then trim(muc_do)::int end as procedure_level,
        nullif(trim(muc_do), '') as service_level,
        trim(don_vi_xu_ly) as agency_code,
        trim(ten_don_vi_xu_ly) as agency_name_reported,
        nullif(trim(loai_doi_tuong), '') as applicant_type_value,
        -- past the retention period raw holds the key itself (hmac:…; ingest/personal_data.py)
        case
            when so_dinh_danh like 'hmac:%' then substr(so_dinh_danh, 6)
            else {{ pii_hash('raw.canonical_id(so_dinh_danh)') }}
        end as applicant_key,
        {{ parse_source_timestamp('ngay_nop_ho_so') }} as submitted_at,
        {{ parse_source_timestamp('ngay_tiep_nhan') }} as received_at,
        {{ parse_source_timestamp('ngay_hen_tra') }} as due_at,
        {{ parse_source_timestamp('ngay_ket_thuc_xu_ly') }} as finished_processing_at,
        {{ parse_source_timestamp('ngay_tra') }} as returned_at,
        {{ parse_source_timestamp('ngay_cap_nhat') }} as source_updated_at,
        nullif(trim(trang_thai_ho_so), '') as status_value,
        nullif(trim(kenh_thuc_hien), '') as channel_value,
        nullif(trim(hinh_thuc_tra), '') as result_by_post_value,
        nullif(trim(duoc_thanh_toan_truc_tuyen), '') as paid_online_value,
        raw.parse_vn_decimal(phi_le_phi) as fee_vnd,
        raw.parse_vn_bool(ho_so_co_thanh_phan_so_hoa) as has_digitised_components,
        raw.parse_vn_bool(co_ket_qua_dien_tu) as has_electronic_result,
        raw.parse_vn_bool(tai_su_dung_du_lieu_so_hoa) as reuses_digitised_data,
        raw.parse_vn_bool(tai_khoan_xac_thuc_vneid) as is_vneid_verified,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

value_codes as (

    select * from {{ source('ingest', 'value_codes') }}

),

-- exports print words where the sync format has codes ("Đã trả kết quả", "Trực tuyến", "x"):
-- what each value stands for, as ingest recorded it (chiso/sources/vocabularies.yaml)
coded as (

    select
        renamed.*,
        {{ value_code('status_codes', 'renamed.status_value') }}::int as status_code,
        -- a missing channel means over the counter (sources.md)
        coalesce({{ value_code('channel_codes', 'renamed.channel_value') }}::int, 1)
            as channel_code,
        {{ value_code('post_codes', 'renamed.result_by_post_value') }} = '1' as is_result_by_post,
        -- 1: paid online; 2: paid through the provincial payment gateway
        {{ value_code('paid_codes', 'renamed.paid_online_value') }} in ('1', '2') as is_paid_online,
        case {{ value_code('applicant_codes', 'renamed.applicant_type_value') }}
            when '1' then 'citizen'
            when '2' then 'business'
        end as applicant_type
    from renamed
    {{ join_value_codes(
        'status_codes', 'one_stop.dossiers.trang_thai_ho_so', 'renamed.status_value'
    ) }}
    {{ join_value_codes(
        'channel_codes', 'one_stop.dossiers.kenh_thuc_hien', 'renamed.channel_value'
    ) }}
    {{ join_value_codes(
        'post_codes', 'one_stop.dossiers.hinh_thuc_tra', 'renamed.result_by_post_value'
    ) }}
    {{ join_value_codes(
        'paid_codes', 'one_stop.dossiers.duoc_thanh_toan_truc_tuyen', 'renamed.paid_online_value'
    ) }}
    {{ join_value_codes(
        'applicant_codes', 'one_stop.dossiers.loai_doi_tuong', 'renamed.applicant_type_value'
    ) }}

),

final as (

    select
        dossier_id,
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        procedure_level,
        service_level,
        agency_code,
        agency_name_reported,
        applicant_type,
        applicant_key,
        submitted_at,
        received_at,
        due_at,
        finished_processing_at,
        returned_at,
        source_updated_at,
        status_code,
        case status_code
            when 1 then 'submitted'
            when 2 then 'accepted'
            when 3 then 'not_accepted'
            when 4 then 'in_progress'
            when 5 then 'awaiting_supplement'
            when 6 then 'awaiting_payment'
            when 7 then 'withdrawn'
            when 8 then 'stopped'
            when 9 then 'resolved'
            when 10 then 'result_returned'
        end as status,
        channel_code,
        case channel_code
            when 1 then 'direct'
            when 2 then 'online'
            when 3 then 'bcci'
        end as channel,
        is_result_by_post,
        is_paid_online,
        fee_vnd,
        has_digitised_components,
        has_electronic_result,
        reuses_digitised_data,
        is_vneid_verified,
        received_at::date as received_date,
        date_trunc('month', received_at)::date as received_month,
        _batch_id,
        _extract_month,
        _loaded_at,
        {{ chiso_run_started_at() }} as _built_at
    from coded

)

select * from final
