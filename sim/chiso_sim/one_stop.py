"""Deterministic generator of one-stop-system dossiers (hồ sơ TTHC).

The warehouse needs a realistic, reproducible source to test against: same config, same bytes.
All randomness comes from ``random.Random`` instances seeded from the config and a string
naming what is drawn (the agency-month for volume and acceptance times, the dossier for
everything else), so extending the horizon or asking for one month never reshuffles another
month; there is no global random state and no wall clock. Field names and codes follow the
DVCQG "DongBoHoSoMC" sync format of the national public-service portal (docs/sources.md).

A dossier is generated as its whole life (progress events, supplement requests) and then seen
as of an instant ``as_of`` (:mod:`chiso_sim.clock`; default: the end of the config's horizon,
:func:`horizon_end`): a dossier exists from its acceptance (``NgayTiepNhan``) on, and each
event of its life is visible once its system *recorded* it. Officers record most events at
once, but about 6% of finishing and returning events (withdrawn, stopped, resolved, result
handed over) and 3% of the others are recorded 1–12 working days late, during office hours,
often across a month end; the event keeps its own (backdated) time, ``NgayCapNhat`` is the
latest recording among the visible events, and an event recorded late also holds back the ones
after it (the workflow cannot skip a step). So a month pulled early changes later. The lags
come from their own stream, ``random.Random(f"{seed}|recorded|{MaHoSo}")``, so they change
no other draw. A month's lives are generated once (:func:`month_lives`, cached) and
projected per instant (:func:`month_history`); because the lives do not depend on the
horizon, :func:`generate_month` returns exactly the month's slice of :func:`generate_dossiers`.

Calibration (seeds 001–004): the online share of all dossiers grows from ≈5% in 2019 to ≈50%
in 2025–2026 (online only for level ≥3 or NĐ 42 procedures); early / on time / late ≈ 67 /
31 / 1.5% of resolved dossiers; a few percent arrive by public post (BCCI); ≈4% get a
supplement request that pauses the clock. An agency's monthly volume follows its tier and its
own profile; across the 2025 reform it follows the citizens: a successor serves what its
predecessors served (:func:`_demand`), so a province's volume does not drop with the number
of its agencies.
"""

from __future__ import annotations

import bisect
import csv
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from chiso.core.config import REPO_ROOT
from chiso.core.months import add_months, last_day
from chiso_sim.calendar import default_calendar
from chiso_sim.catalogue import (
    PROCEDURES,
    TWO_TIER_START,
    CatalogueProcedure,
    Knots,
    Procedure,
    curve,
    department_ministries,
    legacy_level_before_decree,
    level_on,
    offering,
    online_payment_on,
    returns_result,
)
from chiso_sim.clock import Timeline
from chiso_sim.config import DEFAULT_AGENCIES_CSV, SimulatorConfig

__all__ = [
    "DEFAULT_AGENCIES_CSV",
    "DOSSIER_KEYS",
    "NESTED_KEYS",
    "PROCEDURES",
    "RECORD_KEYS",
    "REPO_ROOT",
    "TS_FORMAT",
    "Agency",
    "Event",
    "Life",
    "Procedure",
    "SimulatorConfig",
    "Supplement",
    "add_working_days",
    "agencies_for",
    "dossier_at",
    "dossiers_received_in",
    "expected_online_dossiers",
    "format_ts",
    "generate_dossiers",
    "generate_month",
    "horizon_end",
    "is_working_day",
    "load_agencies",
    "month_history",
    "month_lives",
    "month_starts",
    "parse_ts",
    "recording_instant",
    "working_days_between",
]

TS_FORMAT = "%Y%m%d%H%M%S"
OFFICE_OPEN = time(7, 30)
OFFICE_CLOSE = time(17, 0)

# Every dossier dict has these scalar keys first, in this order (the API and XLSX contract);
# the new DVCQG keys come after the original ones so older consumers keep their columns.
DOSSIER_KEYS: tuple[str, ...] = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "TenLinhVuc",
    "MucDo",
    "DonViXuLy",
    "TenDonViXuLy",
    "ChuHoSo",
    "LoaiDoiTuong",
    "SoDinhDanh",
    "SoDienThoai",
    "Email",
    "NgayNopHoSo",
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayKetThucXuLy",
    "NgayTra",
    "TrangThaiHoSo",
    "KenhThucHien",
    "HinhThucTra",
    "DuocThanhToanTrucTuyen",
    "PhiLePhi",
    "HoSoCoThanhPhanSoHoa",
    "CoKetQuaDienTu",
    "TaiSuDungDuLieuSoHoa",
    "TaiKhoanDuocXacThucVoiVNeID",
    "HKTT_MaTinh",
    "HKTT_MaHuyen",
    "HKTT_MaXa",
    "NgayCapNhat",
)
# Lists of dicts after the scalar keys: supplement requests and progress events.
NESTED_KEYS: tuple[str, ...] = ("DanhSachHoSoBoSung", "CapNhatTienDo")
RECORD_KEYS: tuple[str, ...] = DOSSIER_KEYS + NESTED_KEYS
SUPPLEMENT_KEYS = ("LanBoSung", "NgayYeuCau", "NgayBoSung", "NgayHenTraCu", "NgayHenTraMoi", "LyDo")
EVENT_KEYS = ("ThuTu", "BuocXuLy", "TrangThai", "ThoiDiem", "CanBoXuLy")

TIERS = ("province_dept", "district", "commune")

Dossier = dict[str, Any]


@dataclass(frozen=True)
class Agency:
    """A row of ref_agencies.csv; validity bounds are inclusive, ``valid_to`` None = open."""

    code: str
    name: str
    tier: str
    province_code: str
    valid_from: date
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


