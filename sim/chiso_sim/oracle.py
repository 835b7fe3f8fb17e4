"""Reference computation of every indicator of ``docs/indicator-rules.md``, in plain Python.

The warehouse computes the same indicators in dbt SQL. This module is the second, independent
implementation of that spec, written from the spec alone and fed straight from the simulator's
generators, so that an end-to-end test can compare the two: an error in either (a wrong join,
an off-by-one window, a stock summed over months) shows up as a mismatch.

Shape of the computation: each source record is turned once into a small immutable "fact"
(dates parsed, flags decoded, working days counted); each period is then computed directly
from those facts, never by adding smaller periods up, because distinct counts and stocks of a
quarter are not the sum of its months.

Agency attribution uses the code carried by the record (``DonViXuLy``, ``don_vi``). The spec
resolves a code to the agency *version* valid on the record's anchor date: with
``by_version`` :func:`compute_indicators` does so from the reference file (``ref_agencies.csv``,
:class:`AgencyVersions`) before anything is counted, and keys its results by agency key, which
2025 needs (a merged city's department kept the code of the one it replaced); without it the
code stands for the agency, as in years that reuse none. Only "as reported" values are
computed here; restatement along the agency lineage is :mod:`chiso_sim.oracle_marts`'s.

The warehouse only sees what the source APIs serve for the months it pulls, so
:func:`compute_indicators` reads exactly that: dossiers and documents of the pulled months,
the catalogue snapshot the API returns for each pulled month (``as_of`` = its last day) and
the usage rows of each pulled month (counts as served; the misprinted ``ty_le_hai_long`` is
never read), all as the simulator serves them by default (at the end of its horizon).

Given an instant ``as_of``, it reads the sources as they stood then (the simulator's clock,
:mod:`chiso_sim.clock`), as a warehouse that pulls by change holds them: every dossier and
document received before ``as_of`` (whatever its month), in its state at ``as_of``; the
catalogue snapshot of each pulled month's last day as recorded by ``as_of``; and each pulled
month's usage row as at ``as_of``.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from chiso.core.months import add_months, last_day
from chiso_sim.calendar import default_calendar
from chiso_sim.config import SimulatorConfig

Record = Mapping[str, Any]
IndicatorKey = tuple[str, str, str, str]  # (agency_code, indicator_code, calendar, period_key)
IndicatorValue = tuple[int, int | None, float | None]  # (numerator, denominator, value)
Result = dict[IndicatorKey, IndicatorValue]

# --- indicator codes -----------------------------------------------------------------------
DOSSIER_COUNTS: tuple[str, ...] = (
    "dossier.received",
    "dossier.resolved",
    "dossier.withdrawn",
    "dossier.returned",
    "dossier.carried_over",
    "dossier.in_progress",
    "dossier.open_overdue",
    "dossier.paused",
)
DOSSIER_RATIOS: tuple[str, ...] = (
    "dossier.early_rate",
    "dossier.ontime_rate",
    "dossier.late_rate",
    "dossier.timely_766",
    "dossier.avg_processing_days",
    "dossier.online_rate_l34",
    "bcci.received_rate",
    "bcci.resolved_rate",
    "bcci.procedure_rate",
    "pay.online_rate",
    "digit.dossier_rate",
    "digit.eresult_rate",
    "digit.reuse_rate",
    "id.vneid_rate",
    "pay.procedure_paid_rate",
    "id.vneid_procedure_rate",
)
SERVICE_INDICATORS: tuple[str, ...] = (
    "dossier.full_online_rate",
    "dossier.full_online_share",
    "svc.l3_provision",
    "svc.l4_provision",
    "svc.l3_used",
    "svc.l4_used",
    "svc.national_integration",
    "svc.full_online_eligible",
    "pay.procedure_payment_rate",
)
USAGE_INDICATORS: tuple[str, ...] = ("sat.rate",)
DOCUMENT_INDICATORS: tuple[str, ...] = (
    "doc.internal_electronic_rate",
    "doc.official_parallel_rate",
    "doc.official_electronic_rate",
    "doc.signed_rate",
    "doc.axis_rate",
    "doc.workfile_online_rate",
    "doc.ontime_rate",
)
# From the summary reports beside the dossiers.
REPORT_INDICATORS: tuple[str, ...] = ("dossier.onestop_coverage",)
DOSSIER_INDICATORS = DOSSIER_COUNTS + DOSSIER_RATIOS
INDICATORS: tuple[str, ...] = (
    DOSSIER_INDICATORS
    + SERVICE_INDICATORS
    + USAGE_INDICATORS
    + DOCUMENT_INDICATORS
    + REPORT_INDICATORS
)
# Indicators without a denominator: value = numerator, denominator None.
COUNT_INDICATORS: frozenset[str] = frozenset(DOSSIER_COUNTS)

# --- periods -------------------------------------------------------------------------------
CALENDARS: tuple[str, ...] = ("calendar", "official")
PERIOD_TYPES: tuple[str, ...] = ("month", "quarter", "half", "year")
_MONTHS_IN = {"month": 1, "quarter": 3, "half": 6, "year": 12}
OFFICIAL_CUTOFF_DAY = 14  # NĐ 09/2019: an official month runs from the 15th to the 14th


@dataclass(frozen=True)
class Period:
    """A reporting period ``[start, end]`` (both days included) of one calendar."""

    calendar: str  # 'calendar' or 'official'
    period_type: str  # 'month' | 'quarter' | 'half' | 'year'
    period_key: str  # '2020-01', '2020-Q1', '2020-H1', '2020' (same keys in both calendars)
    start: date
    end: date

    def contains(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def _window(calendar: str, first_month: date, last_month: date) -> tuple[date, date]:
    """Days covered by the months ``first_month..last_month`` in ``calendar``.

    Official periods end on the 14th of their last month and start the day after the previous
    period's end, so every official period is the calendar one shifted back by a half month.
    """
    if calendar == "calendar":
        return first_month, last_day(last_month)
    if calendar == "official":
        start = add_months(first_month, -1).replace(day=OFFICIAL_CUTOFF_DAY + 1)
        return start, last_month.replace(day=OFFICIAL_CUTOFF_DAY)
    raise ValueError(f"unknown calendar {calendar!r}; expected one of {CALENDARS}")


def _key(period_type: str, first_month: date) -> str:
    year, month = first_month.year, first_month.month
    if period_type == "month":
        return f"{year}-{month:02d}"
    if period_type == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    if period_type == "half":
        return f"{year}-H{(month - 1) // 6 + 1}"
    return f"{year}"


def period_containing(calendar: str, period_type: str, month: date) -> Period:
    """The ``period_type`` period of ``calendar`` whose reference months include ``month``.

    Periods are named after calendar months (official 2020-Q1 ends on 14/03/2020 and covers the
    official months 2020-01..2020-03), so the key does not depend on the calendar.
    """
    if period_type not in _MONTHS_IN:
        raise ValueError(f"unknown period type {period_type!r}; expected one of {PERIOD_TYPES}")
    size = _MONTHS_IN[period_type]
    first = date(month.year, (month.month - 1) // size * size + 1, 1)
    start, end = _window(calendar, first, add_months(first, size - 1))
    return Period(calendar, period_type, _key(period_type, first), start, end)


def periods_between(first_month: date, last_month: date) -> list[Period]:
    """Months ``first_month..last_month`` of both calendars, plus every quarter, half and year
    (of both calendars) containing one of them.

    Sorted by calendar, period type (month, quarter, half, year), then start.
    """
    first, last = first_month.replace(day=1), last_month.replace(day=1)
    found: dict[tuple[str, str, str], Period] = {}
    month = first
    while month <= last:
        for cal in CALENDARS:
            for ptype in PERIOD_TYPES:
                p = period_containing(cal, ptype, month)
                found[(p.calendar, p.period_type, p.period_key)] = p
        month = add_months(month, 1)
    return sorted(
        found.values(),
        key=lambda p: (CALENDARS.index(p.calendar), PERIOD_TYPES.index(p.period_type), p.start),
    )


# --- parsing -------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    """Stripped text, None for None or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _ts_day(value: Any) -> date | None:
    """Date of a one-stop ``yyyyMMddHHmmss`` timestamp (None when absent)."""
    text = _text(value)
    if text is None or len(text) < 8 or not text[:8].isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _iso_day(value: Any) -> date | None:
    """Date of an ISO date or ``YYYY-MM-DD HH:MM:SS`` timestamp (None when absent)."""
    text = _text(value)
    return None if text is None else date.fromisoformat(text[:10])


