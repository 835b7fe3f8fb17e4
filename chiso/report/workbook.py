"""The monthly report as a workbook (`bao-cao-YYYY-MM.xlsx`), for the officer who retypes
it into the ministry's form and the analyst who reworks it.

Read from the published marts as the BI reader, like the HTML report, with the same lines
(chiso/report/monthly.py: province and tier lines are ratios of sums). One sheet per section,
every number a number (rates with the format ``0.00%``, which Excel shows the Vietnamese way,
67,53%, on a Vietnamese system), never text:

- ``Tổng hợp``: each province's and tier's line per indicator against its target;
- ``Đơn vị``: every agency's line (numerator, denominator, rate, target, whether met, the
  previous month's rate, its rank within the tier);
- ``Xu hướng``: the province's rate per indicator over the last 12 published months, with a
  native line chart per province;
- ``Thay đổi``: what this revision changed against the one it replaced, agency by agency
  (empty for a month's first publication);
- ``Chất lượng dữ liệu``: the publication (revision, gate, forced reason) and the summary
  reports' checks that do not add up.

The workbook's metadata carry the publication's time, not the time of rendering: the same
revision gives the same workbook.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from psycopg.rows import dict_row

from chiso.core.months import add_months, previous_month
from chiso.report.monthly import TIER_ORDER, ReportError, build_sections

RATE = "0.00%"
COUNT = "#,##0"
TREND_MONTHS = 12
BOLD = Font(bold=True)


def render_workbook(url: str, month: date, out_dir: Path) -> Path:
    """Write `bao-cao-YYYY-MM.xlsx` for a published month."""
    rows = _fetch(url, add_months(month, -(TREND_MONTHS - 1)), month)
    current = [r for r in rows if r["period_month"] == month]
    if not current:
        raise ReportError(f"nothing is published for {month:%Y-%m} in marts.mart_kpi_monthly")
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "Tổng hợp"
    agencies = wb.create_sheet("Đơn vị")
    trend = wb.create_sheet("Xu hướng")
    changes = wb.create_sheet("Thay đổi")
    quality = wb.create_sheet("Chất lượng dữ liệu")
    _header(summary, ["Tỉnh", "Mã chỉ số", "Chỉ số", "Cấp", "Tử số", "Mẫu số", "Tỷ lệ",
                      "Chỉ tiêu", "Tháng trước"])  # fmt: skip
    _header(agencies, ["Tỉnh", "Cấp", "Mã đơn vị", "Đơn vị", "Mã chỉ số", "Chỉ số", "Tử số",
                       "Mẫu số", "Tỷ lệ", "Chỉ tiêu", "Đạt chỉ tiêu", "Tháng trước",
                       "Xếp hạng trong cấp"])  # fmt: skip
    provinces = sorted({(r["province_code"], r["province_name"]) for r in current})
    for code, name in provinces:
        mine = [r for r in rows if r["province_code"] == code]
        window = [r for r in mine if r["period_month"] in (month, previous_month(month))]
        for section in build_sections(window, month):
            lines = [("Toàn tỉnh", section.province), *((t.label, t) for t in section.tiers)]
            for level, line in lines:
                summary.append([name, section.code, section.name, level, line.numerator,
                                line.denominator, _num(line.value), _num(line.target),
                                _num(line.previous)])  # fmt: skip
        for r in sorted(
            (r for r in mine if r["period_month"] == month),
            key=lambda r: (TIER_ORDER.get(r["tier"], 9), r["agency_name"], r["indicator_code"]),
        ):
            met = None if r["target_met"] is None else ("Đạt" if r["target_met"] else "Chưa đạt")
            agencies.append([name, r["tier_name_vi"], r["agency_code"], r["agency_name"],
                             r["indicator_code"], r["indicator_name_vi"], r["numerator"],
                             r["denominator"], _num(r["value"]), _num(r["target_value"]), met,
                             _num(r["previous_value"]), r["rank_in_tier"]])  # fmt: skip
    _formats(summary, rates=("G", "H", "I"), counts=("E", "F"))
    _formats(agencies, rates=("I", "J", "L"), counts=("G", "H"))
    _trend(trend, rows, provinces, month)
    _changes(changes, url, month)
    _quality(quality, url, month)
    published = max(r["published_at"] for r in current if r["published_at"] is not None)
    wb.properties.created = wb.properties.modified = published.replace(tzinfo=None)
    wb.properties.title = f"Báo cáo chỉ số chuyển đổi số tháng {month:%m/%Y}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bao-cao-{month:%Y-%m}.xlsx"
    wb.save(path)
    return path


def _fetch(url: str, first: date, last: date) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "select * from marts.mart_kpi_monthly where period_month between %s and %s"
            " and calendar = 'calendar' and unit = 'ratio'",
            (first, last),
        ).fetchall()


def _num(value: Decimal | float | None) -> float | None:
    """The value as a float: Excel stores numbers as doubles, and a Decimal such as
    Decimal('1E+1') would reach the file in its exponent form."""
    return None if value is None else float(value)


def _header(ws: Worksheet, labels: list[str]) -> None:
    ws.append(labels)
    for cell in ws[1]:
        cell.font = BOLD
    ws.freeze_panes = "A2"
    for i, label in enumerate(labels, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(label) + 4))


def _formats(ws: Worksheet, *, rates: tuple[str, ...], counts: tuple[str, ...]) -> None:
    for columns, number_format in ((rates, RATE), (counts, COUNT)):
        for column in columns:
            for cell in ws[column][1:]:
                cell.number_format = number_format


def _trend(ws: Worksheet, rows: list[dict], provinces: list[tuple[str, str]], month: date) -> None:
    """Per province, a table of months × indicators (the province's ratio of sums) and a
    line chart of it, one under the other."""
    months = [add_months(month, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
    top = 1
    for code, name in provinces:
        sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
        names: dict[str, str] = {}
        for r in rows:
            if r["province_code"] != code:
                continue
            cell = sums[(r["period_month"], r["indicator_code"])]
            cell[0] += r["numerator"] or 0
            cell[1] += r["denominator"] or 0
            names[r["indicator_code"]] = r["indicator_name_vi"]
        indicators = sorted(names)
        ws.cell(top, 1, f"Tỉnh {name}").font = BOLD
        ws.cell(top + 1, 1, "Tháng").font = BOLD
        for j, code_i in enumerate(indicators, start=2):
            ws.cell(top + 1, j, names[code_i]).font = BOLD
        for i, m in enumerate(months, start=top + 2):
            ws.cell(i, 1, f"{m:%m/%Y}")
            for j, code_i in enumerate(indicators, start=2):
                numerator, denominator = sums.get((m, code_i), (0, 0))
                if denominator:
                    ws.cell(i, j, numerator / denominator).number_format = RATE
        last_row = top + 1 + len(months)
        chart = LineChart()
        chart.title = f"Xu hướng 12 tháng – Tỉnh {name}"
        chart.y_axis.number_format = "0%"
        chart.y_axis.title = "Tỷ lệ"
        chart.height, chart.width = 9, 24
        data = Reference(ws, min_col=2, max_col=1 + len(indicators), min_row=top + 1,
                         max_row=last_row)  # fmt: skip
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=top + 2, max_row=last_row))
        ws.add_chart(chart, f"{get_column_letter(len(indicators) + 3)}{top}")
        top = last_row + 20  # the chart's height below the table


def _changes(ws: Worksheet, url: str, month: date) -> None:
    """The rows of mart_kpi_monthly the current revision changed (marts.kpi_revision_changes,
    as far as the reader's scope reaches)."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        found = conn.execute(
            "select c.agency_code, c.agency_name, c.indicator_code, c.indicator_name_vi,"
            " c.calendar, c.unit, c.change, c.old_value, c.new_value"
            " from marts.kpi_revision_changes c join marts.kpi_publications p"
            " on p.period_month = c.period_month and p.revision = c.revision and p.is_current"
            " where c.period_month = %s and c.mart = 'mart_kpi_monthly'"
            " order by c.agency_name, c.indicator_code, c.calendar",
            (month,),
        ).fetchall()
    _header(ws, ["Mã đơn vị", "Đơn vị", "Mã chỉ số", "Chỉ số", "Lịch", "Thay đổi", "Giá trị cũ",
                 "Giá trị mới"])  # fmt: skip
    kinds = {"added": "thêm", "removed": "bỏ", "changed": "sửa"}
    for c in found:
        ws.append([c["agency_code"], c["agency_name"], c["indicator_code"],
                   c["indicator_name_vi"], c["calendar"], kinds.get(c["change"], c["change"]),
                   _num(c["old_value"]), _num(c["new_value"])])  # fmt: skip
        if c["unit"] == "ratio":
            for cell in ws[ws.max_row][6:8]:
                cell.number_format = RATE


def _quality(ws: Worksheet, url: str, month: date) -> None:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        publication = conn.execute(
            "select revision, published_at, gate_success, forced_reason, changed_rows"
            " from marts.kpi_publications where period_month = %s and is_current",
            (month,),
        ).fetchone()
        checks = conn.execute(
            "select reporting_unit_code, row_label, check_label, printed_value,"
            " expected_value, difference from marts.mart_aggregate_report_checks"
            " where report_month = %s and not is_consistent"
            " order by reporting_unit_code, printed_row_number nulls last, check_name",
            (month,),
        ).fetchall()
    ws.append(["Công bố"])
    ws["A1"].font = BOLD
    if publication:
        ws.append(["Lần công bố", publication["revision"]])
        ws.append(["Thời điểm", publication["published_at"].replace(tzinfo=None)])
        ws.append(["Qua kiểm định", "Có" if publication["gate_success"] else "Không"])
        ws.append(["Lý do công bố khi không qua kiểm định", publication["forced_reason"]])
        ws.append(["Số dòng thay đổi so với lần trước", publication["changed_rows"]])
    ws.append([])
    ws.append(["Báo cáo tổng hợp không khớp", len(checks)])
    ws.cell(ws.max_row, 1).font = BOLD
    ws.append(["Đơn vị báo cáo", "Dòng", "Chỉ tiêu", "Số in", "Số tính lại", "Chênh lệch"])
    for c in checks:
        ws.append([c["reporting_unit_code"], c["row_label"], c["check_label"],
                   _num(c["printed_value"]), _num(c["expected_value"]),
                   _num(c["difference"])])  # fmt: skip
    ws.column_dimensions["A"].width = 40