# --- calibration ---------------------------------------------------------------------------
# Online share of all dossiers, by mid-year (smooth in between): NQ 17 era ≈5%, QĐ 942 ≈50%.
ONLINE_SHARE: Knots = (
    (2016, 7, 0.02),
    (2017, 7, 0.025),
    (2018, 7, 0.035),
    (2019, 7, 0.05),
    (2020, 7, 0.09),
    (2021, 7, 0.16),
    (2022, 7, 0.26),
    (2023, 7, 0.36),
    (2024, 7, 0.44),
    (2025, 7, 0.50),
    (2026, 7, 0.52),
)
DIGITISED_SHARE: Knots = ((2019, 1, 0.02), (2021, 12, 0.08), (2022, 12, 0.25), (2023, 12, 0.55))
DIGITISED_SHARE += ((2024, 12, 0.80), (2025, 12, 0.88))
E_RESULT_SHARE: Knots = ((2019, 1, 0.01), (2021, 12, 0.05), (2022, 12, 0.20), (2023, 12, 0.50))
E_RESULT_SHARE += ((2024, 12, 0.75), (2025, 12, 0.85))
REUSE_SHARE: Knots = ((2021, 12, 0.0), (2022, 12, 0.08), (2023, 12, 0.30), (2024, 12, 0.55))
REUSE_SHARE += ((2025, 12, 0.70),)
# Of online dossiers, from 2022 (VNeID login on the national portal; mandatory from mid-2024).
VNEID_SHARE: Knots = ((2022, 1, 0.02), (2022, 12, 0.20), (2023, 12, 0.50), (2024, 7, 0.85))
VNEID_SHARE += ((2025, 6, 0.95),)
VNEID_START = date(2022, 1, 1)
# Of online fee-bearing dossiers whose procedure accepts online payment.
PAID_ONLINE_SHARE: Knots = ((2019, 1, 0.30), (2022, 12, 0.60), (2025, 6, 0.90))

# Volume and channel behaviour per tier (departments are busier and more online than communes).
_TIER_VOLUME = {"province_dept": 1.3, "district": 1.0, "commune": 0.6}
_TIER_ONLINE = {"province_dept": 1.1, "district": 0.95, "commune": 0.75}
_MAX_ONLINE_P = 0.95
_BCCI_SHARE = 0.05
_NULL_CHANNEL_SHARE = 0.035
_NOT_ACCEPTED_SHARE = 0.02
_WITHDRAWN_SHARE = 0.02
_STOPPED_SHARE = 0.012
_SECOND_SUPPLEMENT_SHARE = 0.2
_SAME_DAY_INTAKE_SHARE = 0.5  # handed to the processing officer on the day of acceptance
_HOME_PROVINCE_SHARE = 0.9  # applicants living in the agency's own province
_OTHER_PROVINCES = ("01", "79", "22", "33", "37", "38", "19", "24")
# Recording lag (module docstring): shares of events recorded late, and by how much.
LATE_FINISH_SHARE = 0.06  # withdrawn, stopped, resolved, result handed over (7, 8, 9, 10)
LATE_OTHER_SHARE = 0.03  # handed to the officer, supplement requested / returned
LATE_WORKING_DAYS = (1, 12)
# Share of the dossiers resolved late whose agency sends a delay apology (Mẫu 04) with a new
# appointment that the vendor writes over NgayHenTra: by that date the dossier looks on time.
APOLOGY_SHARE = 0.3
APOLOGY_STEP = "Gửi thư xin lỗi và hẹn lại ngày trả kết quả"
# Vendor omissions (docs/sources.md): a closed dossier exported without its finish date
# (NgayKetThucXuLy, NgayTra), its progress events still saying when it ended, and one exported
# without its due date (NgayHenTra). Drawn per dossier from its own stream.
MISSING_FINISH_SHARE = 0.006
MISSING_DUE_SHARE = 0.004
_FINISHING = frozenset({"7", "8", "9", "10"})

_SUPPLEMENT_REASONS = (
    "Thiếu bản sao giấy tờ chứng minh nhân thân",
    "Tờ khai chưa đầy đủ thông tin, đề nghị kê khai lại",
    "Bổ sung văn bản ủy quyền có chứng thực",
    "Bản sao chưa được chứng thực theo quy định",
    "Bổ sung bản vẽ thiết kế, sơ đồ vị trí",
    "Bổ sung giấy tờ chứng minh quyền sử dụng đất",
    "Thông tin trên hồ sơ không khớp với Cơ sở dữ liệu quốc gia về dân cư",
    "Bổ sung chứng từ nộp phí, lệ phí",
)


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


# Name parts; repeats weight the common ones (Nguyễn is ~38% of Vietnamese surnames).
_FAMILY = _words(
    "Nguyễn Nguyễn Nguyễn Trần Trần Lê Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô "
    "Dương Lý Đào Đinh Trịnh Mạc"
)
_MIDDLE_M = _words("Văn Văn Hữu Đức Minh Quang Xuân Công Thành Đình")
_MIDDLE_F = _words("Thị Thị Thị Ngọc Thu Thanh Minh Phương Hồng Kim")
_GIVEN_M = _words("An Bình Cường Dũng Hải Hùng Khánh Long Nam Phong Quân Sơn Thắng Tuấn Việt Đạt")
_GIVEN_F = _words("Anh Hà Hạnh Hương Lan Linh Mai Ngân Nhung Oanh Phượng Thảo Trang Tuyết Yến Hằng")
_COMPANY_KIND = ("Công ty TNHH", "Công ty TNHH MTV", "Công ty Cổ phần", "Doanh nghiệp tư nhân")
_COMPANY_WORD = _words(
    "Minh Phát|Thành Đạt|Hưng Thịnh|Phúc An|Đông Á|Hoàng Long|Việt Tiến|Sao Mai|"
    "Hải Đăng|Bình Minh|Trường Sơn|Kim Ngân|Thiên Phú",
    "|",
)
_COMPANY_TRADE = ("Thương mại", "Xây dựng", "Dịch vụ", "Đầu tư", "Vận tải", "Công nghệ")
_MAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _ascii_fold(text: str) -> str:
    """Drop Vietnamese diacritics (for e-mail local parts)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _parse_day(text: str | None) -> date | None:
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


# --- agencies ------------------------------------------------------------------------------
def load_agencies(path: Path) -> list[Agency]:
    """Read the agency reference seed at runtime so the simulator follows its validity dates."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    agencies: list[Agency] = []
    for row in rows:
        valid_from = _parse_day(row.get("valid_from")) or date.min
        agencies.append(
            Agency(
                code=row["agency_code"].strip(),
                name=_nfc(row["agency_name"].strip()),
                tier=row["tier"].strip(),
                province_code=(row.get("province_code") or "").strip(),
                valid_from=valid_from,
                valid_to=_parse_day(row.get("valid_to")),
            )
        )
    return agencies