def _flag(value: Any) -> bool:
    """Source booleans are '1'/'0' text; anything but a true spelling is false."""
    text = _text(value)
    return text is not None and text.lower() in {"1", "true", "t"}


def _amount(value: Any) -> Decimal:
    """A fee as printed by the source; unreadable or missing counts as no fee."""
    text = _text(value)
    if text is None:
        return Decimal(0)
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


def effective_level(level: Any, *, map_levels: bool = True) -> int | None:
    """Service level 1–4; NĐ 42/2022 grades map ``toan_trinh`` → 4, ``mot_phan`` → 3.

    The mapping is unverified (spec, "Service level"): with ``map_levels=False`` post-2022
    grades have no level, like the dbt variable ``map_service_level_to_legacy`` = false.
    """
    text = _text(level)
    if text in {"1", "2", "3", "4"}:
        return int(text)
    if map_levels and text == "toan_trinh":
        return 4
    if map_levels and text == "mot_phan":
        return 3
    return None


# --- working days --------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _working_ordinals(year: int) -> tuple[int, ...]:
    """Sorted ordinals of the year's working days (default calendar): counting is bisection."""
    cal = default_calendar()
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    return tuple(o for o in range(first, last + 1) if cal.is_working_day(date.fromordinal(o)))


def working_days(a: date, b: date) -> int:
    """Working days ``d`` with ``a < d ≤ b`` (0 when ``b ≤ a``): the spec's processing time."""
    if b <= a:
        return 0
    lo, hi = a.toordinal(), b.toordinal()
    total = 0
    for year in range(a.year, b.year + 1):
        ordinals = _working_ordinals(year)
        total += bisect_right(ordinals, hi) - bisect_right(ordinals, lo)
    return total


def nth_working_day(day: date, n: int) -> date:
    """The ``n``-th working day after ``day``; for ``n = 0``, ``day`` if it is a working day,
    else the last one before it (a due date counted from a day off)."""
    year = day.year
    ordinals = _working_ordinals(year)
    i = bisect_right(ordinals, day.toordinal())  # working days of the year up to ``day``
    if n <= 0:
        while i == 0:
            year -= 1
            ordinals = _working_ordinals(year)
            i = len(ordinals)
        return date.fromordinal(ordinals[i - 1])
    i += n - 1
    while i >= len(ordinals):
        i -= len(ordinals)
        year += 1
        ordinals = _working_ordinals(year)
    return date.fromordinal(ordinals[i])


# --- legal time limits (catalogue thoi_han_giai_quyet) ---------------------------------------
_LIMIT_NUMBER = re.compile(r"\s*(\d{1,3})\s*")
_LIMIT_WORKING_DAYS = re.compile(r"(\d{1,3})\s*ngày\s*làm\s*việc", re.IGNORECASE)
_LIMIT_SAME_DAY = re.compile(r"\s*(ngay\s+)?trong\s+ngày\s*", re.IGNORECASE)


def time_limit_days(value: Any) -> int | None:
    """The working days a printed time limit states: "15", "15 ngày làm việc", "Không quá 05
    ngày làm việc …" (15, 5), "Trong ngày" (0); None for anything else (calendar days, hours)."""
    text = _text(value)
    if text is None:
        return None
    if m := _LIMIT_NUMBER.fullmatch(text):
        return int(m[1])
    if m := _LIMIT_WORKING_DAYS.search(text):
        return int(m[1])
    return 0 if _LIMIT_SAME_DAY.fullmatch(text) else None


class TimeLimits:
    """Each agency's time limit per procedure across catalogue snapshots: the one in force at a
    dossier's acceptance is the latest snapshot on or before it that states one, else the
    earliest that does."""

    def __init__(self, catalogue: Iterable[Record] = ()) -> None:
        stated: defaultdict[tuple[str, str], dict[date, int]] = defaultdict(dict)
        for r in catalogue:
            agency, procedure = _text(r.get("don_vi")), _text(r.get("ma_tthc"))
            snapshot = _iso_day(r.get("ngay_chot"))
            days = time_limit_days(r.get("thoi_han_giai_quyet"))
            if agency and procedure and snapshot and days is not None:
                stated[(agency, procedure)][snapshot] = days
        self._stated = {key: sorted(by_day.items()) for key, by_day in stated.items()}

    def at(self, agency: str, procedure: str | None, day: date) -> int | None:
        entries = self._stated.get((agency, procedure or ""))
        if not entries:
            return None
        i = bisect_right(entries, (day, 10**6))
        return entries[i - 1][1] if i else entries[0][1]


# --- accumulating numerators and denominators ----------------------------------------------
Mark = tuple[str, int]  # (indicator code, numerator contribution) of one record; denominator +1


class _Tally:
    """Numerators and denominators of one period, per (agency, indicator).

    Callers only feed records of the requested agencies; :meth:`emit` writes exactly those.
    """

    def __init__(self, agencies: frozenset[str]) -> None:
        self.agencies = agencies
        self.num: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.den: defaultdict[tuple[str, str], int] = defaultdict(int)

    def ratio(self, agency: str, code: str, hit: bool, weight: int = 1) -> None:
        """One record in the denominator; in the numerator with ``weight`` when ``hit``."""
        key = (agency, code)
        self.den[key] += 1
        if hit:
            self.num[key] += weight

    def count(self, agency: str, code: str) -> None:
        self.num[(agency, code)] += 1

    def add(self, agency: str, code: str, num: int, den: int) -> None:
        key = (agency, code)
        self.num[key] += num
        self.den[key] += den

    def marks(self, agency: str, marks: Iterable[Mark]) -> None:
        """A record's precomputed contributions (a count's denominator is never read)."""
        for code, num in marks:
            key = (agency, code)
            self.den[key] += 1
            self.num[key] += num

    def emit(self, period: Period, codes: Sequence[str], out: Result) -> None:
        """Every agency × code of the period, zeros included."""
        for agency in self.agencies:
            for code in codes:
                key = (agency, code)
                num = self.num.get(key, 0)
                out_key = (agency, code, period.calendar, period.period_key)
                if code in COUNT_INDICATORS:
                    out[out_key] = (num, None, float(num))
                else:
                    den = self.den.get(key, 0)
                    out[out_key] = (num, den, num / den if den else None)


# --- dossiers ------------------------------------------------------------------------------
RESOLVED, WITHDRAWN, RETURNED, OPEN = "resolved", "withdrawn", "returned", "open"
_OUTCOMES = {"9": RESOLVED, "10": RESOLVED, "7": WITHDRAWN, "3": RETURNED, "8": RETURNED}
ONLINE, BCCI, COUNTER = "2", "3", "1"


