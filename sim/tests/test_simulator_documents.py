"""Generator of document-management-system movements (chiso_sim.documents)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.documents import (
    DOCUMENT_KEYS,
    agency_abbreviation,
    generate_documents,
    generate_month,
)
from chiso_sim.one_stop import load_agencies

from chiso.sources.canonical import DOCUMENTS_MOVEMENTS

Row = dict[str, str | None]

CFG = SimulatorConfig()  # Jan–Jun 2020, 40 documents per agency-month, every province
# Calibration samples: Hòa Bình (seed 002's province), half a year each, busier than the default
# for tighter shares.
CFG_2019 = SimulatorConfig(
    start_month=date(2019, 1, 1), months=6, documents_per_agency_month=150, provinces=("17",)
)
CFG_2025 = replace(CFG_2019, start_month=date(2025, 1, 1))
# A code can be re-used by a re-created agency (2025 reorganisation): same name and tier.
VERSIONS = load_agencies(CFG.agencies_csv)
AGENCIES = {a.code: a for a in VERSIONS}
TIER = {code: a.tier for code, a in AGENCIES.items()}
NAMES = {a.name for a in VERSIONS}


def agency_named(province: str, name: str | None, day: date) -> str | None:
    """Code of the simulated agency called ``name`` in ``province`` on ``day`` (names recur)."""
    found = [
        a.code
        for a in VERSIONS
        if (a.province_code, a.name) == (province, name) and a.valid_on(day)
    ]
    assert len(found) <= 1
    return found[0] if found else None


VN_HOLIDAYS = holidays.country_holidays("VN", years=range(2019, 2027))
TYPE_SYMBOL = {
    "Quyết định": "QĐ",
    "Kế hoạch": "KH",
    "Báo cáo": "BC",
    "Giấy mời": "GM",
    "Thông báo": "TB",
    "Tờ trình": "TTr",
}
CODE = r"[A-ZĐ][A-ZĐa-z]*"
SYMBOL = re.compile(rf"^(\d{{2,}})/({CODE})(?:-({CODE}))?$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and day not in VN_HOLIDAYS


def workdays_after(start: date, end: date) -> int:
    """Working days in (start, end]: an independent check of the deadline arithmetic."""
    return sum(is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def share(rows: list[Row], pred: Callable[[Row], bool]) -> float:
    assert rows, "empty sample"
    return sum(map(pred, rows)) / len(rows)


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return generate_documents(CFG)


@pytest.fixture(scope="module")
def rows_2019() -> list[Row]:
    return generate_documents(CFG_2019)


@pytest.fixture(scope="module")
def rows_2025() -> list[Row]:
    return generate_documents(CFG_2025)


# --- determinism ---------------------------------------------------------------------------


def test_same_config_same_rows_other_seed_differs(rows: list[Row]) -> None:
    assert len(rows) > 2000
    assert generate_documents(SimulatorConfig()) == rows
    january = [r for r in rows if r["ngay_gui_nhan"] < "2020-02"]
    other = generate_month(replace(CFG, seed=7), date(2020, 1, 1))
    assert other != january
    assert [r["trich_yeu"] for r in other[:50]] != [r["trich_yeu"] for r in january[:50]]


def test_generate_month_is_the_months_slice(rows: list[Row]) -> None:
    for i in range(CFG.months):
        month = date(2020, 1 + i, 1)
        expected = [r for r in rows if r["ngay_gui_nhan"][:7] == f"{month:%Y-%m}"]
        assert expected
        assert generate_month(CFG, month) == expected


def test_other_horizon_agrees_on_shared_months(rows: list[Row]) -> None:
    """Extending the horizon only fills in handlings that were not recorded yet (handled
    later, or handled before but recorded late), and moves ngay_cap_nhat with them."""
    short = SimulatorConfig(months=2)
    jan_feb = [r for r in rows if r["ngay_gui_nhan"] < "2020-03"]
    got = generate_documents(short)
    assert len(got) == len(jan_feb)
    changing = {"ngay_xu_ly", "ngay_cap_nhat"}
    filled = backdated = 0
    for a, b in zip(got, jan_feb, strict=True):
        assert {k: v for k, v in a.items() if k not in changing} == {
            k: v for k, v in b.items() if k not in changing
        }
        if a["ngay_xu_ly"] is not None:
            assert a == b
        elif b["ngay_xu_ly"] is not None:
            assert b["ngay_cap_nhat"] >= "2020-03-01" > a["ngay_cap_nhat"]
            filled += 1
            backdated += b["ngay_xu_ly"] < "2020-03-01"
        else:
            assert a == b
    assert filled > 0 and backdated > 0


def test_province_filter(rows: list[Row]) -> None:
    """A province's rows do not depend on which other provinces are generated."""
    month = date(2020, 3, 1)
    march = [r for r in rows if r["ngay_gui_nhan"].startswith("2020-03")]
    for province in ("30", "17"):
        expected = [r for r in march if AGENCIES[r["don_vi"]].province_code == province]
        assert expected
        assert generate_month(replace(CFG, provinces=(province,)), month) == expected
    assert len({AGENCIES[r["don_vi"]].province_code for r in march}) >= 4
    assert generate_month(replace(CFG, provinces=("99",)), month) == []


