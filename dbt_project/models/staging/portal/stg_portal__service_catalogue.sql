-- One row per procedure an agency offers, per catalogue snapshot: renamed, typed and cleaned.
-- Tiers and listing states get English names; a code outside the documented set passes
-- through lowercased so the accepted_values tests name it instead of a silent null.
-- Incremental by delivery (macros/incremental/restage.sql): a run restages the months
-- with new batches, so its cost follows the new month, not the history.
{{ config(
    unique_key='_extract_month',
    indexes=[
        {'columns': ['_extract_month']},
        {'columns': ['_built_at']},
        {'columns': ['_batch_id']},
        {'columns': ['agency_code', 'procedure_code', 'snapshot_date']},
    ],
    post_hook="{{ prune_vanished(source('portal', 'service_catalogue')) }}",
) }}
with

-- `source` and `latest_delivery` (macro staged_source): a procedure repeated in a snapshot (re-sent
-- file) keeps its last copy
{{ staged_source(
    source('portal', 'service_catalogue'),
    latest_by=[
        "raw.parse_vn_date(ngay_chot)",
        "trim(don_vi)",
        "trim(ma_tthc)",
    ],
    upstream_key='_extract_month',
    key='_extract_month',
) }},

renamed as (

    select
        raw.parse_vn_date(ngay_chot) as snapshot_date,
        nullif(trim(don_vi), '') as agency_code,
        nullif(trim(ma_tthc), '') as procedure_code,
        nullif(trim(ten_tthc), '') as procedure_name,
        nullif(trim(ma_linh_vuc), '') as field_code,
        nullif(trim(ten_linh_vuc), '') as field_name,
        case lower(trim(cap_thuc_hien))
            when 'tinh' then 'province'
            when 'huyen' then 'district'
            when 'xa' then 'commune'
            else nullif(lower(trim(cap_thuc_hien)), '')
        end as authority_tier,
        -- levels 1–4 until 2022; 'toan_trinh' / 'mot_phan' after NĐ 42/2022
        case when trim(muc_do) ~ '^[1-4]$' then trim(muc_do)::int end as procedure_level,
        nullif(trim(muc_do), '') as service_level,
        raw.parse_vn_bool(du_dieu_kien_toan_trinh) as is_full_online_eligible,
        raw.parse_vn_bool(tich_hop_dvcqg) as is_on_national_portal,
        raw.parse_vn_bool(thanh_toan_truc_tuyen) as has_online_payment,
        raw.parse_vn_bool(co_phi) as is_fee_bearing,
        case lower(trim(trang_thai))
            when 'dang_cong_khai' then 'published'
            when 'dung' then 'discontinued'
            else nullif(lower(trim(trang_thai)), '')
        end as listing_status,
        {{ parse_time_limit('thoi_han_giai_quyet') }} as time_limit_working_days,
        {{ parse_result_statement('ket_qua_thuc_hien') }} as returns_result,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

final as (

    select
        snapshot_date,
        agency_code,
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        authority_tier,
        procedure_level,
        service_level,
        is_full_online_eligible,
        is_on_national_portal,
        has_online_payment,
        is_fee_bearing,
        listing_status,
        time_limit_working_days,
        returns_result,
        _batch_id,
        _extract_month,
        _loaded_at,
        {{ chiso_run_started_at() }} as _built_at
    from renamed

)

select * from final
