"""The monthly report's model and renderers on a small synthetic month, without a database:
ratios of sums, traffic lights, ranking, scopes, and PDF/XLSX/HTML that carry the numbers."""

from __future__ import annotations

import io
import unicodedata
from datetime import date, datetime
from decimal import Decimal

import pytest

from chiso.core.months import LOCAL_TZ, previous_month
from chiso.report.charts import trend_png
from chiso.report.html import html_text
from chiso.report.model import (
    Break,
    MonthData,
    Publication,
    Scope,
    ascii_slug,
    light,
    scoped,
)
from chiso.report.pdf import pdf_bytes
from chiso.report.workbook import workbook_bytes

MONTH = date(2020, 3, 1)
TIERS = {"province_dept": "Sở, ban, ngành", "commune": "UBND cấp xã"}


def _row(agency, tier, num, den, *, month=MONTH, code="dossier.ontime_rate", calendar="calendar",
         target=None, province=("30", "Hải Dương")):  # fmt: skip
    value = Decimal(num) / Decimal(den) if den else None
    return {
        "period_month": month, "calendar": calendar, "agency_key": f"agy:{agency}",
        "agency_code": agency, "agency_name": agency, "province_code": province[0],
        "province_name": province[1], "tier": tier, "tier_name_vi": TIERS[tier],
        "indicator_code": code, "indicator_name_vi": "Tỷ lệ giải quyết đúng hạn",
        "unit": "ratio", "numerator": Decimal(num), "denominator": Decimal(den), "value": value,
        "previous_value": None, "rank_in_tier": None, "ranked_in_tier": None,
        "target_value": target, "target_met": None if target is None or value is None
        else value >= target,
    }  # fmt: skip


def _data(rows, rollups=()):
    publication = Publication(
        3, datetime(2020, 4, 2, 9, 30, tzinfo=LOCAL_TZ), None, True, None, None, 2
    )
    return MonthData(
        MONTH, list(rows), list(rollups), {"dossier.ontime_rate": "higher_is_better"},
        publication, [], [], [], [], {},
    )  # fmt: skip


@pytest.fixture
def month():
    target = Decimal("0.80")
    rows = [
        _row("Sở Y tế", "province_dept", 9, 10, target=target),  # 90%: green
        _row("Sở Tư pháp", "province_dept", 77, 100, target=target),  # 77%: amber
        _row("Sở Xây dựng", "province_dept", 1, 10, target=target),  # 10%: red
        _row("UBND xã Đông Xá", "commune", 1, 1),
        _row("UBND xã Đông Xá", "commune", 1, 2, calendar="official"),
        _row("Sở Y tế", "province_dept", 0, 10, month=previous_month(MONTH), target=target),
        _row("Sở Khác", "province_dept", 5, 5, province=("17", "Hòa Bình")),
    ]
    rollups = [
        {"closing_month": MONTH, "rollup_level": "province", "province_code": "30", "tier": None,
         "indicator_code": "dossier.ontime_rate", "numerator": 88, "denominator": 121,
         "value": Decimal("0.727273")},
        {"closing_month": MONTH, "rollup_level": "tier", "province_code": "30",
         "tier": "province_dept", "indicator_code": "dossier.ontime_rate", "numerator": 87,
         "denominator": 120, "value": Decimal("0.725")},
    ]  # fmt: skip
    return _data(rows, rollups)


def test_lines_are_ratios_of_sums_in_both_calendars(month):
    report = scoped(month, Scope("30", "Hải Dương"))
    province = next(s for s in report.summary if s.level == "Toàn tỉnh")
    assert province.calendar.value == Decimal(88) / Decimal(121)  # not a mean of the rates
    assert province.official is not None and province.official.value == Decimal("0.5")
    dept = next(s for s in report.summary if s.level == "Sở, ban, ngành")
    assert dept.calendar.value == Decimal(87) / Decimal(120)
    assert dept.calendar.previous == Decimal(0)  # February: 0/10 in the one agency of then
    assert dept.calendar.target == Decimal("0.80") and dept.calendar.light == "red"
    # another province's agency is in neither line
    assert all(s.calendar.denominator != Decimal(126) for s in report.summary)