# --- schema --------------------------------------------------------------------------------


def test_schema_is_canonical(rows: list[Row]) -> None:
    assert tuple(DOCUMENTS_MOVEMENTS.columns) == DOCUMENT_KEYS
    required = [f.name for f in DOCUMENTS_MOVEMENTS.fields if f.required]
    bools = [f.name for f in DOCUMENTS_MOVEMENTS.fields if f.type == "bool"]
    for r in rows:
        assert tuple(r) == DOCUMENT_KEYS
        assert all(v is None or isinstance(v, str) for v in r.values())
        assert all(r[k] for k in required)
        assert all(r[k] in {"0", "1"} for k in bools if k != "xu_ly_tren_mang")
        assert (
            r["xu_ly_tren_mang"] in {"0", "1"}
            if r["ma_ho_so_cong_viec"]
            else r["xu_ly_tren_mang"] is None
        )
        assert r["huong"] in {"di", "den"}
        assert r["hinh_thuc"] in {"dien_tu", "giay", "song_song"}
        assert TS.match(r["ngay_gui_nhan"]) and DAY.match(r["ngay_van_ban"])
        assert r["ngay_xu_ly"] is None or TS.match(r["ngay_xu_ly"])
        assert r["han_xu_ly"] is None or DAY.match(r["han_xu_ly"])
        assert r["loai_van_ban"] in {"Công văn", *TYPE_SYMBOL}
        assert r["ngay_van_ban"] <= r["ngay_gui_nhan"][:10]


def test_keys_unique(rows: list[Row]) -> None:
    keys = [(r["don_vi"], r["ma_van_ban"], r["huong"]) for r in rows]
    assert len(keys) == len(set(keys))
    per_agency = [(r["don_vi"], r["ma_van_ban"]) for r in rows]
    assert len(per_agency) == len(set(per_agency))


def test_text_is_nfc_vietnamese_and_real(rows: list[Row]) -> None:
    for r in rows:
        for value in r.values():
            if value is not None:
                assert unicodedata.normalize("NFC", value) == value
        assert "lorem" not in (r["trich_yeu"] or "").lower()
    summaries = {r["trich_yeu"] for r in rows}
    assert len(summaries) > 200
    assert any("ệ" in s or "ả" in s for s in summaries)


# --- realism -------------------------------------------------------------------------------


def test_so_ky_hieu_format(rows: list[Row]) -> None:
    assert agency_abbreviation("Sở Tư pháp tỉnh Hải Dương") == "STP"
    assert agency_abbreviation("Sở Kế hoạch và Đầu tư tỉnh Hải Dương") == "SKHĐT"
    assert agency_abbreviation("Sở Lao động - Thương binh và Xã hội thành phố Hà Nội") == "SLĐTBXH"
    assert agency_abbreviation("UBND huyện Thanh Hà") == "UBND"
    for r in rows:
        m = SYMBOL.match(r["so_ky_hieu"])
        assert m, r["so_ky_hieu"]
        if r["huong"] != "di":
            continue
        abbr = agency_abbreviation(AGENCIES[r["don_vi"]].name)
        if r["loai_van_ban"] == "Công văn":
            assert m.group(2) == abbr  # 123/UBND-VP
        else:
            assert (m.group(2), m.group(3)) == (TYPE_SYMBOL[r["loai_van_ban"]], abbr)
    kinds = Counter(r["loai_van_ban"] for r in rows)
    assert kinds.most_common(1)[0][0] == "Công văn"
    assert set(kinds) == {"Công văn", *TYPE_SYMBOL}


