"""The monthly report as a PDF for leaders (fpdf2): the summary against targets with traffic
lights, the 12-month trends, the ranking within each tier, the QĐ 766 index, what changed
since the previous revision and the data-quality notes; agency tables for the indicators with
a target (every agency and indicator is in the workbook).

Fonts: DejaVu Sans as matplotlib ships it (every Vietnamese glyph, embedded as a subset), so
the PDF renders on a fresh machine with no system font and no internet. The file's dates are
the publication's, so the same revision gives the same bytes.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from chiso.core import formatting as fmt
from chiso.report.model import LIGHT_LABELS, ScopeReport

FONT = "DejaVu"
LIGHT_COLOURS = {
    "green": (26, 150, 65),
    "amber": (220, 140, 0),
    "red": (215, 25, 28),
    "none": (150, 150, 150),
}
HEADING = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
MAX_CHANGES = 60
MAX_CHECKS = 40


def font_files() -> tuple[Path, Path]:
    """DejaVu Sans, regular and bold, from matplotlib's own data (a dependency already)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


class _Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        regular, bold = font_files()
        self.add_font(FONT, "", str(regular))
        self.add_font(FONT, "B", str(bold))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text} · Trang {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def pdf_bytes(report: ScopeReport, chart: bytes | None) -> bytes:
    """The report of one scope as PDF bytes."""
    title = f"Báo cáo chỉ số chuyển đổi số {report.month_label} – {report.scope.title}"
    pdf = _Report(title)
    if report.publication is not None:
        pdf.set_creation_date(report.publication.published_at)
    pdf.set_title(title)
    pdf.set_author("chiso")
    pdf.set_producer("chiso")
    pdf.set_lang("vi")
    pdf.add_page()
    _front(pdf, report)
    _summary(pdf, report)
    if chart:
        width, height = struct.unpack(">II", chart[16:24])  # the PNG's IHDR
        if pdf.will_page_break(pdf.epw * height / width + 20):  # the heading with its chart
            pdf.add_page()
        _heading(pdf, "Xu hướng 12 tháng")
        _note(pdf, "Tỷ lệ theo tháng dương lịch; đường nét đứt là chỉ tiêu của cấp cùng màu.")
        pdf.image(io.BytesIO(chart), w=pdf.epw)
    _ranking(pdf, report)
    _scorecard(pdf, report)
    _changes(pdf, report)
    _quality(pdf, report)
    _details(pdf, report)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(25):
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8)