def agencies_for(cfg: SimulatorConfig) -> list[Agency]:
    """The config's agencies: known tiers, restricted to ``cfg.provinces`` when given."""
    wanted = set(cfg.provinces)
    return [
        a
        for a in load_agencies(Path(cfg.agencies_csv))
        if a.tier in _TIER_VOLUME and (not wanted or a.province_code in wanted)
    ]


def procedures_for_tier(tier: str) -> list[Procedure]:
    """The real procedures of a tier (the pre-catalogue list, kept for old callers)."""
    return [p for p in PROCEDURES if p.tier == tier]


# --- calendar ------------------------------------------------------------------------------
def is_working_day(day: date) -> bool:
    """The project's working-day calendar: Mon–Fri minus public holidays, with the announced
    day swaps of ``ref_holiday_overrides`` (chiso_sim.calendar)."""
    return default_calendar().is_working_day(day)


@lru_cache(maxsize=64)
def _working_ordinals(year: int) -> tuple[int, ...]:
    """Ordinals of the year's working days: due dates become index arithmetic (fast)."""
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    return tuple(o for o in range(first, last + 1) if is_working_day(date.fromordinal(o)))


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day`` (n=0 returns ``day`` itself)."""
    if n <= 0:
        return day
    year = day.year
    ordinals = _working_ordinals(year)
    index = bisect.bisect_right(ordinals, day.toordinal()) + n - 1
    while index >= len(ordinals):
        index -= len(ordinals)
        year += 1
        ordinals = _working_ordinals(year)
    return date.fromordinal(ordinals[index])


def working_days_between(first: date, last: date) -> list[date]:
    """Working days in [first, last], inclusive."""
    out: list[date] = []
    for year in range(first.year, last.year + 1):
        lo, hi = first.toordinal(), last.toordinal()
        out.extend(date.fromordinal(o) for o in _working_ordinals(year) if lo <= o <= hi)
    return out


def format_ts(value: datetime | None) -> str | None:
    """``yyyyMMddHHmmss`` (TS_FORMAT); %-formatting is 3× faster than strftime here."""
    if value is None:
        return None
    v = value
    return "%04d%02d%02d%02d%02d%02d" % (v.year, v.month, v.day, v.hour, v.minute, v.second)  # noqa: UP031


def parse_ts(value: str | None) -> datetime | None:
    return datetime.strptime(value, TS_FORMAT) if value else None


def _office_time(rng: random.Random, day: date) -> datetime:
    """A random instant during office hours 7:30–17:00 on ``day``."""
    start = datetime.combine(day, OFFICE_OPEN)
    span = int((datetime.combine(day, OFFICE_CLOSE) - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span))


def _after_on_same_day(rng: random.Random, earliest: datetime) -> datetime:
    """A time later than ``earliest`` on its date, preferably before closing."""
    close = datetime.combine(earliest.date(), OFFICE_CLOSE)
    if earliest < close - timedelta(minutes=10):
        span = int((close - earliest).total_seconds())
        return earliest + timedelta(seconds=rng.randrange(60, span))
    end_of_day = datetime.combine(earliest.date(), time(23, 59, 59))
    return min(earliest + timedelta(minutes=rng.randint(5, 60)), end_of_day)


def _finish_on(rng: random.Random, day: date, not_before: datetime) -> datetime:
    if day == not_before.date():
        return _after_on_same_day(rng, not_before)
    if day < not_before.date():
        raise ValueError(f"{day} is before {not_before}")
    return _office_time(rng, day)


def recording_instant(rng: random.Random, at: datetime, late_share: float) -> datetime:
    """When a system records something that happened at ``at``: at once, or with probability
    ``late_share`` during office hours 1–12 working days later (a backdated entry)."""
    if rng.random() >= late_share:
        return at
    lo, hi = LATE_WORKING_DAYS
    return _office_time(rng, add_working_days(at.date(), rng.randint(lo, hi)))


# --- per-agency behaviour ------------------------------------------------------------------
@dataclass(frozen=True)
class _AgencyProfile:
    """Per-agency behaviour, so rates differ between agencies."""

    volume: float
    online: float
    early: float
    late: float
    returned: float
    supplement: float


@lru_cache(maxsize=4096)
def _agency_profile(seed: int, agency_code: str) -> _AgencyProfile:
    rng = random.Random(f"{seed}|profile|{agency_code}")
    return _AgencyProfile(
        volume=rng.uniform(0.8, 1.2),
        online=rng.uniform(0.7, 1.3),
        early=min(0.85, max(0.5, 0.67 + rng.uniform(-0.08, 0.08))),
        late=0.015 * rng.uniform(0.3, 1.7),
        returned=rng.uniform(0.75, 0.95),
        supplement=rng.uniform(0.03, 0.055),
    )


@lru_cache(maxsize=4096)
def _staff(seed: int, agency_code: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(one-stop desk officers, processing officers) of an agency: personal data."""
    rng = random.Random(f"{seed}|staff|{agency_code}")
    desk = tuple(_person_name(rng)[0] for _ in range(rng.randint(2, 4)))
    processing = tuple(_person_name(rng)[0] for _ in range(rng.randint(3, 8)))
    return desk, processing


def _person_name(rng: random.Random) -> tuple[str, bool]:
    female = rng.random() < 0.5
    middle = rng.choice(_MIDDLE_F if female else _MIDDLE_M)
    given = rng.choice(_GIVEN_F if female else _GIVEN_M)
    return _nfc(f"{rng.choice(_FAMILY)} {middle} {given}"), female


def _company_name(rng: random.Random) -> str:
    kind, trade, brand = (
        rng.choice(_COMPANY_KIND),
        rng.choice(_COMPANY_TRADE),
        rng.choice(_COMPANY_WORD),
    )
    return _nfc(f"{kind} {trade} {brand}")


def _email(rng: random.Random, name: str) -> str | None:
    if rng.random() < 0.4:
        return None
    parts = _ascii_fold(name).lower().split()
    local = parts[-1] + "".join(p[0] for p in parts[:-1] if p)
    return f"{local}{rng.randint(1, 9999)}@{rng.choice(_MAIL_DOMAINS)}"