def test_numbering_per_agency_per_year(rows_2019: list[Row]) -> None:
    """Sent documents are numbered 1, 2, 3 … in date order from 1 January."""
    sent: dict[str, list[Row]] = defaultdict(list)
    for r in rows_2019:
        if r["huong"] == "di":
            sent[r["don_vi"]].append(r)
    assert len(sent) >= 8
    for docs in sent.values():
        docs.sort(key=lambda r: (r["ngay_van_ban"], r["ngay_gui_nhan"]))
        numbers = [int(r["so_ky_hieu"].split("/")[0]) for r in docs]
        assert numbers == list(range(1, len(docs) + 1))
    # A horizon starting in May continues the year's numbering.
    may = generate_month(replace(CFG_2019, start_month=date(2019, 5, 1)), date(2019, 5, 1))
    full = [r for r in rows_2019 if r["ngay_gui_nhan"].startswith("2019-05")]
    assert [r["so_ky_hieu"] for r in may] == [r["so_ky_hieu"] for r in full]


def test_directions_and_parties(rows: list[Row]) -> None:
    names = NAMES
    for r in rows:
        own = AGENCIES[r["don_vi"]].name
        if r["huong"] == "di":
            assert r["co_quan_ban_hanh"] == own
            if r["noi_bo"] == "0":
                assert own not in r["noi_nhan"].split("; ")
        else:
            assert r["noi_nhan"] == own and r["co_quan_ban_hanh"] != own
            assert r["noi_bo"] == "0"
    sent = [r for r in rows if r["huong"] == "di" and r["noi_bo"] == "0"]
    assert share(sent, lambda r: bool(set(r["noi_nhan"].split("; ")) & names)) > 0.4
    assert 0.3 < share(rows, lambda r: r["huong"] == "di") < 0.5


def test_received_copies_match_the_senders_document(rows: list[Row]) -> None:
    sent = {
        (r["don_vi"], r["so_ky_hieu"]): r for r in rows if r["huong"] == "di" and r["noi_bo"] == "0"
    }
    copies = []
    for r in rows:
        if r["huong"] == "den" and r["co_quan_ban_hanh"] in NAMES:
            day = ts(r["ngay_gui_nhan"]).date()
            sender = agency_named(AGENCIES[r["don_vi"]].province_code, r["co_quan_ban_hanh"], day)
            if sender:
                copies.append((sender, r))
    assert len(copies) > 1000
    for sender, r in copies:
        original = sent[(sender, r["so_ky_hieu"])]
        assert r["noi_nhan"] in original["noi_nhan"].split("; ")
        for k in ("loai_van_ban", "trich_yeu", "ngay_van_ban", "hinh_thuc", "do_mat"):
            assert r[k] == original[k]
        assert ts(original["ngay_gui_nhan"]) <= ts(r["ngay_gui_nhan"])


def test_deadlines_are_working_days_after_receipt(rows: list[Row]) -> None:
    received = [r for r in rows if r["huong"] == "den"]
    with_deadline = [r for r in received if r["han_xu_ly"]]
    assert all(r["han_xu_ly"] is None for r in rows if r["huong"] == "di")
    for r in with_deadline:
        got, due = ts(r["ngay_gui_nhan"]).date(), date.fromisoformat(r["han_xu_ly"])
        assert is_workday(got) and is_workday(due)
        assert 1 <= workdays_after(got, due) <= 18  # ≤ 15, slack for calendar overrides
    for r in received:
        if r["ngay_xu_ly"]:
            assert ts(r["ngay_xu_ly"]) > ts(r["ngay_gui_nhan"])
    handled = [r for r in with_deadline if r["ngay_xu_ly"]]
    late = [r for r in handled if r["ngay_xu_ly"][:10] > r["han_xu_ly"]]
    assert 0.03 < len(late) / len(handled) < 0.2
    # Not yet handled only near the end of the horizon.
    open_ = [r for r in received if r["ngay_xu_ly"] is None]
    assert open_ and min(r["ngay_gui_nhan"] for r in open_) >= "2020-05-15"


def test_secret_and_internal_rules(rows: list[Row]) -> None:
    for r in rows:
        if r["do_mat"] == "1":
            assert r["hinh_thuc"] == "giay" and r["co_chu_ky_so"] == "0"
            assert r["qua_truc_lien_thong"] == "0" and r["ma_ho_so_cong_viec"] is None
        if r["noi_bo"] == "1":
            assert r["huong"] == "di" and r["qua_truc_lien_thong"] == "0"
        if r["hinh_thuc"] == "giay":
            assert r["co_chu_ky_so"] == "0" and r["qua_truc_lien_thong"] == "0"


def test_work_file_flag_is_per_file(rows_2019: list[Row]) -> None:
    flags: dict[str, set[str | None]] = defaultdict(set)
    months: dict[str, set[str]] = defaultdict(set)
    for r in rows_2019:
        if r["ma_ho_so_cong_viec"]:
            flags[r["ma_ho_so_cong_viec"]].add(r["xu_ly_tren_mang"])
            months[r["ma_ho_so_cong_viec"]].add(r["ngay_gui_nhan"][:7])
    assert all(len(v) == 1 for v in flags.values())
    assert any(len(v) > 1 for v in months.values())


