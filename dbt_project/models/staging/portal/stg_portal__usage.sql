-- One row per agency and month of portal usage: renamed and typed, counts as the portal
-- reported them (nothing recomputed; the printed satisfaction rate is kept as printed).
-- A view, unlike the incremental staging models (dbt_project.yml): no _built_at, no restaging.
{{ config(materialized='view') }}

with

-- `source` and `latest_delivery` (macro staged_source): an agency-month repeated in what raw holds
-- (re-sent file) keeps its last copy
{{ staged_source(
    source('portal', 'usage'),
    latest_by=[
        "date_trunc('month', raw.parse_vn_date(thang))",
        "trim(don_vi)",
    ],
) }},

renamed as (

    select
        -- the field is the month's first day; a source that dates it otherwise still means
        -- the month
        date_trunc('month', raw.parse_vn_date(thang))::date as usage_month,
        nullif(trim(don_vi), '') as agency_code,
        raw.parse_vn_int(tai_khoan_moi) as new_accounts,
        raw.parse_vn_int(tong_tai_khoan) as total_accounts,
        raw.parse_vn_int(dang_nhap_vneid) as vneid_logins,
        raw.parse_vn_int(ho_so_truc_tuyen) as online_dossiers,
        raw.parse_vn_int(giao_dich_thanh_toan) as online_payments,
        raw.parse_vn_decimal(so_tien_thanh_toan) as online_payment_amount_vnd,
        raw.parse_vn_int(luot_danh_gia) as ratings,
        raw.parse_vn_int(luot_hai_long) as satisfied_ratings,
        raw.parse_vn_percent(ty_le_hai_long) as satisfaction_rate_reported,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

final as (

    select
        usage_month,
        agency_code,
        new_accounts,
        total_accounts,
        vneid_logins,
        online_dossiers,
        online_payments,
        online_payment_amount_vnd,
        ratings,
        satisfied_ratings,
        satisfaction_rate_reported,
        _batch_id,
        _extract_month,
        _loaded_at
    from renamed

)

select * from final
