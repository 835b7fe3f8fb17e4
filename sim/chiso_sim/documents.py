"""Deterministic generator of document-management-system movements (văn bản đi / đến).

The warehouse's ``doc.*`` indicators (``indicators.md`` section C) need a source whose shares
are known in advance, so that a wrong join or a wrong denominator shows up as a wrong number.
The shares are calibrated on Hòa Bình's 2019 results (seed 002: 90% of internal documents
electronic only, 70% of official documents electronic alongside paper, 30% fully electronic) and
move smoothly towards the national 2025 targets (NQ 17, QĐ 749), differently per tier and agency.

Rows follow the canonical ``documents.movements`` entity. All randomness comes from
``random.Random`` instances seeded with strings: one per agency and month
(``"{seed}|documents|{agency}|{YYYY-MM}"``) plus a per-agency profile and a hash per work file,
so a month's rows never depend on which other months are generated; there is no global random
state and no wall clock. A sent document addressed to another simulated agency of the same
province is also received by it, with the same number/symbol (số/ký hiệu).

Movements are seen as of an instant ``as_of`` (:mod:`chiso_sim.clock`; default: the end of the
config's horizon). A movement exists from its sending or receipt (``ngay_gui_nhan``) on; its
handling (``ngay_xu_ly``) shows once the system recorded it: at once mostly, but about 6% of
handlings are recorded 1–12 working days late, backdated (drawn from their own stream,
``"{seed}|documents|recorded|{ma_van_ban}"``, so no other draw changes). ``ngay_cap_nhat`` is
the latest recorded instant among the movement's visible facts. A month's movements are
generated once, whatever the instant (:func:`month_history`), and projected per instant.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from chiso.core.months import add_months, last_day
from chiso.sources.canonical import DOCUMENTS_MOVEMENTS
from chiso_sim.clock import Timeline
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import (
    LATE_FINISH_SHARE,
    add_working_days,
    horizon_end,
    is_working_day,
    load_agencies,
    month_starts,
    recording_instant,
)

Row = dict[str, str | None]

# Every row has exactly these keys, in this order (the canonical landing columns).
DOCUMENT_KEYS: tuple[str, ...] = tuple(DOCUMENTS_MOVEMENTS.columns)

TIERS = ("province_dept", "district", "commune")
OFFICE_OPEN = time(7, 30)
OFFICE_SECONDS = int(9.5 * 3600)  # 7:30–17:00

# Volume: departments exchange far more documents than communes.
_TIER_VOLUME = {"province_dept": 1.5, "district": 1.2, "commune": 0.5}
# Share of an agency's movements that it sends (the rest it receives).
_SENT_SHARE = {"province_dept": 0.40, "district": 0.40, "commune": 0.35}
# Share of sent documents that are internal (drafts, meeting invitations, weekly schedules).
_INTERNAL_SHARE = {"province_dept": 0.32, "district": 0.28, "commune": 0.25}
# Year-end reporting is busy, Tết is quiet.
_SEASON = {1: 0.95, 2: 0.8, 3: 1.0, 4: 0.95, 5: 1.0, 6: 1.05, 7: 1.0, 8: 0.95, 9: 1.0, 10: 1.0}
_SEASON |= {11: 1.05, 12: 1.2}
# Documents per work file (hồ sơ công việc); sets how many files an agency opens a year.
_DOCS_PER_FILE = 6


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- calibration ---------------------------------------------------------------------------


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class _Trend:
    """A share moving between two anchors, linear in log-odds.

    Log-odds keep the share inside (0, 1) when extrapolated past the anchors and give the
    S-shaped adoption curves seen in practice; ``shift`` (log-odds) makes an agency or tier lead
    or lag without breaking the shape.
    """

    p0: float
    p1: float
    t0: float = 2019.5
    t1: float = 2025.5
    _x0: float = field(init=False, repr=False)
    _slope: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_x0", _logit(self.p0))
        object.__setattr__(self, "_slope", (_logit(self.p1) - self._x0) / (self.t1 - self.t0))

    def at(self, t: float, shift: float = 0.0) -> float:
        return _expit(self._x0 + self._slope * (t - self.t0) + shift)


# Anchors: mid-2019 from seed 002 (Hòa Bình), mid-2025 from NQ 17 / QĐ 749 targets.
INTERNAL_ELECTRONIC = _Trend(0.90, 0.99)
OFFICIAL_ELECTRONIC = _Trend(0.27, 0.90)
OFFICIAL_PAPER_ONLY = _Trend(0.02, 0.008)
SIGNED = _Trend(0.40, 0.95)
AXIS = _Trend(0.55, 0.995, t1=2022.5)  # national document axis: all systems connected by 2022
ON_TIME = _Trend(0.90, 0.93)
WORKFILE_ONLINE = {
    "province_dept": _Trend(0.45, 0.90),
    "district": _Trend(0.32, 0.80),
    "commune": _Trend(0.18, 0.60),
}
# Departments lead, communes lag (log-odds).
_TIER_SHIFT = {"province_dept": 0.25, "district": 0.0, "commune": -0.35}

_DEADLINE_DAYS = (1, 2, 3, 3, 5, 5, 5, 7, 7, 10, 10, 15)
_LATE_DAYS = (1, 1, 1, 2, 2, 3, 5, 8)
_NO_DEADLINE_LAG = (0, 0, 0, 1, 1, 2, 3, 5)


def _year_fraction(day: date) -> float:
    return day.year + (day.month - 0.5) / 12


# --- agencies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """A simulated agency with what the document system needs beyond ``load_agencies``."""

    code: str
    name: str
    tier: str
    province_code: str
    province_name: str
    parent: str | None
    valid_from: date
    valid_to: date | None
    abbr: str  # ký hiệu of the agency in document numbers: STP, SKHĐT, UBND
    units: tuple[str, ...]  # drafting units for công văn symbols: VP, ĐKKD …
    agencies_csv: str = ""  # the reference file it comes from (its lineage scales its volume)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


_UPPER_WORD = re.compile(r"^[A-ZĐ]{2,}$")


def agency_abbreviation(name: str) -> str:
    """Ký hiệu of an agency as used in document numbers (NĐ 30/2020 style).

    People's committees all sign as ``UBND``; other bodies use the initials of their name
    without the province (``Sở Kế hoạch và Đầu tư tỉnh Hải Dương`` → ``SKHĐT``).
    """
    name = _nfc(name.strip())
    if name.startswith(("UBND", "Ủy ban nhân dân", "Uỷ ban nhân dân")):
        return "UBND"
    core = re.split(r"\s+(?:tỉnh|thành phố)\s+", name, maxsplit=1)[0]
    letters: list[str] = []
    for word in re.split(r"[\s,\-–]+", core):
        if not word or word == "và":
            continue
        letters.append(word if _UPPER_WORD.match(word) else word[0].upper())
    return "".join(letters) or "CQ"


_DEPT_UNITS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Tư pháp", ("VP", "VP", "HCTP", "BTTP", "PBGDPL")),
    ("Kế hoạch", ("VP", "VP", "ĐKKD", "TH", "ĐTTĐGS")),
    ("Tài nguyên", ("VP", "VP", "QLĐĐ", "TNN", "MT")),
    ("Thông tin", ("VP", "VP", "CNTT", "BCVT", "TTBCXB")),
    ("Nội vụ", ("VP", "VP", "CCVC", "TCBC", "CCHC")),
    ("Tài chính", ("VP", "VP", "QLNS", "TCDN", "QLG")),
)
_TIER_UNITS = {
    "province_dept": ("VP", "VP", "VP", "TTr", "KHTC"),
    "district": ("VP", "VP", "VP", "TCKH", "TNMT", "NV", "TP", "VHTT"),
    "commune": ("VP", "VP", "ĐC", "TP", ""),  # "" = no drafting unit: 35/UBND
}


def _drafting_units(name: str, tier: str) -> tuple[str, ...]:
    if tier == "province_dept":
        for keyword, units in _DEPT_UNITS:
            if keyword in name:
                return units
    return _TIER_UNITS[tier]


def _read_extra_columns(path: Path) -> dict[str, tuple[str, str | None]]:
    """Province name and parent agency per code (``load_agencies`` does not keep them)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        row["agency_code"].strip(): (
            _nfc((row.get("province_name") or "").strip()),
            (row.get("parent_agency_code") or "").strip() or None,
        )
        for row in rows
    }


