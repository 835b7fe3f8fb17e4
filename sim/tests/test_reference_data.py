"""Reference seeds through the 1 July 2025 restructuring, and the working-day calendar."""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from chiso_sim.calendar import (
    WorkingCalendar,
    add_working_days,
    is_working_day,
    load_overrides,
    working_days_between,
)
from chiso_sim.generate import seeds as build_seeds
from chiso_sim.one_stop import load_agencies as simulator_load_agencies
from chiso_sim.seed_tables import (
    REFERENCE_DIR,
    AdminUnit,
    Agency,
    agency_on,
    load_admin_units,
    load_agencies,
    load_agency_lineage,
    load_unit_lineage,
)

RESTRUCTURING = date(2025, 7, 1)
LAST_OLD_DAY = date(2025, 6, 30)
SEED_PROVINCES = {"30", "31", "17", "02"}
MERGED = {"30": "31", "31": "31", "17": "25", "26": "25", "25": "25", "02": "08", "08": "08"}
SEED_FILES = (
    "ref_admin_units.csv",
    "ref_admin_unit_lineage.csv",
    "ref_agencies.csv",
    "ref_agency_lineage.csv",
    "ref_holiday_overrides.csv",
)
# The original ref_agencies.csv: code, name, tier, parent, valid_from, valid_to (province_code
# 30, province_name Hải Dương), kept verbatim but for KH&ĐT and TN&MT, which the original ended
# on 30/06/2025 and which merged into Sở Tài chính and Sở Nông nghiệp và Môi trường on
# 01/03/2025 (NĐ 45/2025/NĐ-CP; checked in issue 18).
ORIGINAL_AGENCIES = (
    ("000.00.02.H23", "Sở Tư pháp tỉnh Hải Dương", "province_dept", "", "2015-01-01", "2025-06-30"),
    (
        "000.00.04.H23",
        "Sở Kế hoạch và Đầu tư tỉnh Hải Dương",
        "province_dept",
        "",
        "2015-01-01",
        "2025-02-28",
    ),
    (
        "000.00.12.H23",
        "Sở Tài nguyên và Môi trường tỉnh Hải Dương",
        "province_dept",
        "",
        "2015-01-01",
        "2025-02-28",
    ),
    (
        "000.00.17.H23",
        "Sở Thông tin và Truyền thông tỉnh Hải Dương",
        "province_dept",
        "",
        "2015-01-01",
        "2025-02-28",
    ),
    ("000.00.31.H23", "UBND thành phố Hải Dương", "district", "", "2015-01-01", "2025-06-30"),
    ("000.00.33.H23", "UBND thị xã Kinh Môn", "district", "", "2019-12-01", "2025-06-30"),
    ("000.00.38.H23", "UBND huyện Thanh Hà", "district", "", "2015-01-01", "2025-06-30"),
    (
        "001.31.30.H23",
        "UBND phường Trần Phú",
        "commune",
        "000.00.31.H23",
        "2015-01-01",
        "2025-06-30",
    ),
    ("002.31.30.H23", "UBND xã Nam Đồng", "commune", "000.00.31.H23", "2015-01-01", "2025-06-30"),
    ("001.33.30.H23", "UBND phường An Lưu", "commune", "000.00.33.H23", "2019-12-01", "2025-06-30"),
    ("001.38.30.H23", "UBND xã Thanh Hải", "commune", "000.00.38.H23", "2015-01-01", "2025-06-30"),
)


@pytest.fixture(scope="module")
def units() -> list[AdminUnit]:
    return load_admin_units()


@pytest.fixture(scope="module")
def unit_by_key(units: list[AdminUnit]) -> dict[str, AdminUnit]:
    return {u.unit_key: u for u in units}


@pytest.fixture(scope="module")
def agencies() -> list[Agency]:
    return load_agencies()


@pytest.fixture(scope="module")
def agency_by_key(agencies: list[Agency]) -> dict[str, Agency]:
    return {a.agency_key: a for a in agencies}


def overlaps(a: AdminUnit | Agency, b: AdminUnit | Agency) -> bool:
    far = date.max
    return a.valid_from <= (b.valid_to or far) and b.valid_from <= (a.valid_to or far)