@dataclass(frozen=True, slots=True)
class DossierFact:
    """What the indicators need of one dossier, decoded once. ``agency`` received it;
    ``custody`` lists the days it passed to another agency (its agency ended while it was
    open: :func:`agency_on` says who held it on a day)."""

    agency: str
    procedure: str | None
    received: date
    outcome: str
    finish: date | None  # None exactly when open
    due: date | None  # the official due date (_official_due)
    level: int | None
    channel: str  # missing channel = over the counter
    by_post: bool
    fee_positive: bool
    paid_online: bool
    digitised: bool
    e_result: bool
    reuse: bool
    vneid: bool
    supplements: tuple[tuple[date, date | None], ...]  # (requested, supplied or None)
    processing_days: int  # working_days(received, finish) less the paused days; 0 while open
    refused: bool = False  # status 3: refused at the desk, never accepted
    returns_result: bool = True  # the procedure hands out a result document (catalogue)
    citizen: bool = False  # LoaiDoiTuong 1: the applicant is a person
    custody: tuple[tuple[date, str], ...] = ()  # (day it passed, agency that took it over)

    def agency_on(self, day: date) -> str:
        """The agency holding the dossier at the end of ``day``."""
        holder = self.agency
        for passed, agency in self.custody:
            if passed <= day:
                holder = agency
        return holder

    def open_at(self, day: date) -> bool:
        """Open at the end of ``day``: received by then and not finished by then."""
        return self.received <= day and (self.finish is None or self.finish > day)

    def supplements_by(self, day: date) -> int:
        """Supplement requests made on or before ``day``."""
        return sum(requested <= day for requested, _ in self.supplements)

    def paused_at(self, day: date) -> bool:
        """A supplement requested by ``day`` and not yet supplied at the end of ``day``."""
        return any(
            requested <= day and (supplied is None or supplied > day)
            for requested, supplied in self.supplements
        )


_NO_LIMITS = TimeLimits()

# --- procedures that return no result (catalogue ket_qua_thuc_hien) --------------------------
_NO_RESULT = re.compile(r"\s*không(\s+(có|quy\s+định|cấp))?(\s+kết\s+quả)?\s*\.?\s*", re.IGNORECASE)


def states_a_result(value: Any) -> bool | None:
    """What a printed ket_qua_thuc_hien says: False for "Không", "Không có", "Không có kết
    quả", "Không quy định"; True for a document named; None when blank."""
    text = _text(value)
    if text is None:
        return None
    return not _NO_RESULT.fullmatch(text)


def procedures_without_result(catalogue: Iterable[Record]) -> frozenset[str]:
    """Procedure codes whose catalogue says they hand out no result document: each offering
    (agency × procedure) speaks through its latest snapshot; of those that state something,
    the latest snapshot wins, ties to the lowest agency code. A procedure none speaks of is
    taken to return one."""
    current: dict[tuple[str, str], tuple[date, bool | None]] = {}
    for r in catalogue:
        agency, procedure = _text(r.get("don_vi")), _text(r.get("ma_tthc"))
        snapshot = _iso_day(r.get("ngay_chot"))
        if agency is None or procedure is None or snapshot is None:
            continue
        seen = current.get((agency, procedure))
        if seen is None or snapshot > seen[0]:
            current[(agency, procedure)] = (snapshot, states_a_result(r.get("ket_qua_thuc_hien")))
    latest: dict[str, tuple[date, str, bool]] = {}
    for (agency, procedure), (snapshot, stated) in current.items():
        if stated is None:
            continue
        best = latest.get(procedure)
        if best is None or snapshot > best[0] or (snapshot == best[0] and agency < best[1]):
            latest[procedure] = (snapshot, agency, stated)
    return frozenset(code for code, (_, _, stated) in latest.items() if not stated)


_FINISHING_STATUSES = frozenset({"7", "8", "9", "10"})


def _finish_date(status: str | None, outcome: str, record: Record, received: date) -> date | None:
    """End date of a closed dossier; status 3 (refused at the desk) ends the day it came in.

    A vendor may leave both end dates empty: the first progress event that closed the dossier
    says when, else the record's last change (it closed by then), and only then the acceptance
    date (the warehouse flags each fallback: finish_date_basis)."""
    if outcome == OPEN:
        return None
    if status == "3":
        return received
    recorded = _ts_day(record.get("NgayKetThucXuLy")) or _ts_day(record.get("NgayTra"))
    if recorded is not None:
        return recorded
    closing = sorted(
        at
        for e in record.get("CapNhatTienDo") or ()
        if _text(e.get("TrangThai")) in _FINISHING_STATUSES
        and (at := _ts_day(e.get("ThoiDiem"))) is not None
    )
    return (closing[0] if closing else None) or _ts_day(record.get("NgayCapNhat")) or received


def _requests(record: Record) -> list[Record]:
    return sorted(
        record.get("DanhSachHoSoBoSung") or (), key=lambda s: int(_text(s.get("LanBoSung")) or 0)
    )


def _due_date(record: Record) -> date | None:
    """NgayHenTra; when the vendor left it empty, what the supplement requests say it was: the
    new due date of the last answered request, else the first request's previous one."""
    due = _ts_day(record.get("NgayHenTra"))
    if due is not None:
        return due
    requests = [s for s in _requests(record) if _ts_day(s.get("NgayYeuCau"))]
    answered = [
        d
        for s in requests
        if _ts_day(s.get("NgayBoSung")) and (d := _ts_day(s.get("NgayHenTraMoi")))
    ]
    if answered:
        return answered[-1]
    return _ts_day(requests[0].get("NgayHenTraCu")) if requests else None


def _official_due(record: Record, received: date, limit: int | None) -> date | None:
    """The due date timeliness is judged on (docs/indicator-rules.md, "Due dates"): acceptance
    plus the legal time limit plus the working days each answered supplement request stopped
    the clock; without a limit, the first appointment (the first request's NgayHenTraCu, else
    NgayHenTra when nothing paused) moved by those days; else the current NgayHenTra. A date
    the vendor rewrote after a delay apology (Mẫu 04) never replaces the first two."""
    requests = _requests(record)
    paused = 0
    for s in requests:
        requested, supplied = _ts_day(s.get("NgayYeuCau")), _ts_day(s.get("NgayBoSung"))
        if requested is not None and supplied is not None:
            paused += working_days(requested, supplied)
    if limit is not None:
        return nth_working_day(received, limit + paused)
    replaced = _ts_day(requests[0].get("NgayHenTraCu")) if requests else None
    if paused == 0 and (first := replaced or _ts_day(record.get("NgayHenTra"))) is not None:
        return first
    if paused > 0 and replaced is not None:
        return nth_working_day(replaced, paused)
    return _due_date(record)


def _supplements(record: Record) -> tuple[tuple[date, date | None], ...]:
    """Supplement requests with a request date (an undated request cannot be placed in time)."""
    out = []
    for s in record.get("DanhSachHoSoBoSung") or ():
        requested = _ts_day(s.get("NgayYeuCau"))
        if requested is not None:
            out.append((requested, _ts_day(s.get("NgayBoSung"))))
    return tuple(out)


def _paused_days(supplements: Sequence[tuple[date, date | None]], finish: date) -> int:
    """Working days the applicant held a closed dossier: from each request to its answer, or
    to the finish when none came (the clock stays stopped), never past the finish."""
    total = 0
    for requested, supplied in supplements:
        end = finish if supplied is None else min(supplied, finish)
        if end > requested:
            total += working_days(requested, end)
    return total


_CLOSING_STEPS = frozenset({"7", "8", "9", "10"})