@lru_cache(maxsize=16)
def _load_units_cached(path: str, _mtime_ns: int) -> tuple[_Unit, ...]:
    extra = _read_extra_columns(Path(path))
    units: list[_Unit] = []
    for a in load_agencies(Path(path)):
        if a.tier not in _TIER_VOLUME:
            continue
        province_name, parent = extra.get(a.code, ("", None))
        units.append(
            _Unit(
                code=a.code,
                name=a.name,
                tier=a.tier,
                province_code=a.province_code,
                province_name=province_name,
                parent=parent,
                valid_from=a.valid_from,
                valid_to=a.valid_to,
                abbr=agency_abbreviation(a.name),
                units=_drafting_units(a.name, a.tier),
                agencies_csv=path,
            )
        )
    return tuple(units)


def _load_units(path: Path) -> tuple[_Unit, ...]:
    """Agencies of the seed, cached by path and modification time (read once per run)."""
    return _load_units_cached(str(path), path.stat().st_mtime_ns)


# --- bodies outside the simulation ---------------------------------------------------------


@dataclass(frozen=True)
class _Body:
    """A sender/recipient that is not simulated: ministries, the province's leadership."""

    name: str  # "{tinh}" is replaced by "tỉnh Hải Dương"
    abbr: str
    weights: tuple[float, float, float]  # how often it deals with a dept, district, commune
    per_day: int  # documents it numbers per working day: keeps its numbers plausible
    valid_from: date = date.min
    valid_to: date = date.max
    types: tuple[tuple[str, float], ...] = ()  # overrides the received-type mix
    upward: bool = False  # reports and submissions (tờ trình) may go to it

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


_MERGED_2025 = date(2025, 2, 28)  # ministries merged on 1 March 2025
_BODIES: tuple[_Body, ...] = (
    _Body(
        "Thủ tướng Chính phủ",
        "TTg",
        (0.4, 0.15, 0.03),
        6,
        types=(("Quyết định", 7), ("Công văn", 3)),
    ),
    _Body("Văn phòng Chính phủ", "VPCP", (1.0, 0.3, 0.05), 30),
    _Body("Bộ Nội vụ", "BNV", (1.0, 0.4, 0.1), 20, upward=True),
    _Body("Bộ Tư pháp", "BTP", (0.8, 0.3, 0.1), 15),
    _Body("Bộ Tài chính", "BTC", (0.8, 0.3, 0.1), 40),
    _Body("Bộ Kế hoạch và Đầu tư", "BKHĐT", (0.7, 0.2, 0.05), 20, valid_to=_MERGED_2025),
    _Body("Bộ Tài nguyên và Môi trường", "BTNMT", (0.6, 0.3, 0.05), 20, valid_to=_MERGED_2025),
    _Body("Bộ Thông tin và Truyền thông", "BTTTT", (0.7, 0.3, 0.1), 15, valid_to=_MERGED_2025),
    _Body("Bộ Khoa học và Công nghệ", "BKHCN", (0.4, 0.1, 0.02), 10),
    _Body(
        "Bộ Nông nghiệp và Môi trường",
        "BNNMT",
        (0.6, 0.3, 0.05),
        25,
        valid_from=date(2025, 3, 1),
    ),
    _Body("UBND {tinh}", "UBND", (4.0, 4.0, 1.5), 25, upward=True),
    _Body("Văn phòng UBND {tinh}", "VPUBND", (2.0, 2.0, 0.5), 12, upward=True),
    _Body("HĐND {tinh}", "HĐND", (0.5, 0.5, 0.2), 3),
    _Body("Sở Nội vụ {tinh}", "SNV", (1.2, 2.0, 0.8), 8),
    _Body("Sở Tài chính {tinh}", "STC", (1.2, 2.0, 0.8), 8),
    _Body("Sở Xây dựng {tinh}", "SXD", (0.6, 1.5, 0.5), 6),
    _Body("Sở Văn hóa, Thể thao và Du lịch {tinh}", "SVHTTDL", (0.5, 1.0, 0.4), 5),
)
_PROVINCE_BODY = next(b for b in _BODIES if b.name == "UBND {tinh}")
_CITIES = frozenset({"Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ"})
_BODY_CV_UNITS = ("VP", "VP", "VP", "TH", "KSTT", "TCCB", "KTTH")