def _id_number(rng: random.Random, agency: Agency, female: bool) -> str:
    """12-digit citizen ID: province code, century/sex digit, birth year, serial."""
    province = (agency.province_code or "1").zfill(3)[-3:]
    birth_year = rng.randint(1950, 2002)
    century_sex = (0 if birth_year < 2000 else 2) + (1 if female else 0)
    return f"{province}{century_sex}{birth_year % 100:02d}{rng.randrange(10**6):06d}"


def _address(rng: random.Random, agency: Agency, day: date) -> tuple[str, str | None, str]:
    """Synthetic (province, district, commune) codes shaped like the GSO's 2/3/5 digits.

    Mostly the agency's own province; districts stop existing with the two-tier reform.
    """
    province = agency.province_code or "01"
    if rng.random() >= _HOME_PROVINCE_SHARE:
        province = rng.choice([p for p in _OTHER_PROVINCES if p != province] or ["01"])
    number = int(province) if province.isdigit() else 1
    district_index = rng.randrange(10)
    district = f"{(number * 10 + district_index) % 1000:03d}"
    commune = f"{(number * 350 + district_index * 25 + rng.randrange(25)) % 100_000:05d}"
    return province, (None if day >= TWO_TIER_START else district), commune


# --- what an agency offers in a month ------------------------------------------------------
@dataclass(frozen=True)
class _Menu:
    """An agency-month's procedures with cumulative weights and online propensities."""

    procs: tuple[CatalogueProcedure, ...]
    cum_weights: tuple[float, ...]
    levels: tuple[str, ...]
    online_factor: tuple[float, ...]
    mean_online_factor: float  # dossier-weighted mean, so rates hit the curve on average
    payment: tuple[bool, ...]  # online payment enabled


@dataclass(frozen=True)
class _MonthRates:
    """The calibration curves' values for a month (they are constant within a month)."""

    online: float
    digitised: float
    e_result: float
    reuse: float
    vneid: float
    paid_online: float


@lru_cache(maxsize=1024)
def _month_rates(month: date) -> _MonthRates:
    return _MonthRates(
        online=curve(ONLINE_SHARE, month),
        digitised=curve(DIGITISED_SHARE, month),
        e_result=curve(E_RESULT_SHARE, month),
        reuse=curve(REUSE_SHARE, month),
        vneid=curve(VNEID_SHARE, month) if month >= VNEID_START else 0.0,
        paid_online=curve(PAID_ONLINE_SHARE, month),
    )


def _online_factor(proc: CatalogueProcedure, level: str) -> float:
    """Relative propensity of a dossier to arrive online, by the procedure's level."""
    if level in {"1", "2"}:
        return 0.0
    if level in {"4", "toan_trinh"}:
        return 1.3
    if level == "3":
        return 1.0
    return 1.0 if legacy_level_before_decree(proc) >= 3 else 0.45  # một phần


@lru_cache(maxsize=4096)
def _menu(
    cfg: SimulatorConfig,
    province_code: str,
    tier: str,
    ministries: frozenset[str],
    day: date,
) -> _Menu:
    offered = offering(cfg, province_code, tier, ministries, day >= TWO_TIER_START)
    procs = tuple(p for p in offered if p.active_on(day))
    levels = tuple(level_on(p, day) for p in procs)
    factors = tuple(_online_factor(p, lv) for p, lv in zip(procs, levels, strict=True))
    total = sum(p.weight for p in procs)
    mean = sum(p.weight * f for p, f in zip(procs, factors, strict=True)) / total if total else 0
    payment = tuple(online_payment_on(p, day) for p in procs)
    cum = tuple(accumulate(p.weight for p in procs))
    return _Menu(procs, cum, levels, factors, mean, payment)


# --- the life of one dossier ---------------------------------------------------------------
@dataclass
class Event:
    """A step of a dossier's life (a row of CapNhatTienDo)."""

    step: str
    status: str
    at: datetime
    officer: str


@dataclass
class Supplement:
    """A supplement request and the applicant's return (a row of DanhSachHoSoBoSung)."""

    requested: datetime
    returned: datetime
    old_due: datetime
    new_due: datetime
    reason: str
    request_event: int  # index in the life's events of the request and of the return
    return_event: int


@dataclass
class Life:
    """Everything that ever happens to a dossier; :func:`dossier_at` cuts it at an instant.

    ``recorded[i]`` is when ``events[i]`` was recorded: non-decreasing, never before the event,
    ``recorded[0]`` its acceptance (the dossier exists from then on).
    """

    base: Dossier
    due: datetime | None
    events: list[Event]
    supplements: list[Supplement]
    e_result: bool
    recorded: tuple[datetime, ...] = ()
    omits: frozenset[str] = frozenset()  # keys the vendor leaves empty (MISSING_*_SHARE)
    apology: Apology | None = None  # a delay apology (Mẫu 04) that rewrote NgayHenTra
    transfers: tuple[Transfer, ...] = ()  # handed to a successor when its agency ended

    @property
    def key(self) -> str:
        return self.base["MaHoSo"]


@dataclass(frozen=True)
class Apology:
    """A delay apology (Mẫu 04): from ``events[event]`` on, the vendor shows ``new_due`` as
    NgayHenTra, a date on or after the late finish (APOLOGY_SHARE)."""

    event: int
    new_due: datetime


@dataclass(frozen=True)
class Transfer:
    """From ``events[event]`` on, the dossier is handled by ``code`` (``name``): its agency
    ended while it was open, and the system handed it to the successor (TRANSFER_STEP)."""

    event: int
    code: str
    name: str


def _channel(rng: random.Random, online_p: float) -> str | None:
    roll = rng.random()
    if roll < online_p:
        return "2"
    if roll < online_p + _BCCI_SHARE:
        return "3"
    return None if rng.random() < _NULL_CHANNEL_SHARE else "1"


def _due(day: date, working_days: int) -> datetime:
    return datetime.combine(add_working_days(day, working_days), OFFICE_CLOSE)


