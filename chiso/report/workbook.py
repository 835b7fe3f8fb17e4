"""The monthly report as a workbook, for the officer who retypes it into the ministry's form
and the analyst who reworks it: the same lines as the HTML and the PDF (chiso/report/model.py),
one sheet per section, every number a number (rates with the format ``0.00%``, which Excel
shows the Vietnamese way, 67,53%, on a Vietnamese system), never text:

- ``Tổng hợp``: each province's and tier's line per indicator, in both calendars (column
  ``Lịch``), against its target, with its traffic light;
- ``Đơn vị``: every agency's published row in both calendars (numerator, denominator, value,
  target, whether met, the previous month's value, its rank within the tier);
- ``Xu hướng``: per chapter, the charted rates over the last 12 months with a native line
  chart;
- ``Xếp hạng``: the agencies of each tier by the targets they met;
- ``Thay đổi``: what this revision changed against the one it replaced;
- ``Chất lượng dữ liệu``: the publication (revision, gate, forced reason), the gate's warnings
  and the summary reports' checks that do not add up.

The workbook's metadata carry the publication's time, not the time of rendering, and its zip
entries a fixed time: the same revision gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from chiso.report.model import CALENDAR_LABELS, LIGHT_LABELS, TIER_ORDER, ScopeReport

RATE = "0.00%"
COUNT = "#,##0"
DAYS = "0.00"
BOLD = Font(bold=True)
SHEETS = ("Tổng hợp", "Đơn vị", "Xu hướng", "Xếp hạng", "Thay đổi", "Chất lượng dữ liệu")


def workbook_bytes(doc: ScopeReport, chapters: list[ScopeReport], rows: list[dict]) -> bytes:
    """The workbook of `doc`'s scope: `chapters` (a province, or every province) and the
    scope's published agency rows of the month (`rows`)."""
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.title = SHEETS[0]
    summary, agencies, trend, ranking, changes, quality = (
        first,
        *(wb.create_sheet(name) for name in SHEETS[1:]),
    )
    _summary(summary, chapters)
    _agencies(agencies, rows, doc.month)
    _trend(trend, chapters)
    _ranking(ranking, chapters)
    _changes(changes, doc)
    _quality(quality, doc)
    for sheet in wb.worksheets:
        _as_text(sheet)
    if doc.publication is not None:
        published = doc.publication.published_at.astimezone(UTC).replace(tzinfo=None)
        wb.properties.created = wb.properties.modified = published
    wb.properties.title = f"Báo cáo chỉ số chuyển đổi số tháng {doc.month:%m/%Y}"
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _as_text(ws: Worksheet) -> None:
    """Text stays text: openpyxl stores a string starting with "=" as a formula, and labels
    come from files agencies send (a summary report's row named "=HYPERLINK(…)")."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _fixed_zip_times(data: bytes) -> bytes:
    """openpyxl stamps each zip entry, and the document's `modified` property, with the time
    of saving; the same revision should give the same file, so every entry gets one fixed
    time and `modified` is the publication's time, like `created`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(_as_created(content), content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, content)
    return out.getvalue()


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_CREATED = re.compile(rb"<dcterms:created[^>]*>([^<]*)</dcterms:created>")


def _as_created(core: bytes) -> bytes:
    created = _CREATED.search(core)
    return rb"\g<1>" + (created.group(1) if created else b"") + rb"\g<2>"


def _num(value: Decimal | float | None) -> float | None:
    """The value as a float: Excel stores numbers as doubles, and a Decimal such as
    Decimal('1E+1') would reach the file in its exponent form."""
    return None if value is None else float(value)


def _format(unit: str) -> str:
    return {"ratio": RATE, "count": COUNT}.get(unit, DAYS)


def _header(ws: Worksheet, labels: list[str]) -> None:
    ws.append(labels)
    for cell in ws[1]:
        cell.font = BOLD
    ws.freeze_panes = "A2"
    for i, label in enumerate(labels, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(label) + 4))


def _summary(ws: Worksheet, chapters: list[ScopeReport]) -> None:
    _header(ws, ["Tỉnh", "Mã chỉ số", "Chỉ số", "Cấp", "Lịch", "Tử số", "Mẫu số", "Giá trị",
                 "Chỉ tiêu", "Tháng trước", "Đánh giá"])  # fmt: skip
    units = []
    for chapter in chapters:
        for s in chapter.summary:
            for calendar, line in (("calendar", s.calendar), ("official", s.official)):
                if line is None:
                    continue
                ws.append(
                    [
                        chapter.scope.province_name,
                        s.code,
                        s.name,
                        s.level,
                        CALENDAR_LABELS[calendar],
                        _num(line.numerator),
                        _num(line.denominator),
                        _num(line.value),
                        _num(line.target),
                        _num(line.previous),
                        LIGHT_LABELS[line.light] if line.light != "none" else None,
                    ]
                )
                units.append(s.unit)
    # formats set row by row after appending: ws.max_row counts every cell, each time
    for row, unit in zip(ws.iter_rows(min_row=2), units, strict=True):
        row[5].number_format = row[6].number_format = COUNT
        row[7].number_format = row[9].number_format = _format(unit)
        row[8].number_format = RATE