def _province_label(province_name: str) -> str:
    if not province_name:
        return "tỉnh"
    return f"{'thành phố' if province_name in _CITIES else 'tỉnh'} {province_name}"


def _body_name(body: _Body, unit: _Unit) -> str:
    return _body_name_in(body, unit.province_name)


@lru_cache(maxsize=1024)
def _body_name_in(body: _Body, province_name: str) -> str:
    return _nfc(body.name.replace("{tinh}", _province_label(province_name)))


# --- document types and summaries -----------------------------------------------------------

TYPE_SYMBOL: dict[str, str | None] = {
    "Công văn": None,
    "Quyết định": "QĐ",
    "Kế hoạch": "KH",
    "Báo cáo": "BC",
    "Giấy mời": "GM",
    "Thông báo": "TB",
    "Tờ trình": "TTr",
}
_UPWARD_TYPES = frozenset({"Báo cáo", "Tờ trình"})
_SENT_TYPES: dict[str, tuple[tuple[str, float], ...]] = {
    "province_dept": (
        ("Công văn", 55),
        ("Quyết định", 10),
        ("Kế hoạch", 6),
        ("Báo cáo", 12),
        ("Giấy mời", 7),
        ("Thông báo", 6),
        ("Tờ trình", 4),
    ),
    "district": (
        ("Công văn", 52),
        ("Quyết định", 10),
        ("Kế hoạch", 7),
        ("Báo cáo", 12),
        ("Giấy mời", 7),
        ("Thông báo", 7),
        ("Tờ trình", 5),
    ),
    "commune": (
        ("Công văn", 45),
        ("Quyết định", 6),
        ("Kế hoạch", 7),
        ("Báo cáo", 22),
        ("Giấy mời", 5),
        ("Thông báo", 7),
        ("Tờ trình", 8),
    ),
}
_INTERNAL_TYPES = (("Công văn", 35), ("Giấy mời", 30), ("Thông báo", 25), ("Kế hoạch", 10))
_RECEIVED_TYPES = (
    ("Công văn", 58),
    ("Quyết định", 12),
    ("Kế hoạch", 8),
    ("Thông báo", 9),
    ("Giấy mời", 11),
    ("Báo cáo", 2),
)

# (topic, first year, last year): what provinces were busy with, year by year.
_TOPICS: tuple[tuple[str, int, int], ...] = (
    ("cải cách hành chính", 2000, 2100),
    ("ứng dụng công nghệ thông tin trong hoạt động của cơ quan nhà nước", 2000, 2020),
    ("xây dựng Chính phủ điện tử", 2000, 2020),
    ("chuyển đổi số", 2020, 2100),
    ("xây dựng chính quyền số", 2021, 2100),
    (
        "Đề án 06/CP về phát triển ứng dụng dữ liệu về dân cư, định danh và xác thực điện tử",
        2022,
        2100,
    ),
    ("phòng, chống dịch COVID-19", 2020, 2022),
    ("cung cấp dịch vụ công trực tuyến", 2000, 2100),
    ("xây dựng nông thôn mới", 2000, 2100),
    ("bảo đảm an toàn thông tin mạng", 2000, 2100),
    ("phổ biến, giáo dục pháp luật", 2000, 2100),
    ("quản lý nhà nước về đất đai", 2000, 2100),
    ("phòng, chống thiên tai và tìm kiếm cứu nạn", 2000, 2100),
    ("thực hiện tiết kiệm, chống lãng phí", 2000, 2100),
    ("giải ngân vốn đầu tư công", 2000, 2100),
    ("tiếp công dân, giải quyết khiếu nại, tố cáo", 2000, 2100),
    ("bảo đảm trật tự an toàn giao thông", 2000, 2100),
    ("thu ngân sách nhà nước", 2000, 2100),
    ("sắp xếp đơn vị hành chính cấp huyện, cấp xã", 2019, 2020),
    ("sắp xếp đơn vị hành chính cấp huyện, cấp xã giai đoạn 2023 - 2025", 2023, 2025),
    ("Chương trình mục tiêu quốc gia giảm nghèo bền vững", 2022, 2100),
    ("sắp xếp, tinh gọn tổ chức bộ máy theo Nghị quyết số 18-NQ/TW", 2025, 2025),
    ("tổ chức chính quyền địa phương hai cấp", 2025, 2025),
)
_DRAFTS = (
    "Quy chế làm việc của cơ quan",
    "Quy chế quản lý, sử dụng chữ ký số",
    "Quy chế công tác văn thư, lưu trữ",
    "Quy chế chi tiêu nội bộ năm {y}",
    "Kế hoạch cải cách hành chính năm {y1}",
    "Kế hoạch chuyển đổi số năm {y1}",
    "Nghị quyết của HĐND tỉnh về phí, lệ phí",
)
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Công văn": (
        "V/v triển khai thực hiện {topic}",
        "V/v báo cáo kết quả {topic} {period}",
        "V/v góp ý dự thảo {draft}",
        "V/v đôn đốc thực hiện {topic}",
        "V/v cử cán bộ tham gia tập huấn {topic}",
        "V/v rà soát, cập nhật số liệu về {topic}",
        "V/v cung cấp thông tin phục vụ kiểm tra {topic}",
        "V/v tăng cường {topic}",
        "V/v hướng dẫn thực hiện {topic}",
    ),
    "Quyết định": (
        "Về việc thành lập Tổ công tác triển khai {topic}",
        "Ban hành {draft}",
        "Phê duyệt Kế hoạch {topic} năm {y}",
        "Về việc cử công chức tham gia lớp bồi dưỡng về {topic}",
        "Về việc khen thưởng thành tích trong thực hiện {topic} năm {y0}",
        "Về việc kiện toàn Ban Chỉ đạo {topic}",
    ),
    "Kế hoạch": (
        "Triển khai thực hiện {topic} năm {y}",
        "Kiểm tra công tác {topic} năm {y}",
        "Tuyên truyền về {topic} năm {y}",
        "Ứng dụng công nghệ thông tin, chuyển đổi số trong hoạt động của cơ quan nhà nước năm {y}",
    ),
    "Báo cáo": (
        "Kết quả thực hiện {topic} {period}",
        "Tình hình giải quyết thủ tục hành chính {period}",
        "Kết quả công tác {period}, nhiệm vụ trọng tâm {next_period}",
        "Kết quả công tác văn thư, lưu trữ năm {y0}",
    ),
    "Giấy mời": (
        "Mời dự Hội nghị triển khai {topic}",
        "Mời họp bàn về {topic}",
        "Mời dự buổi làm việc với Đoàn kiểm tra công tác {topic}",
        "Mời dự tập huấn về {topic}",
    ),
    "Thông báo": (
        "Kết luận của Chủ tịch UBND tại cuộc họp về {topic}",
        "Kết quả kiểm tra công tác {topic} năm {y}",
        "Ý kiến chỉ đạo về {topic}",
    ),
    "Tờ trình": (
        "Đề nghị phê duyệt dự toán kinh phí thực hiện {topic} năm {y}",
        "Đề nghị phê duyệt Kế hoạch {topic} năm {y}",
        "Đề nghị khen thưởng tập thể, cá nhân có thành tích trong {topic}",
    ),
}
_INTERNAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Công văn": (
        "Xin ý kiến dự thảo {draft}",
        "V/v phân công nhiệm vụ thực hiện {topic}",
        "V/v đăng ký nhu cầu đào tạo, bồi dưỡng năm {y1}",
    ),
    "Giấy mời": (
        "Mời họp giao ban tháng {m}/{y}",
        "Mời họp triển khai nhiệm vụ {topic}",
        "Mời dự Hội nghị cán bộ, công chức năm {y}",
    ),
    "Thông báo": (
        "Lịch công tác tuần {w} năm {wy}",
        "Phân công trực cơ quan",
        "Kết luận cuộc họp giao ban tháng {m}/{y}",
    ),
    "Kế hoạch": (
        "Tổ chức Hội nghị cán bộ, công chức năm {y}",
        "Tự kiểm tra công tác {topic} năm {y}",
    ),
}
_STEMS = ("Giáp", "Ất", "Bính", "Đinh", "Mậu", "Kỷ", "Canh", "Tân", "Nhâm", "Quý")
_BRANCHES = ("Tý", "Sửu", "Dần", "Mão", "Thìn", "Tỵ", "Ngọ", "Mùi", "Thân", "Dậu", "Tuất", "Hợi")


