"""Reference computation of the one-stop indicators, straight from dossier dicts.

Written in plain Python and independently of the dbt SQL so that tests can compare the
warehouse's numbers against a second implementation of the same definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

ONLINE_RATE_L34 = "dossier.online_rate_l34"
EARLY_RATE = "dossier.early_rate"
LATE_RATE = "dossier.late_rate"
INDICATORS = (ONLINE_RATE_L34, EARLY_RATE, LATE_RATE)

KpiKey = tuple[str, str, date]
KpiValue = tuple[int, int, float | None]

_ONLINE_LEVELS = frozenset({"3", "4"})
_RESOLVED = frozenset({"9", "10"})
_ONLINE_CHANNEL = "2"


def _day(ts: Any) -> date | None:
    """Date part of a ``yyyyMMddHHmmss`` timestamp; None when absent."""
    if ts is None:
        return None
    text = str(ts).strip()
    if len(text) < 8:
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _month(day: date) -> date:
    return day.replace(day=1)


def _code(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def compute_monthly_kpis(
    dossiers: Iterable[Mapping[str, Any]],
    months: list[date],
    agency_codes: list[str],
) -> dict[KpiKey, KpiValue]:
    """(agency, indicator, month_start) → (numerator, denominator, value or None if den = 0).

    Every agency × indicator × requested month is present, with zeros where nothing happened.
    """
    wanted_months = {_month(m) for m in months}
    wanted_agencies = set(agency_codes)
    counts: dict[KpiKey, list[int]] = {
        (agency, indicator, month): [0, 0]
        for agency in wanted_agencies
        for indicator in INDICATORS
        for month in wanted_months
    }

    for d in dossiers:
        agency = d.get("DonViXuLy")
        if agency not in wanted_agencies:
            continue

        received = _day(d.get("NgayTiepNhan"))
        if _code(d.get("MucDo")) in _ONLINE_LEVELS and received is not None:
            month = _month(received)
            if month in wanted_months:
                cell = counts[(agency, ONLINE_RATE_L34, month)]
                cell[1] += 1
                if _code(d.get("KenhThucHien")) == _ONLINE_CHANNEL:
                    cell[0] += 1

        if _code(d.get("TrangThaiHoSo")) in _RESOLVED:
            finished = _day(d.get("NgayKetThucXuLy")) or _day(d.get("NgayTra"))
            if finished is None or _month(finished) not in wanted_months:
                continue
            month = _month(finished)
            due = _day(d.get("NgayHenTra"))
            early_cell = counts[(agency, EARLY_RATE, month)]
            late_cell = counts[(agency, LATE_RATE, month)]
            early_cell[1] += 1
            late_cell[1] += 1
            if due is not None and finished < due:
                early_cell[0] += 1
            if due is not None and finished > due:
                late_cell[0] += 1

    return {key: (num, den, (num / den) if den else None) for key, (num, den) in counts.items()}
