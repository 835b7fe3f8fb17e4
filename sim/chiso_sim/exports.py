"""File exports in the layouts real Vietnamese systems produce, with switchable pathologies.

Ingest must read what provinces actually deliver: report-shaped XLSX (merged title, unit line,
one- or two-row merged headers, section rows, a total row, a signature footer), HTML tables
saved as ``.xls``, CSV in several dialects and legacy 8-bit encodings, and JSON. This module
writes every canonical entity (``chiso/sources/canonical.py``) in those shapes so the readers are
tested against the real variety, deterministically (same input, same bytes).

Header spellings come from ``chiso/sources/aliases.yaml`` only (a variant never invents a name
ingest could not know), except the deliberately unknown extra columns of a vendor upgrade.

Variants (header spellings):

* ``dvcqg``    — identifier keys as in the national portal's sync format (``MaHoSo``) or the
  vendor's API; a plain grid without title or footer.
* ``vi``       — Vietnamese column titles (``Mã hồ sơ``) in a printed-report layout.
* ``upgraded`` — "after a vendor upgrade": ``vi`` with some columns renamed to other aliases and
  unknown extra columns inserted.

Pathologies are switched on with :class:`FileFaults`; all are off by default.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path
from typing import Any, Literal

import yaml

from chiso.core.months import last_day
from chiso.sources.canonical import ALIASES_YAML, Entity, Field
from chiso.sources.canonical import entity as canonical_entity

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Fmt = Literal["xlsx", "xls", "csv", "json"]
Variant = Literal["dvcqg", "vi", "upgraded"]
DateStyle = Literal["datetime", "text", "serial", "compact", "iso"]

FORMATS: tuple[Fmt, ...] = ("xlsx", "xls", "csv", "json")
VARIANTS: tuple[Variant, ...] = ("dvcqg", "vi", "upgraded")
DATE_STYLES: tuple[DateStyle, ...] = ("datetime", "text", "serial", "compact", "iso")
MEDIA_TYPES: dict[str, str] = {
    "xlsx": XLSX_MEDIA_TYPE,
    "xls": "application/vnd.ms-excel",
    "csv": "text/csv",
    "json": "application/json",
}

AGGREGATE_ENTITY = "one_stop.aggregate_reports"
FOOTER_LEFT = "Người lập biểu"
FOOTER_RIGHT = "Thủ trưởng đơn vị"
SIGN_HINT_LEFT = "(Ký, ghi rõ họ tên)"
SIGN_HINT_RIGHT = "(Ký tên, đóng dấu)"

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


# --- switches --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileFaults:
    """Pathologies seen in delivered files (docs/sources.md); each is off by default.

    ``html_xls`` turns an ``xlsx`` request into an HTML table (what a ``.xls`` download often
    is); ``bad_totals`` makes a printed total (or, in the aggregate report, the total row's
    "Đã giải quyết") disagree with the rows; ``truncated`` cuts the bytes in the middle of a
    data row; ``unknown_word`` prints a status no vendor vocabulary lists;
    ``abbreviated_headers`` shortens header words the way clerks do ("Mã ĐD cơ quan", "Ngày
    TN"); ``first_page_only`` keeps the first two thirds of the rows under the total of all
    (a report exported from its first page); ``cp1258`` writes Windows' Vietnamese code page;
    ``short_of_manifest`` writes the manifest of the whole export beside a file cut cleanly
    after two thirds of its records (a transfer that stopped at a line boundary: the file
    looks whole, only its manifest tells). Row faults hit one deterministic body row each.
    """

    renamed_columns: bool = False
    extra_columns: bool = False
    tcvn3: bool = False
    vni: bool = False
    cp1258: bool = False
    nfd: bool = False
    html_xls: bool = False
    vn_numbers: bool = False
    bad_totals: bool = False
    truncated: bool = False
    malformed_date: bool = False
    missing_required: bool = False
    unknown_word: bool = False
    abbreviated_headers: bool = False
    first_page_only: bool = False
    short_of_manifest: bool = False

    def __post_init__(self) -> None:
        if self.tcvn3 + self.vni + self.cp1258 > 1:
            raise ValueError("a file is in one 8-bit encoding: TCVN3, VNI or Windows-1258")

    @classmethod
    def parse(cls, names: str | Iterable[str]) -> FileFaults:
        """``FileFaults.parse("tcvn3,truncated")``; unknown names raise."""
        items = names.split(",") if isinstance(names, str) else list(names)
        wanted = {n.strip() for n in items if n.strip()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"unknown file fault(s) {unknown}; known: {', '.join(sorted(known))}")
        return cls(**dict.fromkeys(wanted, True))

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name))

    @property
    def legacy(self) -> Literal["tcvn3", "vni"] | None:
        return "tcvn3" if self.tcvn3 else ("vni" if self.vni else None)


NO_FAULTS = FileFaults()


@dataclass(frozen=True)
class ExportOptions:
    """How one file is laid out. ``None`` fields take the variant's usual choice.

    ``report_layout`` adds the printed-report furniture (title, unit line, STT column, footer);
    it is on for ``vi``/``upgraded`` and off for ``dvcqg``. ``date_style`` ``datetime`` writes
    real Excel dates (text in formats without cell types); ``serial`` writes Excel serial numbers.
    """

    fmt: Fmt = "xlsx"
    variant: Variant = "vi"
    date_style: DateStyle | None = None
    report_layout: bool | None = None
    two_row_header: bool = False
    sections: bool = False
    total_row: bool = False
    csv_delimiter: str = ","
    csv_bom: bool = True
    json_wrapped: bool = False
    unit_name: str | None = None
    province_name: str | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {self.fmt!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.date_style is not None and self.date_style not in DATE_STYLES:
            raise ValueError(f"date_style must be one of {DATE_STYLES}")
        if len(self.csv_delimiter) != 1:
            raise ValueError("csv_delimiter must be one character")

    @property
    def dates(self) -> DateStyle:
        if self.date_style:
            return self.date_style
        return {"dvcqg": "compact", "vi": "text", "upgraded": "datetime"}[self.variant]

    @property
    def report(self) -> bool:
        return self.report_layout if self.report_layout is not None else self.variant != "dvcqg"


# --- aliases and columns ---------------------------------------------------------------------


@cache
def load_alias_table() -> dict[str, dict[str, tuple[str, ...]]]:
    """Vendor spellings per entity and field, in file order (first = most common)."""
    raw = yaml.safe_load(ALIASES_YAML.read_text(encoding="utf-8")) or {}
    return {
        ent: {name: tuple(str(a) for a in (spellings or ())) for name, spellings in flds.items()}
        for ent, flds in raw.items()
        if ent != "abbreviations"  # spelt-out header words, not an entity's aliases
    }


def field_aliases(ent: Entity, name: str) -> tuple[str, ...]:
    return load_alias_table().get(ent.qualified_name, {}).get(name, ())


def identifier_keys(ent: Entity, name: str) -> tuple[str, ...]:
    """API-style keys for a field (``MaHoSo``), most common first."""
    return tuple(a for a in field_aliases(ent, name) if _IDENT.match(a))


def vietnamese_titles(ent: Entity, name: str) -> tuple[str, ...]:
    return tuple(a for a in field_aliases(ent, name) if not _IDENT.match(a))


def header_label(ent: Entity, name: str, variant: Variant, renamed: bool = False) -> str:
    """The column title a variant prints for a field (always an alias or the field's name)."""
    choices = identifier_keys(ent, name) if variant == "dvcqg" else vietnamese_titles(ent, name)
    if not choices:
        return name
    if renamed and len(choices) > 1:
        return choices[1]
    return choices[0]


@dataclass(frozen=True)
class Column:
    """One output column: a canonical field, or an unknown extra (``field`` None)."""

    header: tuple[str, ...]  # (label,) or (group, label)
    field: Field | None = None
    extra: str | None = None  # which extra column, for its values

    @property
    def label(self) -> str:
        return self.header[-1]


# Extra columns a vendor upgrade adds; their titles match no alias on purpose.
EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (("ma_dong_bo", "Mã đồng bộ"), ("ghi_chu", "Ghi chú"))

# Field → header group of the two-row layout (child labels stay valid aliases).
_HEADER_GROUPS: dict[str, dict[str, str]] = {
    "one_stop.dossiers": {
        **dict.fromkeys(
            ("ma_tthc", "ten_tthc", "ma_linh_vuc", "ten_linh_vuc", "muc_do"), "Thông tin thủ tục"
        ),
        **dict.fromkeys(
            ("chu_ho_so", "loai_doi_tuong", "so_dinh_danh", "so_dien_thoai", "email"),
            "Thông tin người nộp",
        ),
        **dict.fromkeys(
            ("ngay_nop_ho_so", "ngay_tiep_nhan", "ngay_hen_tra", "ngay_ket_thuc_xu_ly", "ngay_tra"),
            "Tiến độ giải quyết",
        ),
    },
    "documents.movements": {
        **dict.fromkeys(
            ("so_ky_hieu", "loai_van_ban", "trich_yeu", "ngay_van_ban"), "Thông tin văn bản"
        ),
        **dict.fromkeys(("han_xu_ly", "ngay_xu_ly"), "Theo dõi xử lý"),
    },
    "portal.service_catalogue": {
        **dict.fromkeys(("ma_tthc", "ten_tthc"), "Thủ tục hành chính"),
        **dict.fromkeys(("ma_linh_vuc", "ten_linh_vuc"), "Thông tin lĩnh vực"),
    },
    "portal.usage": {
        **dict.fromkeys(("tai_khoan_moi", "tong_tai_khoan"), "Tài khoản người dùng"),
        **dict.fromkeys(("giao_dich_thanh_toan", "so_tien_thanh_toan"), "Thanh toán điện tử"),
        **dict.fromkeys(("luot_danh_gia", "luot_hai_long", "ty_le_hai_long"), "Đánh giá"),
    },
    "one_stop.supplements": {
        **dict.fromkeys(("ngay_yeu_cau", "ngay_bo_sung"), "Yêu cầu bổ sung"),
        **dict.fromkeys(("ngay_hen_tra_cu", "ngay_hen_tra_moi"), "Điều chỉnh hạn"),
    },
    "one_stop.progress_events": {},
}

# Field whose value groups body rows under section rows, and how a section is titled.
_SECTION_FIELD: dict[str, str] = {
    "one_stop.dossiers": "ten_linh_vuc",
    "documents.movements": "huong",
    "portal.service_catalogue": "ten_linh_vuc",
    "one_stop.supplements": "don_vi_xu_ly",
    "one_stop.progress_events": "don_vi_xu_ly",
}
_DIRECTION_TITLES = {"den": "Văn bản đến", "di": "Văn bản đi"}

_TITLES: dict[str, str] = {
    "one_stop.dossiers": "DANH SÁCH HỒ SƠ TTHC",
    "one_stop.supplements": "DANH SÁCH HỒ SƠ YÊU CẦU BỔ SUNG",
    "one_stop.progress_events": "NHẬT KÝ XỬ LÝ HỒ SƠ",
    "documents.movements": "SỔ THEO DÕI VĂN BẢN ĐI, ĐẾN",
    "portal.service_catalogue": "DANH MỤC THỦ TỤC HÀNH CHÍNH CUNG CẤP TRÊN CỔNG DỊCH VỤ CÔNG",
    "portal.usage": "THỐNG KÊ SỬ DỤNG CỔNG DỊCH VỤ CÔNG",
}
_COUNT_NOUN: dict[str, str] = {
    "one_stop.dossiers": "hồ sơ",
    "one_stop.supplements": "lượt bổ sung",
    "one_stop.progress_events": "bước xử lý",
    "documents.movements": "văn bản",
    "portal.service_catalogue": "thủ tục",
    "portal.usage": "đơn vị",
}
# Nested lists of a DVCQG dossier, kept verbatim in dvcqg JSON.
NESTED_DOSSIER_KEYS = ("DanhSachHoSoBoSung", "CapNhatTienDo")


def _fold(text: str) -> str:
    """Loose comparison key (the exact folding is ingest's job; this only avoids clashes)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _stt_label(ent: Entity) -> str:
    """'STT' unless the entity has a field spelled that way (progress events' ThuTu)."""
    taken = {_fold(a) for f in ent.fields for a in (f.name, *field_aliases(ent, f.name))}
    return next(lbl for lbl in ("STT", "TT", "Số thứ tự", "#") if _fold(lbl) not in taken)


# How clerks shorten header words (FileFaults.abbreviated_headers): the simulator's own list,
# not read from chiso's alias data.
_SHORT_WORDS = (
    ("định danh", "ĐD"),
    ("đơn vị", "ĐV"),
    ("cơ quan", "CQ"),
    ("hồ sơ", "HS"),
    ("tiếp nhận", "TN"),
    ("kết quả", "KQ"),
    ("xử lý", "XL"),
    ("giải quyết", "GQ"),
)


def abbreviate(label: str) -> str:
    """'Mã định danh cơ quan' → 'Mã ĐD CQ', 'Ngày tiếp nhận' → 'Ngày TN'."""
    for long, short in _SHORT_WORDS:
        label = re.sub(long, short, label, flags=re.IGNORECASE)
    return label


def build_columns(
    ent: Entity,
    present: Sequence[Field],
    variant: Variant,
    *,
    renamed: bool = False,
    extra: bool = False,
    two_row: bool = False,
) -> list[Column]:
    """Columns of a variant: every present field once, plus extras for an upgrade.

    Renaming hits every third field (starting with the second) so a file still has most of
    its usual titles, the way an upgrade renames a few columns, not all.
    """
    groups = _HEADER_GROUPS.get(ent.qualified_name, {}) if two_row else {}
    cols: list[Column] = []
    for i, f in enumerate(present):
        label = header_label(ent, f.name, variant, renamed=renamed and i % 3 == 1)
        group = groups.get(f.name)
        cols.append(Column((group, label) if group else (label,), f))
    if extra:
        (first_key, first_title), (last_key, last_title) = EXTRA_COLUMNS
        if variant == "dvcqg":
            first_title, last_title = "MaDongBo", "GhiChu"
        cols.insert(min(2, len(cols)), Column((first_title,), extra=first_key))
        cols.append(Column((last_title,), extra=last_key))
    return cols


# --- values ----------------------------------------------------------------------------------


def parse_temporal(value: Any) -> datetime | date | None:
    """Read the date forms generators and vendors use; None when it is not a date."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    for fmt, is_date in (
        ("%Y%m%d%H%M%S", False),
        ("%Y%m%d", True),
        ("%d/%m/%Y %H:%M:%S", False),
        ("%d/%m/%Y", True),
    ):
        if fmt.startswith("%Y%m%d") and not re.fullmatch(r"\d{8}|\d{14}", text):
            continue
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.date() if is_date else parsed
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def excel_serial(value: datetime | date) -> float | int:
    """Days since 1899-12-30 (Excel's 1900 system), with the time as a fraction."""
    if isinstance(value, datetime):
        seconds = (value - _EXCEL_EPOCH).total_seconds()
        return round(seconds / 86400, 8)
    return (value - _EXCEL_EPOCH.date()).days


def _as_temporal(value: Any, ftype: str) -> datetime | date | None:
    parsed = parse_temporal(value)
    if parsed is None:
        return None
    if ftype == "date" and isinstance(parsed, datetime):
        return parsed.date()
    if ftype == "timestamp" and not isinstance(parsed, datetime):
        return datetime.combine(parsed, datetime.min.time())
    return parsed


def render_temporal(value: datetime | date, style: DateStyle, typed: bool) -> Any:
    """A date in a file: a real date when the container has types, else text or a number."""
    is_ts = isinstance(value, datetime)
    if style == "datetime" and typed:
        return value if is_ts else datetime.combine(value, datetime.min.time())
    if style == "serial":
        return excel_serial(value)
    if style == "compact":
        return value.strftime("%Y%m%d%H%M%S")
    if style == "iso":
        return value.isoformat()
    return value.strftime("%d/%m/%Y %H:%M:%S" if is_ts else "%d/%m/%Y")


_TRUE = {"1", "true", "t", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "f", "no", "n", "không", "khong"}


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"-?\d+\.\d+", text):
            return float(text)
    return None


def percent_value(value: Any) -> float | None:
    """A percentage in percent units: '12.34%' → 12.34; a fraction 0.1234 → 12.34."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = parse_number(value.strip()[:-1].strip().replace(",", "."))
        return None if number is None else float(number)
    number = parse_number(value)
    if number is None:
        return None
    return float(number) * 100 if isinstance(number, float) and 0 <= number <= 1 else float(number)


def vn_number(value: float | int) -> str:
    """Vietnamese grouping: 1918 → '1.918', 1234567.5 → '1.234.567,5'."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, frac = f"{value:,.2f}".partition(".")
        return f"{whole.replace(',', '.')},{frac.rstrip('0') or '0'}"
    return f"{int(value):,}".replace(",", ".")


def percent_text(value: float, comma: bool) -> str:
    text = f"{value:.2f}%"
    return text.replace(".", ",") if comma else text


# What vendors' printed exports show where the sync format has codes (the ``dvcqg`` variant
# prints the codes). The words are the simulator's own record of what exports print, not read
# from chiso's vocabularies: a word missing there must fail a test, not vanish from both.
# Per code: the word the ``vi`` variant prints, then the one an ``upgraded`` vendor prints.
VENDOR_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "trang_thai_ho_so": {
        "1": ("Mới đăng ký", "Chờ tiếp nhận"),
        "2": ("Đã tiếp nhận", "Được tiếp nhận"),
        "3": ("Không tiếp nhận", "Từ chối tiếp nhận"),
        "4": ("Đang xử lý", "Đang giải quyết"),
        "5": ("Yêu cầu bổ sung", "Chờ bổ sung"),
        "6": ("Chờ thanh toán", "Yêu cầu thực hiện nghĩa vụ tài chính"),
        "7": ("Công dân rút hồ sơ", "Rút hồ sơ"),
        "8": ("Trả lại/không giải quyết", "Dừng xử lý"),
        "9": ("Đã xử lý xong", "Đã giải quyết"),
        "10": ("Đã trả kết quả", "ĐÃ TRẢ KẾT QUẢ"),
    },
    "kenh_thuc_hien": {
        "1": ("Trực tiếp", "Nộp trực tiếp"),
        "2": ("Trực tuyến", "Qua mạng"),
        "3": ("Qua dịch vụ bưu chính công ích", "Bưu chính công ích"),
    },
    "hinh_thuc_tra": {"0": ("Không", "Trực tiếp"), "1": ("Có", "Qua bưu chính")},
    "loai_doi_tuong": {"1": ("Công dân", "Cá nhân"), "2": ("Doanh nghiệp", "Tổ chức")},
    # "x" marks a paid dossier in one vendor's sheet; another prints 2 for payments through
    # the provincial gateway and leaves unpaid ones empty
    "duoc_thanh_toan_truc_tuyen": {"0": ("Không", ""), "1": ("x", "2")},
    "trang_thai": {  # progress events
        "1": ("Mới đăng ký", "Chờ tiếp nhận"),
        "2": ("Đã tiếp nhận", "Tiếp nhận"),
        "3": ("Không tiếp nhận", "Từ chối tiếp nhận"),
        "4": ("Đang xử lý", "Chuyển xử lý"),
        "5": ("Yêu cầu bổ sung", "Chờ bổ sung"),
        "6": ("Chờ thanh toán", "Chờ thanh toán"),
        "7": ("Công dân rút hồ sơ", "Rút hồ sơ"),
        "8": ("Dừng xử lý", "Không giải quyết"),
        "9": ("Đã xử lý xong", "Đã có kết quả"),
        "10": ("Đã trả kết quả", "Hoàn thành"),
    },
}
WORDED_ENTITIES = ("one_stop.dossiers", "one_stop.progress_events")
# a status word no vendor vocabulary lists (FileFaults.unknown_word)
UNKNOWN_WORD = "Đã chuyển phòng chuyên môn"


def vendor_word(field: str, value: Any, variant: Variant) -> Any:
    """The word a printed export shows for a code (the value itself if it has none)."""
    words = VENDOR_WORDS.get(field, {}).get(str(value).strip())
    if words is None or variant == "dvcqg":
        return value
    return words[0] if variant == "vi" else words[1]


@dataclass(frozen=True)
class _Render:
    """Everything value rendering depends on, bundled so helpers stay small."""

    variant: Variant
    dates: DateStyle
    typed: bool  # the container keeps numbers and dates typed (xlsx)
    vn_numbers: bool
    words: bool = False  # coded fields print vendor words (VENDOR_WORDS)


def render_value(f: Field, value: Any, r: _Render) -> Any:
    """A canonical value as the file shows it; unparsable values pass through as given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if r.words and f.name in VENDOR_WORDS:
        return vendor_word(f.name, value, r.variant) or None
    if f.type in ("date", "timestamp"):
        parsed = _as_temporal(value, f.type)
        return value if parsed is None else render_temporal(parsed, r.dates, r.typed)
    if f.type == "bool":
        flag = parse_bool(value)
        if flag is None:
            return value
        if r.variant == "dvcqg":
            return "1" if flag else "0"
        return "Có" if flag else "Không"
    if f.type == "percent":
        if r.vn_numbers:
            pct = percent_value(value)
            return value if pct is None else percent_text(pct, comma=r.variant != "dvcqg")
        return value
    if f.type in ("int", "decimal"):
        number = parse_number(value)
        if number is None:
            return value
        if r.vn_numbers:
            return vn_number(number)
        return number if r.typed or r.variant == "dvcqg" else str(number)
    return value


# --- canonical rows --------------------------------------------------------------------------


def canonical_rows(ent: Entity, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows keyed by canonical field, from canonical or API-style (``MaHoSo``) keys.

    A field no row carries is left out (``_present_fields``) rather than printed empty, so an
    export only has the columns its source system has.
    """
    out = []
    for row in rows:
        rec: dict[str, Any] = {}
        for f in ent.fields:
            for key in (f.name, *identifier_keys(ent, f.name)):
                if key in row:
                    rec[f.name] = row[key]
                    break
        out.append(rec)
    return out


def _present_fields(ent: Entity, records: Sequence[Mapping[str, Any]]) -> list[Field]:
    if not records:
        return list(ent.fields)
    return [f for f in ent.fields if any(f.name in r for r in records)]


def flatten_supplements(dossiers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``one_stop.supplements`` rows from the dossiers' nested ``DanhSachHoSoBoSung``."""
    out = []
    for d in dossiers:
        for item in d.get("DanhSachHoSoBoSung") or ():
            out.append({"MaHoSo": d.get("MaHoSo"), "DonViXuLy": d.get("DonViXuLy"), **item})
    return out


def flatten_progress(dossiers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``one_stop.progress_events`` rows from the dossiers' nested ``CapNhatTienDo``."""
    out = []
    for d in dossiers:
        for item in d.get("CapNhatTienDo") or ():
            out.append({"MaHoSo": d.get("MaHoSo"), "DonViXuLy": d.get("DonViXuLy"), **item})
    return out


def _date_field(ent: Entity) -> Field | None:
    if ent.period_field:
        return ent.field(ent.period_field)
    return next((f for f in ent.fields if f.type in ("date", "timestamp")), None)


def _required_victim(ent: Entity) -> Field | None:
    """The required field a 'missing required' row loses: the key, not the period/agency."""
    required = [f for f in ent.fields if f.required]
    for f in required:
        if f.name not in (ent.period_field, ent.agency_field):
            return f
    return ent.field(ent.agency_field) if ent.agency_field else (required or [None])[0]


def fault_rows(n: int) -> tuple[int, int]:
    """Which body rows carry the malformed date and the missing field (distinct if n ≥ 2)."""
    if n <= 0:
        return -1, -1
    first = n // 3
    second = (2 * n) // 3
    if second == first:
        second = min(n - 1, first + 1)
    return first, second


def malformed_date_text(style: DateStyle, year: int) -> str:
    """A date no calendar has, written the way the rest of the column is."""
    if style == "compact":
        return f"{year}0231093000"
    if style == "iso":
        return f"{year}-02-31"
    return f"31/02/{year}"


# --- sheet model -----------------------------------------------------------------------------


@dataclass
class Sheet:
    """A printed table: rows of cells plus merges, rendered to XLSX or HTML alike."""

    name: str
    ncols: int
    rows: list[list[Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    count_cols: set[int] = field(default_factory=set)  # 1-based columns of counts ("#,##0")
    legacy_font: str | None = None

    def add(self, values: Sequence[Any], kind: str) -> int:
        """Append a row (padded to the width); returns its 1-based row number."""
        row = list(values)[: self.ncols]
        self.rows.append(row + [None] * (self.ncols - len(row)))
        self.kinds.append(kind)
        return len(self.rows)

    def add_merged(self, text: Any, kind: str, first_col: int = 1, last_col: int = 0) -> int:
        last = last_col or self.ncols
        values: list[Any] = [None] * self.ncols
        values[first_col - 1] = text
        r = self.add(values, kind)
        if last > first_col:
            self.merges.append((r, first_col, r, last))
        return r

    def merge(self, r1: int, c1: int, r2: int, c2: int) -> None:
        if (r1, c1) != (r2, c2):
            self.merges.append((r1, c1, r2, c2))

    def map_text(self, fn: Callable[[str], str]) -> None:
        self.rows = [[fn(v) if isinstance(v, str) else v for v in row] for row in self.rows]


def add_header(sheet: Sheet, paths: Sequence[Sequence[str | None]], depth: int) -> int:
    """Write a ``depth``-row merged header from label paths; returns the first header row.

    A path lists a column's labels top-down; ``None`` (and a path shorter than ``depth``)
    continues the cell above, so ``("STT",)`` is one tall cell and ``("Đã giải quyết", None,
    "Sớm hạn")`` a group two rows tall over a leaf on the third. Equal group cells of adjacent
    columns merge across. This is the shape ``layout.py`` reads back as "group leaf" labels.
    """
    first = len(sheet.rows) + 1
    for _ in range(depth):
        sheet.add([], "header")
    norm = [list(p)[:depth] + [None] * (depth - len(p)) for p in paths]
    for level in range(depth):
        c = 0
        while c < len(norm):
            label = norm[c][level]
            if label is None:
                c += 1
                continue
            bottom = level
            while bottom + 1 < depth and norm[c][bottom + 1] is None:
                bottom += 1
            is_group = bottom + 1 < depth
            end = c
            if is_group:
                prefix = norm[c][: bottom + 1]
                while (
                    end + 1 < len(norm)
                    and norm[end + 1][: bottom + 1] == prefix
                    and norm[end + 1][bottom + 1] is not None
                ):
                    end += 1
            sheet.rows[first + level - 1][c] = label
            sheet.merge(first + level, c + 1, first + bottom, end + 1)
            c = end + 1
    return first


def _style_xlsx(ws: Any, sheet: Sheet) -> None:
    """Fonts, borders and number formats; style objects are shared (openpyxl styles are
    immutable), which keeps a few thousand cells fast."""
    from openpyxl.styles import Alignment, Border, Font, Side

    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    centred = Alignment(horizontal="center", vertical="center", wrap_text=True)
    fonts = {
        kind: Font(
            name=sheet.legacy_font,
            bold=kind in ("title", "header", "numbering", "section", "total"),
            size=13 if kind == "title" else 11,
        )
        for kind in set(sheet.kinds)
    }
    boxed = {"header", "numbering", "total", "section"}  # body cells: borders cost time
    for r, (row, kind) in enumerate(zip(sheet.rows, sheet.kinds, strict=True), start=1):
        font = fonts[kind]
        for c, value in enumerate(row, start=1):
            if value is None and kind not in boxed:
                continue
            cell = ws.cell(row=r, column=c)
            if value is not None and (sheet.legacy_font or font.b or font.sz != 11):
                cell.font = font
            if kind in ("header", "numbering", "title"):
                cell.alignment = centred
            if kind in boxed:
                cell.border = box
            if isinstance(value, datetime):
                has_time = value.time() != datetime.min.time()
                cell.number_format = "dd/mm/yyyy hh:mm:ss" if has_time else "dd/mm/yyyy"
            elif isinstance(value, int) and c in sheet.count_cols:
                cell.number_format = "#,##0"


def render_xlsx(sheet: Sheet, stamp: datetime) -> bytes:
    """Normal-mode openpyxl (write-only mode cannot merge), with fixed metadata and zip times
    so the same sheet always gives the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet.name[:31]
    for row in sheet.rows:
        ws.append(row)
    for r1, c1, r2, c2 in sheet.merges:
        ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    _style_xlsx(ws, sheet)
    wb.properties.creator = "chiso simulator"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buffer = io.BytesIO()
    wb.save(buffer)
    return _normalize_zip(buffer.getvalue(), stamp)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _normalize_zip(data: bytes, stamp: datetime) -> bytes:
    """Fixed entry times, and the 'modified' property openpyxl sets to now on save."""
    out = io.BytesIO()
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + when + rb"\g<2>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, content)
    return out.getvalue()


def _html_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        fmt = "%d/%m/%Y %H:%M:%S" if value.time() != datetime.min.time() else "%d/%m/%Y"
        return escape(value.strftime(fmt))
    if isinstance(value, float):
        return escape(repr(value))
    return escape(str(value))


def render_html(sheet: Sheet, charset: str = "utf-8") -> str:
    """The table as the HTML many systems serve as an Excel '.xls' download."""
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in sheet.merges:
        spans[(r1, c1)] = (r2 - r1 + 1, c2 - c1 + 1)
        covered.update(
            (r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1) if (r, c) != (r1, c1)
        )
    lines = [
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">',
        "<head>",
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">',
        f"<title>{escape(sheet.name)}</title>",
        "</head>",
        "<body>",
        '<table border="1" cellspacing="0">',
    ]
    for r, (row, kind) in enumerate(zip(sheet.rows, sheet.kinds, strict=True), start=1):
        tag = "th" if kind == "header" else "td"
        cells = []
        for c, value in enumerate(row, start=1):
            if (r, c) in covered:
                continue
            rowspan, colspan = spans.get((r, c), (1, 1))
            attrs = (f' rowspan="{rowspan}"' if rowspan > 1 else "") + (
                f' colspan="{colspan}"' if colspan > 1 else ""
            )
            if kind in ("title", "section", "total"):
                attrs += ' style="font-weight:bold"'
            cells.append(f"<{tag}{attrs}>{_html_cell(value)}</{tag}>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</table>", "</body>", "</html>", ""]
    return "\r\n".join(lines)


# --- text encodings --------------------------------------------------------------------------


def text_transform(faults: FileFaults) -> Callable[[str], str]:
    """What a legacy machine or a macOS copy does to every string: NFD, TCVN3 or VNI."""
    steps: list[Callable[[str], str]] = []
    if faults.nfd:
        steps.append(lambda s: unicodedata.normalize("NFD", s))
    if faults.legacy:
        from chiso.core.text_codec import unicode_to_tcvn3, unicode_to_vni

        steps.append(unicode_to_tcvn3 if faults.legacy == "tcvn3" else unicode_to_vni)

    def apply(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return apply


def legacy_bytes(text: str) -> bytes:
    """Legacy-font text as the 8-bit file holds it: cp1252 bytes (Latin-1 for C1 codes)."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            out += ch.encode("latin-1", errors="replace")
    return bytes(out)


# the tone marks Windows-1258 writes after a letter it has no precomposed code for
_CP1258_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def windows_1258_bytes(text: str) -> bytes:
    """Text as Windows' Vietnamese code page stores it: a letter with a code of its own
    (``á``, ``ê``, ``ơ``, ``Đ``) as that byte, any other toned letter as its base letter
    (with its circumflex, breve or horn) followed by a combining tone mark (``ệ`` is ``ê`` and
    a dot below), as Windows' own conversion writes it."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _CP1258_TONES))
        tones = "".join(c for c in parts if c in _CP1258_TONES)
        out += (base + tones).encode("cp1258", errors="replace")
    return bytes(out)


def _encode_text(text: str, faults: FileFaults, bom: bool) -> bytes:
    if faults.legacy:
        return legacy_bytes(text)
    if faults.cp1258:
        return windows_1258_bytes(text)
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


# --- truncation ------------------------------------------------------------------------------


def truncate_bytes(data: bytes, row_marker: bytes | None) -> bytes:
    """Cut a file the way an interrupted download does: in the middle of a data row.

    For text formats ``row_marker`` is what starts a row (``\\r\\n`` for CSV, ``<tr`` for HTML);
    the cut lands a few bytes into the row that starts after 60 % of the file. Zip containers
    (XLSX) are simply cut at 60 %, which leaves them unreadable, as in real life.
    """
    target = int(len(data) * 0.6)
    if row_marker:
        start = data.find(row_marker, target)
        if start < 0:
            start = data.rfind(row_marker, 0, target)
        if start >= 0:
            end = data.find(row_marker, start + len(row_marker))
            end = len(data) if end < 0 else end
            cut = start + len(row_marker) + max(1, (end - start - len(row_marker)) // 2)
            return data[: min(cut, len(data) - 1)]
    return data[: max(1, target)]


# --- tables ----------------------------------------------------------------------------------


@dataclass
class Table:
    """Rendered columns and rows of one export, before it becomes a container."""

    entity: Entity
    columns: list[Column]
    rows: list[list[Any]]
    sections: list[str | None]  # per row: the section it sits under
    records: list[dict[str, Any]]  # canonical values after row faults (for totals, JSON)
    total: list[Any] | None = None


def _extra_value(key: str, record: Mapping[str, Any], ent: Entity) -> Any:
    if key == "ghi_chu":
        return None
    ident = "|".join(str(record.get(k, "")) for k in ent.key)
    digest = sum(ident.encode()) * 2654435761 % 16**8
    return f"SYNC-{digest:08X}"


def _section_title(ent: Entity, value: Any) -> str:
    if ent.qualified_name == "documents.movements":
        return _DIRECTION_TITLES.get(str(value), str(value))
    return str(value) if value not in (None, "") else "Khác"


_ROMAN = (
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
)


def roman(n: int) -> str:
    """Section numbers are Roman numerals in Vietnamese reports (I, II, … XIV)."""
    out = []
    for value, letters in _ROMAN:
        count, n = divmod(n, value)
        out.append(letters * count)
    return "".join(out)


def _order_by_section(
    ent: Entity, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str | None]]:
    name = _SECTION_FIELD.get(ent.qualified_name)
    if not name:
        return records, [None] * len(records)
    keys = sorted({str(r.get(name) or "") for r in records})
    titles = {k: f"{roman(i)}. {_section_title(ent, k)}" for i, k in enumerate(keys, start=1)}
    ordered = sorted(records, key=lambda r: keys.index(str(r.get(name) or "")))
    return ordered, [titles[str(r.get(name) or "")] for r in ordered]


def _apply_row_faults(
    ent: Entity, records: list[dict[str, Any]], faults: FileFaults, style: DateStyle, year: int
) -> list[dict[str, Any]]:
    records = [dict(r) for r in records]
    bad_date_row, missing_row = fault_rows(len(records))
    date_field = _date_field(ent)
    if faults.malformed_date and date_field and bad_date_row >= 0:
        records[bad_date_row][date_field.name] = malformed_date_text(style, year)
    victim = _required_victim(ent)
    if faults.missing_required and victim and missing_row >= 0:
        records[missing_row][victim.name] = None
    status = next((f for f in ("trang_thai_ho_so", "trang_thai") if f in ent.columns), None)
    if faults.unknown_word and status and bad_date_row >= 0:
        records[bad_date_row][status] = UNKNOWN_WORD  # the row a bad date would hit
    return records


def _numeric_total(f: Field, records: Sequence[Mapping[str, Any]]) -> int | float | None:
    values = [parse_number(r.get(f.name)) for r in records]
    numbers = [v for v in values if v is not None]
    return sum(numbers) if numbers else None


def _perturb(value: int | float) -> int | float:
    """A printed total off by a little (the seed's 12,340 vs 12,338): −2, or +2 near zero."""
    return value - 2 if value >= 2 else value + 2


def build_table(
    ent: Entity,
    rows: Iterable[Mapping[str, Any]],
    month: date,
    options: ExportOptions,
    faults: FileFaults,
) -> Table:
    """Columns, rendered cells, sections and total of one export (container-independent)."""
    records = canonical_rows(ent, rows)
    present = _present_fields(ent, records)
    renamed = faults.renamed_columns or options.variant == "upgraded"
    extra = faults.extra_columns or options.variant == "upgraded"
    two_row = options.two_row_header and options.fmt in ("xlsx", "xls")
    columns = build_columns(
        ent, present, options.variant, renamed=renamed, extra=extra, two_row=two_row
    )
    if faults.abbreviated_headers:
        columns = [replace(c, header=(*c.header[:-1], abbreviate(c.header[-1]))) for c in columns]
    records = _apply_row_faults(ent, records, faults, options.dates, month.year)
    if options.sections and options.fmt in ("xlsx", "xls"):
        records, sections = _order_by_section(ent, records)
    else:
        sections = [None] * len(records)
    fmt = "xlsx" if options.fmt == "xlsx" and not faults.html_xls else "text"
    render = _Render(
        options.variant,
        options.dates,
        fmt == "xlsx",
        faults.vn_numbers,
        words=ent.qualified_name in WORDED_ENTITIES,
    )
    cells = [
        [
            render_value(c.field, rec.get(c.field.name), render)
            if c.field
            else _extra_value(c.extra or "", rec, ent)
            for c in columns
        ]
        for rec in records
    ]
    table = Table(ent, columns, cells, sections, records)
    if options.total_row:
        table.total = _total_cells(table, render, faults.bad_totals)
    if faults.first_page_only and len(cells) > 1:
        # a report exported from its first page: that page's rows under the grand total
        keep = max(1, len(cells) * 2 // 3)
        table.rows, table.sections = table.rows[:keep], table.sections[:keep]
        table.records = table.records[:keep]
    return table


def _total_cells(table: Table, render: _Render, bad: bool) -> list[Any]:
    """The 'Tổng cộng' row: sums of count columns, else the number of rows."""
    numeric = [
        c for c in table.columns if c.field is not None and c.field.type in ("int", "decimal")
    ]
    out: list[Any] = [None] * len(table.columns)
    label_col = 0
    out[label_col] = "Tổng cộng"
    if numeric:
        for i, col in enumerate(table.columns):
            if col in numeric and col.field is not None:
                total = _numeric_total(col.field, table.records)
                if total is None:
                    continue
                if bad and col is numeric[0]:
                    total = _perturb(total)
                out[i] = render_value(col.field, total, render)
        return out
    count = len(table.rows)
    out[min(1, len(out) - 1)] = (
        f"{_perturb(count) if bad else count} {_COUNT_NOUN[table.entity.qualified_name]}"
    )
    return out


# --- containers ------------------------------------------------------------------------------


def month_range_title(title: str, month: date) -> str:
    first, last = month.replace(day=1), last_day(month)
    return f"{title} – Từ ngày: {first:%d/%m/%Y} Đến ngày: {last:%d/%m/%Y}"


def _title_for(ent: Entity, month: date) -> str:
    base = _TITLES[ent.qualified_name]
    if ent.qualified_name == "portal.service_catalogue":
        return f"{base} – Ngày chốt: {last_day(month):%d/%m/%Y}"
    if ent.qualified_name == "portal.usage":
        return f"{base} – Tháng {month.month} năm {month.year}"
    return month_range_title(base, month)


def report_date(month: date) -> date:
    """When a month's report is signed: the 5th of the next month (deterministic)."""
    return last_day(month) + timedelta(days=5)


def add_footer(sheet: Sheet, month: date) -> None:
    """Date line and signature block ('Người lập biểu' … 'Thủ trưởng đơn vị').

    The date line starts with 'Ngày' so a reader recognises it as footer, not as a data row.
    """
    left = min(2, sheet.ncols)
    right = max(left, sheet.ncols - 1)
    signed = report_date(month)
    sheet.add([], "blank")
    line = [None] * sheet.ncols
    line[right - 1] = f"Ngày {signed.day:02d} tháng {signed.month:02d} năm {signed.year}"
    sheet.add(line, "meta")
    titles = [None] * sheet.ncols
    titles[left - 1], titles[right - 1] = FOOTER_LEFT, FOOTER_RIGHT
    sheet.add(titles, "meta")
    hints = [None] * sheet.ncols
    hints[left - 1], hints[right - 1] = SIGN_HINT_LEFT, SIGN_HINT_RIGHT
    sheet.add(hints, "meta")


def table_sheet(table: Table, month: date, options: ExportOptions) -> Sheet:
    """The report-shaped (or plain-grid) sheet of a table."""
    report = options.report
    paths = [c.header for c in table.columns]
    if report:
        paths = [(_stt_label(table.entity),), *paths]
    ncols = len(paths)
    sheet = Sheet(name=f"{month:%m-%Y}", ncols=ncols)
    if report:
        sheet.add_merged(_title_for(table.entity, month), "title")
        unit = options.unit_name or (
            f"UBND TỈNH {options.province_name.upper()}" if options.province_name else None
        )
        if unit:
            sheet.add_merged(f"Đơn vị: {unit}", "meta")
        sheet.add([], "blank")
    depth = max(len(p) for p in paths) if paths else 1
    add_header(sheet, paths, depth)
    current: str | None = None
    for n, (cells, section) in enumerate(zip(table.rows, table.sections, strict=True), start=1):
        if section and section != current:
            sheet.add_merged(section, "section")
            current = section
        sheet.add([n, *cells] if report else cells, "body")
    if table.total is not None:
        sheet.add([None, *table.total] if report else table.total, "total")
    if report:
        add_footer(sheet, month)
    offset = 1 if report else 0
    sheet.count_cols = {
        i + 1 + offset
        for i, c in enumerate(table.columns)
        if c.field is not None and c.field.type == "int"
    }
    return sheet


def _csv_bytes(table: Table, options: ExportOptions, faults: FileFaults) -> bytes:
    fix = text_transform(faults)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.csv_delimiter, lineterminator="\r\n")
    writer.writerow([fix(c.label) for c in table.columns])
    body = [*table.rows, *([table.total] if table.total is not None else [])]
    for row in body:
        writer.writerow(["" if v is None else fix(_plain(v)) for v in row])
    return _encode_text(buffer.getvalue(), faults, options.csv_bom)


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _json_bytes(
    table: Table,
    source_rows: Sequence[Mapping[str, Any]],
    options: ExportOptions,
    faults: FileFaults,
) -> bytes:
    fix = text_transform(faults)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return fix(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    items = []
    for i, row in enumerate(table.rows):
        item = {fix(c.label): clean(v) for c, v in zip(table.columns, row, strict=True)}
        if options.variant == "dvcqg" and i < len(source_rows):
            for key in NESTED_DOSSIER_KEYS:
                if key in source_rows[i]:
                    item[key] = source_rows[i][key]
        items.append(item)
    doc: Any = items
    if options.json_wrapped:
        doc = {"data": items, "total": len(items)}
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    return _encode_text(text, faults, bom=False)


def _sheet_bytes(sheet: Sheet, month: date, fmt: str, faults: FileFaults) -> bytes:
    """XLSX, or HTML when asked for '.xls' or when the html_xls pathology is on."""
    sheet.map_text(text_transform(faults))
    if faults.legacy:
        sheet.legacy_font = ".VnTime" if faults.legacy == "tcvn3" else "VNI-Times"
    if fmt == "xlsx" and not faults.html_xls:
        return render_xlsx(sheet, datetime.combine(report_date(month), datetime.min.time()))
    charset = "windows-1252" if faults.legacy else "windows-1258" if faults.cp1258 else "utf-8"
    return _encode_text(render_html(sheet, charset), faults, bom=False)


def _row_marker(data: bytes) -> bytes | None:
    if data.startswith(b"PK"):
        return None
    if b"<tr" in data:
        return b"<tr"
    if data.lstrip(b"\xef\xbb\xbf").startswith((b"[", b"{")):
        return b"\n {"
    return b"\r\n"


def export_bytes(
    entity_name: str,
    rows: Iterable[Mapping[str, Any]],
    month: date,
    options: ExportOptions | None = None,
    faults: FileFaults = NO_FAULTS,
) -> bytes:
    """One file's bytes for ``entity_name`` (``documents.movements`` …) and ``month``.

    ``rows`` carry canonical field names or the API's identifier keys (dossier dicts from the
    one-stop API work as they are). The aggregate report is built by
    :func:`chiso_sim.aggregate.aggregate_report_bytes` from dossiers, not here.
    """
    return _export(entity_name, rows, month, options, faults)[0]


def _export(
    entity_name: str,
    rows: Iterable[Mapping[str, Any]],
    month: date,
    options: ExportOptions | None,
    faults: FileFaults,
) -> tuple[bytes, int]:
    """The file's bytes and the number of records it holds."""
    options = options or ExportOptions()
    if entity_name == AGGREGATE_ENTITY:
        raise ValueError("use chiso_sim.aggregate.aggregate_report_bytes for the report")
    ent = canonical_entity(entity_name)
    source_rows = list(rows)
    table = build_table(ent, source_rows, month, options, faults)
    if options.fmt == "csv":
        data = _csv_bytes(table, options, faults)
    elif options.fmt == "json":
        data = _json_bytes(table, source_rows, options, faults)
    else:
        data = _sheet_bytes(table_sheet(table, month, options), month, options.fmt, faults)
    records = len(table.records)
    return (truncate_bytes(data, _row_marker(data)) if faults.truncated else data), records


def file_extension(options: ExportOptions, faults: FileFaults = NO_FAULTS) -> str:
    """What the vendor names the file: an HTML table is still called '.xls'."""
    if options.fmt == "xlsx" and faults.html_xls:
        return "xls"
    return options.fmt


def write_file(path: Path, data: bytes) -> Path:
    """Write atomically (a reader polling the inbox never sees half a file we wrote)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


MANIFEST_SUFFIX = ".manifest.json"


def manifest_bytes(file_name: str, data: bytes, records: int) -> bytes:
    """The sidecar some senders deliver beside an export (``x.csv.manifest.json``): the
    file's name, its record count and the sha256 of its bytes, as the exporter saw them."""
    manifest = {"file": file_name, "records": records, "sha256": hashlib.sha256(data).hexdigest()}
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()


def write_export(
    path: Path,
    entity_name: str,
    rows: Iterable[Mapping[str, Any]],
    month: date,
    options: ExportOptions | None = None,
    faults: FileFaults = NO_FAULTS,
    *,
    manifest: bool = False,
) -> Path:
    """Write one export; with ``manifest`` (or the fault ``short_of_manifest``) its manifest
    sidecar too, written first, as a sender that checksums before it transfers would."""
    source_rows = list(rows)
    data, records = _export(entity_name, source_rows, month, options, faults)
    if manifest or faults.short_of_manifest:
        write_file(
            path.with_name(path.name + MANIFEST_SUFFIX), manifest_bytes(path.name, data, records)
        )
    if faults.short_of_manifest and len(source_rows) > 1:
        # the transfer stopped at a record boundary: two thirds of the records, whole
        kept = source_rows[: max(1, len(source_rows) * 2 // 3)]
        data = _export(entity_name, kept, month, options, replace(faults, short_of_manifest=False))[
            0
        ]
    return write_file(path, data)
