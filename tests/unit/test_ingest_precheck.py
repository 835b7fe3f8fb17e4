"""The Arrow pre-check: which values it vouches for, and which rows it leaves to SQL."""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from chiso.ingest.precheck import BOOL, DECIMAL, INT, TIMESTAMP, month_pattern, precheck_csv
from chiso.ingest.stream import chunk_is_clean
from chiso.sources.canonical import ONE_STOP_DOSSIERS

COLUMNS = ["ma_ho_so", "ma_tthc", "don_vi_xu_ly", "ngay_tiep_nhan", "ngay_hen_tra", "phi_le_phi"]
COLUMNS += ["duoc_thanh_toan_truc_tuyen", "trang_thai_ho_so"]


@pytest.mark.parametrize(
    "value",
    [
        "20250331235959",
        "20250430",
        "31/03/2025",
        "1/3/2025 8:05",
        "29/04/2025 08:05:09",
        "2025-03-31",
        "2025-03-31T08:05:00",
        "2024-12-30 23:59",
    ],
)
def test_timestamp_layouts_vouched_for(value):
    assert re.match(TIMESTAMP, value)


@pytest.mark.parametrize(
    "value",
    [
        "20250431000000",
        "20250229",
        "29/02/2024",
        "31/04/2025",
        "2025-02-30",
        "32/01/2025",
        "20251301",
        "25/03/2025 24:00",
        " 20250301",
        "2025-03-01T08:00:00+07:00",
        "45717",
    ],
)
def test_odd_or_impossible_dates_are_left_to_sql(value):
    # Not vouched for: SQL decides (29 February and Excel serials parse there; others fail).
    assert not re.match(TIMESTAMP, value)


def test_numbers_and_flags():
    assert all(re.match(INT, v) for v in ["0", "-12", "123456789012345678"])
    assert not any(re.match(INT, v) for v in ["1.918", "1 000", "12.0", ""])
    assert all(re.match(DECIMAL, v) for v in ["12", "12,5", "12.5", "-0,25"])
    assert not re.match(DECIMAL, "1.234,5")
    assert all(re.match(BOOL, v) for v in ["1", "0", "TRUE", "False", "x", "có", "không"])
    assert not any(re.match(BOOL, v) for v in ["CÓ", "2", "maybe", ""])


def test_month_pattern_accepts_only_the_month():
    pat = month_pattern(date(2025, 3, 1))
    assert all(
        re.match(pat, v)
        for v in ["20250301", "20250331083000", "5/3/2025", "05/03/2025 08:00", "2025-03-09"]
    )
    assert not any(
        re.match(pat, v) for v in ["20250401", "5/4/2025", "05/13/2025", "2025-04-01", "5/3/20251"]
    )


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return path


def row(i: int, **kw: str) -> list[str]:
    base = {
        "ma_ho_so": f"H-{i}",
        "ma_tthc": "1.001193",
        "don_vi_xu_ly": " 000.00.02.H23 ",
        "ngay_tiep_nhan": "20250305081500",
        "ngay_hen_tra": "",
        "phi_le_phi": "50000",
        "duoc_thanh_toan_truc_tuyen": "1",
        "trang_thai_ho_so": "10",
    }
    base.update(kw)
    return [base[c] for c in COLUMNS]


def test_precheck_flags_only_rows_it_cannot_vouch_for(tmp_path):
    rows = [row(i) for i in range(5000)]
    rows[7] = row(7, ngay_hen_tra="29/02/2024")  # valid, but left to SQL
    rows[1200] = row(1200, ma_tthc="  ")  # required and blank
    rows[3000] = row(3000, ngay_tiep_nhan="20250401081500")  # outside March
    rows[4999] = row(4999, phi_le_phi="12,5đ", don_vi_xu_ly="000.00.04.H23")
    rows[4000] = row(4000, ma_ho_so='có "dấu"\nxuống dòng')  # quoted newline: still one record
    path = write(tmp_path / "d.csv", rows)
    result = precheck_csv(path, ONE_STOP_DOSSIERS, COLUMNS, delimiter=",", month=date(2025, 3, 1))
    assert result.error is None
    assert result.rows == 5000
    assert result.suspects == [7, 1200, 3000, 4999]
    assert result.agencies == {"000.00.02.H23", "000.00.04.H23"}


def test_clean_chunks():
    assert chunk_is_clean("Nguyễn Thị Ngọc Ánh, Đặng “Bảo” – ĐỨC\n".encode())
    assert not chunk_is_clean(unicodedata.normalize("NFD", "Nguyễn").encode())
    assert not chunk_is_clean("Bμo Th¾ng\n".encode())  # TCVN3 read as cp1252
    assert not chunk_is_clean(b"Nguy\xe1n\n")  # not UTF-8
    assert chunk_is_clean("Số №1 ⅓ Ω\n".encode())  # rare but NFC: decided exactly