def test_traffic_lights_follow_the_indicator_direction():
    target = Decimal("0.8")
    assert light(Decimal("0.8"), target, "higher_is_better") == "green"
    assert light(Decimal("0.76"), target, "higher_is_better") == "amber"
    assert light(Decimal("0.75"), target, "higher_is_better") == "red"  # 5 points short
    assert light(Decimal("0.02"), Decimal("0.05"), "lower_is_better") == "green"
    assert light(Decimal("0.08"), Decimal("0.05"), "lower_is_better") == "amber"
    assert light(None, target, "higher_is_better") == "none"
    assert light(Decimal("0.9"), None, "higher_is_better") == "none"
    assert light(Decimal("0.9"), target, "neutral") == "none"


def test_agencies_rank_within_their_tier_by_targets_met(month):
    report = scoped(month, Scope("30", "Hải Dương"))
    ((tier, ranked),) = report.ranking  # the commune has no target: nothing to rank by
    assert tier == "Sở, ban, ngành"
    assert [(a.rank, a.name, a.met, a.near) for a in ranked] == [
        (1, "Sở Y tế", 1, 0),
        (2, "Sở Tư pháp", 0, 1),
        (3, "Sở Xây dựng", 0, 0),
    ]


def test_a_tier_scope_holds_only_its_agencies(month):
    report = scoped(month, Scope("30", "Hải Dương", "commune", "UBND cấp xã"))
    assert report.scope.slug == "tinh-hai-duong-cap-xa"
    assert [s.level for s in report.summary] == ["UBND cấp xã"]
    names = {a.label for d in report.details for _, agencies in d.tiers for a in agencies}
    assert names == {"UBND xã Đông Xá"}
    assert report.agency_count == 1


def test_file_names_are_ascii():
    assert ascii_slug("Hải Dương") == "hai-duong"
    assert ascii_slug("Đắk Lắk") == "dak-lak"
    assert ascii_slug("Bà Rịa – Vũng Tàu") == "ba-ria-vung-tau"


def test_the_pdf_carries_vietnamese_text_and_numbers_and_is_reproducible(month):
    from pypdf import PdfReader

    report = scoped(month, Scope("30", "Hải Dương"))
    chart = trend_png(report)
    assert chart is not None and chart.startswith(b"\x89PNG")
    data = pdf_bytes(report, chart)
    assert data == pdf_bytes(report, trend_png(report))  # same revision, same bytes
    text = unicodedata.normalize(
        "NFC", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    )
    assert "Tỉnh Hải Dương" in text and "Tỷ lệ giải quyết đúng hạn" in text
    assert "72,73%" in text  # 88/121, the Vietnamese way
    assert "72,50%" in text and "≥ 80%" in text and "Chưa đạt" in text and "Gần đạt" in text
    assert "Sở Khác" not in text  # another province's agency


def test_the_workbook_and_page_carry_the_same_numbers(month):
    from openpyxl import load_workbook

    report = scoped(month, Scope("30", "Hải Dương"))
    rows = [r for r in month.rows if report.scope.holds(r)]
    data = workbook_bytes(report, [report], rows)
    assert data == workbook_bytes(report, [report], rows)
    book = load_workbook(io.BytesIO(data))
    lines = list(book["Tổng hợp"].iter_rows(min_row=2, values_only=True))
    province = [r for r in lines if r[3] == "Toàn tỉnh"]
    assert [(r[4], r[5], r[6]) for r in province] == [
        ("tháng dương lịch", 88, 121), ("kỳ báo cáo 15→14", 1, 2)
    ]  # fmt: skip
    assert abs(province[0][7] - 88 / 121) < 1e-12
    page = html_text(report, [report], {})
    assert "72,73%" in page and "UBND xã Đông Xá" in page and "Sở Khác" not in page