# --- file format -------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", SEED_FILES)
def test_seed_files_are_nfc_utf8_csv_with_rectangular_rows(filename: str) -> None:
    raw = (REFERENCE_DIR / filename).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    text = raw.decode("utf-8")
    assert unicodedata.normalize("NFC", text) == text
    rows = list(csv.reader(text.splitlines()))
    assert len(rows) > 1
    assert {len(r) for r in rows} == {len(rows[0])}


def test_agency_columns_keep_the_original_order() -> None:
    header = (REFERENCE_DIR / "ref_agencies.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(build_seeds.AGENCY_COLUMNS)
    assert header.startswith(
        "agency_code,agency_name,tier,province_code,province_name,parent_agency_code,"
        "valid_from,valid_to,"
    )


def test_original_hai_duong_rows_are_kept() -> None:
    with (REFERENCE_DIR / "ref_agencies.csv").open(encoding="utf-8", newline="") as fh:
        current = {tuple(row[:8]) for row in list(csv.reader(fh))[1:]}
    assert len(ORIGINAL_AGENCIES) == 11
    for code, name, tier, parent, start, end in ORIGINAL_AGENCIES:
        row = (code, name, tier, "30", "Hải Dương", parent, start, end)
        assert row in current, row


def test_row_counts_in_target_ranges(units: list[AdminUnit], agencies: list[Agency]) -> None:
    assert 90 <= len(agencies) <= 130
    assert len(units) < 2000
    per_province = Counter(
        a.province_code
        for a in agencies
        if a.agency_kind == "commune_committee" and a.valid_from >= RESTRUCTURING
    )
    assert set(per_province) == {"31", "25", "08"}
    assert all(6 <= n <= 10 for n in per_province.values()), per_province


# --- keys and validity ------------------------------------------------------------------------


def test_keys_unique(units: list[AdminUnit], agencies: list[Agency]) -> None:
    assert len({u.unit_key for u in units}) == len(units)
    assert len({a.agency_key for a in agencies}) == len(agencies)
    for name, key_cols in (
        ("ref_admin_unit_lineage.csv", ("from_unit_key", "to_unit_key", "effective_date")),
        ("ref_agency_lineage.csv", ("from_agency_key", "to_agency_key", "effective_date")),
    ):
        with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as fh:
            keys = [tuple(r[c] for c in key_cols) for r in csv.DictReader(fh)]
        assert len(keys) == len(set(keys)), name
    days = [d for d in load_overrides()]
    assert len(days) == len(set(days))


def test_validity_intervals_well_formed(units: list[AdminUnit], agencies: list[Agency]) -> None:
    for row in [*units, *agencies]:
        assert row.valid_to is None or row.valid_from <= row.valid_to, row


def test_code_system_matches_validity(units: list[AdminUnit]) -> None:
    for u in units:
        if u.code_system == "pre_2025":
            assert u.valid_to is not None and u.valid_to <= LAST_OLD_DAY, u.unit_key
        else:
            assert u.valid_from >= RESTRUCTURING, u.unit_key
            assert u.unit_level != "district", "no district level after 2025-07-01"


def test_same_code_never_valid_twice_on_one_day(
    units: list[AdminUnit], agencies: list[Agency]
) -> None:
    by_unit_code: dict[tuple[str, str], list[AdminUnit]] = defaultdict(list)
    for u in units:
        by_unit_code[(u.unit_level, u.unit_code)].append(u)
    by_agency_code: dict[str, list[Agency]] = defaultdict(list)
    for a in agencies:
        by_agency_code[a.agency_code].append(a)
    for group in [*by_unit_code.values(), *by_agency_code.values()]:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not overlaps(a, b), (a, b)


def test_parents_exist_and_cover_the_child(
    units: list[AdminUnit], unit_by_key: dict[str, AdminUnit]
) -> None:
    expected_parent_level = {"province": None, "district": "province", "commune": "district"}
    for u in units:
        if u.unit_level == "province":
            assert u.parent_unit_key is None
            continue
        parent = unit_by_key[u.parent_unit_key or ""]
        assert parent.code_system == u.code_system
        if u.code_system == "pre_2025":
            assert parent.unit_level == expected_parent_level[u.unit_level]
        else:
            assert parent.unit_level == "province"
        assert parent.valid_from <= u.valid_from
        assert parent.valid_to is None or (u.valid_to and u.valid_to <= parent.valid_to)


def test_no_agency_valid_after_2025_06_30_in_an_old_province(
    agencies: list[Agency], unit_by_key: dict[str, AdminUnit]
) -> None:
    for a in agencies:
        unit = unit_by_key[a.unit_key]
        if unit.code_system == "pre_2025":
            assert a.valid_to is not None and a.valid_to <= LAST_OLD_DAY, a.agency_key
        if a.tier == "district":
            assert a.valid_to is not None and a.valid_to <= LAST_OLD_DAY, a.agency_key


def test_every_post_2025_agency_sits_in_a_post_2025_unit(
    agencies: list[Agency], unit_by_key: dict[str, AdminUnit]
) -> None:
    post = [a for a in agencies if a.valid_on(RESTRUCTURING) or a.valid_from > LAST_OLD_DAY]
    assert post
    for a in post:
        assert unit_by_key[a.unit_key].code_system == "post_2025", a.agency_key


def test_agency_matches_its_unit(agencies: list[Agency], unit_by_key: dict[str, AdminUnit]) -> None:
    level = {
        "department": "province",
        "district_committee": "district",
        "commune_committee": "commune",
    }
    tier = {
        "department": "province_dept",
        "district_committee": "district",
        "commune_committee": "commune",
    }
    for a in agencies:
        unit = unit_by_key[a.unit_key]
        assert unit.unit_level == level[a.agency_kind], a.agency_key
        assert a.tier == tier[a.agency_kind], a.agency_key
        assert unit.valid_from <= a.valid_from, a.agency_key
        assert unit.valid_to is None or (a.valid_to and a.valid_to <= unit.valid_to)
        province = unit
        while province.parent_unit_key:
            province = unit_by_key[province.parent_unit_key]
        assert province.unit_code == a.province_code, a.agency_key


def test_parent_agency_code_resolves_on_the_child_first_day(
    agencies: list[Agency], unit_by_key: dict[str, AdminUnit]
) -> None:
    children = [a for a in agencies if a.parent_agency_code]
    assert children
    for a in children:
        parent = agency_on(agencies, a.parent_agency_code or "", a.valid_from)
        assert parent is not None and parent.agency_kind == "district_committee", a.agency_key
        assert unit_by_key[a.unit_key].parent_unit_key == parent.unit_key, a.agency_key


def test_department_merge_of_information_and_communications(agencies: list[Agency]) -> None:
    tttt = [a for a in agencies if a.agency_name.startswith("Sở Thông tin và Truyền thông")]
    assert len(tttt) == len(SEED_PROVINCES)
    assert all(a.valid_to == date(2025, 2, 28) for a in tttt)
    lineage = load_agency_lineage()
    by_key = {a.agency_key: a for a in agencies}
    for a in tttt:
        targets = [by_key[x.to_agency_key] for x in lineage if x.from_agency_key == a.agency_key]
        assert [t.agency_name.split(" tỉnh")[0].split(" thành phố")[0] for t in targets] == [
            "Sở Khoa học và Công nghệ"
        ]
        assert all(t.valid_on(date(2025, 3, 1)) for t in targets)


# --- lineage ----------------------------------------------------------------------------------


def test_unit_lineage_keys_exist_and_go_from_old_to_new(
    unit_by_key: dict[str, AdminUnit],
) -> None:
    lineage = load_unit_lineage()
    assert lineage
    for link in lineage:
        old, new = unit_by_key[link.from_unit_key], unit_by_key[link.to_unit_key]
        assert old.code_system == "pre_2025" and new.code_system == "post_2025"
        assert old.valid_to == link.effective_date - timedelta(days=1)
        assert new.valid_from == link.effective_date


def test_unit_lineage_relations_are_consistent() -> None:
    """Each old unit has exactly one "whole" successor, or only "part" successors."""
    per_from: dict[str, list[str]] = defaultdict(list)
    for link in load_unit_lineage():
        per_from[link.from_unit_key].append(link.relation)
    for key, relations in per_from.items():
        assert relations == ["whole"] or (len(relations) >= 2 and set(relations) == {"part"}), (
            key,
            relations,
        )
    assert any(r == ["part", "part"] or len(r) > 2 for r in per_from.values())


def test_every_pre_2025_unit_of_a_seed_province_maps_forward(
    units: list[AdminUnit], unit_by_key: dict[str, AdminUnit]
) -> None:
    successors: dict[str, set[str]] = defaultdict(set)
    for link in load_unit_lineage():
        successors[link.from_unit_key].add(link.to_unit_key)

    def province_of(u: AdminUnit) -> AdminUnit:
        while u.parent_unit_key:
            u = unit_by_key[u.parent_unit_key]
        return u

    for u in units:
        if u.code_system != "pre_2025":
            continue
        province = province_of(u)
        if province.unit_code not in SEED_PROVINCES and u.unit_level != "province":
            continue
        assert successors[u.unit_key], u.unit_key
        for target in successors[u.unit_key]:
            assert province_of(unit_by_key[target]).unit_code == MERGED[province.unit_code]


def test_province_merges(unit_by_key: dict[str, AdminUnit]) -> None:
    merges = {
        (unit_by_key[x.from_unit_key].unit_code, unit_by_key[x.to_unit_key].unit_code)
        for x in load_unit_lineage()
        if unit_by_key[x.from_unit_key].unit_level == "province"
    }
    assert merges == set(MERGED.items())


def test_agency_lineage_keys_exist_and_respect_validity(
    agency_by_key: dict[str, Agency],
) -> None:
    lineage = load_agency_lineage()
    assert lineage
    for link in lineage:
        old, new = agency_by_key[link.from_agency_key], agency_by_key[link.to_agency_key]
        assert old.valid_to == link.effective_date - timedelta(days=1), link
        assert new.valid_on(link.effective_date), link


def test_every_ended_agency_has_a_successor(agencies: list[Agency]) -> None:
    has_successor = {x.from_agency_key for x in load_agency_lineage()}
    for a in agencies:
        if a.valid_to is not None:
            assert a.agency_key in has_successor, a.agency_key


def test_commune_agency_lineage_follows_unit_lineage(
    agency_by_key: dict[str, Agency],
) -> None:
    unit_links = {(x.from_unit_key, x.to_unit_key, x.relation) for x in load_unit_lineage()}
    for link in load_agency_lineage():
        old, new = agency_by_key[link.from_agency_key], agency_by_key[link.to_agency_key]
        if old.agency_kind == new.agency_kind == "commune_committee":
            assert (old.unit_key, new.unit_key, link.relation) in unit_links, link


# --- reused codes ------------------------------------------------------------------------------


def test_a_reused_agency_code_has_two_keys_and_disjoint_validity(
    agencies: list[Agency], unit_by_key: dict[str, AdminUnit]
) -> None:
    by_code: dict[str, list[Agency]] = defaultdict(list)
    for a in agencies:
        by_code[a.agency_code].append(a)
    reused = {code: rows for code, rows in by_code.items() if len(rows) > 1}
    assert reused, "the seeds must exercise a reused agency code"
    for rows in reused.values():
        assert len({a.agency_key for a in rows}) == len(rows)
        assert len({unit_by_key[a.unit_key].code_system for a in rows}) == 2
    before = agency_on(agencies, "000.00.02.H31", date(2025, 6, 30))
    after = agency_on(agencies, "000.00.02.H31", date(2025, 7, 1))
    assert before is not None and after is not None
    assert before.agency_key != after.agency_key
    assert before.agency_name == after.agency_name == "Sở Tư pháp thành phố Hải Phòng"


def test_reused_unit_code_with_a_new_meaning(units: list[AdminUnit]) -> None:
    """Province 31 and commune 10675 (An Lưu -> Phường Kinh Môn) exist as two units each."""
    p31 = [u for u in units if u.unit_level == "province" and u.unit_code == "31"]
    assert len(p31) == 2 and len({u.unit_key for u in p31}) == 2
    c10675 = {u.code_system: u.unit_name for u in units if u.unit_code == "10675"}
    assert c10675 == {"pre_2025": "Phường An Lưu", "post_2025": "Phường Kinh Môn"}


def test_simulator_can_still_read_the_agency_seed() -> None:
    sim = simulator_load_agencies(REFERENCE_DIR / "ref_agencies.csv")
    assert len(sim) == len(load_agencies())
    assert {a.tier for a in sim} == {"province_dept", "district", "commune"}


def test_generator_tables_match_committed_overrides() -> None:
    """The package-free part of the generator reproduces the committed seed exactly."""
    text = build_seeds.to_csv(build_seeds.HOLIDAY_COLUMNS, build_seeds.holiday_rows())
    assert (REFERENCE_DIR / "ref_holiday_overrides.csv").read_text(encoding="utf-8") == text


def test_loaders_reject_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text(
        ",".join(build_seeds.UNIT_COLUMNS) + "\n"
        "prov:99:2015-01-01,99,Tỉnh X,region,,2015-01-01,,pre_2025\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unit_level"):
        load_admin_units(bad)


# --- calendar ----------------------------------------------------------------------------------


def test_calendar_honours_the_2025_day_swap() -> None:
    assert date(2025, 4, 26).weekday() == 5
    assert is_working_day(date(2025, 4, 26)), "Saturday 26/04/2025 was worked"
    assert not is_working_day(date(2025, 5, 2)), "Friday 02/05/2025 was a day off"
    assert not is_working_day(date(2025, 4, 30)) and not is_working_day(date(2025, 5, 1))
    assert add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 26)
    assert add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)
    # Without the override table the Saturday is an ordinary weekend day.
    plain = WorkingCalendar({})
    assert not plain.is_working_day(date(2025, 4, 26))
    assert plain.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 28)


