-- One row per printed row of the monthly summary reports ('TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ
-- SƠ'), with the agency version a body row is about: the one whose code is printed beside it
-- (Mã đơn vị), else the one of the reporting unit's province, valid in the month, whose name
-- it prints, in full or without the province ("Sở Tư pháp" for "Sở Tư pháp tỉnh Hải
-- Dương"). A row no agency matches keeps a null agency_key (agency_match 'unresolved'): the
-- checks list it, nothing is compared by guess. A column the report does not print stays null;
-- a blank cell in a printed column is 0, as printed reports leave zeros blank.
{%- set measures = [
    'to_handle_count', 'carried_over_count', 'received_count', 'received_online_count',
    'received_direct_count', 'received_bcci_count', 'resolved_count', 'resolved_early_count',
    'resolved_on_time_count', 'resolved_late_count', 'in_progress_count',
    'in_progress_not_due_count', 'in_progress_overdue_count', 'returned_count', 'withdrawn_count',
] %}

with

report_rows as (

    select * from {{ ref('stg_one_stop__aggregate_reports') }}

),

agencies as (

    select * from {{ ref('ref_agencies') }}

),

-- the agencies each report can name: of the unit's province (the unit is a province code, or
-- an agency's identifier), valid on some day of the month
candidates as (

    select distinct
        reports.report_month,
        reports.reporting_unit_code,
        agencies.agency_key,
        agencies.agency_code,
        lower(regexp_replace(trim(agencies.agency_name), '\s+', ' ', 'g')) as full_name,
        lower(
            regexp_replace(
                regexp_replace(trim(agencies.agency_name), '\s+', ' ', 'g'),
                '\s+(tỉnh|thành phố|tp\.?)\s+' || agencies.province_name || '$',
                '',
                'i'
            )
        ) as short_name
    from (
        select distinct
            report_month,
            reporting_unit_code
        from report_rows
    ) as reports
    left join agencies as unit_agency
        on reports.reporting_unit_code = unit_agency.agency_code
        and unit_agency.valid_from <= (reports.report_month + interval '1 month - 1 day')::date
        and coalesce(unit_agency.valid_to, '9999-12-31') >= reports.report_month
    inner join agencies
        on coalesce(unit_agency.province_code, reports.reporting_unit_code)
        = agencies.province_code
        and agencies.valid_from <= (reports.report_month + interval '1 month - 1 day')::date
        and coalesce(agencies.valid_to, '9999-12-31') >= reports.report_month

),

-- a name two agencies share matches neither
named as (

    select
        *,
        count(*) over (partition by report_month, reporting_unit_code, full_name)
            as full_name_uses,
        count(*) over (partition by report_month, reporting_unit_code, short_name)
            as short_name_uses
    from candidates

),

matched as (

    select
        report_rows.*,
        coalesce(by_code.agency_key, by_name.agency_key, by_short_name.agency_key)
            as agency_key,
        case
            when report_rows.row_kind = 'total' then 'total'
            when by_code.agency_key is not null then 'code'
            when by_name.agency_key is not null then 'name'
            when by_short_name.agency_key is not null then 'short_name'
            else 'unresolved'
        end as agency_match
    from report_rows
    left join named as by_code
        on report_rows.row_kind = 'body'
        and report_rows.report_month = by_code.report_month
        and report_rows.reporting_unit_code = by_code.reporting_unit_code
        and report_rows.agency_or_field_code = by_code.agency_code
    left join named as by_name
        on report_rows.row_kind = 'body'
        and by_name.full_name_uses = 1
        and by_code.agency_key is null
        and report_rows.report_month = by_name.report_month
        and report_rows.reporting_unit_code = by_name.reporting_unit_code
        and lower(regexp_replace(report_rows.row_label, '\s+', ' ', 'g')) = by_name.full_name
    left join named as by_short_name
        on report_rows.row_kind = 'body'
        and by_short_name.short_name_uses = 1
        and by_code.agency_key is null
        and by_name.agency_key is null
        and report_rows.report_month = by_short_name.report_month
        and report_rows.reporting_unit_code = by_short_name.reporting_unit_code
        and lower(regexp_replace(report_rows.row_label, '\s+', ' ', 'g'))
        = by_short_name.short_name

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
        agency_key,
        agency_match,
        {%- for measure in measures %}
            case
                when bool_or({{ measure }} is not null) over (
                        partition by report_month, reporting_unit_code
                    )
                    then coalesce({{ measure }}, 0)
            end as {{ measure }},
        {%- endfor %}
        _batch_id
    from matched

)

select * from final