def _lunar_year_name(year: int) -> str:
    """Can-chi name of a lunar year (2019 Kỷ Hợi, 2025 Ất Tỵ) for Tết announcements."""
    return f"{_STEMS[(year - 4) % 10]} {_BRANCHES[(year - 4) % 12]}"


def _seasonal(kind: str, day: date) -> tuple[str, ...]:
    """Summaries that only make sense at a time of year (Tết, public holidays, year end)."""
    m, y = day.month, day.year
    out: tuple[str, ...] = ()
    if kind == "Thông báo" and m in (12, 1):
        tet = y + 1 if m == 12 else y
        out += (f"Nghỉ Tết Nguyên đán {_lunar_year_name(tet)} năm {tet}",)
    if kind == "Thông báo" and m == 4:
        out += (f"Nghỉ lễ Ngày Chiến thắng 30/4 và Ngày Quốc tế Lao động 1/5 năm {y}",)
    if kind == "Thông báo" and m == 8:
        out += (f"Nghỉ lễ Quốc khánh 2/9 năm {y}",)
    if kind == "Báo cáo" and m in (12, 1):
        out += (f"Tổng kết công tác năm {y if m == 12 else y - 1}",)
    if kind == "Báo cáo" and m in (6, 7):
        out += (f"Sơ kết công tác 6 tháng đầu năm {y}",)
    return out


def _topic(rng: random.Random, year: int) -> str:
    return rng.choice([t for t, first, last in _TOPICS if first <= year <= last])


def _period(rng: random.Random, day: date) -> tuple[str, str]:
    """The reporting period a summary refers to (usually the previous month) and the next one."""
    prev = add_months(day.replace(day=1), -1)
    roll = rng.random()
    if roll < 0.55:
        return f"tháng {prev.month}/{prev.year}", f"tháng {day.month}/{day.year}"
    if roll < 0.8:
        q = (prev.month - 1) // 3 + 1
        nxt = q % 4 + 1
        return f"quý {q} năm {prev.year}", f"quý {nxt} năm {prev.year + (q == 4)}"
    return f"năm {day.year}", f"năm {day.year + 1}"


def _summary(rng: random.Random, kind: str, day: date, internal: bool) -> str:
    """A real-sounding trích yếu for a document of ``kind`` dated ``day``."""
    pool = (_INTERNAL_TEMPLATES if internal else _TEMPLATES)[kind]
    seasonal = () if internal else _seasonal(kind, day)
    template = rng.choice(pool + seasonal * 2)
    if "{" not in template:
        return template
    y = day.year
    period, next_period = _period(rng, day)
    week_year, week, _ = day.isocalendar()
    return template.format(
        topic=_topic(rng, y),
        draft=rng.choice(_DRAFTS).format(y=y, y1=y + 1),
        period=period,
        next_period=next_period,
        y=y,
        y0=y - 1,
        y1=y + 1,
        m=day.month,
        w=week,
        wy=week_year,
    )


# --- per-agency behaviour -------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """Per-agency behaviour, so the shares differ between agencies of a tier."""

    volume: float
    adoption: float  # log-odds shift of electronic forms and the axis
    signing: float  # log-odds shift of digital signing
    workfile: float  # log-odds shift of online work files
    ontime: float  # log-odds shift of on-time handling
    secret: float
    filed: float  # share of documents kept in a work file
    deadline: float  # share of received documents given a deadline