def _note(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(70, 70, 70)
    pdf.multi_cell(0, 4.2, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _table(pdf: FPDF, widths: tuple[float, ...], aligns: tuple[str, ...]):
    """A table in the report's style: a grey bold heading row, compact lines."""
    return pdf.table(
        col_widths=widths,
        text_align=aligns,
        headings_style=HEADING,
        line_height=4.2,
        padding=0.8,
    )


def _lamp_cell(row, state: str, style: FontFace | None = None) -> None:
    """The traffic-light cell: a coloured dot and its word, empty without a light."""
    if state == "none":
        row.cell("", style=style)
    else:
        row.cell(f"● {LIGHT_LABELS[state]}", style=FontFace(color=LIGHT_COLOURS[state]))


def _goal(target, direction: str) -> str:
    if target is None:
        return "–"
    return ("≤ " if direction == "lower_is_better" else "≥ ") + fmt.percent(target, 0)


def _front(pdf: FPDF, report: ScopeReport) -> None:
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(
        0,
        7,
        f"BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ SỐ CHUYỂN ĐỔI SỐ\n{report.month_label.upper()}",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(0, 7, report.scope.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    publication = report.publication
    if publication is not None:
        _note(
            pdf,
            f"Số liệu đã kiểm định và công bố lúc {publication.published_at:%H:%M ngày %d/%m/%Y}"
            f" (lần công bố thứ {publication.revision}). {report.agency_count} cơ quan, đơn vị."
            " Tỷ lệ toàn tỉnh và theo cấp = tổng tử số / tổng mẫu số. Hai cách tính kỳ: tháng"
            " dương lịch và kỳ báo cáo 15→14 (NĐ 09/2019/NĐ-CP). Đèn: xanh đạt chỉ tiêu, vàng"
            " thiếu dưới 5 điểm %, đỏ thiếu từ 5 điểm % trở lên.",
        )
        if publication.forced_reason:
            pdf.set_text_color(160, 16, 16)
            pdf.set_font(FONT, "B", 9)
            pdf.multi_cell(
                0,
                5,
                "Lưu ý: số liệu tháng này được công bố khi kiểm định dữ liệu KHÔNG đạt. Lý do: "
                + publication.forced_reason,
                new_x="LMARGIN",
                new_y="NEXT",
            )
            pdf.set_text_color(0, 0, 0)


def _summary(pdf: FPDF, report: ScopeReport) -> None:
    _heading(pdf, "Tóm tắt: chỉ số so với chỉ tiêu")
    previous = report.previous_label.capitalize()
    with _table(
        pdf,
        (52, 22, 19, 19, 19, 17, 13, 19),
        ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
    ) as table:
        table.row(
            [
                "Chỉ số",
                "Cấp",
                "Tháng dương lịch",
                "Kỳ 15→14",
                previous,
                "Thay đổi",
                "Chỉ tiêu",
                "Đánh giá",
            ]
        )
        previous_code = None
        for s in report.summary:
            row = table.row()
            style = FontFace(emphasis="BOLD") if s.level == "Toàn tỉnh" else None
            row.cell(s.name if s.code != previous_code else "", style=style)
            previous_code = s.code
            row.cell(s.level, style=style)
            row.cell(fmt.measure(s.calendar.value, s.unit))
            row.cell(fmt.measure(s.official.value, s.unit) if s.official else "–")
            row.cell(fmt.measure(s.calendar.previous, s.unit))
            row.cell(
                fmt.points_change(s.calendar.value, s.calendar.previous).replace(" điểm %", "")
                if s.unit == "ratio"
                else "–"
            )
            row.cell(_goal(s.calendar.target, s.direction))
            _lamp_cell(row, s.calendar.light)
    if report.breaks:
        _note(pdf, report.breaks_note)


def _ranking(pdf: FPDF, report: ScopeReport) -> None:
    if not report.ranking:
        return
    _heading(pdf, "Xếp hạng cơ quan, đơn vị trong cấp")
    _note(pdf, "Theo tỷ lệ chỉ tiêu đạt trong tháng (tháng dương lịch), rồi số chỉ tiêu gần đạt.")
    for tier_name, ranked in report.ranking:
        if pdf.will_page_break(20):  # a tier's name stays with its table
            pdf.add_page()
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 6, tier_name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 8)
        with _table(
            pdf, (12, 110, 18, 18, 22), ("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT")
        ) as table:
            table.row(["Hạng", "Cơ quan, đơn vị", "Đạt", "Gần đạt", "Số chỉ tiêu"])
            for a in ranked:
                table.row([str(a.rank), a.name, str(a.met), str(a.near), str(a.with_target)])


def _scorecard(pdf: FPDF, report: ScopeReport) -> None:
    card = report.scorecard
    if card is None:
        return
    _heading(pdf, "Chỉ số phục vụ người dân, doanh nghiệp (QĐ 766/QĐ-TTg)")
    _note(
        pdf,
        f"Toàn tỉnh: {fmt.score(card.points)} điểm trên {fmt.score(card.possible)} điểm của các"
        f" tiêu chí tính được ({fmt.percent(card.share)}). Tiêu chí không có trong dữ liệu nguồn"
        f" hoặc chưa tính ({fmt.score(card.unscored_points)} điểm) không tính là 0 điểm.",
    )
    with _table(pdf, (95, 25, 20, 20), ("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row(["Tiêu chí", "Tỷ lệ", "Điểm", "Tối đa"])
        for i in card.items:
            ratio = fmt.measure(i.ratio, "days") if i.code == "2.2" else fmt.percent(i.ratio)
            table.row([f"{i.code}. {i.name}", ratio, fmt.score(i.points), fmt.score(i.max_points)])


def _changes(pdf: FPDF, report: ScopeReport) -> None:
    publication = report.publication
    if publication is None or not publication.previous_revision:
        return
    _heading(pdf, f"Điều chỉnh so với lần công bố thứ {publication.previous_revision}")
    if not report.changes:
        _note(pdf, "Không có số liệu chỉ tiêu nào thay đổi.")
        return
    shown = report.changes[:MAX_CHANGES]
    more = f" Hiển thị {len(shown)} dòng đầu." if report.changed_rows > len(shown) else ""
    _note(pdf, f"{fmt.count(report.changed_rows)} dòng số liệu thay đổi.{more}")
    with _table(pdf, (45, 60, 25, 25, 25), ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT")) as table:
        table.row(["Cơ quan, đơn vị", "Chỉ tiêu", "Kỳ", "Đã công bố", "Điều chỉnh"])
        for c in shown:
            old = "(chưa có)" if c.change == "added" else fmt.measure(c.old, c.unit)
            new = "(bỏ)" if c.change == "removed" else fmt.measure(c.new, c.unit)
            table.row([c.agency, c.indicator, c.calendar, old, new])


def _quality(pdf: FPDF, report: ScopeReport) -> None:
    if not (report.drift or report.warnings or report.checks_total):
        return
    _heading(pdf, "Chất lượng dữ liệu")
    for d in report.drift:
        reason = "ngoài thời hạn công bố lại" if not d.in_window else "kiểm định không đạt"
        _note(
            pdf,
            f"{d.month_label.capitalize()}: {fmt.count(d.pending_rows)} dòng số liệu đã thay đổi"
            f" sau khi công bố, chưa công bố lại ({reason}).",
        )
    for w in report.warnings:
        _note(pdf, f"Cảnh báo kiểm định: {w.description} ({w.observed or '–'} dòng).")
    if report.checks_total:
        shown = report.checks[:MAX_CHECKS]
        _note(
            pdf,
            f"Đối chiếu báo cáo tổng hợp: {fmt.count(report.checks_total)} kiểm tra không khớp"
            f" (hiển thị {len(shown)}). Số liệu giữ nguyên như báo cáo.",
        )
        with _table(
            pdf, (50, 40, 40, 17, 17, 16), ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT")
        ) as table:
            table.row(["Cơ quan, đơn vị", "Nội dung", "Loại", "Báo cáo", "Đối chiếu", "Lệch"])
            for c in shown:
                table.row(
                    [
                        c.row_label,
                        c.check_label,
                        c.kind,
                        fmt.count(c.printed),
                        fmt.count(c.expected),
                        fmt.count(c.difference),
                    ]
                )


def _details(pdf: FPDF, report: ScopeReport) -> None:
    """Agency tables of the indicators with a target in the scope."""
    for detail in report.details:
        if all(t.target is None for t, _ in detail.tiers):
            continue
        _heading(pdf, f"{detail.name} ({detail.code})")
        with _table(
            pdf,
            (62, 18, 18, 18, 18, 14, 14, 18),
            ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        ) as table:
            table.row(
                [
                    "Cơ quan, đơn vị",
                    "Tử số",
                    "Mẫu số",
                    "Tỷ lệ",
                    report.previous_label.capitalize(),
                    "Hạng",
                    "Chỉ tiêu",
                    "Đánh giá",
                ]
            )
            for tier, agencies in detail.tiers:
                for line, bold in ((tier, True), *((a, False) for a in agencies)):
                    row = table.row()
                    style = FontFace(emphasis="BOLD", fill_color=(242, 242, 242)) if bold else None
                    row.cell(line.label, style=style)
                    row.cell(fmt.count(line.numerator), style=style)
                    row.cell(fmt.count(line.denominator), style=style)
                    row.cell(fmt.percent(line.value), style=style)
                    row.cell(fmt.percent(line.previous), style=style)
                    row.cell(f"{line.rank}/{line.ranked}" if line.rank else "", style=style)
                    row.cell(_goal(line.target, detail.direction), style=style)
                    _lamp_cell(row, line.light, style)
