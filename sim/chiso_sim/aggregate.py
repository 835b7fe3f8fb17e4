"""The monthly summary report "TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ", computed from dossiers.

Some one-stop systems only export this table (docs/sources.md), so the warehouse must ingest it
and reconcile it with dossier-level data. The simulator derives it from the same dossiers it
serves, so the two can be compared exactly; a fault switch reproduces published tables that do
not add up (seed 002: 8,332 + 3,899 + 109 = 12,340 printed as 12,338).

Counting rules (month M = [first day 00:00, first day of M+1 00:00), local time):

* A dossier is *accepted* at ``NgayTiepNhan``; dossiers without it are ignored.
* Its *end* is its first terminal event, taken from its final status:
  9/10 (resolved) end at ``NgayKetThucXuLy`` (``NgayTra`` if that is missing); 7 (withdrawn) and
  8 (stopped) end at ``NgayKetThucXuLy``; 3 (not accepted) ends at acceptance. Statuses 1, 2,
  4, 5, 6 have no end yet (still open as of the data's horizon).
* (4) ``ky_truoc_chuyen_qua``: accepted before M and not ended before M (open at M's start).
* (5) ``tiep_nhan_trong_ky``: accepted in M; split by ``KenhThucHien`` into (6) online "2",
  (8) BCCI "3" and (7) direct ("1" or empty, which the DVCQG format reads as direct).
* (3) ``tong_so`` = (4) + (5): the dossiers the agency had to handle in M.
* Of those, ended in M: status 9/10 → (9) ``da_giai_quyet``, split by the end date against the
  date of ``NgayHenTra`` (the current, possibly supplement-extended, due date): before → (10)
  early, same day → (11) on time, after → (12) late (docs/indicator-rules.md); status 7 →
  (17) ``rut_ho_so``;
  status 3/8 → (16) ``tra_lai`` (returned without a result).
* Not ended by the end of M → (13) ``dang_giai_quyet``: (15) overdue when ``NgayHenTra`` is
  before the end of M, else (14) not yet due.

So every row satisfies (3)=(4)+(5), (5)=(6)+(7)+(8), (9)=(10)+(11)+(12), (13)=(14)+(15) and
(3)=(9)+(13)+(16)+(17); the total row is the column sums of the body rows.

The report is the province's count, not the system's: some agencies still take dossiers on
paper that never reach the e-one-stop system (the gap ``dossier.onestop_coverage`` measures).
A quarter of the agencies (fixed per agency by the seed) add 5–20 % of their month's
received dossiers as *off-system* dossiers (:func:`off_system_dossiers`): received at the desk
and resolved on time within the month, so they add to (3), (5), (7), (9) and (11) and every
identity still holds.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from chiso.core.months import last_day
from chiso_sim.exports import (
    NO_FAULTS,
    FileFaults,
    Sheet,
    add_footer,
    add_header,
    legacy_bytes,
    percent_text,
    render_html,
    render_xlsx,
    report_date,
    text_transform,
    truncate_bytes,
    vn_number,
)

TS_FORMAT = "%Y%m%d%H%M%S"
ReportVariant = Literal["standard", "tt01", "upgraded"]
REPORT_VARIANTS: tuple[ReportVariant, ...] = ("standard", "tt01", "upgraded")
Mismatch = Literal["total", "row"]

COUNT_FIELDS: tuple[str, ...] = (
    "tong_so",
    "ky_truoc_chuyen_qua",
    "tiep_nhan_trong_ky",
    "tiep_nhan_truc_tuyen",
    "tiep_nhan_truc_tiep",
    "tiep_nhan_bcci",
    "da_giai_quyet",
    "giai_quyet_som_han",
    "giai_quyet_dung_han",
    "giai_quyet_tre_han",
    "dang_giai_quyet",
    "dang_giai_quyet_chua_den_han",
    "dang_giai_quyet_qua_han",
    "tra_lai",
    "rut_ho_so",
)
# total = sum(parts): the identities the numbering row prints.
IDENTITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tong_so", ("ky_truoc_chuyen_qua", "tiep_nhan_trong_ky")),
    ("tiep_nhan_trong_ky", ("tiep_nhan_truc_tuyen", "tiep_nhan_truc_tiep", "tiep_nhan_bcci")),
    ("da_giai_quyet", ("giai_quyet_som_han", "giai_quyet_dung_han", "giai_quyet_tre_han")),
    ("dang_giai_quyet", ("dang_giai_quyet_chua_den_han", "dang_giai_quyet_qua_han")),
)
# Not printed, but true of the simulator's counts: every dossier ends up somewhere.
CONSERVATION = ("tong_so", ("da_giai_quyet", "dang_giai_quyet", "tra_lai", "rut_ho_so"))

SECTIONS: tuple[tuple[str, str], ...] = (
    ("province_dept", "I. Sở, ban, ngành"),
    ("district", "II. UBND cấp huyện"),
    ("commune", "III. UBND cấp xã"),
)
TOTAL_LABEL = "Tổng số"

NUMBERING: dict[str, str] = {
    "stt": "(1)",
    "ten_dong": "(2)",
    "tong_so": "(3=4+5)",
    "ky_truoc_chuyen_qua": "(4)",
    "tiep_nhan_trong_ky": "(5=6+7+8)",
    "tiep_nhan_truc_tuyen": "(6)",
    "tiep_nhan_truc_tiep": "(7)",
    "tiep_nhan_bcci": "(8)",
    "da_giai_quyet": "(9=10+11+12)",
    "giai_quyet_som_han": "(10)",
    "giai_quyet_dung_han": "(11)",
    "giai_quyet_tre_han": "(12)",
    "dang_giai_quyet": "(13=14+15)",
    "dang_giai_quyet_chua_den_han": "(14)",
    "dang_giai_quyet_qua_han": "(15)",
    "tra_lai": "(16)",
    "rut_ho_so": "(17)",
}

_RECEIVED = "Tiếp nhận trong kỳ"
_RESOLVED = "Đã giải quyết"
_PENDING = "Đang giải quyết"

# Column layouts: (field, header path). None in a path continues the cell above (a tall
# group cell), so group labels sit on the first row and their leaves on the third; every
# joined "group leaf" label is an alias in aliases.yaml. Fields starting with "_" are the
# unknown extra columns of a vendor upgrade.
_STANDARD: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("stt", ("STT",)),
    ("ten_dong", ("Đơn vị",)),
    ("tong_so", ("Tổng số",)),
    ("ky_truoc_chuyen_qua", ("Kỳ trước chuyển qua",)),
    ("tiep_nhan_trong_ky", (_RECEIVED, None, "Tổng số")),
    ("tiep_nhan_truc_tuyen", (_RECEIVED, None, "Trực tuyến")),
    ("tiep_nhan_truc_tiep", (_RECEIVED, None, "Trực tiếp")),
    ("tiep_nhan_bcci", (_RECEIVED, None, "BCCI")),
    ("da_giai_quyet", (_RESOLVED, None, "Tổng số")),
    ("giai_quyet_som_han", (_RESOLVED, None, "Sớm hạn")),
    ("giai_quyet_dung_han", (_RESOLVED, None, "Đúng hạn")),
    ("giai_quyet_tre_han", (_RESOLVED, None, "Trễ hạn")),
    ("dang_giai_quyet", (_PENDING, None, "Tổng số")),
    ("dang_giai_quyet_chua_den_han", (_PENDING, None, "Chưa đến hạn")),
    ("dang_giai_quyet_qua_han", (_PENDING, None, "Quá hạn")),
    ("tra_lai", ("Trả lại",)),
    ("rut_ho_so", ("Rút",)),
)
_TT01_RECEIVED = "Số hồ sơ nhận giải quyết"
_TT01_RESOLVED = "Số hồ sơ đã giải quyết"
_TT01_PENDING = "Số hồ sơ đang giải quyết"
_TT01: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("stt", ("Số TT",)),
    ("ten_dong", ("Tên đơn vị",)),
    ("tong_so", (_TT01_RECEIVED, "Tổng số")),
    ("ky_truoc_chuyen_qua", (_TT01_RECEIVED, "Kỳ trước chuyển qua")),
    ("tiep_nhan_trong_ky", (_TT01_RECEIVED, "Tiếp nhận trong kỳ")),
    ("tiep_nhan_truc_tuyen", ("Tiếp nhận trực tuyến",)),
    ("tiep_nhan_truc_tiep", ("Tiếp nhận trực tiếp",)),
    ("tiep_nhan_bcci", ("Tiếp nhận qua BCCI",)),
    ("da_giai_quyet", (_TT01_RESOLVED, "Tổng số")),
    ("giai_quyet_som_han", (_TT01_RESOLVED, "Trước hạn")),
    ("giai_quyet_dung_han", (_TT01_RESOLVED, "Đúng hạn")),
    ("giai_quyet_tre_han", (_TT01_RESOLVED, "Quá hạn")),
    ("dang_giai_quyet", (_TT01_PENDING, "Tổng số")),
    ("dang_giai_quyet_chua_den_han", (_TT01_PENDING, "Trong hạn")),
    ("dang_giai_quyet_qua_han", (_TT01_PENDING, "Quá hạn")),
    ("tra_lai", ("Trả lại hồ sơ",)),
    ("rut_ho_so", ("Rút hồ sơ",)),
)
_RENAMED = {
    "ten_dong": ("Cơ quan",),
    "tong_so": ("Tổng số hồ sơ",),
    "ky_truoc_chuyen_qua": ("Tồn kỳ trước",),
    "tra_lai": ("Hồ sơ trả lại",),
    "rut_ho_so": ("Công dân rút hồ sơ",),
}
EXTRA_REPORT_COLUMNS = ("Tỷ lệ giải quyết đúng hạn (%)", "Ghi chú")


def _upgraded() -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    cols: list[tuple[str, tuple[str | None, ...]]] = []
    for name, path in _STANDARD:
        cols.append((name, _RENAMED.get(name, path)))
        if name == "ten_dong":
            cols.append(("ma_dong", ("Mã đơn vị",)))
    cols.append(("_ty_le_dung_han", (EXTRA_REPORT_COLUMNS[0],)))
    cols.append(("_ghi_chu", (EXTRA_REPORT_COLUMNS[1],)))
    return tuple(cols)


REPORT_LAYOUTS: dict[str, tuple[tuple[str, tuple[str | None, ...]], ...]] = {
    "standard": _STANDARD,
    "tt01": _TT01,
    "upgraded": _upgraded(),
}


# --- agencies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportAgency:
    """An agency as the report lists it (row of ref_agencies.csv)."""

    code: str
    name: str
    tier: str
    province_code: str
    province_name: str
    valid_from: date | None
    valid_to: date | None

    def active_in(self, month: date) -> bool:
        """Existed on some day of ``month`` (validity bounds are inclusive)."""
        first, last = month.replace(day=1), last_day(month)
        return (self.valid_from is None or self.valid_from <= last) and (
            self.valid_to is None or self.valid_to >= first
        )


def _day(text: str | None) -> date | None:
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def load_report_agencies(cfg: Any, province_code: str | None = None) -> list[ReportAgency]:
    """Agencies of the configured provinces (``cfg.provinces``; empty = all), optionally of
    one province only. Codes can repeat across validity periods (2025 restructuring)."""
    provinces = tuple(getattr(cfg, "provinces", ()) or ())
    with Path(cfg.agencies_csv).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        agency = ReportAgency(
            code=row["agency_code"].strip(),
            name=unicodedata.normalize("NFC", row["agency_name"].strip()),
            tier=row["tier"].strip(),
            province_code=(row.get("province_code") or "").strip(),
            province_name=unicodedata.normalize("NFC", (row.get("province_name") or "").strip()),
            valid_from=_day(row.get("valid_from")),
            valid_to=_day(row.get("valid_to")),
        )
        if provinces and agency.province_code not in provinces:
            continue
        if province_code is not None and agency.province_code != province_code:
            continue
        out.append(agency)
    return out


def report_provinces(cfg: Any, month: date) -> list[tuple[str, str]]:
    """(code, name) of each province with an agency active in ``month``, by code."""
    found = {
        a.province_code: a.province_name for a in load_report_agencies(cfg) if a.active_in(month)
    }
    return sorted(found.items())


_CITIES = frozenset({"Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Huế"})


def people_committee(province: str | None) -> str:
    """'ỦY BAN NHÂN DÂN TỈNH HẢI DƯƠNG' / '… THÀNH PHỐ HẢI PHÒNG' (centrally-run cities)."""
    if not province:
        return "ỦY BAN NHÂN DÂN"
    kind = "THÀNH PHỐ" if province in _CITIES else "TỈNH"
    return f"ỦY BAN NHÂN DÂN {kind} {province.upper()}"


# --- counting --------------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.strptime(str(value), TS_FORMAT)


def dossier_end(d: Mapping[str, Any]) -> tuple[str, datetime] | None:
    """(kind, when) of the dossier's terminal event, or None while it is open."""
    status = str(d.get("TrangThaiHoSo") or "")
    finished = _ts(d.get("NgayKetThucXuLy"))
    if status in ("9", "10"):
        when = finished or _ts(d.get("NgayTra"))
        return ("resolved", when) if when else None
    if status == "7" and finished:
        return "withdrawn", finished
    if status == "8" and finished:
        return "returned", finished
    if status == "3":
        accepted = _ts(d.get("NgayTiepNhan"))
        return ("returned", finished or accepted) if (finished or accepted) else None
    return None


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month.replace(day=1)
    return datetime.combine(first, time.min), datetime.combine(next_month(first), time.min)


