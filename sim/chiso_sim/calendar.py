"""Working-day calendar for promised dates (NgayHenTra) and processing durations.

Promised dates are counted in working days from acceptance: Saturdays, Sundays and public
holidays do not count (docs/indicator-rules.md). The ``holidays`` package knows Vietnam's
statutory holidays and most announced day-off swaps, but not the Saturday worked in exchange,
and it lags new announcements; the seed ``ref_holiday_overrides.csv`` fills both gaps and always
wins. Each year's set of working days is computed once and cached, because due-date arithmetic
runs once per dossier.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import holidays

from chiso.core.config import REFERENCE_DIR

HOLIDAY_OVERRIDES_CSV = REFERENCE_DIR / "ref_holiday_overrides.csv"

_TRUE = {"true", "t", "1", "yes"}
_FALSE = {"false", "f", "0", "no"}


def load_overrides(path: Path | None = None) -> dict[date, bool]:
    """``day -> is_day_off`` from the override seed."""
    overrides: dict[date, bool] = {}
    with (path or HOLIDAY_OVERRIDES_CSV).open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            day = date.fromisoformat(row["day"].strip())
            flag = row["is_day_off"].strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ValueError(f"{day}: is_day_off must be true or false, got {flag!r}")
            if day in overrides:
                raise ValueError(f"{day}: listed twice in the holiday overrides")
            overrides[day] = flag in _TRUE
    return overrides


class WorkingCalendar:
    """Mon–Fri minus Vietnamese public holidays, then the overrides (which win)."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides = dict(overrides or {})
        # Per-instance cache so two calendars with different overrides never share results.
        self._working_days = lru_cache(maxsize=64)(self._compute_year)

    def _compute_year(self, year: int) -> frozenset[date]:
        statutory = holidays.country_holidays("VN", years=year)
        first = date(year, 1, 1)
        days = set()
        for offset in range((date(year + 1, 1, 1) - first).days):
            day = first + timedelta(days=offset)
            off = day.weekday() >= 5 or day in statutory
            off = self._overrides.get(day, off)
            if not off:
                days.add(day)
        return frozenset(days)

    def is_working_day(self, day: date) -> bool:
        return day in self._working_days(day.year)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (before it if n < 0); n = 0 returns ``day``.

        Matches the simulator: a 3-working-day procedure accepted on day D is due on
        ``add_working_days(D, 3)``.
        """
        step = 1 if n >= 0 else -1
        current, remaining = day, abs(n)
        while remaining:
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, first: date, last: date) -> list[date]:
        """Working days in [first, last], both inclusive (empty if last < first)."""
        out = []
        for year in range(first.year, last.year + 1):
            out.extend(d for d in self._working_days(year) if first <= d <= last)
        return sorted(out)


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The calendar with the committed override seed (read once per process)."""
    return WorkingCalendar(load_overrides())


def is_working_day(day: date) -> bool:
    """Is ``day`` a working day for a one-stop office? (default calendar)"""
    return default_calendar().is_working_day(day)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day`` (default calendar)."""
    return default_calendar().add_working_days(day, n)


def working_days_between(first: date, last: date) -> list[date]:
    """Working days in [first, last], inclusive (default calendar)."""
    return default_calendar().working_days_between(first, last)