def test_volume_by_tier(rows: list[Row]) -> None:
    volume = Counter((r["don_vi"], r["ngay_gui_nhan"][:7]) for r in rows)
    per_tier: dict[str, list[int]] = defaultdict(list)
    for (code, _), n in volume.items():
        per_tier[TIER[code]].append(n)
    mean = {t: sum(v) / len(v) for t, v in per_tier.items()}
    assert mean["province_dept"] > mean["district"] > mean["commune"]
    overall = sum(volume.values()) / len(volume)
    assert 0.6 * CFG.documents_per_agency_month < overall < 1.6 * CFG.documents_per_agency_month
    assert len(set(volume.values())) > 10


# --- validity ------------------------------------------------------------------------------


def test_agency_validity_honoured(tmp_path: Path) -> None:
    csv_path = tmp_path / "agencies.csv"
    csv_path.write_text(
        "agency_code,agency_name,tier,province_code,province_name,parent_agency_code,"
        "valid_from,valid_to\n"
        "000.00.90.H23,Sở Cũ tỉnh Hải Dương,province_dept,30,Hải Dương,,2015-01-01,2020-02-14\n"
        "000.00.91.H23,UBND huyện Mới,district,30,Hải Dương,,2020-03-16,\n"
        "001.91.30.H23,UBND xã Mới,commune,30,Hải Dương,000.00.91.H23,2020-03-16,\n"
        "000.00.92.H23,UBND huyện Đã Giải Thể,district,30,Hải Dương,,2010-01-01,2019-12-31\n"
        "000.00.93.H23,Sở Mãi,province_dept,30,Hải Dương,,2010-01-01,\n",
        encoding="utf-8",
    )
    cfg = SimulatorConfig(agencies_csv=csv_path, months=4)
    out = generate_documents(cfg)
    spans = {
        "000.00.90.H23": (date(2015, 1, 1), date(2020, 2, 14)),
        "000.00.91.H23": (date(2020, 3, 16), date.max),
        "001.91.30.H23": (date(2020, 3, 16), date.max),
        "000.00.93.H23": (date(2010, 1, 1), date.max),
    }
    names = {
        "Sở Cũ tỉnh Hải Dương": spans["000.00.90.H23"],
        "UBND huyện Mới": spans["000.00.91.H23"],
        "UBND xã Mới": spans["001.91.30.H23"],
        "UBND huyện Đã Giải Thể": (date.min, date(2019, 12, 31)),
    }
    seen = Counter(r["don_vi"] for r in out)
    assert "000.00.92.H23" not in seen
    assert set(seen) == set(spans)
    for r in out:
        day = ts(r["ngay_gui_nhan"]).date()
        lo, hi = spans[r["don_vi"]]
        assert lo <= day <= hi, (r["don_vi"], day)
        for party in [r["co_quan_ban_hanh"], *r["noi_nhan"].split("; ")]:
            if party in names:
                assert names[party][0] <= day <= names[party][1], (party, day)
    mar = [r for r in out if r["don_vi"] == "001.91.30.H23" and r["ngay_gui_nhan"] < "2020-04"]
    assert mar  # a partial first month still has documents


def test_reorganised_agencies_in_2025(rows_2025: list[Row]) -> None:
    last: dict[str, str] = defaultdict(str)
    for r in rows_2025:
        last[r["don_vi"]] = max(last[r["don_vi"]], r["ngay_gui_nhan"])
    assert last["000.00.17.H17"] < "2025-03-01"  # Sở TT&TT merged on 1 March 2025
    assert "2025-06" < max(last.values()) < "2025-07-01"
    after_merger = [r for r in rows_2025 if r["ngay_gui_nhan"] >= "2025-03"]
    assert not [r for r in after_merger if "Bộ Thông tin và Truyền thông" in r["co_quan_ban_hanh"]]
    # Hải Dương merged into Hải Phòng on 1 July 2025: re-created agencies number from 01 again.
    july = date(2025, 7, 1)
    out = generate_month(SimulatorConfig(start_month=july, months=1, provinces=("30", "31")), july)
    assert out and {AGENCIES[r["don_vi"]].province_code for r in out} == {"31"}
    first: dict[str, int] = {}
    for r in out:
        if r["huong"] == "di":
            number = int(r["so_ky_hieu"].split("/")[0])
            first[r["don_vi"]] = min(first.get(r["don_vi"], number), number)
    assert first and set(first.values()) == {1}