def _custody(record: Record) -> tuple[str | None, tuple[tuple[date, str], ...]]:
    """The agency that received a dossier and the days it passed to another: progress rows
    that name their agency (a transferred dossier's do) say who acted when, while the dossier
    was open (up to the first update that closed it: what comes after, such as a result
    returned, hands nothing over); without them the record's DonViXuLy held it throughout.
    Agencies are compared as given: codes, or version keys (:class:`AgencyVersions`)."""
    rows = sorted(
        (e for e in record.get("CapNhatTienDo") or () if isinstance(e, Mapping)),
        key=lambda e: int(_text(e.get("ThuTu")) or 0),
    )
    closing = min(
        (str(_text(e.get("ThoiDiem"))) for e in rows if _text(e.get("TrangThai")) in _CLOSING_STEPS
         and _text(e.get("ThoiDiem"))),
        default=None,
    )  # fmt: skip
    acted = [
        (_ts_day(e.get("ThoiDiem")), _text(e.get("DonViXuLy")), _text(e.get("ThoiDiem")))
        for e in rows
    ]
    acted = [(day, agency, at) for day, agency, at in acted if day is not None and agency]
    if not acted:
        return _text(record.get("DonViXuLy")), ()
    holder, passed = acted[0][1], []
    for day, agency, at in acted[1:]:
        if agency != holder and (closing is None or str(at) <= closing):
            passed.append((day, agency))
        holder = agency
    return acted[0][1], tuple(passed)


def dossier_fact(
    record: Record,
    *,
    map_levels: bool = True,
    limits: TimeLimits | None = None,
    without_result: frozenset[str] = frozenset(),
) -> DossierFact | None:
    """The fact of one dossier; None when it has no agency or acceptance date (no anchor).
    ``limits``: the catalogue's time limits (none known without); ``without_result``: the
    procedures that hand out no result document (:func:`procedures_without_result`)."""
    agency, custody = _custody(record)
    received = _ts_day(record.get("NgayTiepNhan"))
    if agency is None or received is None:
        return None
    status = _text(record.get("TrangThaiHoSo"))
    procedure = _text(record.get("MaTTHC"))
    outcome = _OUTCOMES.get(status or "", OPEN)
    finish = _finish_date(status, outcome, record, received)
    supplements = _supplements(record)
    processing = 0
    if finish is not None:
        processing = max(0, working_days(received, finish) - _paused_days(supplements, finish))
    return DossierFact(
        agency=agency,
        procedure=procedure,
        received=received,
        outcome=outcome,
        finish=finish,
        due=_official_due(record, received, (limits or _NO_LIMITS).at(agency, procedure, received)),
        level=effective_level(record.get("MucDo"), map_levels=map_levels),
        channel=_text(record.get("KenhThucHien")) or COUNTER,
        by_post=_text(record.get("HinhThucTra")) == "1",
        fee_positive=_amount(record.get("PhiLePhi")) > 0,
        # 2: paid through the provincial payment gateway
        paid_online=_flag(record.get("DuocThanhToanTrucTuyen"))
        or _text(record.get("DuocThanhToanTrucTuyen")) == "2",
        digitised=_flag(record.get("HoSoCoThanhPhanSoHoa")),
        e_result=_flag(record.get("CoKetQuaDienTu")),
        reuse=_flag(record.get("TaiSuDungDuLieuSoHoa")),
        vneid=_flag(record.get("TaiKhoanDuocXacThucVoiVNeID")),
        supplements=supplements,
        processing_days=processing,
        refused=status == "3",
        returns_result=procedure not in without_result,
        citizen=_text(record.get("LoaiDoiTuong")) == "1",
        custody=custody,
    )


def dossier_facts(
    dossiers: Iterable[Record],
    *,
    map_levels: bool = True,
    limits: TimeLimits | None = None,
    without_result: frozenset[str] = frozenset(),
) -> list[DossierFact]:
    """Facts of the anchored dossiers, sorted by acceptance date (periods then cut a prefix)."""
    facts = (
        dossier_fact(d, map_levels=map_levels, limits=limits, without_result=without_result)
        for d in dossiers
    )
    return sorted((f for f in facts if f is not None), key=lambda f: f.received)


def _received_marks(f: DossierFact) -> tuple[Mark, ...]:
    """What a dossier adds to a period it was received in (``bcci.resolved_rate`` aside: it
    depends on the period's end). A dossier refused at the desk (status 3) counts as received
    but in no rate: it was never accepted, so it is no one's online, BCCI or paid dossier."""
    if f.refused:
        return (("dossier.received", 1),)
    marks: list[Mark] = [
        ("dossier.received", 1),
        ("bcci.received_rate", f.channel == BCCI),
        ("digit.dossier_rate", f.digitised),
        ("digit.reuse_rate", f.reuse),
    ]
    if f.level in (3, 4):
        marks.append(("dossier.online_rate_l34", f.channel == ONLINE))
    if f.fee_positive:
        marks.append(("pay.online_rate", f.paid_online))
    if f.channel == ONLINE:
        marks.append(("id.vneid_rate", f.vneid))
    return tuple(marks)


def _finished_marks(f: DossierFact) -> tuple[Mark, ...]:
    """What a dossier adds to the period containing its finish date."""
    if f.outcome == WITHDRAWN:
        return (("dossier.withdrawn", 1),)
    if f.outcome == RETURNED:
        return (("dossier.returned", 1),)
    if f.outcome != RESOLVED or f.finish is None:
        return ()
    due, finish = f.due, f.finish
    timely = due is not None and finish <= due and f.supplements_by(finish) <= 1
    marks: tuple[Mark, ...] = (
        ("dossier.resolved", 1),
        ("dossier.early_rate", due is not None and finish < due),
        ("dossier.ontime_rate", due is not None and finish == due),
        ("dossier.late_rate", due is not None and finish > due),
        ("dossier.timely_766", timely),
        ("dossier.avg_processing_days", f.processing_days),
    )
    # QĐ 766 item 4.1: over the resolved dossiers of procedures that return a result
    return (*marks, ("digit.eresult_rate", f.e_result)) if f.returns_result else marks


def _tally_open_at_end(f: DossierFact, end: date, t: _Tally) -> None:
    """Stocks at the end of P (``f`` is open at the end of ``end``)."""
    a = f.agency_on(end)
    t.count(a, "dossier.in_progress")
    # waiting for the applicant's supplement: the clock is stopped, so neither overdue nor
    # behind (QĐ 766 2.1 still counts a second request as late)
    paused = f.paused_at(end)
    if f.due is not None and f.due < end and not paused:
        t.count(a, "dossier.open_overdue")
    if paused:
        t.count(a, "dossier.paused")
    within = paused or (f.due is not None and f.due >= end)
    timely = within and f.supplements_by(end) <= 1
    t.ratio(a, "dossier.timely_766", timely)


def _tally_bcci_procedures(facts: Iterable[DossierFact], t: _Tally) -> None:
    """Distinct procedures per agency among dossiers received in P (not additive over P).

    A dossier without a procedure code names no procedure (as ``count(distinct)`` in SQL).
    """
    seen: dict[str, set[str]] = defaultdict(set)
    by_post: dict[str, set[str]] = defaultdict(set)
    for f in facts:
        if f.procedure is None:
            continue
        seen[f.agency].add(f.procedure)
        if f.channel == BCCI or f.by_post:
            by_post[f.agency].add(f.procedure)
    for agency, procedures in seen.items():
        t.add(agency, "bcci.procedure_rate", len(procedures & by_post[agency]), len(procedures))