@lru_cache(maxsize=4096)
def _profile(seed: int, unit: _Unit) -> _Profile:
    rng = random.Random(f"{seed}|documents|{unit.code}|profile")
    tier = _TIER_SHIFT[unit.tier]
    return _Profile(
        volume=rng.uniform(0.8, 1.2),
        adoption=tier + rng.gauss(0.0, 0.25),
        signing=tier / 2 + rng.gauss(0.0, 0.3),
        workfile=rng.gauss(0.0, 0.25),
        ontime=rng.gauss(0.0, 0.3),
        secret=rng.uniform(0.008, 0.022),
        filed=rng.uniform(0.78, 0.92),
        deadline=rng.uniform(0.5, 0.7),
    )


def _hash_unit(key: str) -> float:
    """A uniform [0, 1) number from a string: fixes a work file's fate whatever month uses it."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --- calendar -------------------------------------------------------------------------------


def _working_days(unit: _Unit, month: date) -> list[date]:
    """Working days of ``month`` on which ``unit`` exists."""
    day, last = month, last_day(month)
    days = []
    while day <= last:
        if unit.valid_on(day) and is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


@lru_cache(maxsize=512)
def _month_working_day_count(month: date) -> int:
    day, last, n = month, last_day(month), 0
    while day <= last:
        n += is_working_day(day)
        day += timedelta(days=1)
    return max(n, 1)


def _previous_working_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def _working_days_before(day: date, n: int) -> date:
    for _ in range(n):
        day = _previous_working_day(day)
    return day


def _office_time(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, OFFICE_OPEN) + timedelta(seconds=rng.randrange(OFFICE_SECONDS))


def _later_on(rng: random.Random, day: date, after: datetime) -> datetime:
    """An office time on ``day``, or a moment later on the same day as ``after``."""
    if day != after.date():
        return _office_time(rng, day)
    close = datetime.combine(day, time(17, 0))
    if after < close - timedelta(minutes=10):
        return after + timedelta(seconds=rng.randrange(60, int((close - after).total_seconds())))
    return min(after + timedelta(minutes=rng.randint(5, 90)), datetime.combine(day, time.max))


# --- the month plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    total: int
    sent: int


def _open_month(seed: int, unit: _Unit, base: int, month: date) -> tuple[random.Random, _Plan]:
    """The agency-month's generator and volume; the volume is its first draw.

    Drawing the volume first lets the numbering of later months find how many documents were
    numbered earlier in the year without generating those months.
    """
    rng = random.Random(f"{seed}|documents|{unit.code}|{month:%Y-%m}")
    swing = rng.uniform(0.8, 1.2)
    days = _working_days(unit, month)
    if not days:
        return rng, _Plan(0, 0)
    profile = _profile(seed, unit)
    volume = base * _TIER_VOLUME[unit.tier] * profile.volume * _SEASON[month.month] * swing
    volume *= _workload(seed, unit, days[0])
    total = max(2, round(volume * len(days) / _month_working_day_count(month)))
    sent = max(1, round(total * _SENT_SHARE[unit.tier]))
    return rng, _Plan(total, sent)


def _workload(seed: int, unit: _Unit, day: date) -> float:
    """The work its predecessors passed to the agency by ``day`` (1 without any): a merged
    department writes and receives what the ones it replaced did (one_stop.workload_scale)."""
    if not unit.agencies_csv:
        return 1.0
    from chiso_sim.one_stop import Agency, workload_scale

    agency = Agency(
        unit.code, unit.name, unit.tier, unit.province_code, unit.valid_from, unit.valid_to
    )
    return workload_scale(seed, Path(unit.agencies_csv), agency, day)


@lru_cache(maxsize=65536)
def _sent_count(seed: int, unit: _Unit, base: int, month: date) -> int:
    return _open_month(seed, unit, base, month)[1].sent


def _number_offset(seed: int, unit: _Unit, base: int, month: date) -> int:
    """Documents the agency numbered earlier in the year (numbers restart every 1 January)."""
    return sum(_sent_count(seed, unit, base, date(month.year, m, 1)) for m in range(1, month.month))


def _files_per_year(base: int, unit: _Unit, profile: _Profile) -> int:
    yearly = base * _TIER_VOLUME[unit.tier] * profile.volume * 12
    return max(6, round(yearly / _DOCS_PER_FILE))


# --- documents ------------------------------------------------------------------------------


@dataclass
class _Doc:
    """One movement before it becomes a row."""

    unit: _Unit
    sent: bool
    moment: datetime
    dated: date
    kind: str
    summary: str
    issuer: str
    recipients: str
    form: str
    signed: bool
    axis: bool
    internal: bool
    secret: bool
    symbol: str = ""
    recipient_codes: tuple[str, ...] = ()
    deadline: date | None = None
    handled: datetime | None = None
    workfile: str | None = None
    online: bool | None = None
    sender_code: str | None = None


@dataclass(frozen=True)
class _Context:
    seed: int
    base: int


@dataclass
class _Month:
    """An agency's month in progress: its generator, plan and sent documents."""

    unit: _Unit
    rng: random.Random
    plan: _Plan
    days: list[date]
    taken: frozenset[str]  # names of simulated agencies: no outside body may use them
    sent: list[_Doc] = field(default_factory=list)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in pairs], [w for _, w in pairs])[0]


def _form(rng: random.Random, t: float, profile: _Profile, internal: bool) -> str:
    """dien_tu / song_song / giay following the adoption trends."""
    if internal:
        if rng.random() < INTERNAL_ELECTRONIC.at(t, profile.adoption):
            return "dien_tu"
        return "song_song" if rng.random() < 0.3 else "giay"
    electronic = OFFICIAL_ELECTRONIC.at(t, profile.adoption)
    paper = OFFICIAL_PAPER_ONLY.at(t, -profile.adoption)
    roll = rng.random()
    if roll < electronic:
        return "dien_tu"
    return "giay" if roll < electronic + paper else "song_song"


