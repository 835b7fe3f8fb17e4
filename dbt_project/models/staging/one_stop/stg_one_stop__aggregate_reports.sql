-- One row per printed row of the monthly summary report (per agency or per field, and its
-- total row): renamed, numbers typed exactly as printed. Nothing is reconciled or corrected
-- here; comparing the report with the dossiers is the job of later models.
-- A view, unlike the incremental staging models (dbt_project.yml): no _built_at, no restaging.
{{ config(materialized='view') }}

with

-- `source` and `latest_delivery` (macro staged_source): a report delivery replaces its reporting
-- unit's month; within what raw holds, a row repeated (same unit, kind, section and label) keeps
-- its last copy
{{ staged_source(
    source('one_stop', 'aggregate_reports'),
    latest_by=[
        "_extract_month",
        "trim(don_vi_bao_cao)",
        "trim(loai_dong)",
        "nullif(trim(nhom), '')",
        "trim(ten_dong)",
    ],
) }},

renamed as (

    select
        _extract_month as report_month,
        nullif(trim(don_vi_bao_cao), '') as reporting_unit_code,
        nullif(trim(loai_dong), '') as row_kind,
        nullif(trim(nhom), '') as section,
        nullif(trim(ten_dong), '') as row_label,
        nullif(trim(stt), '') as printed_row_number,
        nullif(trim(ma_dong), '') as agency_or_field_code,
        raw.parse_vn_int(tong_so) as to_handle_count,
        raw.parse_vn_int(ky_truoc_chuyen_qua) as carried_over_count,
        raw.parse_vn_int(tiep_nhan_trong_ky) as received_count,
        raw.parse_vn_int(tiep_nhan_truc_tuyen) as received_online_count,
        raw.parse_vn_int(tiep_nhan_truc_tiep) as received_direct_count,
        raw.parse_vn_int(tiep_nhan_bcci) as received_bcci_count,
        raw.parse_vn_int(da_giai_quyet) as resolved_count,
        raw.parse_vn_int(giai_quyet_som_han) as resolved_early_count,
        raw.parse_vn_int(giai_quyet_dung_han) as resolved_on_time_count,
        raw.parse_vn_int(giai_quyet_tre_han) as resolved_late_count,
        raw.parse_vn_int(dang_giai_quyet) as in_progress_count,
        raw.parse_vn_int(dang_giai_quyet_chua_den_han) as in_progress_not_due_count,
        raw.parse_vn_int(dang_giai_quyet_qua_han) as in_progress_overdue_count,
        raw.parse_vn_int(tra_lai) as returned_count,
        raw.parse_vn_int(rut_ho_so) as withdrawn_count,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

final as (

    select
        report_month,
        reporting_unit_code,
        row_kind,
        section,
        row_label,
        printed_row_number,
        agency_or_field_code,
        to_handle_count,
        carried_over_count,
        received_count,
        received_online_count,
        received_direct_count,
        received_bcci_count,
        resolved_count,
        resolved_early_count,
        resolved_on_time_count,
        resolved_late_count,
        in_progress_count,
        in_progress_not_due_count,
        in_progress_overdue_count,
        returned_count,
        withdrawn_count,
        _batch_id,
        _extract_month,
        _loaded_at
    from renamed

)

select * from final