def _tally_procedure_sets(facts: Iterable[DossierFact], t: _Tally) -> None:
    """Distinct procedures among the dossiers received in P (QĐ 766 items 3.5b and 4.5a):
    fee-bearing ones with a dossier paid online, citizens' ones with a VNeID-verified one."""
    sets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in facts:
        if f.procedure is None:
            continue
        if f.fee_positive:
            sets[(f.agency, "fee")].add(f.procedure)
            if f.paid_online:
                sets[(f.agency, "paid")].add(f.procedure)
        if f.citizen:
            sets[(f.agency, "citizen")].add(f.procedure)
            if f.vneid:
                sets[(f.agency, "vneid")].add(f.procedure)
    for agency in {a for a, _ in sets}:
        fee, citizen = sets[(agency, "fee")], sets[(agency, "citizen")]
        if fee:
            t.add(agency, "pay.procedure_paid_rate", len(sets[(agency, "paid")]), len(fee))
        if citizen:
            t.add(agency, "id.vneid_procedure_rate", len(sets[(agency, "vneid")]), len(citizen))


@dataclass(frozen=True, slots=True)
class _Marked:
    """A dossier with its period-independent contributions, computed once."""

    fact: DossierFact
    on_received: tuple[Mark, ...]
    on_finished: tuple[Mark, ...]


def _dossier_period(
    dossiers: Sequence[_Marked], received: Sequence[date], p: Period, t: _Tally
) -> None:
    """One period from ``dossiers`` sorted by acceptance (``received`` = their dates)."""
    before = p.start - timedelta(days=1)
    received_in_p = []
    for m in dossiers[: bisect_right(received, p.end)]:
        f = m.fact
        if f.received >= p.start:
            if not f.refused:
                received_in_p.append(f)
            t.marks(f.agency, m.on_received)
            if f.channel == BCCI and not f.refused:
                by_end = f.outcome == RESOLVED and f.finish is not None and f.finish <= p.end
                t.ratio(f.agency, "bcci.resolved_rate", by_end)
        if f.finish is not None and p.start <= f.finish <= p.end:
            t.marks(f.agency_on(f.finish), m.on_finished)
        if f.open_at(before):
            # carried into P by whoever holds it as P begins: a dossier handed over on the
            # first morning (1 July 2025) is its successor's, never a ghost of the old agency
            t.count(f.agency_on(p.start), "dossier.carried_over")
        if f.open_at(p.end):
            _tally_open_at_end(f, p.end, t)
    _tally_bcci_procedures(received_in_p, t)
    _tally_procedure_sets(received_in_p, t)


def dossier_indicators(
    dossiers: Iterable[Record],
    periods: Iterable[Period],
    agencies: Iterable[str],
    *,
    map_levels: bool = True,
    catalogue: Iterable[Record] = (),
) -> Result:
    """``dossier.*`` (except ``full_online_rate``), ``bcci.*``, ``pay.*``, ``digit.*``, ``id.*``
    from one-stop dossier records, for every agency × period; ``catalogue``: the snapshots
    whose time limits give the due dates (without, the first appointments do) and which say
    the procedures that return no result (without, every procedure returns one)."""
    wanted = frozenset(agencies)
    catalogue = list(catalogue)
    limits, without_result = TimeLimits(catalogue), procedures_without_result(catalogue)
    facts = dossier_facts(
        dossiers, map_levels=map_levels, limits=limits, without_result=without_result
    )
    marked = [
        _Marked(f, _received_marks(f), _finished_marks(f)) for f in facts if f.agency in wanted
    ]
    received = [m.fact.received for m in marked]
    out: Result = {}
    for p in periods:
        tally = _Tally(wanted)
        _dossier_period(marked, received, p, tally)
        tally.emit(p, DOSSIER_INDICATORS, out)
    return out


# --- summary reports -----------------------------------------------------------------------
def coverage_indicators(
    reports: Mapping[date, Iterable[Record]],
    dossiers: Iterable[Record],
    periods: Iterable[Period],
    agencies: Iterable[str],
) -> Result:
    """``dossier.onestop_coverage`` from the summary reports of each month (``month`` → rows
    of ``one_stop.aggregate_reports``, the agency's code in ``ma_dong``): over the calendar
    months of the period with a report row for the agency, the dossiers received in the
    e-one-stop system over the received count (``tiep_nhan_trong_ky``) the report prints.
    Months without a report are in neither; a month whose report prints fewer than the
    system holds counts the system's (all dossiers are at least those); official periods get
    0 / 0."""
    wanted = frozenset(agencies)
    printed: dict[tuple[str, date], int] = defaultdict(int)
    for month, rows in reports.items():
        for r in rows:
            agency = _text(r.get("ma_dong"))
            if r.get("loai_dong") == "body" and agency in wanted:
                printed[(agency, month.replace(day=1))] += _count(r.get("tiep_nhan_trong_ky"))
    held: Counter[tuple[str, date]] = Counter(
        (f.agency, f.received.replace(day=1)) for f in dossier_facts(dossiers) if f.agency in wanted
    )
    out: Result = {}
    for p in periods:
        tally = _Tally(wanted)
        if p.calendar == "calendar":
            for (agency, month), n in printed.items():
                if p.start <= month <= p.end:
                    system = held[(agency, month)]
                    tally.add(agency, "dossier.onestop_coverage", system, max(n, system))
        tally.emit(p, REPORT_INDICATORS, out)
    return out


# --- portal catalogue ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CatalogueRow:
    """One procedure of an agency's catalogue snapshot."""

    agency: str
    snapshot: date
    procedure: str
    level: int | None
    offered: bool  # status is not 'dung' (discontinued)
    eligible: bool  # eligible for fully-online provision
    integrated: bool  # integrated with the national portal
    fee: bool = False  # fee-bearing (co_phi)
    payment: bool = False  # online payment enabled (thanh_toan_truc_tuyen)


def catalogue_row(record: Record, *, map_levels: bool = True) -> CatalogueRow | None:
    agency, procedure = _text(record.get("don_vi")), _text(record.get("ma_tthc"))
    snapshot = _iso_day(record.get("ngay_chot"))
    if agency is None or procedure is None or snapshot is None:
        return None
    return CatalogueRow(
        agency=agency,
        snapshot=snapshot,
        procedure=procedure,
        level=effective_level(record.get("muc_do"), map_levels=map_levels),
        offered=_text(record.get("trang_thai")) != "dung",
        eligible=_flag(record.get("du_dieu_kien_toan_trinh")),
        integrated=_flag(record.get("tich_hop_dvcqg")),
        fee=_flag(record.get("co_phi")),
        payment=_flag(record.get("thanh_toan_truc_tuyen")),
    )


@dataclass(frozen=True)
class _Snapshot:
    """An agency's catalogue snapshot, with what does not depend on the period worked out."""

    rows: Mapping[str, CatalogueRow]  # every row by procedure code, discontinued ones too
    provision: tuple[Mark, ...]  # svc.* contributions of the offerings, except "used"
    level3: frozenset[str]  # offered procedures at effective level 3
    level4: frozenset[str]

    @classmethod
    def of(cls, rows: Mapping[str, CatalogueRow]) -> _Snapshot:
        offered = [r for r in rows.values() if r.offered]
        return cls(
            rows,
            tuple(mark for r in offered for mark in _offering_marks(r)),
            frozenset(r.procedure for r in offered if r.level == 3),
            frozenset(r.procedure for r in offered if r.level == 4),
        )


_NO_SNAPSHOT = _Snapshot({}, (), frozenset(), frozenset())


def _offering_marks(row: CatalogueRow) -> tuple[Mark, ...]:
    """What one offering adds to the catalogue ratios of every period using its snapshot."""
    level = row.level or 0
    marks: list[Mark] = [("svc.l3_provision", level >= 3), ("svc.l4_provision", level == 4)]
    if level >= 3:
        marks.append(("svc.national_integration", row.integrated))
    if row.eligible:
        marks.append(("svc.full_online_eligible", level == 4))
    if row.fee:  # QĐ 766 item 3.5
        marks.append(("pay.procedure_payment_rate", row.payment))
    return tuple(marks)


