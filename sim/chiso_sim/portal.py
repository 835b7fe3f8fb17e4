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
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date
from functools import lru_cache

from chiso.core.months import add_months, last_day
from chiso.sources.canonical import PORTAL_SERVICE_CATALOGUE, PORTAL_USAGE
from chiso_sim.catalogue import (
    Knots,
    curve,
    integrated_on,
    level_on,
    offered_procedures,
    online_payment_on,
)
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import (
    VNEID_START,
    Agency,
    agencies_for,
    expected_online_dossiers,
    generate_month,
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


def _flag(value: bool) -> str:
    return "1" if value else "0"


# --- catalogue -----------------------------------------------------------------------------
def catalogue_snapshot(cfg: SimulatorConfig, day: date) -> list[Row]:
    """Every valid agency's procedures as the portal lists them on ``day``.

    Sorted by (agency, procedure code). Stopped procedures stay listed with status ``dung``.
    """
    agencies = [a for a in agencies_for(cfg) if a.valid_on(day)]
    rows: list[Row] = []
    for agency in sorted(agencies, key=lambda a: a.code):
        for proc in offered_procedures(cfg, agency, day, agencies):
            row: Row = {
                "ngay_chot": day.isoformat(),
                "don_vi": agency.code,
                "ma_tthc": proc.code,
                "ten_tthc": proc.name,
                "ma_linh_vuc": proc.field_code,
                "ten_linh_vuc": proc.field_name,
                "cap_thuc_hien": proc.authority,
                "muc_do": level_on(proc, day),
                "du_dieu_kien_toan_trinh": _flag(proc.eligible_full_online),
                "tich_hop_dvcqg": _flag(integrated_on(proc, day)),
                "thanh_toan_truc_tuyen": _flag(online_payment_on(proc, day)),
                "co_phi": _flag(proc.fee_bearing),
                "trang_thai": "dang_cong_khai" if proc.active_on(day) else "dung",
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


def _usage_row(
    cfg: SimulatorConfig,
    agency: Agency,
    month: date,
    counts: Counter[str],
    paid_amount: int,
) -> Row:
    rng = random.Random(f"{cfg.seed}|portal|usage|{agency.code}|{month:%Y-%m}")
    vneid_logins = 0
    if month >= VNEID_START:
        vneid_logins = round(counts["vneid"] * rng.uniform(1.3, 2.5) + rng.randint(0, 5))
    ratings = round(counts["dossiers"] * curve(RATING_SHARE, month) * rng.uniform(0.8, 1.2))
    satisfied_p = rng.uniform(*_SATISFIED_RANGE)
    satisfied = sum(rng.random() < satisfied_p for _ in range(ratings))
    printed: str | None = None
    if ratings:
        true_rate = 100 * satisfied / ratings
        printed_rate = true_rate
        if rng.random() < _MISPRINT_SHARE:
            # Real pathology: the printed rate does not follow from the printed counts.
            drift = rng.uniform(1.5, 8.0)
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
        "luot_danh_gia": str(ratings),
        "luot_hai_long": str(satisfied),
        "ty_le_hai_long": printed,
    }
    return {key: row[key] for key in USAGE_COLUMNS}


def usage_month(cfg: SimulatorConfig, month: date) -> list[Row]:
    """Portal usage per agency for ``month`` (agencies valid on at least one of its days).

    Online dossiers, online payments and their amount are counted from the one-stop dossiers
    accepted in the month, so the two sources reconcile; months outside the config's horizon
    have no rows, like the one-stop system.
    """
    month = month.replace(day=1)
    if month not in month_starts(cfg):
        return []
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    paid: dict[str, int] = defaultdict(int)
    for d in generate_month(cfg, month):
        c = counts[d["DonViXuLy"]]
        c["dossiers"] += 1
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
        _usage_row(cfg, by_code[code], month, counts[code], paid[code]) for code in sorted(by_code)
    ]
