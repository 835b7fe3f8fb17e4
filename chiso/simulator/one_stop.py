"""Deterministic generator of one-stop-system dossiers (hồ sơ TTHC).

The warehouse needs a realistic, reproducible source to test against: same config, same bytes.
All randomness comes from ``random.Random`` instances seeded from the config (one per agency and
per agency-month, so extending the horizon does not reshuffle earlier months); there is no global
random state and no wall clock. Field names and codes follow the DVCQG "DongBoHoSoMC" format
described in ``/work/shared/domain/sources.md``.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import holidays

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AGENCIES_CSV = REPO_ROOT / "dbt_project" / "seeds" / "ref_agencies.csv"

TS_FORMAT = "%Y%m%d%H%M%S"
OFFICE_OPEN = time(7, 30)
OFFICE_CLOSE = time(17, 0)

# Every dossier dict has exactly these keys, in this order (the API and XLSX contract).
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
)

TIERS = ("province_dept", "district", "commune")


@dataclass(frozen=True)
class SimulatorConfig:
    """What to generate; frozen so it can key caches and be shared between threads."""

    seed: int = 20200101
    start_month: date = date(2020, 1, 1)
    months: int = 6
    dossiers_per_agency_month: int = 60
    agencies_csv: Path = field(default=DEFAULT_AGENCIES_CSV)


@dataclass(frozen=True)
class Procedure:
    """One administrative procedure (TTHC) of the built-in catalogue."""

    code: str
    name: str
    field_code: str
    field_name: str
    level: int
    tier: str
    working_days: int
    weight: float
    applicant: str  # "1" citizen, "2" business


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


# Illustrative catalogue: codes look like national TTHC database codes; names are real
# procedure names. Each tier only handles its own procedures.
PROCEDURES: tuple[Procedure, ...] = (
    Procedure(
        "2.001822",
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, "
        "người nước ngoài đang cư trú tại Việt Nam",
        "G09-TP04",
        "Lý lịch tư pháp",
        3,
        "province_dept",
        10,
        3.0,
        "1",
    ),
    Procedure(
        "1.001612",
        "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên",
        "G09-KH01",
        "Thành lập và hoạt động của doanh nghiệp",
        4,
        "province_dept",
        3,
        2.0,
        "2",
    ),
    Procedure(
        "2.000815",
        "Đăng ký thay đổi nội dung đăng ký doanh nghiệp",
        "G09-KH01",
        "Thành lập và hoạt động của doanh nghiệp",
        4,
        "province_dept",
        3,
        2.5,
        "2",
    ),
    Procedure(
        "1.004228",
        "Cấp giấy phép khai thác, sử dụng nước mặt",
        "G09-TM07",
        "Tài nguyên nước",
        2,
        "province_dept",
        30,
        1.0,
        "2",
    ),
    Procedure(
        "1.003880",
        "Cấp giấy phép thiết lập trang thông tin điện tử tổng hợp",
        "G09-TT05",
        "Phát thanh, truyền hình và thông tin điện tử",
        3,
        "province_dept",
        10,
        0.8,
        "2",
    ),
    Procedure(
        "2.000575",
        "Đăng ký thành lập hộ kinh doanh",
        "G15-KH02",
        "Thành lập và hoạt động của hộ kinh doanh",
        3,
        "district",
        3,
        2.0,
        "1",
    ),
    Procedure(
        "1.004227",
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "G15-TM01",
        "Đất đai",
        2,
        "district",
        10,
        2.5,
        "1",
    ),
    Procedure(
        "1.009994",
        "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "G15-XD02",
        "Hoạt động xây dựng",
        3,
        "district",
        15,
        1.5,
        "1",
    ),
    Procedure(
        "2.000908",
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản "
        "do cơ quan có thẩm quyền của Việt Nam cấp",
        "G15-TP01",
        "Chứng thực",
        2,
        "district",
        2,
        2.0,
        "1",
    ),
    Procedure(
        "1.001193",
        "Đăng ký khai sinh",
        "G22-TP02",
        "Hộ tịch",
        3,
        "commune",
        1,
        3.0,
        "1",
    ),
    Procedure(
        "1.000894",
        "Đăng ký kết hôn",
        "G22-TP02",
        "Hộ tịch",
        3,
        "commune",
        5,
        1.5,
        "1",
    ),
    Procedure(
        "1.000656",
        "Đăng ký khai tử",
        "G22-TP02",
        "Hộ tịch",
        3,
        "commune",
        1,
        1.0,
        "1",
    ),
    Procedure(
        "1.004873",
        "Cấp Giấy xác nhận tình trạng hôn nhân",
        "G22-TP02",
        "Hộ tịch",
        3,
        "commune",
        3,
        1.5,
        "1",
    ),
    Procedure(
        "2.000913",
        "Chứng thực chữ ký trong các giấy tờ, văn bản",
        "G22-TP01",
        "Chứng thực",
        2,
        "commune",
        1,
        2.5,
        "1",
    ),
)

# Volume and channel behaviour per tier (departments are busier and more online than communes).
_TIER_VOLUME = {"province_dept": 1.3, "district": 1.0, "commune": 0.6}
_TIER_ONLINE = {"province_dept": 0.24, "district": 0.12, "commune": 0.06}
_ONLINE_L4_BONUS = 1.4
_BCCI_SHARE = 0.055
_NULL_CHANNEL_SHARE = 0.035
_NOT_ACCEPTED_SHARE = 0.02
_WITHDRAWN_SHARE = 0.02
_STOPPED_SHARE = 0.012


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


def load_agencies(path: Path) -> list[Agency]:
    """Read the agency reference seed at runtime so the simulator follows its validity dates."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
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


