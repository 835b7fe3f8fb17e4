"""The simulated procedure catalogue: size, shape, level history and who offers what."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from chiso_sim.catalogue import (
    DECREE_42_START,
    PROCEDURES,
    TIER_OF_AUTHORITY,
    TWO_TIER_START,
    CatalogueProcedure,
    catalogue_for_province,
    department_ministries,
    integrated_on,
    level_on,
    offered_procedures,
    online_capable,
    online_payment_on,
)
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import load_agencies

CFG = SimulatorConfig()

AGENCIES_CSV = """\
agency_code,agency_name,tier,province_code,province_name,parent_agency_code,valid_from,valid_to
000.00.02.H23,Sở Tư pháp tỉnh Hải Dương,province_dept,30,Hải Dương,,2015-01-01,2025-06-30
000.00.17.H23,Sở Thông tin và Truyền thông tỉnh Hải Dương,province_dept,30,Hải Dương,,\
2015-01-01,2025-02-28
000.00.18.H23,Sở Khoa học và Công nghệ tỉnh Hải Dương,province_dept,30,Hải Dương,,\
2015-01-01,2025-06-30
000.00.90.H23,Văn phòng UBND tỉnh Hải Dương,province_dept,30,Hải Dương,,2015-01-01,2025-06-30
000.00.31.H23,UBND thành phố Hải Dương,district,30,Hải Dương,,2015-01-01,2025-06-30
001.31.30.H23,UBND phường Trần Phú,commune,30,Hải Dương,000.00.31.H23,2015-01-01,2025-06-30
001.00.31.H31,UBND phường Hải Dương,commune,31,Hải Phòng,,2025-07-01,
"""


@pytest.fixture(scope="module")
def catalogue() -> list[CatalogueProcedure]:
    return catalogue_for_province(CFG, "30")


@pytest.fixture(scope="module")
def agencies(tmp_path_factory: pytest.TempPathFactory) -> list:
    path: Path = tmp_path_factory.mktemp("cat") / "agencies.csv"
    path.write_text(AGENCIES_CSV, encoding="utf-8")
    return load_agencies(path)


def share(items: list, predicate) -> float:  # type: ignore[no-untyped-def]
    return sum(1 for i in items if predicate(i)) / len(items)


def test_size_codes_and_names(catalogue: list[CatalogueProcedure]) -> None:
    assert len(catalogue) == CFG.procedures_per_province == 1900
    codes = [p.code for p in catalogue]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[123]\.\d{6}", c) for c in codes)
    names = [p.name for p in catalogue]
    assert len(set(names)) == len(names)
    for p in catalogue:
        assert unicodedata.normalize("NFC", p.name) == p.name
        assert unicodedata.normalize("NFC", p.field_name) == p.field_name
        assert re.fullmatch(r"G(09|15|22)-[A-Z]+\d{2}", p.field_code)
        assert "lorem" not in p.name.lower()
    assert any(n.startswith("Cấp giấy phép") for n in names)
    assert any(n.startswith("Đăng ký") for n in names)
    assert any(n.startswith("Thủ tục") for n in names)


def test_real_procedures_are_kept(catalogue: list[CatalogueProcedure]) -> None:
    by_code = {p.code: p for p in catalogue}
    for real in PROCEDURES:
        proc = by_code[real.code]
        assert (proc.name, proc.field_code, proc.tier) == (real.name, real.field_code, real.tier)
        assert level_on(proc, date(2020, 1, 15)) == str(real.level)


def test_authority_tiers_and_eligibility(catalogue: list[CatalogueProcedure]) -> None:
    authorities = Counter(p.authority for p in catalogue)
    assert authorities["tinh"] > 0.6 * len(catalogue)  # most procedures are provincial
    assert authorities["huyen"] > authorities["xa"] > 0
    assert all(TIER_OF_AUTHORITY[p.authority] == p.tier for p in catalogue)
    # Seed 001: 1,918 procedures, ~600 = 31% eligible for toàn trình.
    assert share(catalogue, lambda p: p.eligible_full_online) == pytest.approx(0.31, abs=0.01)
    # Information-and-communications procedures are all eligible (seed 001: 100%).
    tt = [p for p in catalogue if p.ministry == "TT"]
    assert tt and all(p.eligible_full_online for p in tt)


def test_fees_and_weights(catalogue: list[CatalogueProcedure]) -> None:
    assert 0.2 < share(catalogue, lambda p: p.fee_bearing) < 0.7
    assert all(p.fee_vnd >= 0 and p.working_days >= 1 for p in catalogue)
    weights = sorted((p.weight for p in catalogue), reverse=True)
    assert sum(weights[: len(weights) // 10]) > 0.5 * sum(weights)  # heavy-tailed volume
    assert {p.applicant for p in catalogue} == {"1", "2"}


def test_levels_rise_until_nd42(catalogue: list[CatalogueProcedure]) -> None:
    days = [date(2018, 7, 1), date(2019, 7, 1), date(2020, 7, 1), date(2022, 6, 30)]
    l34 = [share(catalogue, lambda p, d=d: level_on(p, d) in {"3", "4"}) for d in days]
    assert l34 == sorted(l34) and l34[0] < l34[-1]
    assert 0.35 < l34[0] < 0.65  # Hà Giang 2018: 51.1% at level ≥3
    assert 0.15 < share(catalogue, lambda p: level_on(p, date(2018, 7, 1)) == "4") < 0.35
    for p in catalogue[::7]:
        levels = [int(level_on(p, d)) for d in days]
        assert levels == sorted(levels), p.code  # a procedure's level never drops
        assert level_on(p, date(2021, 3, 1)) in {"1", "2", "3", "4"}
    # NĐ 42/2022/NĐ-CP is in force from 1 August 2022: July is the last month of levels 1–4
    assert {level_on(p, date(2022, 7, 31)) for p in catalogue} <= {"1", "2", "3", "4"}
    assert {level_on(p, date(2022, 8, 1)) for p in catalogue} == {"toan_trinh", "mot_phan"}


def test_toan_trinh_after_nd42(catalogue: list[CatalogueProcedure]) -> None:
    eligible = [p for p in catalogue if p.eligible_full_online]
    days = [DECREE_42_START, date(2023, 7, 1), date(2024, 7, 1), date(2025, 12, 1)]
    full = [share(eligible, lambda p, d=d: level_on(p, d) == "toan_trinh") for d in days]
    assert full == sorted(full) and full[0] < 0.6 and full[-1] == 1.0
    for p in catalogue:
        level = level_on(p, date(2024, 1, 1))
        assert level in {"toan_trinh", "mot_phan"}
        if level == "toan_trinh":
            assert p.eligible_full_online


def test_integration_and_payment(catalogue: list[CatalogueProcedure]) -> None:
    def integrated_share(day: date) -> float:
        capable = [p for p in catalogue if online_capable(level_on(p, day))]
        return share(capable, lambda p: integrated_on(p, day))

    assert 0.2 <= integrated_share(date(2020, 12, 1)) <= 0.4  # NQ 17: 30% by 2020
    assert integrated_share(date(2025, 12, 1)) == 1.0
    for day in (date(2019, 6, 1), date(2024, 6, 1)):
        for p in catalogue:
            if online_payment_on(p, day):
                assert p.fee_bearing and online_capable(level_on(p, day))
            if p.fee_bearing and level_on(p, day) in {"4", "toan_trinh"}:
                assert online_payment_on(p, day)
    paying = [
        share(catalogue, lambda p, d=d: online_payment_on(p, d))
        for d in (date(2019, 6, 1), date(2025, 6, 1))
    ]
    assert paying[0] < paying[1]


def test_some_procedures_stop(catalogue: list[CatalogueProcedure]) -> None:
    stopped = [p for p in catalogue if p.stopped_from is not None]
    assert 0.02 < len(stopped) / len(catalogue) < 0.12
    assert all(p.active_on(date(2018, 12, 31)) for p in catalogue)
    assert not any(p.stopped_from for p in catalogue if p.code in {r.code for r in PROCEDURES})


def test_deterministic_cached_and_province_specific(
    catalogue: list[CatalogueProcedure],
) -> None:
    assert catalogue_for_province(SimulatorConfig(months=40), "30") == catalogue
    other_seed = catalogue_for_province(SimulatorConfig(seed=1), "30")
    assert [p.name for p in other_seed] != [p.name for p in catalogue]
    other = catalogue_for_province(CFG, "17")
    shared = {p.code for p in other} & {p.code for p in catalogue}
    assert len(shared) > 0.75 * len(catalogue)  # national codes: the same procedure everywhere
    day = date(2020, 6, 1)
    here = {p.code: level_on(p, day) for p in catalogue}
    there = {p.code: level_on(p, day) for p in other}
    assert any(here[c] != there[c] for c in shared)  # each province rolls out on its own


def test_departments_get_their_fields(agencies: list) -> None:
    before = department_ministries(agencies, "30", date(2024, 1, 1))
    assert "TP" in before["000.00.02.H23"]
    assert before["000.00.17.H23"] == {"TT"}
    assert "KC" in before["000.00.18.H23"] and "TT" not in before["000.00.18.H23"]
    # Nobody else claims e.g. health: the office without a matching name takes it.
    assert "YT" in before["000.00.90.H23"]
    # TT&TT merged into KH&CN on 1 March 2025: its fields follow.
    after = department_ministries(agencies, "30", date(2025, 3, 1))
    assert "000.00.17.H23" not in after
    assert {"KC", "TT"} <= after["000.00.18.H23"]


def test_offered_procedures_by_tier(agencies: list) -> None:
    by_code = {a.code: a for a in agencies}
    day = date(2024, 1, 1)
    justice = offered_procedures(CFG, by_code["000.00.02.H23"], day, agencies)
    assert justice and {p.ministry for p in justice} == {"TP"}
    assert {p.authority for p in justice} == {"tinh"}
    district = offered_procedures(CFG, by_code["000.00.31.H23"], day, agencies)
    assert {p.authority for p in district} == {"huyen"}
    commune = offered_procedures(CFG, by_code["001.31.30.H23"], day, agencies)
    assert {p.authority for p in commune} == {"xa"}
    # After the two-tier reform communes also handle the former district procedures.
    merged = offered_procedures(CFG, by_code["001.00.31.H31"], TWO_TIER_START, agencies)
    assert {p.authority for p in merged} == {"xa", "huyen"}