def _transport(
    rng: random.Random, t: float, profile: _Profile, internal: bool, secret: bool
) -> tuple[str, bool, bool]:
    """Form, digital signature and national-axis flags of a document.

    Secret documents never travel electronically; internal ones never leave the agency.
    """
    if secret:
        return "giay", False, False
    form = _form(rng, t, profile, internal)
    electronic = form != "giay"
    signed = electronic and rng.random() < SIGNED.at(t, profile.signing)
    axis = electronic and not internal and rng.random() < AXIS.at(t, profile.adoption)
    return form, signed, axis


def _peer_weight(a: _Unit, b: _Unit) -> float:
    """How often ``a`` writes to ``b``: mostly up and down its own chain of command."""
    if b.parent == a.code or a.parent == b.code:
        return 6.0
    pair = {a.tier, b.tier}
    if a.tier == b.tier:
        if a.tier == "commune":
            return 1.0 if a.parent and a.parent == b.parent else 0.2
        return 1.0 if a.tier == "province_dept" else 0.5
    if pair == {"province_dept", "district"}:
        return 1.5
    if pair == {"province_dept", "commune"}:
        return 0.3
    return 0.2  # a district and a commune of another district


@lru_cache(maxsize=8192)
def _body_choices(
    day: date, tier: str, province_name: str, taken: frozenset[str], upward: bool
) -> tuple[tuple[_Body, ...], tuple[float, ...]]:
    """Outside bodies an agency deals with on ``day`` and their cumulative weights.

    A body named like a simulated agency (Sở Nội vụ …) is left out: that agency speaks for it.
    """
    idx = TIERS.index(tier)
    bodies = tuple(
        b
        for b in _BODIES
        if b.valid_on(day)
        and (b.upward or not upward)
        and _body_name_in(b, province_name) not in taken
    ) or (_PROVINCE_BODY,)
    return bodies, tuple(itertools.accumulate(max(b.weights[idx], 1e-6) for b in bodies))


def _pick_body(
    rng: random.Random, day: date, unit: _Unit, taken: frozenset[str], upward: bool = False
) -> _Body:
    bodies, cum_weights = _body_choices(day, unit.tier, unit.province_name, taken, upward)
    return rng.choices(bodies, cum_weights=cum_weights)[0]


def _recipients(
    rng: random.Random,
    unit: _Unit,
    peers: Sequence[_Unit],
    taken: frozenset[str],
    day: date,
    kind: str,
) -> tuple[list[str], list[str]]:
    """Names and simulated codes of a sent official document's recipients (nơi nhận)."""
    valid = [p for p in peers if p.code != unit.code and p.valid_on(day)]
    if kind in _UPWARD_TYPES:
        parent = next((p for p in valid if p.code == unit.parent), None)
        if parent is not None and rng.random() < 0.85:
            return [parent.name], [parent.code]
        return [_body_name(_pick_body(rng, day, unit, taken, upward=True), unit)], []
    wanted = rng.choice((1, 1, 1, 1, 2, 2, 3, 4, 6) if kind != "Giấy mời" else (2, 3, 4, 6, 8))
    names: list[str] = []
    codes: list[str] = []
    weights = [_peer_weight(unit, p) for p in valid]
    for _ in range(wanted):
        if valid and rng.random() < 0.6:
            peer = rng.choices(valid, weights)[0]
            if peer.code not in codes:
                names.append(peer.name)
                codes.append(peer.code)
        else:
            name = _body_name(_pick_body(rng, day, unit, taken), unit)
            if name not in names:
                names.append(name)
    if not names:  # every draw was a duplicate: fall back to the province
        names.append(_body_name(_PROVINCE_BODY, unit))
    return names, codes


def _internal_recipients(rng: random.Random, unit: _Unit) -> str:
    """Nơi nhận of an internal document: the agency's own units."""
    if unit.tier == "province_dept":
        options = (f"Các phòng, đơn vị thuộc {unit.name}", "Ban Giám đốc Sở; Các phòng chuyên môn")
    elif unit.tier == "district":
        options = (
            f"Các phòng chuyên môn thuộc {unit.name}",
            "Lãnh đạo UBND; Văn phòng HĐND và UBND",
        )
    else:
        options = (f"Công chức chuyên môn {unit.name}", "Lãnh đạo UBND; Văn phòng - Thống kê")
    return rng.choice(options)


def _own_symbol(rng: random.Random, unit: _Unit, number: int, kind: str) -> str:
    """Số/ký hiệu of a document the agency issues (NĐ 30/2020): 123/UBND-VP, 45/QĐ-STP."""
    type_symbol = TYPE_SYMBOL[kind]
    if type_symbol is not None:
        return f"{number:02d}/{type_symbol}-{unit.abbr}"
    drafting = rng.choice(unit.units)
    return f"{number:02d}/{unit.abbr}-{drafting}" if drafting else f"{number:02d}/{unit.abbr}"


def _body_symbol(rng: random.Random, body: _Body, day: date, kind: str) -> str:
    """A plausible number for a body outside the simulation: grows through the year."""
    elapsed = max(1, round(day.timetuple().tm_yday * 5 / 7))
    number = max(1, round(body.per_day * elapsed * rng.uniform(0.85, 1.15)))
    type_symbol = TYPE_SYMBOL[kind]
    if type_symbol is not None:
        return f"{number:02d}/{type_symbol}-{body.abbr}"
    return f"{number:02d}/{body.abbr}-{rng.choice(_BODY_CV_UNITS)}"