def dossier_contribution(d: Mapping[str, Any], month: date) -> dict[str, int]:
    """The counts one dossier adds to its agency's row for ``month`` (empty: not involved)."""
    accepted = _ts(d.get("NgayTiepNhan"))
    first, nxt = _month_bounds(month)
    if accepted is None or accepted >= nxt:
        return {}
    end = dossier_end(d)
    if accepted < first and end is not None and end[1] < first:
        return {}  # finished before the month: not in this report
    out: dict[str, int] = {"tong_so": 1}
    if accepted < first:
        out["ky_truoc_chuyen_qua"] = 1
    else:
        out["tiep_nhan_trong_ky"] = 1
        channel = str(d.get("KenhThucHien") or "1")
        key = {"2": "tiep_nhan_truc_tuyen", "3": "tiep_nhan_bcci"}.get(
            channel, "tiep_nhan_truc_tiep"
        )
        out[key] = 1
    due = _ts(d.get("NgayHenTra"))
    if end is not None and end[1] < nxt:
        kind, when = end
        if kind == "resolved":
            out["da_giai_quyet"] = 1
            if due is None or when.date() == due.date():
                out["giai_quyet_dung_han"] = 1
            elif when.date() < due.date():
                out["giai_quyet_som_han"] = 1
            else:
                out["giai_quyet_tre_han"] = 1
        elif kind == "withdrawn":
            out["rut_ho_so"] = 1
        else:
            out["tra_lai"] = 1
    else:
        out["dang_giai_quyet"] = 1
        overdue = due is not None and due < nxt
        out["dang_giai_quyet_qua_han" if overdue else "dang_giai_quyet_chua_den_han"] = 1
    return out


