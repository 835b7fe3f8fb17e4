-- Every check of the monthly summary reports, one row per report row and check: the report's
-- own identities (whether or not it prints its numbering row), its total row against the sum
-- of its body rows, and each agency's printed numbers against the dossier-level counts of the
-- same agency-month (fct_indicator_values, as reported, calendar month). A difference keeps
-- both numbers: it is a warning of the gate (expectations/kpi/kpi_aggregate_reports.json) and
-- a line of the report's data-quality section; nothing is forced to agree.

with

report_rows as (

    select * from {{ ref('int_one_stop__aggregate_report_rows') }}

),

agencies as (

    select * from {{ ref('ref_agencies') }}

),

-- the dossier-level counts of the calendar months the warehouse has built
indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    where basis = 'as_reported' and calendar = 'calendar' and period_type = 'month'

),

measures as (

    select * from {{ ref('int_one_stop__aggregate_report_measures') }}

),

built_months as (

    select distinct period_start from indicator_values

),

-- an identity is checked when the report prints its total and every part (a missing part
-- makes the sum null)
identities as (

    select
        report_rows.*,
        'identity' as check_kind,
        identity_check.check_name,
        identity_check.check_label,
        identity_check.printed_value,
        identity_check.expected_value
    from report_rows
    cross join
        lateral (
            values
            (
                'to_handle = carried_over + received',
                'Tổng số = Kỳ trước chuyển qua + Tiếp nhận trong kỳ',
                report_rows.to_handle_count,
                report_rows.carried_over_count + report_rows.received_count
            ),
            (
                'received = online + direct + bcci',
                'Tiếp nhận = Trực tuyến + Trực tiếp + BCCI',
                report_rows.received_count,
                report_rows.received_online_count + report_rows.received_direct_count
                + report_rows.received_bcci_count
            ),
            (
                'resolved = early + on_time + late',
                'Đã giải quyết = Sớm hạn + Đúng hạn + Trễ hạn',
                report_rows.resolved_count,
                report_rows.resolved_early_count + report_rows.resolved_on_time_count
                + report_rows.resolved_late_count
            ),
            (
                'in_progress = not_due + overdue',
                'Đang giải quyết = Chưa đến hạn + Quá hạn',
                report_rows.in_progress_count,
                report_rows.in_progress_not_due_count + report_rows.in_progress_overdue_count
            ),
            (
                'to_handle = resolved + in_progress + returned + withdrawn',
                'Tổng số = Đã giải quyết + Đang giải quyết + Trả lại + Rút',
                report_rows.to_handle_count,
                report_rows.resolved_count + report_rows.in_progress_count
                + report_rows.returned_count + report_rows.withdrawn_count
            )
        ) as identity_check (check_name, check_label, printed_value, expected_value)
    where identity_check.printed_value is not null and identity_check.expected_value is not null

),

body_sums as (

    select
        report_month,
        reporting_unit_code,
        check_name,
        sum(printed_value) as printed_value
    from measures
    where row_kind = 'body'
    group by 1, 2, 3

),

total_rows as (

    select
        totals.*,
        'total_row' as check_kind,
        body_sums.printed_value as expected_value
    from measures as totals
    inner join body_sums
        on totals.report_month = body_sums.report_month
        and totals.reporting_unit_code = body_sums.reporting_unit_code
        and totals.check_name = body_sums.check_name
    where totals.row_kind = 'total'

),

against_dossiers as (

    select
        measures.*,
        'dossiers' as check_kind,
        round(coalesce(indicator_values.numerator, 0)) as expected_value
    from measures
    inner join built_months
        on measures.report_month = built_months.period_start
    left join indicator_values
        on measures.agency_key = indicator_values.agency_key
        and measures.report_month = indicator_values.period_start
        and measures.indicator_code = indicator_values.indicator_code
    where measures.agency_key is not null and measures.indicator_code is not null

),

checks as (

    select
        report_month,
        reporting_unit_code,
        row_kind,
        section,
        row_label,
        printed_row_number,
        agency_key,
        agency_match,
        check_kind,
        check_name,
        check_label,
        printed_value::numeric as printed_value,
        expected_value::numeric as expected_value
    from identities
    union all
    select
        report_month,
        reporting_unit_code,
        row_kind,
        section,
        row_label,
        printed_row_number,
        agency_key,
        agency_match,
        check_kind,
        check_name,
        'Dòng tổng: ' || check_label as check_label,
        printed_value::numeric as printed_value,
        expected_value::numeric as expected_value
    from total_rows
    union all
    select
        report_month,
        reporting_unit_code,
        row_kind,
        section,
        row_label,
        printed_row_number,
        agency_key,
        agency_match,
        check_kind,
        check_name,
        check_label || ': báo cáo / hồ sơ' as check_label,
        printed_value::numeric as printed_value,
        expected_value::numeric as expected_value
    from against_dossiers
    union all
    select
        report_month,
        reporting_unit_code,
        row_kind,
        section,
        row_label,
        printed_row_number,
        agency_key,
        agency_match,
        'unresolved_row' as check_kind,
        'agency' as check_name,
        'Không xác định được đơn vị của dòng' as check_label,
        null::numeric as printed_value,
        null::numeric as expected_value
    from report_rows
    where row_kind = 'body' and agency_key is null

),

final as (

    select
        md5(
            concat_ws(
                '|', checks.report_month, checks.reporting_unit_code, checks.row_kind,
                coalesce(checks.section, ''), checks.row_label, checks.check_kind, checks.check_name
            )
        ) as check_id,
        checks.report_month,
        checks.reporting_unit_code,
        checks.row_kind,
        checks.section,
        checks.row_label,
        checks.printed_row_number,
        checks.agency_key,
        agencies.agency_code,
        agencies.agency_name,
        checks.agency_match,
        checks.check_kind,
        checks.check_name,
        checks.check_label,
        checks.printed_value,
        checks.expected_value,
        checks.printed_value - checks.expected_value as difference,
        coalesce(checks.printed_value = checks.expected_value, false) as is_consistent,
        {{ chiso_run_started_at() }} as _built_at
    from checks
    left join agencies
        on checks.agency_key = agencies.agency_key

)

select * from final