# --- calibration ---------------------------------------------------------------------------


def shares(rows: list[Row]) -> dict[str, float]:
    open_ = [r for r in rows if r["do_mat"] == "0"]  # secret documents are excluded from ratios
    internal = [r for r in open_ if r["noi_bo"] == "1"]
    official = [r for r in open_ if r["noi_bo"] == "0"]
    electronic = [r for r in open_ if r["hinh_thuc"] != "giay"]
    received = [r for r in open_ if r["huong"] == "den"]
    due = [r for r in received if r["han_xu_ly"] and r["ngay_xu_ly"]]
    files: dict[tuple[str, str], bool] = {}
    for r in open_:
        if r["ma_ho_so_cong_viec"]:
            files[(r["don_vi"], r["ma_ho_so_cong_viec"])] = r["xu_ly_tren_mang"] == "1"
    out = {
        "internal_electronic": share(internal, lambda r: r["hinh_thuc"] == "dien_tu"),
        "official_parallel": share(official, lambda r: r["hinh_thuc"] == "song_song"),
        "official_electronic": share(official, lambda r: r["hinh_thuc"] == "dien_tu"),
        "official_paper": share(official, lambda r: r["hinh_thuc"] == "giay"),
        "signed": share(electronic, lambda r: r["co_chu_ky_so"] == "1"),
        "axis": share(official, lambda r: r["qua_truc_lien_thong"] == "1"),
        "secret": share(rows, lambda r: r["do_mat"] == "1"),
        "filed": share(open_, lambda r: r["ma_ho_so_cong_viec"] is not None),
        "deadline": share(received, lambda r: r["han_xu_ly"] is not None),
        "on_time": share(due, lambda r: r["ngay_xu_ly"][:10] <= r["han_xu_ly"]),
    }
    for tier in ("province_dept", "district", "commune"):
        flags = [v for (code, _), v in files.items() if TIER[code] == tier]
        out[f"workfile_online_{tier}"] = sum(flags) / len(flags)
    return out


CALIBRATION = {
    2019: {
        "internal_electronic": (0.90, 0.03),
        "official_parallel": (0.70, 0.05),
        "official_electronic": (0.30, 0.05),
        "official_paper": (0.02, 0.015),
        "signed": (0.40, 0.06),
        "axis": (0.55, 0.10),
        "secret": (0.015, 0.006),
        "filed": (0.85, 0.06),
        "deadline": (0.60, 0.06),
        "on_time": (0.90, 0.04),
        "workfile_online_province_dept": (0.45, 0.08),
        "workfile_online_district": (0.32, 0.08),
        "workfile_online_commune": (0.18, 0.08),
    },
    2025: {
        "internal_electronic": (0.99, 0.01),
        "official_parallel": (0.09, 0.05),
        "official_electronic": (0.90, 0.04),
        "official_paper": (0.007, 0.007),
        "signed": (0.95, 0.03),
        "axis": (0.99, 0.01),
        "secret": (0.015, 0.006),
        "filed": (0.85, 0.06),
        "deadline": (0.60, 0.06),
        "on_time": (0.92, 0.04),
        "workfile_online_province_dept": (0.90, 0.06),
        "workfile_online_district": (0.80, 0.07),
        "workfile_online_commune": (0.60, 0.10),
    },
}


@pytest.mark.parametrize("year", [2019, 2025])
def test_calibration(year: int, rows_2019: list[Row], rows_2025: list[Row]) -> None:
    measured = shares(rows_2019 if year == 2019 else rows_2025)
    off = {
        name: (round(measured[name], 3), target)
        for name, (target, tolerance) in CALIBRATION[year].items()
        if abs(measured[name] - target) > tolerance
    }
    assert not off, off


def test_shares_vary_by_agency_and_tier(rows_2019: list[Row]) -> None:
    by_agency: dict[str, list[Row]] = defaultdict(list)
    for r in rows_2019:
        if r["noi_bo"] == "0" and r["do_mat"] == "0":
            by_agency[r["don_vi"]].append(r)
    electronic = {
        code: share(docs, lambda r: r["hinh_thuc"] == "dien_tu") for code, docs in by_agency.items()
    }
    assert max(electronic.values()) - min(electronic.values()) > 0.08
    by_tier: dict[str, list[float]] = defaultdict(list)
    for code, value in electronic.items():
        by_tier[TIER[code]].append(value)
    mean = {t: sum(v) / len(v) for t, v in by_tier.items()}
    assert mean["province_dept"] > mean["commune"]