def count_by_agency(
    dossiers: Iterable[Mapping[str, Any]], month: date
) -> dict[str, dict[str, int]]:
    """Per ``DonViXuLy``: the report's counts for ``month`` (each MaHoSo counted once)."""
    seen: set[str] = set()
    out: dict[str, dict[str, int]] = {}
    for d in dossiers:
        key = str(d.get("MaHoSo") or "")
        if key in seen:
            continue
        seen.add(key)
        contribution = dossier_contribution(d, month)
        if not contribution:
            continue
        row = out.setdefault(str(d.get("DonViXuLy") or ""), dict.fromkeys(COUNT_FIELDS, 0))
        for name, n in contribution.items():
            row[name] += n
    return out


def broken_identities(row: Mapping[str, Any], *, conservation: bool = False) -> list[str]:
    """Identities of the numbering row (and optionally conservation) a row violates."""
    checks = [*IDENTITIES, CONSERVATION] if conservation else list(IDENTITIES)
    broken = []
    for total, parts in checks:
        if int(row[total] or 0) != sum(int(row[p] or 0) for p in parts):
            broken.append(f"{total} != {' + '.join(parts)}")
    return broken


OFF_SYSTEM_AGENCY_SHARE = 0.25  # agencies that still take some dossiers on paper only
OFF_SYSTEM_SHARE = (0.05, 0.20)  # their off-system dossiers, per system-received dossier