def _send_documents(ctx: _Context, month: date, state: _Month, peers: Sequence[_Unit]) -> None:
    """Fill ``state.sent``: the agency's numbered outgoing documents of the month."""
    unit, rng = state.unit, state.rng
    profile = _profile(ctx.seed, unit)
    t = _year_fraction(month)
    moments = sorted(_office_time(rng, rng.choice(state.days)) for _ in range(state.plan.sent))
    docs: list[_Doc] = []
    for moment in moments:
        day = moment.date()
        dated = day
        if rng.random() < 0.25:
            before = _previous_working_day(day)
            if before >= month and unit.valid_on(before):
                dated = before  # signed yesterday, sent today
        internal = rng.random() < _INTERNAL_SHARE[unit.tier]
        kind = _weighted(rng, _INTERNAL_TYPES if internal else _SENT_TYPES[unit.tier])
        secret = not internal and rng.random() < profile.secret
        form, signed, axis = _transport(rng, t, profile, internal, secret)
        if internal:
            recipients, codes = _internal_recipients(rng, unit), []
        else:
            names, codes = _recipients(rng, unit, peers, state.taken, day, kind)
            recipients = "; ".join(names)
        doc = _Doc(
            unit=unit,
            sent=True,
            moment=moment,
            dated=dated,
            kind=kind,
            summary=_summary(rng, kind, dated, internal),
            issuer=unit.name,
            recipients=recipients,
            form=form,
            signed=signed,
            axis=axis,
            internal=internal,
            secret=secret,
            recipient_codes=tuple(codes),
            sender_code=unit.code,
        )
        doc.workfile, doc.online = _workfile(ctx, rng, unit, profile, day, secret)
        docs.append(doc)
    docs.sort(key=lambda d: (d.dated, d.moment))
    offset = _number_offset(ctx.seed, unit, ctx.base, month)
    for i, doc in enumerate(docs, start=1):
        doc.symbol = _own_symbol(rng, unit, offset + i, doc.kind)
    state.sent = docs


def _workfile(
    ctx: _Context, rng: random.Random, unit: _Unit, profile: _Profile, day: date, secret: bool
) -> tuple[str | None, bool | None]:
    """Work file (hồ sơ công việc) of a document, and whether that file is handled online.

    Files are per agency and year and their online flag is a hash of the file id, so a file
    keeps its flag in every month that adds documents to it.
    """
    if secret or rng.random() >= profile.filed:
        return None, None
    n = rng.randint(1, _files_per_year(ctx.base, unit, profile))
    # An agency re-created mid-year under the same code opens a new series of files.
    series = f"{day.year}" if unit.valid_from <= date(day.year, 1, 1) else f"{unit.valid_from:%Y%m}"
    file_id = f"HS-{unit.code}-{series}-{n:04d}"
    share = WORKFILE_ONLINE[unit.tier].at(day.year + 0.5, profile.workfile)
    return file_id, _hash_unit(f"{ctx.seed}|documents|{file_id}") < share


def _handling(
    ctx: _Context, rng: random.Random, unit: _Unit, profile: _Profile, received: datetime
) -> tuple[date | None, datetime | None]:
    """Deadline (working days after receipt) and when the received document was handled."""
    start = received.date()
    if rng.random() < profile.deadline:
        allowed = rng.choice(_DEADLINE_DAYS)
        deadline: date | None = add_working_days(start, allowed)
        if rng.random() < ON_TIME.at(_year_fraction(start), profile.ontime):
            day = add_working_days(start, rng.randint(0, allowed))
        else:
            day = add_working_days(add_working_days(start, allowed), rng.choice(_LATE_DAYS))
    else:
        deadline = None
        day = add_working_days(start, rng.choice(_NO_DEADLINE_LAG))
    handled: datetime | None = _later_on(rng, day, received)
    if handled is not None and not unit.valid_on(handled.date()):
        handled = None  # the agency was dissolved first (a later handling: see month_history)
    return deadline, handled


def _receive(ctx: _Context, state: _Month, doc: _Doc, moment: datetime) -> _Doc:
    """The receiving agency's record of ``doc``: its own deadline, handling and work file."""
    unit, rng = state.unit, state.rng
    profile = _profile(ctx.seed, unit)
    received = _Doc(
        unit=unit,
        sent=False,
        moment=moment,
        dated=doc.dated,
        kind=doc.kind,
        summary=doc.summary,
        issuer=doc.issuer,
        recipients=unit.name,
        form=doc.form,
        signed=doc.signed,
        axis=doc.axis,
        internal=False,
        secret=doc.secret,
        symbol=doc.symbol,
        sender_code=doc.sender_code,
    )
    received.deadline, received.handled = _handling(ctx, rng, unit, profile, moment)
    received.workfile, received.online = _workfile(
        ctx, rng, unit, profile, moment.date(), doc.secret
    )
    return received


def _copies_for(ctx: _Context, state: _Month, mirrored: list[_Doc]) -> list[_Doc]:
    """Received copies of documents other simulated agencies sent to this one."""
    out = []
    end_of_day = time(23, 59, 59)
    for doc in sorted(mirrored, key=lambda d: (d.moment, d.symbol, d.sender_code or "")):
        delay = timedelta(minutes=state.rng.randint(2, 240))
        moment = min(doc.moment + delay, datetime.combine(doc.moment.date(), end_of_day))
        if state.unit.valid_on(moment.date()):
            out.append(_receive(ctx, state, doc, moment))
    return out


def _external_received(ctx: _Context, month: date, state: _Month, count: int) -> list[_Doc]:
    """Documents from ministries and the province's leadership, outside the simulation."""
    unit, rng = state.unit, state.rng
    profile = _profile(ctx.seed, unit)
    t = _year_fraction(month)
    out = []
    moments = sorted(_office_time(rng, rng.choice(state.days)) for _ in range(count))
    for moment in moments:
        body = _pick_body(rng, moment.date(), unit, state.taken)
        kind = _weighted(rng, body.types or _RECEIVED_TYPES)
        dated = _working_days_before(moment.date(), rng.choice((0, 0, 1, 1, 1, 2, 3, 5)))
        secret = rng.random() < profile.secret
        form, signed, axis = _transport(rng, t, profile, False, secret)
        doc = _Doc(
            unit=unit,
            sent=False,
            moment=moment,
            dated=dated,
            kind=kind,
            summary=_summary(rng, kind, dated, False),
            issuer=_body_name(body, unit),
            recipients=unit.name,
            form=form,
            signed=signed,
            axis=axis,
            internal=False,
            secret=secret,
            symbol=_body_symbol(rng, body, dated, kind),
        )
        out.append(_receive(ctx, state, doc, moment))
    return out


