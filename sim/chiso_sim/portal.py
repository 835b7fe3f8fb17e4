"""Deterministic public-service portal (cổng dịch vụ công): catalogue snapshots and usage.

The portal is the third source system (docs/sources.md). The warehouse reconciles it with
the one-stop system, so the simulator derives both from the same place: the catalogue rows come
from :mod:`chiso_sim.catalogue` (what each agency offers on a day, at which level), and a
month's online dossiers and online payments are counted from
:func:`chiso_sim.one_stop.generate_month`, so the two sources agree exactly where real
ones should. Rows carry exactly the canonical field names of ``portal.service_catalogue`` and
``portal.usage`` with every value as text, as a portal export would.

One real pathology is reproduced on purpose: about 3% of usage rows print a satisfaction rate
(``ty_le_hai_long``, Vietnamese decimal comma: "93,5%") that does not match their own counts.

Both are served as they stood at an instant ``as_of`` (:mod:`chiso_sim.clock`; default: the
end of the config's horizon), and neither is final when first read:

* **Catalogue.** An offering's level, integration and online payment change on the first of a
  month (the rollout curves are monthly). The portal's administrators record a change effective
  on ``e`` at once on most days, but about 15% of changes 1–20 days late
  (``"{seed}|portal|recorded|{agency}|{procedure}|{e}"``, its own stream); until recorded, a
  snapshot shows the previous state even for days on or after ``e``, so re-reading a past
  snapshot after a backdated change gives other values. A snapshot of a day that has not ended
  by ``as_of`` (its date ≥ ``as_of``'s date) is empty. The status (``trang_thai``) is not lagged.
* **Usage.** A month's row exists from the month's first instant on. Its dossier counts come
  from the dossiers accepted before ``as_of``; its ratings keep arriving after the month: each
  of the month's final ratings arrives at its own instant (triangular between the month's start
  and 20 days after its end, most around the month end), so ``luot_danh_gia``,
  ``luot_hai_long`` and ``ty_le_hai_long`` grow after the month ends and stop changing 20 days
  later. A warehouse must re-pull such a month.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from functools import lru_cache

from chiso.core.months import add_months, last_day
from chiso.sources.canonical import PORTAL_SERVICE_CATALOGUE, PORTAL_USAGE
from chiso_sim.catalogue import (
    CatalogueProcedure,
    Knots,
    curve,
    integrated_on,
    level_on,
    offered_procedures,
    online_payment_on,
    result_document,
)
from chiso_sim.clock import start_of
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import (
    OFFICE_CLOSE,
    OFFICE_OPEN,
    VNEID_START,
    Agency,
    agencies_for,
    expected_online_dossiers,
    horizon_end,
    month_lives,
    month_starts,
)

CATALOGUE_COLUMNS: tuple[str, ...] = tuple(PORTAL_SERVICE_CATALOGUE.columns)
USAGE_COLUMNS: tuple[str, ...] = tuple(PORTAL_USAGE.columns)

__all__ = ["CATALOGUE_COLUMNS", "USAGE_COLUMNS", "catalogue_snapshot", "format_rate", "usage_month"]

Row = dict[str, str | None]

# Share of an agency-month's dossiers whose applicant leaves a rating.
RATING_SHARE: Knots = ((2019, 1, 0.10), (2022, 6, 0.30), (2025, 6, 0.60))
ACCOUNTS_START = date(2016, 1, 1)  # first month the portal registers accounts
_MISPRINT_SHARE = 0.03
_SATISFIED_RANGE = (0.90, 0.97)
# Recording lag of catalogue changes, and how long ratings keep arriving (module docstring).
CATALOGUE_LATE_SHARE = 0.15
CATALOGUE_MAX_LAG_DAYS = 20
RATINGS_TRAIL_DAYS = 20


def _flag(value: bool) -> str:
    return "1" if value else "0"


# --- catalogue ---------------------------------------------------------------------------
_State = tuple[str, bool, bool]  # level, integrated with DVCQG, online payment


# How catalogues print a procedure's legal time limit (thời hạn giải quyết): each agency's
# portal has its own phrasing; some rows leave it empty (TIME_LIMIT_MISSING_SHARE).
TIME_LIMIT_STYLES: tuple[str, ...] = (
    "{n} ngày làm việc",
    "{n:02d} ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ",
    "Không quá {n} ngày làm việc",
    "{n}",
)
SAME_DAY_TIME_LIMIT = "Trong ngày"
TIME_LIMIT_MISSING_SHARE = 0.02


def _time_limit(seed: int, agency_code: str, proc_code: str, working_days: int) -> str | None:
    """The catalogue's thoi_han_giai_quyet of one offering, in the agency's phrasing."""
    omitted = random.Random(f"{seed}|time_limit|{agency_code}|{proc_code}").random()
    if omitted < TIME_LIMIT_MISSING_SHARE:
        return None
    if working_days == 0:
        return SAME_DAY_TIME_LIMIT
    style = random.Random(f"{seed}|time_limit|{agency_code}").choice(TIME_LIMIT_STYLES)
    return style.format(n=working_days)


# How agencies print "no result document" in ket_qua_thuc_hien; 2 % of offerings leave the
# cell empty, as for the time limit.
NO_RESULT_PHRASINGS = ("Không", "Không có", "Không có kết quả", "Không quy định")
RESULT_MISSING_SHARE = 0.02


def _result_text(seed: int, agency_code: str, proc_code: str) -> str | None:
    """The catalogue's ket_qua_thuc_hien of one offering, in the agency's phrasing."""
    if random.Random(f"{seed}|result|{agency_code}|{proc_code}").random() < RESULT_MISSING_SHARE:
        return None
    document = result_document(seed, proc_code)
    if document is not None:
        return document
    return random.Random(f"{seed}|result|{agency_code}").choice(NO_RESULT_PHRASINGS)


def _state(proc: CatalogueProcedure, day: date) -> _State:
    return level_on(proc, day), integrated_on(proc, day), online_payment_on(proc, day)


def change_recorded(seed: int, agency_code: str, proc_code: str, effective: date) -> datetime:
    """When the portal recorded a change of an offering effective on ``effective``."""
    rng = random.Random(f"{seed}|portal|recorded|{agency_code}|{proc_code}|{effective}")
    lag = rng.randint(1, CATALOGUE_MAX_LAG_DAYS) if rng.random() < CATALOGUE_LATE_SHARE else 0
    opening = datetime.combine(effective + timedelta(days=lag), OFFICE_OPEN)
    span = int((datetime.combine(opening.date(), OFFICE_CLOSE) - opening).total_seconds())
    return opening + timedelta(seconds=rng.randrange(span))


def _shown_state(
    seed: int, agency_code: str, proc: CatalogueProcedure, day: date, as_of: datetime
) -> _State:
    """The offering's state on ``day`` as recorded by ``as_of``: the state of its latest change
    effective by ``day`` that was recorded before ``as_of``.

    States change only on the first of a month, so this walks back month by month, and only as
    long as a change could still be unrecorded (effective within the maximal lag of ``as_of``).
    """
    month = day.replace(day=1)
    state = _state(proc, month)
    latest = datetime.combine(month + timedelta(days=CATALOGUE_MAX_LAG_DAYS), OFFICE_CLOSE)
    while latest >= as_of:
        before = _state(proc, month - timedelta(days=1))
        if before != state and change_recorded(seed, agency_code, proc.code, month) < as_of:
            return state
        month = (month - timedelta(days=1)).replace(day=1)
        state = before
        latest = datetime.combine(month + timedelta(days=CATALOGUE_MAX_LAG_DAYS), OFFICE_CLOSE)
    return state


def catalogue_snapshot(cfg: SimulatorConfig, day: date, as_of: datetime | None = None) -> list[Row]:
    """Every valid agency's procedures as the portal lists them on ``day``, as recorded by
    ``as_of`` (default: the end of the horizon); empty while ``day`` has not ended.

    Sorted by (agency, procedure code). Stopped procedures stay listed with status ``dung``.
    """
    as_of = as_of or horizon_end(cfg)
    if day >= as_of.date():
        return []
    agencies = [a for a in agencies_for(cfg) if a.valid_on(day)]
    rows: list[Row] = []
    for agency in sorted(agencies, key=lambda a: a.code):
        for proc in offered_procedures(cfg, agency, day, agencies):
            level, integrated, payment = _shown_state(cfg.seed, agency.code, proc, day, as_of)
            row: Row = {
                "ngay_chot": day.isoformat(),
                "don_vi": agency.code,
                "ma_tthc": proc.code,
                "ten_tthc": proc.name,
                "ma_linh_vuc": proc.field_code,
                "ten_linh_vuc": proc.field_name,
                "cap_thuc_hien": proc.authority,
                "muc_do": level,
                "du_dieu_kien_toan_trinh": _flag(proc.eligible_full_online),
                "tich_hop_dvcqg": _flag(integrated),
                "thanh_toan_truc_tuyen": _flag(payment),
                "co_phi": _flag(proc.fee_bearing),
                "trang_thai": "dang_cong_khai" if proc.active_on(day) else "dung",
                "thoi_han_giai_quyet": _time_limit(
                    cfg.seed, agency.code, proc.code, proc.working_days
                ),
                "ket_qua_thuc_hien": _result_text(cfg.seed, agency.code, proc.code),
            }
            rows.append({key: row[key] for key in CATALOGUE_COLUMNS})
    return rows


# --- usage ---------------------------------------------------------------------------------
def _active_in(agency: Agency, month: date) -> bool:
    end = last_day(month)
    return agency.valid_from <= end and (agency.valid_to is None or agency.valid_to >= month)


def _new_accounts(cfg: SimulatorConfig, agency: Agency, month: date) -> int:
    """Accounts registered in a month: follows the online volume the calibration expects."""
    rng = random.Random(f"{cfg.seed}|portal|accounts|{agency.code}|{month:%Y-%m}")
    expected = expected_online_dossiers(cfg, agency, month)
    return round(expected * rng.uniform(0.35, 0.6) + rng.uniform(0, 3))


@lru_cache(maxsize=65_536)
def _total_accounts(cfg: SimulatorConfig, agency: Agency, month: date) -> int:
    """Accounts at month end: the previous month's total plus this month's registrations."""
    first = max(ACCOUNTS_START, agency.valid_from.replace(day=1))
    if month < first:
        return 0
    previous = _total_accounts(cfg, agency, add_months(month, -1)) if month > first else 0
    return previous + _new_accounts(cfg, agency, month)


def format_rate(percent: float) -> str:
    """A rate as the portal prints it: one decimal, Vietnamese decimal comma ("93,5%")."""
    return f"{percent:.1f}".replace(".", ",") + "%"


def _arrivals(cfg: SimulatorConfig, agency: Agency, month: date, count: int) -> list[datetime]:
    """When each of the month's ``count`` final ratings reaches the portal: between the month's
    start and ``RATINGS_TRAIL_DAYS`` after its end, most around the month end."""
    rng = random.Random(f"{cfg.seed}|portal|ratings|{agency.code}|{month:%Y-%m}")
    start = start_of(month)
    mode = (start_of(add_months(month, 1)) - start).total_seconds()
    span = mode + RATINGS_TRAIL_DAYS * 86400
    return [start + timedelta(seconds=int(rng.triangular(0, span, mode))) for _ in range(count)]


def _usage_row(
    cfg: SimulatorConfig,
    agency: Agency,
    month: date,
    counts: Counter[str],
    paid_amount: int,
    as_of: datetime,
) -> Row:
    """The agency-month's row at ``as_of``; ``counts["final"]`` is the month's final number of
    dossiers (the ratings are drawn from it), the other counts are those visible at ``as_of``."""
    rng = random.Random(f"{cfg.seed}|portal|usage|{agency.code}|{month:%Y-%m}")
    vneid_logins = 0
    if month >= VNEID_START:
        vneid_logins = round(counts["vneid"] * rng.uniform(1.3, 2.5) + rng.randint(0, 5))
    ratings = round(counts["final"] * curve(RATING_SHARE, month) * rng.uniform(0.8, 1.2))
    satisfied_p = rng.uniform(*_SATISFIED_RANGE)
    outcomes = [rng.random() < satisfied_p for _ in range(ratings)]
    drift = 0.0
    if ratings and rng.random() < _MISPRINT_SHARE:
        # Real pathology: the printed rate does not follow from the printed counts.
        drift = rng.uniform(1.5, 8.0)
    arrived = [
        ok
        for ok, at in zip(outcomes, _arrivals(cfg, agency, month, ratings), strict=True)
        if at < as_of
    ]
    rated, satisfied = len(arrived), sum(arrived)
    printed: str | None = None
    if rated:
        true_rate = 100 * satisfied / rated
        printed_rate = true_rate
        if drift:
            printed_rate = true_rate - drift if true_rate + drift > 100 else true_rate + drift
        printed = format_rate(printed_rate)
    row: Row = {
        "thang": month.isoformat(),
        "don_vi": agency.code,
        "tai_khoan_moi": str(_new_accounts(cfg, agency, month)),
        "tong_tai_khoan": str(_total_accounts(cfg, agency, month)),
        "dang_nhap_vneid": str(vneid_logins),
        "ho_so_truc_tuyen": str(counts["online"]),
        "giao_dich_thanh_toan": str(counts["paid"]),
        "so_tien_thanh_toan": str(paid_amount),
        "luot_danh_gia": str(rated),
        "luot_hai_long": str(satisfied),
        "ty_le_hai_long": printed,
    }
    return {key: row[key] for key in USAGE_COLUMNS}


def usage_month(cfg: SimulatorConfig, month: date, as_of: datetime | None = None) -> list[Row]:
    """Portal usage per agency for ``month`` (agencies valid on at least one of its days), as
    at ``as_of`` (default: the end of the horizon); no rows before the month has begun.

    Online dossiers, online payments and their amount are counted from the one-stop dossiers
    accepted in the month before ``as_of``, so the two sources reconcile; ratings keep
    arriving for 20 days after the month (module docstring); months outside the config's
    horizon have no rows, like the one-stop system.
    """
    month = month.replace(day=1)
    as_of = as_of or horizon_end(cfg)
    if month not in month_starts(cfg) or as_of <= start_of(month):
        return []
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    paid: dict[str, int] = defaultdict(int)
    for life in month_lives(cfg, month):
        d = life.base
        c = counts[d["DonViXuLy"]]
        c["final"] += 1
        if life.recorded[0] >= as_of:
            continue  # not accepted yet
        if d["KenhThucHien"] == "2":
            c["online"] += 1
        if d["TaiKhoanDuocXacThucVoiVNeID"] == "1":
            c["vneid"] += 1
        if d["DuocThanhToanTrucTuyen"] == "1":
            c["paid"] += 1
            paid[d["DonViXuLy"]] += int(d["PhiLePhi"] or 0)
    # One row per agency code: a code reused by a successor row keeps the latest version.
    by_code = {
        a.code: a
        for a in sorted(agencies_for(cfg), key=lambda a: a.valid_from)
        if _active_in(a, month)
    }
    return [
        _usage_row(cfg, by_code[code], month, counts[code], paid[code], as_of)
        for code in sorted(by_code)
    ]