def test_targets_are_a_tiers_and_agencies_of_one_name_stay_apart():
    """A province's line has no target; a tier whose agency versions carry different targets
    has none either; two units of the same name (before and after a merger) rank apart."""
    rows = [
        _row("Sở Y tế", "province_dept", 9, 10, target=Decimal("0.8")),
        _row("UBND phường An Biên", "commune", 1, 10, target=Decimal("0.3")),
        {**_row("UBND phường An Biên", "commune", 2, 2, target=Decimal("0.5")),
         "agency_key": "agy:An Biên 2025", "agency_code": "008.00.30.H31"},
    ]  # fmt: skip
    report = scoped(_data(rows), Scope("30", "Hải Dương"))
    levels = {s.level: s.calendar for s in report.summary}
    assert levels["Toàn tỉnh"].target is None and levels["Toàn tỉnh"].light == "none"
    assert levels["Sở, ban, ngành"].target == Decimal("0.8")
    assert levels["UBND cấp xã"].target is None  # 30% and 50%: no one target
    (_, communes) = report.ranking[1]
    assert [(a.name, a.met) for a in communes] == [
        ("UBND phường An Biên", 1), ("UBND phường An Biên", 0)
    ]  # fmt: skip


def test_text_from_a_delivery_stays_text_in_the_workbook(month):
    from openpyxl import load_workbook

    from chiso.report.model import ReportCheck

    month.checks.append(
        ReportCheck("30", None, "dòng tổng", '=HYPERLINK("http://x","y")', "Tiếp nhận",
                    Decimal(3), Decimal(2), Decimal(1))
    )  # fmt: skip
    report = scoped(month, Scope("30", "Hải Dương"))
    book = load_workbook(io.BytesIO(workbook_bytes(report, [report], [])))
    cells = [c for row in book["Chất lượng dữ liệu"].iter_rows() for c in row]
    (label,) = [c for c in cells if str(c.value).startswith("=HYPERLINK")]
    assert label.data_type == "s"


def test_a_declared_break_is_compared_with_no_month_before(month):
    """NĐ 42/2022-like: a decision changed the indicator in March. Every line of it shows no
    previous value and no change, in every format, and the report says why; a break declared
    for another province leaves this one's comparison alone."""
    from pypdf import PdfReader

    nd42 = Break(
        "dossier.ontime_rate", "Tỷ lệ giải quyết đúng hạn", None,
        "Cách tính thay đổi từ tháng này", "NĐ 42/2022/NĐ-CP",
    )  # fmt: skip
    elsewhere = Break("dossier.ontime_rate", "Tỷ lệ giải quyết đúng hạn", "17", "Khác", "QĐ 1")
    before = scoped(month, Scope("30", "Hải Dương"))
    dept = next(s for s in before.summary if s.level == "Sở, ban, ngành")
    assert dept.calendar.previous == Decimal(0)

    month.breaks = [elsewhere]
    report = scoped(month, Scope("30", "Hải Dương"))
    assert report.breaks == []
    assert [s.calendar.previous for s in report.summary] == [
        s.calendar.previous for s in before.summary
    ]

    month.breaks = [nd42, elsewhere]
    report = scoped(month, Scope("30", "Hải Dương"))
    assert report.breaks == [nd42]
    assert all(s.calendar.previous is None and s.calendar.change is None for s in report.summary)
    for detail in report.details:
        assert detail.total.previous is None
        assert all(a.previous is None for _, lines in detail.tiers for a in lines)
    page = html_text(report, [report], {})
    assert "Không so sánh với tháng 02/2020" in page
    assert "NĐ 42/2022/NĐ-CP" in page and "Cách tính thay đổi từ tháng này" in page
    text = unicodedata.normalize(
        "NFC",
        "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(report, None))).pages),
    )
    assert "NĐ 42/2022/NĐ-CP" in text and "Không so sánh với tháng 02/2020" in text
    assert scoped(month, Scope("17", "Hòa Bình")).breaks == [nd42, elsewhere]