class _Catalogue:
    """Catalogue snapshots indexed by agency and date, to find the snapshot of a period."""

    def __init__(self, rows: Iterable[CatalogueRow]) -> None:
        by_snapshot: dict[tuple[str, date], dict[str, CatalogueRow]] = defaultdict(dict)
        for r in rows:
            by_snapshot[(r.agency, r.snapshot)][r.procedure] = r
        self._snapshots = {key: _Snapshot.of(by_code) for key, by_code in by_snapshot.items()}
        dates: dict[str, list[date]] = defaultdict(list)
        for agency, day in sorted(self._snapshots):
            dates[agency].append(day)
        self._dates = dict(dates)

    def snapshot(self, agency: str, end: date) -> _Snapshot:
        """The agency's latest snapshot on or before ``end`` (empty if it has none)."""
        days = self._dates.get(agency, [])
        i = bisect_right(days, end)
        return self._snapshots[(agency, days[i - 1])] if i else _NO_SNAPSHOT


@dataclass(frozen=True, slots=True)
class _Received:
    """A dossier as the catalogue indicators see it."""

    agency: str
    procedure: str | None
    received: date
    online: bool
    refused: bool  # status 3: refused at the desk, in neither fully-online ratio


def _received_facts(dossiers: Iterable[Record]) -> list[_Received]:
    out = []
    for d in dossiers:
        # the agency that received it (a dossier passed on later stays its receiver's here)
        agency, received = _custody(d)[0], _ts_day(d.get("NgayTiepNhan"))
        if agency is not None and received is not None:
            online = (_text(d.get("KenhThucHien")) or COUNTER) == ONLINE
            refused = _text(d.get("TrangThaiHoSo")) == "3"
            out.append(_Received(agency, _text(d.get("MaTTHC")), received, online, refused))
    return out


def _tally_snapshot(
    agency: str, snapshot: _Snapshot, received: Sequence[_Received], t: _Tally
) -> None:
    """The agency's ``svc.*``, ``dossier.full_online_rate`` and ``_share`` for P.

    ``received`` are its dossiers received in P (those refused at the desk are in neither
    fully-online ratio). Only offered rows (not 'dung') count: full_online_rate's denominator
    needs the procedure eligible, full_online_share's is every dossier; the numerators are
    the online ones of a procedure at effective level 4.
    """
    t.marks(agency, snapshot.provision)
    used = {r.procedure for r in received if r.online}
    t.add(agency, "svc.l3_used", len(snapshot.level3 & used), len(snapshot.level3))
    t.add(agency, "svc.l4_used", len(snapshot.level4 & used), len(snapshot.level4))
    for r in received:
        if r.refused:
            continue
        row = snapshot.rows.get(r.procedure or "")
        offered = row is not None and row.offered
        full = offered and r.online and row is not None and row.level == 4
        # QĐ 942 counts toàn-trình dossiers over every dossier received
        t.ratio(agency, "dossier.full_online_share", full)
        if offered and row is not None and row.eligible:
            t.ratio(agency, "dossier.full_online_rate", full)


def service_indicators(
    catalogue_rows: Iterable[Record],
    dossiers: Iterable[Record],
    periods: Iterable[Period],
    agencies: Iterable[str],
    *,
    map_levels: bool = True,
    ended: Mapping[str, date] | None = None,
) -> Result:
    """``svc.*`` and ``dossier.full_online_rate`` from catalogue snapshot rows and dossiers.

    Each agency uses its own latest snapshot on or before the period's end; an agency with
    none has no offerings and no eligible dossiers in that period, and neither has one that
    ``ended`` (its last day) before the period began.
    """
    wanted = frozenset(agencies)
    rows = (catalogue_row(r, map_levels=map_levels) for r in catalogue_rows)
    catalogue = _Catalogue(r for r in rows if r is not None and r.agency in wanted)
    received = [r for r in _received_facts(dossiers) if r.agency in wanted]
    out: Result = {}
    for p in periods:
        in_p: dict[str, list[_Received]] = defaultdict(list)
        for r in received:
            if p.contains(r.received):
                in_p[r.agency].append(r)
        tally = _Tally(wanted)
        for agency in wanted:
            last = (ended or {}).get(agency)
            gone = last is not None and last < p.start
            snapshot = _NO_SNAPSHOT if gone else catalogue.snapshot(agency, p.end)
            _tally_snapshot(agency, snapshot, in_p[agency], tally)
        tally.emit(p, SERVICE_INDICATORS, out)
    return out


# --- portal usage --------------------------------------------------------------------------
def _count(value: Any) -> int:
    text = _text(value)
    return int(text) if text else 0


def usage_indicators(
    usage_rows: Iterable[Record], periods: Iterable[Period], agencies: Iterable[str]
) -> Result:
    """``sat.rate``: a usage row (one agency-month) belongs to the period containing the first
    day of its month; numerator and denominator are the summed counts, never the printed rate.
    """
    wanted = frozenset(agencies)
    rows = []
    for r in usage_rows:
        agency, month = _text(r.get("don_vi")), _iso_day(r.get("thang"))
        if agency in wanted and month is not None:
            rows.append((agency, month.replace(day=1), r))
    out: Result = {}
    for p in periods:
        tally = _Tally(wanted)
        for agency, month, r in rows:
            if p.contains(month):
                tally.den[(agency, "sat.rate")] += _count(r.get("luot_danh_gia"))
                tally.num[(agency, "sat.rate")] += _count(r.get("luot_hai_long"))
        tally.emit(p, USAGE_INDICATORS, out)
    return out


# --- documents -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DocumentFact:
    """One non-secret document movement of an agency."""

    agency: str
    day: date  # date of ngay_gui_nhan
    sent: bool
    internal: bool
    form: str | None  # dien_tu, giay, song_song
    signed: bool
    axis: bool
    deadline: date | None
    handled: date | None
    workfile: str | None
    workfile_online: bool


def document_fact(record: Record) -> DocumentFact | None:
    """The fact of one movement; None for secret documents and rows without agency or date."""
    agency, day = _text(record.get("don_vi")), _iso_day(record.get("ngay_gui_nhan"))
    if agency is None or day is None or _flag(record.get("do_mat")):
        return None
    return DocumentFact(
        agency=agency,
        day=day,
        sent=_text(record.get("huong")) == "di",
        internal=_flag(record.get("noi_bo")),
        form=_text(record.get("hinh_thuc")),
        signed=_flag(record.get("co_chu_ky_so")),
        axis=_flag(record.get("qua_truc_lien_thong")),
        deadline=_iso_day(record.get("han_xu_ly")),
        handled=_iso_day(record.get("ngay_xu_ly")),
        workfile=_text(record.get("ma_ho_so_cong_viec")),
        workfile_online=_flag(record.get("xu_ly_tren_mang")),
    )


def _tally_document(d: DocumentFact, t: _Tally) -> None:
    """Indicators over documents dated in P."""
    a = d.agency
    electronic = d.form in {"dien_tu", "song_song"}
    if d.sent and d.internal:
        t.ratio(a, "doc.internal_electronic_rate", d.form == "dien_tu")
    if d.sent and not d.internal:
        t.ratio(a, "doc.official_parallel_rate", d.form == "song_song")
        t.ratio(a, "doc.official_electronic_rate", d.form == "dien_tu")
    if d.sent and electronic:
        t.ratio(a, "doc.signed_rate", d.signed)
    if not d.internal:
        t.ratio(a, "doc.axis_rate", d.axis)