def off_system_dossiers(seed: int, agency: str, month: date, received: int) -> int:
    """Dossiers ``agency`` received on paper in ``month`` that never reached the system, for
    ``received`` received in it (module docstring). Deterministic for (seed, agency, month)."""
    if random.Random(f"{seed}|off-system|{agency}").random() >= OFF_SYSTEM_AGENCY_SHARE:
        return 0
    share = random.Random(f"{seed}|off-system|{agency}|{month:%Y-%m}").uniform(*OFF_SYSTEM_SHARE)
    return max(1, round(received * share)) if received else 0


def add_off_system(row: dict[str, int], extra: int) -> None:
    """Add ``extra`` desk dossiers received and resolved on time in the month to ``row``."""
    for name in (
        "tong_so",
        "tiep_nhan_trong_ky",
        "tiep_nhan_truc_tiep",
        "da_giai_quyet",
        "giai_quyet_dung_han",
    ):
        row[name] += extra


def aggregate_rows(
    dossiers: Iterable[Mapping[str, Any]],
    month: date,
    agencies: Sequence[ReportAgency],
    *,
    mismatch: Mismatch | None = None,
    off_system_seed: int | None = None,
) -> list[dict[str, Any]]:
    """Canonical ``one_stop.aggregate_reports`` rows: the total row, then body rows by section.

    Every agency active in the month gets a row (zeros included, as printed reports do);
    dossiers of agencies not in ``agencies`` are left out. ``mismatch`` prints one number
    2 lower than the data say: the total row's ``da_giai_quyet`` ("total") or that of the
    busiest body row ("row"), so (9)=(10)+(11)+(12) no longer holds there. With
    ``off_system_seed``, the rows add the paper-only dossiers of :func:`off_system_dossiers`.
    """
    month = month.replace(day=1)
    counts = count_by_agency(dossiers, month)
    body: list[dict[str, Any]] = []
    for tier, section in SECTIONS:
        members = sorted(
            (a for a in agencies if a.tier == tier and a.active_in(month)), key=lambda a: a.code
        )
        for i, agency in enumerate(members, start=1):
            values = dict(counts.get(agency.code) or dict.fromkeys(COUNT_FIELDS, 0))
            if off_system_seed is not None:
                extra = off_system_dossiers(
                    off_system_seed, agency.code, month, values["tiep_nhan_trong_ky"]
                )
                add_off_system(values, extra)
            body.append(
                {
                    "stt": str(i),
                    "ten_dong": agency.name,
                    "ma_dong": agency.code,
                    "nhom": section,
                    "loai_dong": "body",
                    **values,
                }
            )
    total = {
        "stt": None,
        "ten_dong": TOTAL_LABEL,
        "ma_dong": None,
        "nhom": None,
        "loai_dong": "total",
        **{f: sum(r[f] for r in body) for f in COUNT_FIELDS},
    }
    rows = [total, *body]
    if mismatch == "total":
        total["da_giai_quyet"] = _off_by_two(total["da_giai_quyet"])
    elif mismatch == "row" and body:
        busiest = max(body, key=lambda r: r["da_giai_quyet"])
        busiest["da_giai_quyet"] = _off_by_two(busiest["da_giai_quyet"])
    elif mismatch is not None:
        raise ValueError(f"mismatch must be 'total', 'row' or None, got {mismatch!r}")
    return rows