def _dossier_life(
    seed: int,
    rng: random.Random,
    agency: Agency,
    profile: _AgencyProfile,
    menu: _Menu,
    accepted: datetime,
    seq: int,
    month: date,
) -> Life:
    i = bisect.bisect_left(menu.cum_weights, rng.random() * menu.cum_weights[-1])
    i = min(i, len(menu.procs) - 1)
    proc, level = menu.procs[i], menu.levels[i]

    rates = _month_rates(month)
    online_p = 0.0
    if menu.mean_online_factor > 0:
        online_p = (
            rates.online
            * _TIER_ONLINE[agency.tier]
            * profile.online
            * menu.online_factor[i]
            / menu.mean_online_factor
        )
    channel = _channel(rng, min(_MAX_ONLINE_P, online_p))
    if channel == "2":
        submitted = accepted - timedelta(seconds=rng.randint(300, 3 * 86400))
    elif channel == "3":
        submitted = accepted - timedelta(seconds=rng.randint(3600, 4 * 86400))
    else:
        submitted = accepted - timedelta(seconds=rng.randint(60, 1800))

    if proc.applicant == "2":
        holder = _company_name(rng)
        female = rng.random() < 0.5
        email = _email(rng, rng.choice(_COMPANY_WORD))
    else:
        holder, female = _person_name(rng)
        email = _email(rng, holder)
    id_number = _id_number(rng, agency, female)
    phone = "09" + f"{rng.randrange(10**8):08d}"
    hktt = _address(rng, agency, accepted.date())

    by_post = channel == "3" or (channel == "2" and rng.random() < 0.1)
    paid_online = channel == "2" and menu.payment[i] and rng.random() < rates.paid_online
    digitised = rng.random() < min(1.0, rates.digitised * (1.25 if channel == "2" else 0.9))
    # a procedure that hands out no result document has no electronic one either
    e_result = rng.random() < rates.e_result and returns_result(seed, proc.code)
    reused = rng.random() < rates.reuse
    vneid = channel == "2" and rng.random() < rates.vneid

    base: Dossier = {
        "MaHoSo": f"{agency.code}-{accepted:%y%m%d}-{seq:04d}",
        "MaTTHC": proc.code,
        "TenTTHC": proc.name,
        "MaLinhVuc": proc.field_code,
        "TenLinhVuc": proc.field_name,
        "MucDo": level,
        "DonViXuLy": agency.code,
        "TenDonViXuLy": agency.name,
        "ChuHoSo": holder,
        "LoaiDoiTuong": proc.applicant,
        "SoDinhDanh": id_number,
        "SoDienThoai": phone,
        "Email": email,
        "NgayNopHoSo": format_ts(submitted),
        "NgayTiepNhan": format_ts(accepted),
        "KenhThucHien": channel,
        "HinhThucTra": "1" if by_post else "0",
        "DuocThanhToanTrucTuyen": "1" if paid_online else "0",
        "PhiLePhi": str(proc.fee_vnd),
        "HoSoCoThanhPhanSoHoa": "1" if digitised else "0",
        "TaiSuDungDuLieuSoHoa": "1" if reused else "0",
        "TaiKhoanDuocXacThucVoiVNeID": "1" if vneid else "0",
        "HKTT_MaTinh": hktt[0],
        "HKTT_MaHuyen": hktt[1],
        "HKTT_MaXa": hktt[2],
    }
    desk, processing = _staff(seed, agency.code)
    events, supplements, due = _timeline(
        rng, profile, proc.working_days, accepted, rng.choice(desk), rng.choice(processing)
    )
    apology = _apologise(seed, base["MaHoSo"], events, supplements, due)
    omit = random.Random(f"{seed}|omit|{base['MaHoSo']}")
    omits = set()
    if omit.random() < MISSING_FINISH_SHARE:
        omits |= {"NgayKetThucXuLy", "NgayTra"}
    if omit.random() < MISSING_DUE_SHARE:
        omits.add("NgayHenTra")
    return Life(base, due, events, supplements, e_result, omits=frozenset(omits), apology=apology)


def _apologise(
    seed: int, key: str, events: list[Event], supplements: list[Supplement], due: datetime | None
) -> Apology | None:
    """For a share of the dossiers resolved late: the delay apology (Mẫu 04, TT 01/2018) sent
    on the day the due date passes, with a new appointment on or after the actual finish,
    which the vendor writes over NgayHenTra. Inserted into ``events`` before the finish; its
    own stream, so the other dossiers' draws do not move."""
    finish = next((n for n, e in enumerate(events) if e.status == "9"), None)
    if due is None or finish is None:
        return None
    current = supplements[-1].new_due if supplements else due
    finished = events[finish].at
    if finished.date() <= current.date():
        return None
    rng = random.Random(f"{seed}|apology|{key}")
    if rng.random() >= APOLOGY_SHARE:
        return None
    at = _office_time(rng, current.date())
    if not events[finish - 1].at < at < finished:
        return None
    events.insert(finish, Event(APOLOGY_STEP, "4", at, events[finish - 1].officer))
    return Apology(finish, _due(finished.date(), rng.choice((0, 0, 1, 2))))