def _agencies(ws: Worksheet, rows: list[dict], month: date) -> None:
    _header(ws, ["Tỉnh", "Cấp", "Mã đơn vị", "Đơn vị", "Mã chỉ số", "Chỉ số", "Lịch", "Tử số",
                 "Mẫu số", "Giá trị", "Chỉ tiêu", "Đạt chỉ tiêu", "Tháng trước",
                 "Xếp hạng trong cấp"])  # fmt: skip
    current = sorted(
        (r for r in rows if r["period_month"] == month),
        key=lambda r: (
            r["province_code"],
            TIER_ORDER.get(r["tier"], 9),
            r["agency_name"],
            r["indicator_code"],
            r["calendar"],
        ),
    )
    for r in current:
        met = None if r["target_met"] is None else ("Đạt" if r["target_met"] else "Chưa đạt")
        ws.append(
            [
                r["province_name"],
                r["tier_name_vi"],
                r["agency_code"],
                r["agency_name"],
                r["indicator_code"],
                r["indicator_name_vi"],
                CALENDAR_LABELS[r["calendar"]],
                _num(r["numerator"]),
                _num(r["denominator"]),
                _num(r["value"]),
                _num(r["target_value"]),
                met,
                _num(r["previous_value"]),
                r["rank_in_tier"],
            ]
        )
    for row, r in zip(ws.iter_rows(min_row=2), current, strict=True):
        row[7].number_format = row[8].number_format = COUNT
        row[9].number_format = row[12].number_format = _format(r["unit"])
        row[10].number_format = RATE


def _trend(ws: Worksheet, chapters: list[ScopeReport]) -> None:
    """Per chapter, a table of months × (indicator, level) and a line chart of the first
    level of each indicator (the province, or the tier of a tier's report)."""
    top = 1
    for chapter in chapters:
        if not chapter.trends:
            continue
        ws.cell(top, 1, chapter.scope.title).font = BOLD
        ws.cell(top + 1, 1, "Tháng").font = BOLD
        columns = [(t, s) for t in chapter.trends for s in t.series]
        for j, (t, s) in enumerate(columns, start=2):
            ws.cell(top + 1, j, f"{t.name} – {s.label}").font = BOLD
        for i, m in enumerate(chapter.trend_months, start=top + 2):
            ws.cell(i, 1, f"{m:%m/%Y}")
            for j, (_, s) in enumerate(columns, start=2):
                value = s.values[i - top - 2]
                if value is not None:
                    ws.cell(i, j, float(value)).number_format = RATE
        last_row = top + 1 + len(chapter.trend_months)
        chart = LineChart()
        chart.title = f"Xu hướng 12 tháng – {chapter.scope.title}"
        chart.y_axis.number_format = "0%"
        chart.y_axis.title = "Tỷ lệ"
        chart.height, chart.width = 9, 24
        for j, (t, s) in enumerate(columns, start=2):
            if s is t.series[0]:  # the chapter's own level: the province, or the tier
                data = Reference(ws, min_col=j, min_row=top + 1, max_row=last_row)
                chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=top + 2, max_row=last_row))
        ws.add_chart(chart, f"{get_column_letter(len(columns) + 3)}{top}")
        top = last_row + 20  # the chart's height below the table


def _ranking(ws: Worksheet, chapters: list[ScopeReport]) -> None:
    _header(ws, ["Tỉnh", "Cấp", "Hạng", "Đơn vị", "Đạt", "Gần đạt", "Số chỉ tiêu"])
    for chapter in chapters:
        for tier_name, ranked in chapter.ranking:
            for a in ranked:
                ws.append(
                    [
                        chapter.scope.province_name,
                        tier_name,
                        a.rank,
                        a.name,
                        a.met,
                        a.near,
                        a.with_target,
                    ]
                )


def _changes(ws: Worksheet, doc: ScopeReport) -> None:
    """The values of mart_kpi_monthly the current revision changed (marts.kpi_revision_changes,
    as far as the reader's scope reaches)."""
    _header(ws, ["Mã đơn vị", "Đơn vị", "Chỉ số", "Lịch", "Thay đổi", "Giá trị cũ",
                 "Giá trị mới"])  # fmt: skip
    kinds = {"added": "thêm", "removed": "bỏ", "changed": "sửa"}
    for c in doc.changes:
        ws.append(
            [
                c.agency_code,
                c.agency,
                c.indicator,
                c.calendar,
                kinds.get(c.change, c.change),
                _num(c.old),
                _num(c.new),
            ]
        )
    for row, c in zip(ws.iter_rows(min_row=2), doc.changes, strict=True):
        row[5].number_format = row[6].number_format = _format(c.unit)


def _quality(ws: Worksheet, doc: ScopeReport) -> None:
    ws.append(["Công bố"])
    ws["A1"].font = BOLD
    publication = doc.publication
    if publication:
        ws.append(["Lần công bố", publication.revision])
        ws.append(["Thời điểm", publication.published_at.replace(tzinfo=None)])
        ws.append(["Qua kiểm định", "Có" if publication.gate_success else "Không"])
        ws.append(["Lý do công bố khi không qua kiểm định", publication.forced_reason])
        ws.append(["Số dòng thay đổi so với lần trước", doc.changed_rows])
    ws.append([])
    ws.append(["Cảnh báo kiểm định", len(doc.warnings)])
    for w in doc.warnings:
        ws.append([w.description, _num(Decimal(w.observed)) if _numeric(w.observed) else None])
    ws.append([])
    ws.append(["Báo cáo tổng hợp không khớp", doc.checks_total])
    ws.append(["Đơn vị báo cáo", "Dòng", "Chỉ tiêu", "Loại", "Số in", "Số tính lại", "Chênh lệch"])
    for c in doc.checks:
        ws.append(
            [
                c.reporting_unit,
                c.row_label,
                c.check_label,
                c.kind,
                _num(c.printed),
                _num(c.expected),
                _num(c.difference),
            ]
        )
    ws.column_dimensions["A"].width = 40


def _numeric(text: str | None) -> bool:
    try:
        Decimal(text or "x")
    except ArithmeticError:
        return False
    return True