def test_calendar_overrides_win_in_both_directions() -> None:
    cal = WorkingCalendar({date(2024, 5, 4): False, date(2024, 5, 6): True})
    assert cal.is_working_day(date(2024, 5, 4))  # Saturday made a working day
    assert not cal.is_working_day(date(2024, 5, 6))  # Monday made a day off


def test_calendar_skips_tet() -> None:
    tet_2025 = [date(2025, 1, 27) + timedelta(days=i) for i in range(5)]  # Mon-Fri
    assert not any(is_working_day(d) for d in tet_2025)
    assert add_working_days(date(2025, 1, 24), 1) == date(2025, 2, 3)
    assert working_days_between(date(2025, 1, 20), date(2025, 2, 7)) == [
        *[date(2025, 1, d) for d in (20, 21, 22, 23, 24)],
        *[date(2025, 2, d) for d in (3, 4, 5, 6, 7)],
    ]
    assert not is_working_day(date(2020, 1, 27))  # Tết 2020


def test_calendar_arithmetic() -> None:
    assert add_working_days(date(2023, 3, 10), 0) == date(2023, 3, 10)
    assert add_working_days(date(2023, 3, 10), 1) == date(2023, 3, 13)  # Fri -> Mon
    assert add_working_days(date(2023, 3, 13), -1) == date(2023, 3, 10)
    assert working_days_between(date(2023, 3, 11), date(2023, 3, 12)) == []
    assert working_days_between(date(2023, 3, 12), date(2023, 3, 10)) == []
    # Across a year boundary: Tết Dương lịch 2019 swap (31/12/2018 off, 05/01/2019 worked).
    days = working_days_between(date(2018, 12, 28), date(2019, 1, 7))
    assert date(2018, 12, 31) not in days and date(2019, 1, 1) not in days
    assert date(2019, 1, 5) in days