def _timeline(
    rng: random.Random,
    profile: _AgencyProfile,
    working_days: int,
    accepted: datetime,
    desk: str,
    officer: str,
) -> tuple[list[Event], list[Supplement], datetime | None]:
    """The dossier's events in order, its supplement requests and its original due date.

    The fate (refused, withdrawn, stopped, resolved early / on time / late) is drawn first,
    as a working-day offset ``k`` of the finish from acceptance on the processing clock;
    supplement requests then pause that clock, moving the finish and the due date by the
    same number of working days, so the early/on-time/late class survives them.
    """
    day = accepted.date()
    due = _due(day, working_days)
    fate = rng.random()
    if fate < _NOT_ACCEPTED_SHARE:
        # Refused at the desk: no appointment slip, nothing else happens.
        return [Event("Từ chối tiếp nhận hồ sơ", "3", accepted, desk)], [], None

    events = [Event("Tiếp nhận hồ sơ", "2", accepted, desk)]
    stopped = fate < _NOT_ACCEPTED_SHARE + _WITHDRAWN_SHARE + _STOPPED_SHARE
    if stopped:
        k = rng.randint(0, working_days)
    else:
        outcome = rng.random()
        if outcome < profile.late:
            k = working_days + rng.choice((1, 1, 1, 2, 2, 3, 5))
        elif outcome < profile.late + profile.early:
            k = rng.randrange(working_days)
        else:
            k = working_days
    intake_offset = 0 if k == 0 or rng.random() < _SAME_DAY_INTAKE_SHARE else 1
    intake_day = add_working_days(day, intake_offset)
    intake = (
        _after_on_same_day(rng, accepted) if intake_offset == 0 else _office_time(rng, intake_day)
    )
    events.append(Event("Chuyển xử lý", "4", intake, officer))

    supplements: list[Supplement] = []
    paused = 0
    wants_supplement = not stopped and rng.random() < profile.supplement
    if wants_supplement and k > intake_offset:
        rounds = 2 if rng.random() < _SECOND_SUPPLEMENT_SHARE else 1
        earliest = intake_offset
        for _ in range(rounds):
            offset = rng.randint(earliest, k - 1 + paused)
            gap = rng.choice((1, 2, 2, 3, 3, 4, 5, 7, 10, 15))
            last = events[-1].at
            requested = _finish_on(rng, max(add_working_days(day, offset), last.date()), last)
            returned = _office_time(rng, add_working_days(requested.date(), gap))
            current_due = _due(day, working_days + paused)
            paused += gap
            supplements.append(
                Supplement(
                    requested,
                    returned,
                    current_due,
                    _due(day, working_days + paused),
                    rng.choice(_SUPPLEMENT_REASONS),
                    len(events),
                    len(events) + 1,
                )
            )
            events.append(Event("Yêu cầu bổ sung hồ sơ", "5", requested, officer))
            events.append(Event("Tiếp nhận hồ sơ bổ sung", "4", returned, desk))
            earliest = offset + gap
            if earliest > k - 1 + paused:
                break

    last = events[-1].at
    finish_day = max(add_working_days(day, k + paused), last.date())
    finished = _finish_on(rng, finish_day, last)
    if stopped:
        withdrawn = fate < _NOT_ACCEPTED_SHARE + _WITHDRAWN_SHARE
        if withdrawn:
            events.append(Event("Công dân rút hồ sơ", "7", finished, desk))
        else:
            events.append(Event("Dừng xử lý hồ sơ", "8", finished, officer))
        return events, supplements, due
    events.append(Event("Hoàn thành xử lý hồ sơ", "9", finished, officer))
    if rng.random() < profile.returned:
        lag = rng.choice((0, 0, 0, 1, 1, 2, 3))
        returned_at = _finish_on(rng, add_working_days(finish_day, lag), finished)
        events.append(Event("Trả kết quả", "10", returned_at, desk))
    return events, supplements, due


def _record(seed: int, life: Life) -> None:
    """Draw when each event of ``life`` was recorded (module docstring), from the dossier's
    own stream. The acceptance is recorded at once: the dossier exists from then on."""
    rng = random.Random(f"{seed}|recorded|{life.key}")
    recorded: list[datetime] = []
    for n, event in enumerate(life.events):
        share = LATE_FINISH_SHARE if event.status in _FINISHING else LATE_OTHER_SHARE
        at = event.at if n == 0 else recording_instant(rng, event.at, share)
        recorded.append(max(at, recorded[-1]) if recorded else at)
    life.recorded = tuple(recorded)


def _seen(life: Life, as_of: datetime) -> int:
    """Events of ``life`` recorded before ``as_of``."""
    return bisect.bisect_left(life.recorded, as_of)


def dossier_at(life: Life, as_of: datetime) -> Dossier | None:
    """The dossier as its system shows it at ``as_of``: only the events recorded by then;
    None before its acceptance."""
    seen = _seen(life, as_of)
    return _project(life, seen) if seen else None


def _project(life: Life, seen: int) -> Dossier:
    """The dossier after its first ``seen`` (≥ 1) recorded events."""
    events = life.events[:seen]
    status = events[-1].status
    finished = next((e.at for e in events if e.status in {"7", "8", "9"}), None)
    returned = next((e.at for e in events if e.status == "10"), None)
    due = life.due
    supplements = []
    for n, s in enumerate((s for s in life.supplements if s.request_event < seen), start=1):
        back = s.return_event < seen
        if back:
            due = s.new_due
        supplements.append(
            {
                "LanBoSung": str(n),
                "NgayYeuCau": format_ts(s.requested),
                "NgayBoSung": format_ts(s.returned) if back else None,
                "NgayHenTraCu": format_ts(s.old_due),
                "NgayHenTraMoi": format_ts(s.new_due) if back else None,
                "LyDo": s.reason,
            }
        )
    if life.apology is not None and life.apology.event < seen:
        due = life.apology.new_due
    base = life.base
    out: Dossier = {key: base.get(key) for key in DOSSIER_KEYS}
    holders = _holders(life, base)
    out["DonViXuLy"], out["TenDonViXuLy"] = holders[seen - 1]
    out["NgayHenTra"] = format_ts(due)
    out["NgayKetThucXuLy"] = format_ts(finished)
    out["NgayTra"] = format_ts(returned)
    out["TrangThaiHoSo"] = status
    out["CoKetQuaDienTu"] = "1" if life.e_result and status in {"9", "10"} else "0"
    out["NgayCapNhat"] = format_ts(life.recorded[seen - 1])
    out["DanhSachHoSoBoSung"] = supplements
    for key in life.omits:
        out[key] = None
    out["CapNhatTienDo"] = [
        {
            "ThuTu": str(n),
            "BuocXuLy": e.step,
            "TrangThai": e.status,
            "ThoiDiem": format_ts(e.at),
            "CanBoXuLy": e.officer,
            # a transferred dossier's progress rows say which agency acted
            **({"DonViXuLy": holders[n - 1][0]} if life.transfers else {}),
        }
        for n, e in enumerate(events, start=1)
    ]
    return out


def _holders(life: Life, base: Dossier) -> list[tuple[str | None, str | None]]:
    """The agency (code, name) handling the dossier after each of its events."""
    holder = (base.get("DonViXuLy"), base.get("TenDonViXuLy"))
    out = []
    pending = list(life.transfers)
    for n in range(len(life.events)):
        while pending and pending[0].event <= n:
            holder = (pending[0].code, pending[0].name)
            pending.pop(0)
        out.append(holder)
    return out