def _off_by_two(value: int) -> int:
    return value - 2 if value >= 2 else value + 2


def dossiers_through(cfg: Any, month: date, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Dossiers of every simulated month up to ``month`` (carried-over counts need them), as
    the one-stop system shows them at ``as_of`` (default: the end of the horizon)."""
    from chiso_sim.one_stop import generate_month

    start = cfg.start_month.replace(day=1)
    out: list[dict[str, Any]] = []
    current = start
    while current <= month:
        out.extend(generate_month(cfg, current, as_of))
        current = next_month(current)
    return out


def aggregate_month(
    cfg: Any,
    month: date,
    *,
    province_code: str | None = None,
    mismatch: Mismatch | None = None,
    dossiers: Iterable[Mapping[str, Any]] | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """The report's rows for ``month``: one province's agencies, or all of ``cfg``'s, from the
    dossiers as at ``as_of`` (default: the end of the horizon).

    ``dossiers`` (every month up to ``month``) can be passed when the caller has them cached.
    """
    month = month.replace(day=1)
    source = dossiers if dossiers is not None else dossiers_through(cfg, month, as_of)
    agencies = load_report_agencies(cfg, province_code)
    return aggregate_rows(source, month, agencies, mismatch=mismatch, off_system_seed=cfg.seed)


def _province_label(cfg: Any, province_code: str | None, month: date) -> str | None:
    provinces = report_provinces(cfg, month)
    if province_code is not None:
        return dict(provinces).get(province_code)
    return provinces[0][1] if len(provinces) == 1 else None


# --- layout ----------------------------------------------------------------------------------


def report_title(month: date) -> str:
    return f"TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ – Tháng {month.month} Năm {month.year}"


def _cell(name: str, row: Mapping[str, Any], vn_numbers: bool) -> Any:
    if name == "_ty_le_dung_han":
        resolved = int(row.get("da_giai_quyet") or 0)
        if not resolved:
            return None
        on_time = int(row.get("giai_quyet_som_han") or 0) + int(row.get("giai_quyet_dung_han") or 0)
        return percent_text(100 * on_time / resolved, comma=True)
    if name == "_ghi_chu":
        return None
    value = row.get(name)
    if name == "stt" and isinstance(value, str) and value.isdigit():
        return int(value)  # printed as a number, as Excel users type it
    if vn_numbers and name in COUNT_FIELDS and value is not None:
        return vn_number(int(value))
    return value


def report_sheet(
    rows: Sequence[Mapping[str, Any]],
    month: date,
    *,
    province: str | None = None,
    variant: ReportVariant = "standard",
    faults: FileFaults = NO_FAULTS,
) -> Sheet:
    """The printed report: headings, 1–3 header rows, numbering, total, sections, footer."""
    layout = REPORT_LAYOUTS[variant]
    names = [name for name, _ in layout]
    paths = [path for _, path in layout]
    depth = max(len(p) for p in paths)
    sheet = Sheet(name=f"T{month.month:02d}-{month.year}", ncols=len(layout))
    half = max(1, len(layout) // 3)
    r = sheet.add([people_committee(province)], "meta")
    sheet.rows[r - 1][len(layout) - half] = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    sheet.merge(r, 1, r, half)
    sheet.merge(r, len(layout) - half + 1, r, len(layout))
    r = sheet.add(["TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG"], "meta")
    sheet.rows[r - 1][len(layout) - half] = "Độc lập - Tự do - Hạnh phúc"
    sheet.merge(r, 1, r, half)
    sheet.merge(r, len(layout) - half + 1, r, len(layout))
    sheet.add([], "blank")
    sheet.add_merged(report_title(month), "title")
    sheet.add_merged(
        f"(Từ ngày {month.replace(day=1):%d/%m/%Y} đến ngày {last_day(month):%d/%m/%Y})", "meta"
    )
    sheet.add([], "blank")
    add_header(sheet, paths, depth)
    sheet.add([NUMBERING.get(n, "") for n in names], "numbering")
    vn = faults.vn_numbers
    bad_row = _missing_label_row(rows) if faults.missing_required else -1
    current: str | None = None
    for i, row in enumerate(rows):
        if row.get("loai_dong") == "total":
            sheet.add([_cell(n, row, vn) for n in names], "total")
            continue
        section = row.get("nhom")
        if section and section != current:
            sheet.add_merged(section, "section")
            current = section
        values = [_cell(n, row, vn) for n in names]
        if i == bad_row:
            values[names.index("ten_dong")] = None
        sheet.add(values, "body")
    add_footer(sheet, month)
    sheet.count_cols = {i + 1 for i, n in enumerate(names) if n in COUNT_FIELDS}
    return sheet


def _missing_label_row(rows: Sequence[Mapping[str, Any]]) -> int:
    body = [i for i, r in enumerate(rows) if r.get("loai_dong") != "total"]
    return body[len(body) // 2] if body else -1


def aggregate_report_bytes(
    cfg: Any,
    month: date,
    *,
    province_code: str | None = None,
    rows: Sequence[Mapping[str, Any]] | None = None,
    dossiers: Iterable[Mapping[str, Any]] | None = None,
    variant: ReportVariant = "standard",
    fmt: Literal["xlsx", "xls"] = "xlsx",
    mismatch: Mismatch | None = None,
    faults: FileFaults = NO_FAULTS,
    as_of: datetime | None = None,
) -> bytes:
    """The month's report file (one province, or all of ``cfg``'s when ``province_code`` is
    None). ``faults.bad_totals`` means ``mismatch="total"``; renamed/extra columns mean the
    ``upgraded`` layout; text, number, HTML-as-xls, missing-label and truncation pathologies
    work as in :mod:`chiso_sim.exports` (the report has no dates to break). Built from the
    dossiers as at ``as_of`` (default: the end of the horizon) unless ``rows`` or
    ``dossiers`` are given."""
    month = month.replace(day=1)
    if variant not in REPORT_LAYOUTS:
        raise ValueError(f"report variant must be one of {REPORT_VARIANTS}, got {variant!r}")
    if faults.bad_totals and mismatch is None:
        mismatch = "total"
    if faults.renamed_columns or faults.extra_columns:
        variant = "upgraded"
    if rows is None:
        rows = aggregate_month(
            cfg,
            month,
            province_code=province_code,
            mismatch=mismatch,
            dossiers=dossiers,
            as_of=as_of,
        )
    elif mismatch is not None:
        raise ValueError("pass either precomputed rows or a mismatch, not both")
    province = _province_label(cfg, province_code, month)
    sheet = report_sheet(rows, month, province=province, variant=variant, faults=faults)
    sheet.map_text(text_transform(faults))
    if faults.legacy:
        sheet.legacy_font = ".VnTime" if faults.legacy == "tcvn3" else "VNI-Times"
    if fmt == "xlsx" and not faults.html_xls:
        data = render_xlsx(sheet, datetime.combine(report_date(month), time.min))
        marker = None
    else:
        charset = "windows-1252" if faults.legacy else "utf-8"
        html = render_html(sheet, charset)
        data = legacy_bytes(html) if faults.legacy else html.encode("utf-8")
        marker = b"<tr"
    return truncate_bytes(data, marker) if faults.truncated else data


__all__ = [
    "COUNT_FIELDS",
    "IDENTITIES",
    "REPORT_VARIANTS",
    "SECTIONS",
    "ReportAgency",
    "aggregate_month",
    "aggregate_report_bytes",
    "aggregate_rows",
    "broken_identities",
    "count_by_agency",
    "dossier_contribution",
    "dossiers_through",
    "load_report_agencies",
    "off_system_dossiers",
    "report_provinces",
    "report_sheet",
]