def test_every_department_merger_of_march_2025_takes_effect_on_the_first() -> None:
    """The five department mergers of NĐ 45/2025/NĐ-CP (GTVT → Xây dựng, LĐ-TB&XH → Nội vụ
    and Y tế, TT&TT → KH&CN, KH&ĐT → Tài chính, TN&MT → Nông nghiệp và Môi trường) take
    effect on 01/03/2025 in every old province: the old department ends the day before and
    its successor exists from that day."""
    with (REFERENCE_DIR / "ref_agencies.csv").open(encoding="utf-8", newline="") as fh:
        by_key = {row["agency_key"]: row for row in csv.DictReader(fh)}
    with (REFERENCE_DIR / "ref_agency_lineage.csv").open(encoding="utf-8", newline="") as fh:
        march = [r for r in csv.DictReader(fh) if r["effective_date"] == "2025-03-01"]
    merged = {by_key[r["from_agency_key"]]["agency_code"][7:9] for r in march}
    assert merged == {"04", "08", "10", "12", "17"}
    assert len({r["from_agency_key"] for r in march}) == 5 * len(SEED_PROVINCES)
    for r in march:
        old, new = by_key[r["from_agency_key"]], by_key[r["to_agency_key"]]
        assert old["valid_to"] == "2025-02-28", old
        assert new["valid_from"] <= "2025-03-01" and new["valid_to"] == "2025-06-30", new
        assert old["province_code"] == new["province_code"]
