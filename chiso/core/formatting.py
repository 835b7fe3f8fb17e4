"""Vietnamese number formatting for reports (67,53% and 12.338), via babel's vi_VN locale."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.numbers import format_decimal, format_percent

LOCALE = "vi_VN"


def percent(value: float | Decimal | None, digits: int = 2) -> str:
    """0.67534 → '67,53%'; None (no denominator) → '–'."""
    if value is None:
        return "–"
    pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    return format_percent(value, format=pattern, locale=LOCALE)


def count(value: int | None) -> str:
    """12338 → '12.338'."""
    if value is None:
        return "–"
    return format_decimal(value, format="#,##0", locale=LOCALE)


def points_change(current: float | Decimal | None, previous: float | Decimal | None) -> str:
    """Change of a rate in percentage points, signed: '+1,25 điểm %'."""
    if current is None or previous is None:
        return "–"
    delta = (Decimal(str(current)) - Decimal(str(previous))) * 100
    sign = "+" if delta > 0 else ("−" if delta < 0 else "±")
    return f"{sign}{format_decimal(abs(delta), format='#,##0.00', locale=LOCALE)} điểm %"


def month_label(month: date) -> str:
    """date(2020, 1, 1) → 'tháng 01/2020'."""
    return f"tháng {month:%m/%Y}"


def measure(value: float | Decimal | None, unit: str) -> str:
    """A value in its unit: a ratio as a percentage, a count as a whole number, an average
    in working days with two decimals ('3,25 ngày')."""
    if value is None:
        return "–"
    if unit == "ratio":
        return percent(value)
    if unit == "count":
        return count(int(value))
    return f"{format_decimal(value, format='#,##0.00', locale=LOCALE)} ngày"


def score(value: float | Decimal | None) -> str:
    """Points of an index with two decimals: 19.6451 → '19,65'; None → '–'."""
    if value is None:
        return "–"
    return format_decimal(value, format="#,##0.00", locale=LOCALE)
