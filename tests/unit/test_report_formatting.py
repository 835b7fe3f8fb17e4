"""Vietnamese number formats in reports: decimal comma, thousands dot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chiso.core import formatting as fmt
from chiso.core.months import next_month, parse_month, previous_month


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