def procedures_for_tier(tier: str) -> list[Procedure]:
    return [p for p in PROCEDURES if p.tier == tier]


def add_months(month: date, n: int) -> date:
    idx = month.year * 12 + month.month - 1 + n
    return date(idx // 12, idx % 12 + 1, 1)


@lru_cache(maxsize=64)
def _vn_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year).keys())


def is_working_day(day: date) -> bool:
    """Mon–Fri and not a Vietnamese public holiday (per the ``holidays`` package)."""
    return day.weekday() < 5 and day not in _vn_holidays(day.year)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day`` (n=0 returns ``day`` itself)."""
    current = day
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(first: date, last: date) -> list[date]:
    """Working days in [first, last], inclusive."""
    days = []
    current = first
    while current <= last:
        if is_working_day(current):
            days.append(current)
        current += timedelta(days=1)
    return days


def format_ts(value: datetime | None) -> str | None:
    return value.strftime(TS_FORMAT) if value is not None else None


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
    return _office_time(rng, day)


@dataclass(frozen=True)
class _AgencyProfile:
    """Per-agency behaviour, so rates differ between agencies."""

    volume: float
    online: float
    early: float
    late: float
    returned: float


def _agency_profile(seed: int, agency: Agency) -> _AgencyProfile:
    rng = random.Random(f"{seed}|profile|{agency.code}")
    return _AgencyProfile(
        volume=rng.uniform(0.8, 1.2),
        online=rng.uniform(0.55, 1.45),
        early=min(0.85, max(0.5, 0.67 + rng.uniform(-0.1, 0.1))),
        late=0.016 * rng.uniform(0.3, 2.0),
        returned=rng.uniform(0.75, 0.95),
    )


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


def _generate_agency_month(
    seed: int,
    agency: Agency,
    profile: _AgencyProfile,
    month: date,
    base_volume: int,
    horizon_end: datetime,
) -> list[dict[str, str | None]]:
    rng = random.Random(f"{seed}|{agency.code}|{month:%Y-%m}")
    month_end = add_months(month, 1) - timedelta(days=1)
    first = max(month, agency.valid_from)
    last = min(month_end, agency.valid_to) if agency.valid_to else month_end
    days = working_days_between(first, last)
    if not days:
        return []
    all_days = len(working_days_between(month, month_end)) or 1
    volume = base_volume * _TIER_VOLUME[agency.tier] * profile.volume * rng.uniform(0.75, 1.25)
    count = max(1, round(volume * len(days) / all_days))

    catalogue = procedures_for_tier(agency.tier)
    weights = [p.weight for p in catalogue]
    accepted_times = sorted(_office_time(rng, rng.choice(days)) for _ in range(count))

    dossiers: list[dict[str, str | None]] = []
    seq_by_day: dict[date, int] = {}
    for accepted in accepted_times:
        seq_by_day[accepted.date()] = seq_by_day.get(accepted.date(), 0) + 1
        proc = rng.choices(catalogue, weights)[0]
        dossiers.append(
            _one_dossier(
                rng,
                agency,
                profile,
                proc,
                accepted,
                seq_by_day[accepted.date()],
                horizon_end,
            )
        )
    return dossiers


def _one_dossier(
    rng: random.Random,
    agency: Agency,
    profile: _AgencyProfile,
    proc: Procedure,
    accepted: datetime,
    seq: int,
    horizon_end: datetime,
) -> dict[str, str | None]:
    # Channel: online only for level 3/4 procedures.
    online_p = 0.0
    if proc.level >= 3:
        online_p = _TIER_ONLINE[agency.tier] * profile.online
        if proc.level == 4:
            online_p *= _ONLINE_L4_BONUS
    roll = rng.random()
    if roll < online_p:
        channel: str | None = "2"
    elif roll < online_p + _BCCI_SHARE:
        channel = "3"
    else:
        channel = None if rng.random() < _NULL_CHANNEL_SHARE else "1"

    if channel == "2":
        submitted = accepted - timedelta(seconds=rng.randint(300, 3 * 86400))
    elif channel == "3":
        submitted = accepted - timedelta(seconds=rng.randint(3600, 4 * 86400))
    else:
        submitted = accepted - timedelta(seconds=rng.randint(60, 1800))

    # Applicant.
    applicant = proc.applicant
    if applicant == "2":
        holder = _company_name(rng)
        female = rng.random() < 0.5
        email = _email(rng, rng.choice(_COMPANY_WORD))
    else:
        holder, female = _person_name(rng)
        email = _email(rng, holder)
    id_number = _id_number(rng, agency, female)
    phone = "09" + f"{rng.randrange(10**8):08d}"

    due_day = add_working_days(accepted.date(), proc.working_days)
    due: datetime | None = datetime.combine(due_day, OFFICE_CLOSE)

    finished: datetime | None = None
    returned: datetime | None = None
    fate = rng.random()
    if fate < _NOT_ACCEPTED_SHARE:
        status = "3"
        due = None  # refused at the desk: no appointment slip is issued
    elif fate < _NOT_ACCEPTED_SHARE + _WITHDRAWN_SHARE + _STOPPED_SHARE:
        status = "7" if fate < _NOT_ACCEPTED_SHARE + _WITHDRAWN_SHARE else "8"
        stop_day = add_working_days(accepted.date(), rng.randint(0, proc.working_days))
        finished = _finish_on(rng, stop_day, accepted)
    else:
        outcome = rng.random()
        if outcome < profile.late:
            finish_day = add_working_days(due_day, rng.choice((1, 1, 1, 2, 2, 3, 5)))
        elif outcome < profile.late + profile.early:
            finish_day = add_working_days(accepted.date(), rng.randrange(proc.working_days))
        else:
            finish_day = due_day
        finished = _finish_on(rng, finish_day, accepted)
        status = "9"
        if rng.random() < profile.returned:
            lag = rng.choice((0, 0, 0, 1, 1, 2, 3))
            returned = _finish_on(rng, add_working_days(finish_day, lag), finished)
            status = "10"
        if returned is not None and returned >= horizon_end:
            returned, status = None, "9"

    if finished is not None and finished >= horizon_end:
        # Not finished yet as of the end of the horizon: still open.
        finished, returned = None, None
        recent = accepted >= horizon_end - timedelta(days=3)
        status = "2" if recent and rng.random() < 0.5 else ("5" if rng.random() < 0.15 else "4")

    by_post = channel == "3" or (channel == "2" and rng.random() < 0.1)
    paid_online = channel == "2" and rng.random() < 0.3

    dossier: dict[str, str | None] = {
        "MaHoSo": f"{agency.code}-{accepted:%y%m%d}-{seq:04d}",
        "MaTTHC": proc.code,
        "TenTTHC": _nfc(proc.name),
        "MaLinhVuc": proc.field_code,
        "TenLinhVuc": _nfc(proc.field_name),
        "MucDo": str(proc.level),
        "DonViXuLy": agency.code,
        "TenDonViXuLy": agency.name,
        "ChuHoSo": holder,
        "LoaiDoiTuong": applicant,
        "SoDinhDanh": id_number,
        "SoDienThoai": phone,
        "Email": email,
        "NgayNopHoSo": format_ts(submitted),
        "NgayTiepNhan": format_ts(accepted),
        "NgayHenTra": format_ts(due),
        "NgayKetThucXuLy": format_ts(finished),
        "NgayTra": format_ts(returned),
        "TrangThaiHoSo": status,
        "KenhThucHien": channel,
        "HinhThucTra": "1" if by_post else "0",
        "DuocThanhToanTrucTuyen": "1" if paid_online else "0",
    }
    return dossier


def month_starts(cfg: SimulatorConfig) -> list[date]:
    first = cfg.start_month.replace(day=1)
    return [add_months(first, i) for i in range(cfg.months)]


def generate_dossiers(cfg: SimulatorConfig | None = None) -> list[dict[str, str | None]]:
    """All dossiers accepted during the horizon, sorted by MaHoSo; same cfg → same output."""
    cfg = cfg or SimulatorConfig()
    agencies = load_agencies(Path(cfg.agencies_csv))
    months = month_starts(cfg)
    if not months:
        return []
    horizon_end = datetime.combine(add_months(months[-1], 1), time.min)
    out: list[dict[str, str | None]] = []
    for agency in agencies:
        if agency.tier not in _TIER_VOLUME:
            continue
        profile = _agency_profile(cfg.seed, agency)
        for month in months:
            out.extend(
                _generate_agency_month(
                    cfg.seed,
                    agency,
                    profile,
                    month,
                    cfg.dossiers_per_agency_month,
                    horizon_end,
                )
            )
    out.sort(key=lambda d: d["MaHoSo"] or "")
    return out


def dossiers_received_in(
    dossiers: Iterable[dict[str, str | None]], first: date, end: date
) -> list[dict[str, str | None]]:
    """Dossiers whose NgayTiepNhan date is in [first, end), sorted by MaHoSo."""
    lo, hi = first.strftime("%Y%m%d"), end.strftime("%Y%m%d")
    picked = [d for d in dossiers if d.get("NgayTiepNhan") and lo <= d["NgayTiepNhan"][:8] < hi]
    return sorted(picked, key=lambda d: d["MaHoSo"] or "")