def _document_period(facts: Iterable[DocumentFact], p: Period, t: _Tally) -> None:
    files: dict[tuple[str, str], bool] = {}
    for d in facts:
        if p.contains(d.day):
            _tally_document(d, t)
            if d.workfile is not None:
                key = (d.agency, d.workfile)
                files[key] = files.get(key, False) or d.workfile_online
        if d.deadline is not None and p.contains(d.deadline):
            on_time = d.handled is not None and d.handled <= d.deadline
            t.ratio(d.agency, "doc.ontime_rate", on_time)
    for (agency, _), online in files.items():
        t.ratio(agency, "doc.workfile_online_rate", online)


def document_indicators(
    documents: Iterable[Record], periods: Iterable[Period], agencies: Iterable[str]
) -> Result:
    """``doc.*`` from document-management movements (secret documents left out)."""
    wanted = frozenset(agencies)
    facts = [f for f in map(document_fact, documents) if f is not None and f.agency in wanted]
    out: Result = {}
    for p in periods:
        tally = _Tally(wanted)
        _document_period(facts, p, tally)
        tally.emit(p, DOCUMENT_INDICATORS, out)
    return out


# --- everything, from the simulator --------------------------------------------------------
def _data_months(
    cfg: SimulatorConfig, periods: Sequence[Period], data_months: Iterable[date] | None
) -> list[date]:
    """Months the warehouse pulled: given, else the calendar months among ``periods`` (what
    :func:`periods_between` was asked for), else the whole horizon; always within it."""
    horizon = [add_months(cfg.start_month.replace(day=1), i) for i in range(cfg.months)]
    if data_months is None:
        data_months = [
            p.start for p in periods if p.calendar == "calendar" and p.period_type == "month"
        ] or horizon
    wanted = {m.replace(day=1) for m in data_months}
    return [m for m in horizon if m in wanted]


def _pulled_documents(
    cfg: SimulatorConfig, month: date, as_of: datetime | None = None
) -> list[Record]:
    """The month's movements, cut to the API window on ``ngay_gui_nhan`` like the server."""
    from chiso_sim.documents import generate_month

    end = last_day(month)
    rows = generate_month(cfg, month, as_of)
    return [r for r in rows if (day := _iso_day(r.get("ngay_gui_nhan"))) and month <= day <= end]


class AgencyVersions:
    """Which agency version a code belongs to on a day, from ``ref_agencies.csv``: the latest
    version of the code begun by that day, the first one before any began (the rule of
    docs/indicator-rules.md, "Which agency a record belongs to"). A code the file does not
    know stays itself (the warehouse leaves its key null and its test reports it)."""

    def __init__(self, path: Path) -> None:
        versions: dict[str, list[tuple[date, str]]] = defaultdict(list)
        #: the last day of each version that ended
        self.ended: dict[str, date] = {}
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                day = date.fromisoformat(row["valid_from"])
                versions[row["agency_code"]].append((day, row["agency_key"]))
                if row.get("valid_to"):
                    self.ended[row["agency_key"]] = date.fromisoformat(row["valid_to"])
        self._starts = {code: sorted(v) for code, v in versions.items()}

    def key(self, code: str | None, day: date | None) -> str | None:
        versions = self._starts.get(code or "")
        if not versions or day is None:
            return code
        i = bisect_right([start for start, _ in versions], day) - 1
        return versions[max(i, 0)][1]

    def dossier(self, record: Record) -> Record:
        """The dossier with its agency and its progress rows' agencies as version keys, each
        at its own day (the receipt, the update)."""
        out = dict(record)
        agency = _text(record.get("DonViXuLy"))
        if agency is not None:
            out["DonViXuLy"] = self.key(agency, _ts_day(record.get("NgayTiepNhan")))
        progress = record.get("CapNhatTienDo")
        if isinstance(progress, Sequence) and not isinstance(progress, str):
            out["CapNhatTienDo"] = [
                {**e, "DonViXuLy": self.key(actor, _ts_day(e.get("ThoiDiem")))}
                if isinstance(e, Mapping) and (actor := _text(e.get("DonViXuLy")))
                else e
                for e in progress
            ]
        return out

    def row(self, record: Record, field: str, day: date | None) -> Record:
        """A flat row with its agency field (``don_vi``, ``ma_dong``) as the version on ``day``."""
        agency = _text(record.get(field))
        return record if agency is None else {**record, field: self.key(agency, day)}


def _versioned_reports(
    versions: AgencyVersions, reports: Mapping[date, Iterable[Record]]
) -> dict[date, list[Record]]:
    return {
        m: [versions.row(r, "ma_dong", m.replace(day=1)) for r in rows]
        for m, rows in reports.items()
    }


@dataclass(frozen=True)
class Sources:
    """The records the warehouse holds (module docstring), agencies as codes or, ``by_version``,
    as version keys; ``ended``: the last day of each version that ended (by version only)."""

    dossiers: list[Record]
    documents: list[Record]
    catalogue: list[Record]
    usage: list[Record]
    reports: dict[date, list[Record]]
    ended: dict[str, date]


def pulled_sources(
    cfg: SimulatorConfig,
    periods: Sequence[Period],
    *,
    data_months: Iterable[date] | None = None,
    as_of: datetime | None = None,
    reports: Mapping[date, Iterable[Record]] | None = None,
    by_version: bool = False,
) -> Sources:
    """What :func:`compute_indicators` reads: the records of the pulled months, or with an
    instant everything received by then, as the simulator serves them."""
    from chiso_sim import one_stop, portal

    months = _data_months(cfg, periods, data_months)
    held = months
    if as_of is not None:
        held = [m for m in _data_months(cfg, [], None) if datetime.combine(m, time.min) < as_of]
    dossiers = [d for m in held for d in one_stop.generate_month(cfg, m, as_of)]
    documents = [r for m in held for r in _pulled_documents(cfg, m, as_of)]
    catalogue = [r for m in months for r in portal.catalogue_snapshot(cfg, last_day(m), as_of)]
    usage = [r for m in months for r in portal.usage_month(cfg, m, as_of)]
    printed = {m: list(rows) for m, rows in (reports or {}).items()}
    if not by_version:
        return Sources(dossiers, documents, catalogue, usage, printed, {})
    v = AgencyVersions(Path(cfg.agencies_csv))
    return Sources(
        dossiers=[v.dossier(d) for d in dossiers],
        documents=[v.row(r, "don_vi", _iso_day(r.get("ngay_gui_nhan"))) for r in documents],
        catalogue=[v.row(r, "don_vi", _iso_day(r.get("ngay_chot"))) for r in catalogue],
        usage=[v.row(r, "don_vi", _iso_day(r.get("thang"))) for r in usage],
        reports=_versioned_reports(v, printed),
        ended=v.ended,
    )


def compute_indicators(
    cfg: SimulatorConfig,
    periods: Iterable[Period],
    agency_codes: Iterable[str],
    *,
    data_months: Iterable[date] | None = None,
    as_of: datetime | None = None,
    map_service_level_to_legacy: bool = True,
    reports: Mapping[date, Iterable[Record]] | None = None,
    by_version: bool = False,
    sources: Sources | None = None,
) -> Result:
    """Every indicator of :data:`INDICATORS` for every agency × period, from what the
    simulator's APIs serve for the pulled months (see :func:`_data_months`), or, given
    ``as_of``, from the sources as they stood then (module docstring). ``reports`` are the
    summary reports the closes delivered (:func:`reports_as_delivered`); without them
    ``dossier.onestop_coverage`` is 0 / 0 everywhere.

    ``sources``: what :func:`pulled_sources` gave for the same arguments, read once.

    Key ``(agency_code, indicator_code, calendar, period_key)``, or with ``by_version`` the
    agency key of ``cfg.agencies_csv`` in place of the code (``agency_codes`` are keys then);
    value ``(numerator, denominator, value)`` with denominator None for counts and value None
    for an empty ratio.
    """
    periods = list(periods)
    agencies = sorted(set(agency_codes))
    levels = map_service_level_to_legacy
    src = sources or pulled_sources(
        cfg, periods, data_months=data_months, as_of=as_of, reports=reports, by_version=by_version
    )
    dossiers, documents, catalogue = src.dossiers, src.documents, src.catalogue
    usage, reports, ended = src.usage, src.reports, src.ended
    out: Result = {}
    out |= dossier_indicators(dossiers, periods, agencies, map_levels=levels, catalogue=catalogue)
    out |= service_indicators(
        catalogue, dossiers, periods, agencies, map_levels=levels, ended=ended
    )
    out |= usage_indicators(usage, periods, agencies)
    out |= document_indicators(documents, periods, agencies)
    out |= coverage_indicators(reports, dossiers, periods, agencies)
    return out


