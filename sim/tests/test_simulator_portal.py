"""The simulated public-service portal: catalogue snapshots and monthly usage."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from chiso_sim.catalogue import catalogue_for_province
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import add_months, generate_month, load_agencies
from chiso_sim.portal import catalogue_snapshot, format_rate, usage_month

from chiso.sources.canonical import PORTAL_SERVICE_CATALOGUE, PORTAL_USAGE

AGENCIES_CSV = """\
agency_code,agency_name,tier,province_code,province_name,parent_agency_code,valid_from,valid_to
000.00.02.H23,Sở Tư pháp tỉnh Hải Dương,province_dept,30,Hải Dương,,2015-01-01,2025-06-30
000.00.17.H23,Sở Thông tin và Truyền thông tỉnh Hải Dương,province_dept,30,Hải Dương,,\
2015-01-01,2025-02-28
000.00.18.H23,Sở Khoa học và Công nghệ tỉnh Hải Dương,province_dept,30,Hải Dương,,\
2015-01-01,2025-06-30
000.00.31.H23,UBND thành phố Hải Dương,district,30,Hải Dương,,2015-01-01,2025-06-30
001.31.30.H23,UBND phường Trần Phú,commune,30,Hải Dương,000.00.31.H23,2015-01-01,2025-06-30
002.31.30.H23,UBND xã Nam Đồng,commune,30,Hải Dương,000.00.31.H23,2019-06-15,2025-06-30
000.00.02.H31,Sở Tư pháp thành phố Hải Phòng,province_dept,31,Hải Phòng,,2025-07-01,
001.00.31.H31,UBND phường Hải Dương,commune,31,Hải Phòng,,2025-07-01,
"""
MONTHS = [add_months(date(2019, 1, 1), i) for i in range(84)]  # 2019-01 … 2025-12


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> SimulatorConfig:
    path: Path = tmp_path_factory.mktemp("portal") / "agencies.csv"
    path.write_text(AGENCIES_CSV, encoding="utf-8")
    return SimulatorConfig(
        agencies_csv=path,
        start_month=MONTHS[0],
        months=len(MONTHS),
        dossiers_per_agency_month=25,
    )


@pytest.fixture(scope="module")
def usage(cfg: SimulatorConfig) -> dict[date, list[dict]]:
    return {m: usage_month(cfg, m) for m in MONTHS}


def is_date(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and date.fromisoformat(text) is not None


# --- catalogue ---------------------------------------------------------------------------


def test_snapshot_shape(cfg: SimulatorConfig) -> None:
    day = date(2021, 3, 15)
    rows = catalogue_snapshot(cfg, day)
    assert rows
    keys = {(r["don_vi"], r["ma_tthc"]) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        assert tuple(r) == tuple(PORTAL_SERVICE_CATALOGUE.columns)
        assert all(v is None or isinstance(v, str) for v in r.values())
        assert all(unicodedata.normalize("NFC", v) == v for v in r.values() if v)
        assert r["ngay_chot"] == "2021-03-15" and is_date(r["ngay_chot"])
        for flag in ("du_dieu_kien_toan_trinh", "tich_hop_dvcqg", "thanh_toan_truc_tuyen"):
            assert r[flag] in {"0", "1"}
        assert r["co_phi"] in {"0", "1"}
        assert r["muc_do"] in {"1", "2", "3", "4"}
        assert r["trang_thai"] in {"dang_cong_khai", "dung"}
        if r["thanh_toan_truc_tuyen"] == "1":
            assert r["co_phi"] == "1"
        if r["tich_hop_dvcqg"] == "1":
            assert r["muc_do"] in {"3", "4"}


def test_snapshot_agencies_and_tiers(cfg: SimulatorConfig) -> None:
    agencies = load_agencies(cfg.agencies_csv)
    tier_authority = {"province_dept": "tinh", "district": "huyen", "commune": "xa"}
    for day in (date(2019, 6, 1), date(2025, 3, 10), date(2025, 8, 1)):
        rows = catalogue_snapshot(cfg, day)
        valid = {a.code: a for a in agencies if a.valid_on(day)}
        assert {r["don_vi"] for r in rows} == set(valid)
        for r in rows:
            agency = valid[r["don_vi"]]
            if day < date(2025, 7, 1) or agency.tier != "commune":
                assert r["cap_thuc_hien"] == tier_authority[agency.tier]
            else:  # communes took over the district procedures
                assert r["cap_thuc_hien"] in {"xa", "huyen"}
    # The TT&TT department is gone in March 2025; its procedures moved to KH&CN.
    march = catalogue_snapshot(cfg, date(2025, 3, 10))
    kc = {r["ma_linh_vuc"] for r in march if r["don_vi"] == "000.00.18.H23"}
    assert any(code.startswith("G09-TT") for code in kc)


def test_snapshot_levels_over_time(cfg: SimulatorConfig) -> None:
    before = catalogue_snapshot(cfg, date(2022, 6, 30))
    after = catalogue_snapshot(cfg, date(2025, 9, 1))
    assert {r["muc_do"] for r in before} <= {"1", "2", "3", "4"}
    assert {r["muc_do"] for r in after} == {"toan_trinh", "mot_phan"}
    eligible = [r for r in after if r["du_dieu_kien_toan_trinh"] == "1"]
    assert eligible and all(r["muc_do"] == "toan_trinh" for r in eligible)
    assert all(r["tich_hop_dvcqg"] == "1" for r in after)
    stopped = Counter(r["trang_thai"] for r in after)["dung"]
    assert 0 < stopped < 0.15 * len(after)
    assert Counter(r["trang_thai"] for r in catalogue_snapshot(cfg, date(2018, 6, 1)))["dung"] == 0


def test_snapshot_matches_catalogue(cfg: SimulatorConfig) -> None:
    procs = {p.code: p for p in catalogue_for_province(cfg, "30")}
    for r in catalogue_snapshot(cfg, date(2023, 1, 1)):
        p = procs[r["ma_tthc"]]
        assert (r["ten_tthc"], r["ma_linh_vuc"], r["cap_thuc_hien"]) == (
            p.name,
            p.field_code,
            p.authority,
        )
        assert r["du_dieu_kien_toan_trinh"] == ("1" if p.eligible_full_online else "0")
        assert r["co_phi"] == ("1" if p.fee_bearing else "0")


# --- usage -------------------------------------------------------------------------------


def test_usage_shape(usage: dict[date, list[dict]]) -> None:
    for month, rows in usage.items():
        assert rows
        assert len({r["don_vi"] for r in rows}) == len(rows)
        for r in rows:
            assert tuple(r) == tuple(PORTAL_USAGE.columns)
            assert r["thang"] == month.isoformat()
            for key in PORTAL_USAGE.columns[2:-1]:
                assert r[key].isdigit(), (key, r[key])
            rate = r["ty_le_hai_long"]
            assert rate is None or re.fullmatch(r"\d{1,3},\d%", rate)
            assert (rate is None) == (r["luot_danh_gia"] == "0")
            assert int(r["luot_hai_long"]) <= int(r["luot_danh_gia"])


def test_usage_agencies_valid_in_month(usage: dict[date, list[dict]], cfg) -> None:  # type: ignore[no-untyped-def]
    agencies = load_agencies(cfg.agencies_csv)
    for month in (date(2019, 5, 1), date(2019, 6, 1), date(2025, 6, 1), date(2025, 7, 1)):
        end = add_months(month, 1)
        expected = {
            a.code
            for a in agencies
            if a.valid_from < end and (a.valid_to is None or a.valid_to >= month)
        }
        assert {r["don_vi"] for r in usage[month]} == expected


def test_usage_reconciles_with_one_stop(cfg: SimulatorConfig, usage) -> None:  # type: ignore[no-untyped-def]
    for month in (date(2019, 3, 1), date(2023, 5, 1), date(2025, 9, 1)):
        online: Counter[str] = Counter()
        paid: Counter[str] = Counter()
        amount: Counter[str] = Counter()
        for d in generate_month(cfg, month):
            online[d["DonViXuLy"]] += d["KenhThucHien"] == "2"
            if d["DuocThanhToanTrucTuyen"] == "1":
                paid[d["DonViXuLy"]] += 1
                amount[d["DonViXuLy"]] += int(d["PhiLePhi"])
        for r in usage[month]:
            assert int(r["ho_so_truc_tuyen"]) == online[r["don_vi"]]
            assert int(r["giao_dich_thanh_toan"]) == paid[r["don_vi"]]
            assert int(r["so_tien_thanh_toan"]) == amount[r["don_vi"]]


def test_accounts_accumulate(usage: dict[date, list[dict]]) -> None:
    totals: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for month in MONTHS:
        for r in usage[month]:
            totals[r["don_vi"]].append((int(r["tai_khoan_moi"]), int(r["tong_tai_khoan"])))
    for series in totals.values():
        for (_, before), (new, after) in itertools.pairwise(series):
            assert after == before + new
    first = sum(int(r["tong_tai_khoan"]) for r in usage[date(2019, 12, 1)])
    last = sum(int(r["tong_tai_khoan"]) for r in usage[date(2024, 12, 1)])
    assert last > 2 * first


def test_vneid_logins(usage: dict[date, list[dict]]) -> None:
    def logins(year: int) -> int:
        return sum(
            int(r["dang_nhap_vneid"]) for m, rows in usage.items() if m.year == year for r in rows
        )

    assert logins(2019) == logins(2020) == logins(2021) == 0
    assert 0 < logins(2022) < logins(2023) < logins(2024)


def test_satisfaction_and_misprints(usage: dict[date, list[dict]]) -> None:
    rows = [r for rs in usage.values() for r in rs]
    ratings = sum(int(r["luot_danh_gia"]) for r in rows)
    satisfied = sum(int(r["luot_hai_long"]) for r in rows)
    assert 0.90 <= satisfied / ratings <= 0.97
    rated = [r for r in rows if r["luot_danh_gia"] != "0"]
    wrong = 0
    for r in rated:
        printed = float(r["ty_le_hai_long"].rstrip("%").replace(",", "."))
        true = 100 * int(r["luot_hai_long"]) / int(r["luot_danh_gia"])
        wrong += abs(printed - true) > 0.051
    assert 0.01 <= wrong / len(rated) <= 0.07  # ~3% of rows print a rate their counts deny


def test_format_rate() -> None:
    assert format_rate(93.5) == "93,5%"
    assert format_rate(100) == "100,0%"


def test_outside_horizon_and_determinism(cfg: SimulatorConfig, usage) -> None:  # type: ignore[no-untyped-def]
    assert usage_month(cfg, date(2018, 12, 1)) == []
    assert usage_month(cfg, date(2026, 1, 1)) == []
    assert usage_month(cfg, date(2024, 2, 1)) == usage[date(2024, 2, 1)]
    assert catalogue_snapshot(cfg, date(2024, 2, 1)) == catalogue_snapshot(cfg, date(2024, 2, 1))