def _bool(value: bool | None) -> str | None:
    return None if value is None else ("1" if value else "0")


def _timestamp(value: datetime) -> str:
    return value.isoformat(sep=" ")


# A movement with its stamps: when it was sent/received, then when its handling was recorded.
_Record = tuple[Row, tuple[datetime, ...]]


def _to_rows(ctx: _Context, unit: _Unit, month: date, docs: list[_Doc]) -> list[_Record]:
    """The movements' rows in their final state, each with its stamps (:mod:`chiso_sim.clock`)."""
    docs.sort(key=lambda d: (d.moment, not d.sent, d.symbol))
    seq = {True: 0, False: 0}
    out: list[_Record] = []
    for d in docs:
        seq[d.sent] += 1
        direction = "DI" if d.sent else "DEN"
        ma_van_ban = f"{unit.code}-{direction}-{month:%Y%m}-{seq[d.sent]:04d}"
        stamps: tuple[datetime, ...] = (d.moment,)
        if d.handled is not None:
            rng = random.Random(f"{ctx.seed}|documents|recorded|{ma_van_ban}")
            stamps += (recording_instant(rng, d.handled, LATE_FINISH_SHARE),)
        row: Row = {
            "ma_van_ban": ma_van_ban,
            "so_ky_hieu": _nfc(d.symbol),
            "loai_van_ban": _nfc(d.kind),
            "trich_yeu": _nfc(d.summary),
            "don_vi": unit.code,
            "co_quan_ban_hanh": _nfc(d.issuer),
            "noi_nhan": _nfc(d.recipients),
            "huong": "di" if d.sent else "den",
            "ngay_van_ban": d.dated.isoformat(),
            "ngay_gui_nhan": _timestamp(d.moment),
            "hinh_thuc": d.form,
            "co_chu_ky_so": _bool(d.signed),
            "qua_truc_lien_thong": _bool(d.axis),
            "noi_bo": _bool(d.internal),
            "do_mat": _bool(d.secret),
            "han_xu_ly": d.deadline.isoformat() if d.deadline else None,
            "ngay_xu_ly": _timestamp(d.handled) if d.handled else None,
            "ma_ho_so_cong_viec": d.workfile,
            "xu_ly_tren_mang": _bool(d.online),
            "ngay_cap_nhat": _timestamp(stamps[-1]),
        }
        out.append((row, stamps))
    return out


def _province_month(ctx: _Context, group: Sequence[_Unit], month: date) -> list[_Record]:
    """All agencies of one province in one month.

    Sending runs for every agency first, so each can then receive what its neighbours sent; a
    province is always generated whole, so the output does not depend on ``cfg.provinces``.
    """
    states: dict[str, _Month] = {}
    taken = frozenset(u.name for u in group)
    for unit in group:
        rng, plan = _open_month(ctx.seed, unit, ctx.base, month)
        if plan.total == 0:
            continue
        state = _Month(unit, rng, plan, _working_days(unit, month), taken)
        _send_documents(ctx, month, state, group)
        states[unit.code] = state
    inbox: dict[str, list[_Doc]] = defaultdict(list)
    for state in states.values():
        for doc in state.sent:
            for code in doc.recipient_codes:
                inbox[code].append(doc)
    records: list[_Record] = []
    for code, state in states.items():
        copies = _copies_for(ctx, state, inbox.get(code, []))
        external = max(0, state.plan.total - state.plan.sent - len(copies))
        received = copies + _external_received(ctx, month, state, external)
        records.extend(_to_rows(ctx, state.unit, month, state.sent + received))
    return records


@lru_cache(maxsize=6)
def _month_records(cfg: SimulatorConfig, month: date) -> tuple[_Record, ...]:
    """Every movement of ``month`` in its final state with its stamps, sorted by agency, then
    time; independent of the horizon and of any instant."""
    ctx = _Context(cfg.seed, cfg.documents_per_agency_month)
    groups: dict[str, list[_Unit]] = defaultdict(list)
    for unit in _load_units(Path(cfg.agencies_csv)):
        if not cfg.provinces or unit.province_code in cfg.provinces:
            groups[unit.province_code].append(unit)
    records: list[_Record] = []
    for province in sorted(groups):
        records.extend(_province_month(ctx, groups[province], month))
    records.sort(
        key=lambda r: (r[0]["don_vi"] or "", r[0]["ngay_gui_nhan"] or "", r[0]["ma_van_ban"] or "")
    )
    return tuple(records)


def month_history(cfg: SimulatorConfig, month: date) -> Timeline:
    """The month's movements through time (:class:`chiso_sim.clock.Timeline`), sorted by
    agency, then time: a movement exists from ``ngay_gui_nhan``; its handling shows once
    recorded, and ``ngay_cap_nhat`` follows."""
    records = _month_records(cfg, month.replace(day=1))

    def render(i: int, seen: int) -> Row:
        row, stamps = records[i]
        out = dict(row)
        if seen < len(stamps):
            out["ngay_xu_ly"] = None  # handled, but not recorded yet
            out["ngay_cap_nhat"] = _timestamp(stamps[seen - 1])
        return out

    return Timeline(tuple(stamps for _, stamps in records), render)


def generate_month(cfg: SimulatorConfig, month: date, as_of: datetime | None = None) -> list[Row]:
    """Movements recorded in ``month`` by every agency of ``cfg`` (valid that month), as the
    systems show them at ``as_of`` (default: the end of ``cfg``'s horizon).

    Sorted by agency, then time. A movement sent or received at or after ``as_of`` is absent;
    a handling not recorded by then is left empty, as in an export taken at that moment.
    """
    return month_history(cfg, month).at(as_of or horizon_end(cfg))


def generate_documents(
    cfg: SimulatorConfig | None = None, as_of: datetime | None = None
) -> list[Row]:
    """All movements of ``cfg``'s months, month by month, as at ``as_of`` (default: the end
    of the horizon); same cfg and instant → same output."""
    cfg = cfg or SimulatorConfig()
    rows: list[Row] = []
    for month in month_starts(cfg):
        rows.extend(generate_month(cfg, month, as_of))
    return rows