def reports_as_delivered(
    cfg: SimulatorConfig, closes: Iterable[tuple[date, datetime]]
) -> dict[date, list[Record]]:
    """The summary reports a series of closes delivered (``chiso.runtime.simulator.
    deliver_summary_reports``): each ``(month, close instant)``'s report, every province's
    rows as the simulator printed them at that instant. A report is sent once: later changes
    to its month's dossiers reach the system, never the printed report."""
    from chiso_sim import aggregate

    return {m.replace(day=1): aggregate.aggregate_month(cfg, m, as_of=at) for m, at in closes}


# --- the QĐ 766 scorecard ------------------------------------------------------------------
@dataclass(frozen=True)
class ScorecardItem:
    """One item of the QĐ 766 index (a row of ref_qd766_items.csv)."""

    code: str
    max_points: float
    scoring: str  # linear | threshold
    threshold: float | None
    status: str  # scored | not_scored | not_in_sources | not_yet_computed


def scorecard_items() -> list[ScorecardItem]:
    """The index's items as the reference file lists them."""
    from chiso.core.config import SEEDS_DIR

    with (SEEDS_DIR / "ref_qd766_items.csv").open(encoding="utf-8", newline="") as fh:
        return [
            ScorecardItem(
                r["item_code"],
                float(r["max_points"]),
                r["scoring"],
                float(r["threshold"]) if r["threshold"] else None,
                r["status"],
            )
            for r in csv.DictReader(fh)
        ]


# Each item's numerator and denominator from the indicators' (numerator, denominator):
# ``n(code)`` and ``d(code)`` read them (0 when the indicator has no row).
_ITEM_FRACTIONS: dict[
    str, Callable[[Callable[[str], int], Callable[[str], int]], tuple[int, int]]
] = {
    "2.1": lambda n, d: (n("dossier.timely_766"), d("dossier.timely_766")),
    "3.5": lambda n, d: (n("pay.procedure_payment_rate"), d("pay.procedure_payment_rate")),
    "3.5b": lambda n, d: (n("pay.procedure_paid_rate"), d("pay.procedure_paid_rate")),
    "4.5a": lambda n, d: (n("id.vneid_procedure_rate"), d("id.vneid_procedure_rate")),
    "2.2": lambda n, d: (n("dossier.avg_processing_days"), d("dossier.avg_processing_days")),
    "3.1": lambda n, d: (n("svc.l3_provision"), d("svc.l3_provision")),
    "3.2": lambda n, d: (n("svc.l3_used") + n("svc.l4_used"), d("svc.l3_used") + d("svc.l4_used")),
    # online dossiers received (id.vneid_rate's denominator) over all received
    "3.3": lambda n, d: (d("id.vneid_rate"), d("digit.dossier_rate")),
    "3.6": lambda n, d: (n("pay.online_rate"), d("pay.online_rate")),
    "4.1": lambda n, d: (n("digit.eresult_rate"), d("digit.eresult_rate")),
    "4.2": lambda n, d: (n("digit.dossier_rate"), d("digit.dossier_rate")),
    "4.3": lambda n, d: (n("digit.reuse_rate"), d("digit.reuse_rate")),
    "4.5b": lambda n, d: (n("id.vneid_rate"), d("digit.dossier_rate")),
    # 100 % − late share − unsatisfied ratings per resolved dossier, never below 0
    "5.4": lambda n, d: (
        max(0, d("dossier.late_rate") - n("dossier.late_rate") - (d("sat.rate") - n("sat.rate"))),
        d("dossier.late_rate"),
    ),
}

ScorecardKey = tuple[str, str, str, str]  # (unit, item_code, calendar, period_key)
ScorecardValue = tuple[int | None, int | None, float | None]  # (numerator, denominator, points)


def item_points(
    item: ScorecardItem, numerator: int | None, denominator: int | None
) -> float | None:
    """Points of a scored item: max × ratio (linear) or max × min(1, ratio / threshold)."""
    if item.status != "scored" or not denominator or numerator is None:
        return None
    ratio = numerator / denominator
    if item.scoring == "threshold" and item.threshold:
        return item.max_points * min(1.0, ratio / item.threshold)
    return item.max_points * ratio


def qd766_scorecard(
    result: Result, periods: Iterable[Period], provinces: Mapping[str, str]
) -> dict[ScorecardKey, ScorecardValue]:
    """The QĐ 766 index of every agency of ``provinces`` (agency code → province code) with
    indicator rows in ``result``, and of each province (unit ``province:<code>``, its agencies'
    numerators and denominators pooled), per period: (numerator, denominator, points) per
    item; items not scored have None everywhere."""
    items = scorecard_items()
    out: dict[ScorecardKey, ScorecardValue] = {}
    for p in periods:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for (agency, code, calendar, key), (num, den, _) in result.items():
            if calendar != p.calendar or key != p.period_key or agency not in provinces:
                continue
            for unit in (agency, f"province:{provinces[agency]}"):
                counts[unit][f"n:{code}"] += num
                counts[unit][f"d:{code}"] += den or 0
        for unit, c in counts.items():
            for item in items:
                fraction = _ITEM_FRACTIONS.get(item.code)
                if fraction is None and item.status == "scored":
                    raise KeyError(f"QĐ 766 item {item.code} is scored but has no formula here")
                num = den = None
                if fraction is not None:
                    num, den = fraction(
                        lambda code, c=c: c[f"n:{code}"], lambda code, c=c: c[f"d:{code}"]
                    )
                points = item_points(item, num, den)
                out[(unit, item.code, p.calendar, p.period_key)] = (num, den, points)
    return out


# --- the original monthly slice ------------------------------------------------------------
ONLINE_RATE_L34 = "dossier.online_rate_l34"
EARLY_RATE = "dossier.early_rate"
LATE_RATE = "dossier.late_rate"
MONTHLY_INDICATORS = (ONLINE_RATE_L34, EARLY_RATE, LATE_RATE)

KpiKey = tuple[str, str, date]
KpiValue = tuple[int, int, float | None]


def compute_monthly_kpis(
    dossiers: Iterable[Record], months: list[date], agency_codes: list[str]
) -> dict[KpiKey, KpiValue]:
    """(agency, indicator, month_start) → (numerator, denominator, value or None if den = 0)
    for the three indicators of the first monthly mart, over calendar months.

    Kept for ``mart_kpi_monthly``'s end-to-end test; the same definitions as
    :func:`dossier_indicators`.
    """
    periods = {period_containing("calendar", "month", m.replace(day=1)): m for m in months}
    full = dossier_indicators(dossiers, periods, agency_codes)
    out: dict[KpiKey, KpiValue] = {}
    for p in periods:
        for agency in set(agency_codes):
            for code in MONTHLY_INDICATORS:
                num, den, value = full[(agency, code, p.calendar, p.period_key)]
                out[(agency, code, p.start)] = (num, den or 0, value)
    return out