def expected_online_dossiers(cfg: SimulatorConfig, agency: Agency, month: date) -> float:
    """Online dossiers an agency-month should see by the calibration curves (no draws).

    For sources that must follow the one-stop volumes without generating every past month
    (e.g. the portal's cumulative account counts).
    """
    profile = _agency_profile(cfg.seed, agency.code)
    return (
        cfg.dossiers_per_agency_month
        * _demand(cfg.seed, Path(cfg.agencies_csv), _agency_key(agency), last_day(month))
        * _month_rates(month.replace(day=1)).online
        * _TIER_ONLINE.get(agency.tier, 1.0)
        * profile.online
    )


# --- months --------------------------------------------------------------------------------
def month_starts(cfg: SimulatorConfig) -> list[date]:
    first = cfg.start_month.replace(day=1)
    return [add_months(first, i) for i in range(cfg.months)]


def horizon_end(cfg: SimulatorConfig) -> datetime:
    """The first moment after the horizon: the instant the systems are observed at unless a
    caller names another (``as_of=None`` everywhere means this)."""
    return datetime.combine(add_months(cfg.start_month.replace(day=1), cfg.months), time.min)


def _generate_agency_month(
    cfg: SimulatorConfig,
    agency: Agency,
    month: date,
    ministries: frozenset[str],
) -> list[Life]:
    month_end = last_day(month)
    first = max(month, agency.valid_from)
    last = min(month_end, agency.valid_to) if agency.valid_to else month_end
    days = working_days_between(first, last)
    if not days:
        return []
    menu = _menu(cfg, agency.province_code, agency.tier, ministries, days[0])
    if not menu.procs:
        return []
    profile = _agency_profile(cfg.seed, agency.code)
    rng = random.Random(f"{cfg.seed}|{agency.code}|{month:%Y-%m}")
    all_days = len(working_days_between(month, month_end)) or 1
    volume = (
        cfg.dossiers_per_agency_month
        * _demand(cfg.seed, Path(cfg.agencies_csv), _agency_key(agency), first)
        * rng.uniform(0.75, 1.25)
    )
    count = max(1, round(volume * len(days) / all_days))
    accepted_times = sorted(_office_time(rng, rng.choice(days)) for _ in range(count))

    out: list[Life] = []
    seq_by_day: dict[date, int] = {}
    for n, accepted in enumerate(accepted_times):
        seq = seq_by_day[accepted.date()] = seq_by_day.get(accepted.date(), 0) + 1
        dossier_rng = random.Random(f"{cfg.seed}|{agency.code}|{month:%Y-%m}|{n}")
        life = _dossier_life(cfg.seed, dossier_rng, agency, profile, menu, accepted, seq, month)
        _record(cfg.seed, life)
        if agency.valid_to is not None:
            _transfer(cfg, life, agency)
        out.append(life)
    return out


# --- transfers to successors ---------------------------------------------------------------
# When an agency ends (a department merged on 01/03/2025, every district and old commune on
# 01/07/2025), the one-stop system hands its open dossiers to the successor on the first
# morning of the new organisation; the dossier keeps its MaHoSo, NgayTiepNhan and clock, and
# its progress rows say which agency acted (docs/indicator-rules.md, "1 July 2025").
TRANSFER_STEP = "Chuyển hồ sơ cho cơ quan kế thừa (sắp xếp tổ chức bộ máy)"
TRANSFER_TIME = time(7, 30)
_CLOSING_STATUSES = frozenset({"3", "7", "8", "9", "10"})


def _agency_key(agency: Agency) -> str:
    return f"agy:{agency.code}:{agency.valid_from.isoformat()}"


@lru_cache(maxsize=4)
def _lineage(agencies_csv: Path) -> tuple[dict[str, Agency], dict[str, tuple[str, ...]]]:
    """Every agency version by key, and each one's successors (ref_agency_lineage.csv)."""
    from chiso_sim.seed_tables import load_agency_lineage

    by_key = {_agency_key(a): a for a in load_agencies(agencies_csv)}
    successors: dict[str, list[str]] = {}
    for edge in load_agency_lineage():
        successors.setdefault(edge.from_agency_key, []).append(edge.to_agency_key)
    return by_key, {k: tuple(sorted(v)) for k, v in successors.items()}


@lru_cache(maxsize=8)
def _predecessors(agencies_csv: Path) -> dict[str, tuple[tuple[str, date, int], ...]]:
    """Each agency version's predecessors: (key, the day it passed its work on, how many
    successors shared it), from ref_agency_lineage.csv."""
    from chiso_sim.seed_tables import load_agency_lineage

    _, successors = _lineage(agencies_csv)
    out: dict[str, list[tuple[str, date, int]]] = {}
    for edge in load_agency_lineage():
        shared = len(successors.get(edge.from_agency_key, ())) or 1
        out.setdefault(edge.to_agency_key, []).append(
            (edge.from_agency_key, edge.effective_date, shared)
        )
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=4096)
def _demand(seed: int, agencies_csv: Path, key: str, day: date) -> float:
    """An agency version's monthly demand on ``day``, in multiples of
    ``dossiers_per_agency_month``.

    Citizens do not vanish when their agencies merge (1 March, 1 July 2025): from the day a
    predecessor passes its work on, its successors serve its demand, shared equally among
    them. A version the lineage created has no demand of its own; one that existed before
    (a department that absorbed another) keeps its tier's volume and profile and adds theirs.
    """
    by_key, _ = _lineage(agencies_csv)
    agency = by_key[key]
    preds = [p for p in _predecessors(agencies_csv).get(key, ()) if p[0] in by_key]
    created = any(effective == agency.valid_from for _, effective, _ in preds)
    own = (
        0.0
        if created
        else _TIER_VOLUME.get(agency.tier, 1.0) * _agency_profile(seed, agency.code).volume
    )
    return own + sum(
        _demand(seed, agencies_csv, pred, effective - timedelta(days=1)) / shared
        for pred, effective, shared in preds
        if effective <= day
    )


