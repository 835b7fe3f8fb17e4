"""The national reference folder (chiso_sim/national.py): the 34 provinces of 1 July 2025, each
with its departments and communes, in files the warehouse reads as the project's own."""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from pathlib import Path

from chiso_sim.national import write_folder

from chiso.reference.load import read_folder


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_province_has_its_departments_and_communes(tmp_path: Path) -> None:
    codes = write_folder(tmp_path, communes=2)
    assert len(codes) == len(set(codes)) == 34
    assert codes[:3] == ["01", "04", "08"] and "31" in codes and codes[-1] == "96"
    read_folder(tmp_path)  # every file present, every value of its column's type
    units = {u["unit_key"]: u for u in _rows(tmp_path / "ref_admin_units.csv")}
    agencies = _rows(tmp_path / "ref_agencies.csv")
    assert Counter(a["province_code"] for a in agencies) == dict.fromkeys(codes, 9)
    assert len({a["agency_code"] for a in agencies}) == len(agencies) == 34 * 9
    for a in agencies:
        unit = units[a["unit_key"]]
        assert a["agency_code"].endswith(f".H{a['province_code']}")
        assert a["valid_from"] == "2025-07-01" and not a["valid_to"]
        level = "province" if a["tier"] == "province_dept" else "commune"
        assert unit["unit_level"] == level
        for text in (a["agency_name"], a["province_name"], unit["unit_name"]):
            assert unicodedata.is_normalized("NFC", text)
    hai_phong = [a["agency_name"] for a in agencies if a["province_code"] == "31"]
    assert "Sở Tư pháp thành phố Hải Phòng" in hai_phong
    # nothing made up for provinces whose plans the project does not hold
    for name in ("ref_indicator_targets.csv", "ref_annual_index_values.csv"):
        assert _rows(tmp_path / name) == []


def test_a_smaller_run_takes_the_first_provinces(tmp_path: Path) -> None:
    assert write_folder(tmp_path, communes=1, first=3) == ["01", "04", "08"]
    assert len(_rows(tmp_path / "ref_agencies.csv")) == 3 * 8
