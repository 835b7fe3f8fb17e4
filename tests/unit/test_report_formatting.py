"""Vietnamese number formats in reports: decimal comma, thousands dot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chiso.core import formatting as fmt
from chiso.core.months import next_month, parse_month
from chiso.report.monthly import Line, build_sections, previous_month


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.67534, "67,53%"),
        (Decimal("0.3160"), "31,60%"),
        (0.0088, "0,88%"),
        (1, "100,00%"),
        (None, "–"),
    ],
)
def test_percent_uses_decimal_comma(value, expected):
    assert fmt.percent(value) == expected


def test_counts_use_thousands_dot():
    assert fmt.count(12338) == "12.338"
    assert fmt.count(1918) == "1.918"
    assert fmt.count(None) == "–"


def test_change_in_percentage_points():
    assert fmt.points_change(Decimal("0.6753"), Decimal("0.6628")) == "+1,25 điểm %"
    assert fmt.points_change(0.5, 0.6) == "−10,00 điểm %"
    assert fmt.points_change(None, 0.6) == "–"


def test_month_helpers():
    assert parse_month("2020-01") == date(2020, 1, 1)
    assert next_month(date(2020, 12, 1)) == date(2021, 1, 1)
    assert previous_month(date(2020, 1, 1)) == date(2019, 12, 1)
    assert fmt.month_label(date(2020, 3, 1)) == "tháng 03/2020"
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month("03/2020")


def _row(month, agency, tier, num, den, code="dossier.early_rate"):
    return {
        "period_month": month,
        "agency_code": agency,
        "agency_key": f"agy:{agency}",
        "agency_name": agency,
        "tier": tier,
        "tier_name_vi": tier,
        "indicator_code": code,
        "indicator_name_vi": code,
        "numerator": num,
        "denominator": den,
        "value": Decimal(num) / Decimal(den) if den else None,
        "target_value": None,
        "target_met": None,
    }


def test_roll_ups_are_ratios_of_sums_not_averages():
    m = date(2020, 2, 1)
    rows = [
        _row(m, "A", "commune", 1, 1),
        _row(m, "B", "commune", 1, 9),
        _row(previous_month(m), "A", "commune", 0, 10),
    ]
    (section,) = build_sections(rows, m)
    assert section.province.value == Decimal(2) / Decimal(10)  # not (1.0 + 0.111) / 2
    assert section.province.previous == Decimal(0)
    assert section.tiers[0].value == Decimal("0.2")


def test_line_without_denominator_has_no_value():
    assert Line("x", 0, 0).value is None
