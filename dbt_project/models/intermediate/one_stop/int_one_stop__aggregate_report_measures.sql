-- Every number of the monthly summary reports, one row per printed row and measure, with the
-- indicator whose numerator counts the same dossiers (null where none does): what
-- mart_aggregate_report_checks compares with its total row and with the dossiers. A measure
-- the report does not print has no row.

with

report_rows as (

    select * from {{ ref('int_one_stop__aggregate_report_rows') }}

),

final as (

    select
        report_rows.report_month,
        report_rows.reporting_unit_code,
        report_rows.row_kind,
        report_rows.section,
        report_rows.row_label,
        report_rows.printed_row_number,
        report_rows.agency_key,
        report_rows.agency_match,
        measure.check_name,
        measure.check_label,
        measure.indicator_code,
        measure.printed_value
    from report_rows
    cross join
        lateral (
            values
            ('to_handle', 'Tổng số', null, report_rows.to_handle_count),
            (
                'carried_over',
                'Kỳ trước chuyển qua',
                'dossier.carried_over',
                report_rows.carried_over_count
            ),
            ('received', 'Tiếp nhận trong kỳ', 'dossier.received', report_rows.received_count),
            ('received_online', 'Tiếp nhận trực tuyến', null, report_rows.received_online_count),
            ('received_direct', 'Tiếp nhận trực tiếp', null, report_rows.received_direct_count),
            ('received_bcci', 'Tiếp nhận qua BCCI', null, report_rows.received_bcci_count),
            ('resolved', 'Đã giải quyết', 'dossier.resolved', report_rows.resolved_count),
            (
                'resolved_early',
                'Giải quyết sớm hạn',
                'dossier.early_rate',
                report_rows.resolved_early_count
            ),
            (
                'resolved_on_time',
                'Giải quyết đúng hạn',
                'dossier.ontime_rate',
                report_rows.resolved_on_time_count
            ),
            (
                'resolved_late',
                'Giải quyết trễ hạn',
                'dossier.late_rate',
                report_rows.resolved_late_count
            ),
            (
                'in_progress',
                'Đang giải quyết',
                'dossier.in_progress',
                report_rows.in_progress_count
            ),
            (
                'in_progress_not_due',
                'Đang giải quyết chưa đến hạn',
                null,
                report_rows.in_progress_not_due_count
            ),
            (
                'in_progress_overdue',
                'Đang giải quyết quá hạn',
                'dossier.open_overdue',
                report_rows.in_progress_overdue_count
            ),
            ('returned', 'Trả lại', 'dossier.returned', report_rows.returned_count),
            ('withdrawn', 'Rút hồ sơ', 'dossier.withdrawn', report_rows.withdrawn_count)
        ) as measure (check_name, check_label, indicator_code, printed_value)
    where measure.printed_value is not null

)

select * from final
