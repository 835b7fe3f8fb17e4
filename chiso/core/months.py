"""Months and the two period calendars, in one place.

The warehouse works in reporting months, identified by their first day (``date(2020, 1, 1)``
is January 2020). A month is reported in two calendars (docs/indicator-rules.md, "Periods"):
the calendar month, and the official window that runs from the 15th of the previous month to
the 14th of the month. Everything here is plain date arithmetic, with no dependency on the
rest of chiso, so every stage (ingest, the gate, the report, the DAG) counts months the same.
Times are Asia/Ho_Chi_Minh: an Airflow data interval starting at midnight local time is the
previous day in UTC.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# The official reporting window of month M: the 15th of M-1 through the 14th of M.
OFFICIAL_WINDOW_FIRST_DAY = 15


def month_start(day: date) -> date:
    """The month a day falls in, as its first day."""
    return date(day.year, day.month, 1)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after (or before, n < 0) `month`'s."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def next_month(month: date) -> date:
    return add_months(month, 1)


def previous_month(month: date) -> date:
    return add_months(month, -1)


def last_day(month: date) -> date:
    """The last day of `month`'s month."""
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def month_range(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included (empty when last < first)."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def parse_month(text: str) -> date:
    """'2020-01' → date(2020, 1, 1), with an error that says what was expected."""
    try:
        year, month = text.strip().split("-")
        if len(year) != 4 or not 1 <= len(month) <= 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"a month looks like YYYY-MM (e.g. 2020-01), got {text!r}") from None


def month_of(moment: datetime) -> date:
    """The local (Asia/Ho_Chi_Minh) month of an instant, e.g. an Airflow data interval start."""
    local = moment.astimezone(LOCAL_TZ) if moment.tzinfo else moment
    return date(local.year, local.month, 1)


def local_instant(moment: datetime) -> datetime:
    """An instant as a naive Asia/Ho_Chi_Minh time, the way the source systems stamp theirs
    (e.g. an Airflow data interval end, as the end of a change window)."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None) if moment.tzinfo else moment


def calendar_window(month: date) -> tuple[date, date]:
    """First and last day of the calendar month."""
    return month_start(month), last_day(month)


def official_window(month: date) -> tuple[date, date]:
    """First and last day of the month's official window (15th of the previous month → 14th)."""
    first = previous_month(month) + timedelta(days=OFFICIAL_WINDOW_FIRST_DAY - 1)
    return first, month_start(month) + timedelta(days=OFFICIAL_WINDOW_FIRST_DAY - 2)


WINDOWS = {"calendar": calendar_window, "official": official_window}