def workload_scale(seed: int, agencies_csv: Path, agency: Agency, day: date) -> float:
    """How much more work an agency version has on ``day`` than a standalone one of its tier
    (1 without predecessors): its :func:`_demand` over its own. The document system scales
    its volume by it, so correspondence, too, follows the agencies that took the work over."""
    own = _TIER_VOLUME.get(agency.tier, 1.0) * _agency_profile(seed, agency.code).volume
    return _demand(seed, agencies_csv, _agency_key(agency), day) / own if own else 1.0


def _successor(cfg: SimulatorConfig, holder: Agency, life: Life, day: date) -> Agency | None:
    """The agency that takes the dossier over: the only successor, else the department that
    handles the procedure's field from ``day`` on, else one successor chosen by the dossier's
    own key (as its applicant's commune decides in a real split): never a share of it."""
    by_key, successors = _lineage(Path(cfg.agencies_csv))
    candidates = [by_key[k] for k in successors.get(_agency_key(holder), ()) if k in by_key]
    candidates = [a for a in candidates if a.valid_on(day)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    field = str(life.base.get("MaLinhVuc") or "")
    ministry = field.split("-", 1)[1][:-2] if "-" in field else ""
    if holder.tier == "province_dept" and ministry:
        families = department_ministries(list(by_key.values()), holder.province_code, day)
        handling = [a for a in candidates if ministry in families.get(a.code, frozenset())]
        if handling:
            return handling[0]
    pick = random.Random(f"{cfg.seed}|transfer|{life.key}").randrange(len(candidates))
    return candidates[pick]


def _transfer(cfg: SimulatorConfig, life: Life, agency: Agency) -> None:
    """Hand the dossier to its agency's successor (and on, if that one ends too) when it is
    still open on the morning after its agency's last day."""
    holder = agency
    while holder.valid_to is not None:
        cutoff = datetime.combine(holder.valid_to + timedelta(days=1), TRANSFER_TIME)
        closing = next((e.at for e in life.events if e.status in _CLOSING_STATUSES), None)
        if closing is not None and closing < cutoff:
            return
        successor = _successor(cfg, holder, life, cutoff.date())
        if successor is None:
            return
        i = bisect.bisect_left([e.at for e in life.events], cutoff)
        before = life.events[i - 1]
        life.events.insert(i, Event(TRANSFER_STEP, before.status, cutoff, before.officer))
        for sup in life.supplements:
            sup.request_event += sup.request_event >= i
            sup.return_event += sup.return_event >= i
        if life.apology is not None and life.apology.event >= i:
            life.apology = Apology(life.apology.event + 1, life.apology.new_due)
        recorded = list(life.recorded)
        recorded.insert(i, max(cutoff, recorded[i - 1]))
        life.recorded = tuple(recorded)
        life.transfers = (*life.transfers, Transfer(i, successor.code, successor.name))
        holder = successor


def _ministries_by_agency(agencies: Sequence[Agency], month: date) -> dict[Agency, frozenset[str]]:
    """Each department's ministries as of its first valid day in ``month``.

    Keyed by the agency row, not its code: codes are reused across the 2025 reform.
    """
    month_end = last_day(month)
    memo: dict[tuple[str, date], dict[str, frozenset[str]]] = {}
    out: dict[Agency, frozenset[str]] = {}
    for a in agencies:
        day = max(month, a.valid_from)
        if a.tier != "province_dept" or day > month_end or not a.valid_on(day):
            continue
        key = (a.province_code, day)
        if key not in memo:
            memo[key] = department_ministries(agencies, a.province_code, day)
        out[a] = memo[key].get(a.code, frozenset())
    return out


@lru_cache(maxsize=6)
def month_lives(cfg: SimulatorConfig, month: date) -> tuple[Life, ...]:
    """The whole lives of the dossiers accepted in ``month`` across the config's agencies,
    sorted by MaHoSo (empty outside the horizon); they do not depend on any instant, so they
    are generated once and projected per instant (a small cache keeps the recent months)."""
    month = month.replace(day=1)
    if month not in month_starts(cfg):
        return ()
    agencies = agencies_for(cfg)
    ministries = _ministries_by_agency(agencies, month)
    out: list[Life] = []
    for agency in agencies:
        if agency.valid_to is not None and agency.valid_to < month:
            continue
        out.extend(_generate_agency_month(cfg, agency, month, ministries.get(agency, frozenset())))
    out.sort(key=lambda life: life.key or "")
    return tuple(out)


def month_history(cfg: SimulatorConfig, month: date) -> Timeline:
    """The month's dossiers through time (:class:`chiso_sim.clock.Timeline`), by MaHoSo."""
    lives = month_lives(cfg, month)
    return Timeline(tuple(life.recorded for life in lives), lambda i, k: _project(lives[i], k))


def generate_month(
    cfg: SimulatorConfig, month: date, as_of: datetime | None = None
) -> list[Dossier]:
    """Dossiers accepted in ``month`` across the config's agencies, sorted by MaHoSo, as the
    system shows them at ``as_of`` (default :func:`horizon_end`): accepted before it, with
    the events recorded before it.

    By default the result equals the month's slice of :func:`generate_dossiers`; months
    outside the horizon have no dossiers.
    """
    return month_history(cfg, month).at(as_of or horizon_end(cfg))


def generate_dossiers(
    cfg: SimulatorConfig | None = None, as_of: datetime | None = None
) -> list[Dossier]:
    """All dossiers accepted during the horizon as at ``as_of`` (default :func:`horizon_end`),
    sorted by MaHoSo; same cfg and instant → same output."""
    cfg = cfg or SimulatorConfig()
    out: list[Dossier] = []
    for month in month_starts(cfg):
        out.extend(generate_month(cfg, month, as_of))
    out.sort(key=lambda d: d["MaHoSo"] or "")
    return out


def dossiers_received_in(dossiers: Iterable[Dossier], first: date, end: date) -> list[Dossier]:
    """Dossiers whose NgayTiepNhan date is in [first, end), sorted by MaHoSo."""
    lo, hi = first.strftime("%Y%m%d"), end.strftime("%Y%m%d")
    picked = [d for d in dossiers if d.get("NgayTiepNhan") and lo <= d["NgayTiepNhan"][:8] < hi]
    return sorted(picked, key=lambda d: d["MaHoSo"] or "")
