"""File and record ingestion on a real PostgreSQL: every format, pathology and ledger rule.

Files are generated here, in the layouts real systems export (docs/sources.md), so each test
states exactly which pathology it exercises.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
import unicodedata
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from chiso.core.text_codec import unicode_to_tcvn3
from chiso.ingest.files import IngestError, ingest_file, ingest_inbox
from chiso.ingest.loader import LoadError, prepare
from chiso.orchestration.tasks import alert_task_failure
from tests.alert_receivers import html_body, receiving, wait_for
from tests.reliability import Snapshot, rows

pytestmark = pytest.mark.e2e

AGENCY = "000.00.02.H23"
OTHER = "000.00.04.H23"
HEADER = ["MaHoSo", "MaTTHC", "DonViXuLy", "ChuHoSo", "NgayTiepNhan", "TrangThaiHoSo"]


def rec(i: int, agency: str = AGENCY, day: int = 5, **kw: str) -> dict[str, str]:
    base = {
        "MaHoSo": f"{agency}-{i:05d}",
        "MaTTHC": "1.001193",
        "DonViXuLy": agency,
        "ChuHoSo": "Nguyễn Văn Ánh",
        "NgayTiepNhan": f"{day:02d}/03/2025 09:15:00",
        "TrangThaiHoSo": "10",
    }
    return {**base, **kw}


def write_csv(path: Path, rows, header=HEADER, *, delimiter=",", bom=False, encoding="utf-8"):
    with path.open("w", newline="", encoding=("utf-8-sig" if bom else encoding)) as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h) for h in header])
    return path


def _a(fmt: str) -> str:
    """'a CSV', 'an XLSX': the format with its article, for docs/reliability.md."""
    return f"{'an' if fmt.startswith('x') else 'a'} {fmt.upper()}"


def march(url: str) -> Snapshot:
    """March 2025's dossiers in raw (key and agency), for docs/reliability.md."""
    return rows(
        url, "raw.one_stop__dossiers", "ma_ho_so, don_vi_xu_ly", "_extract_month = '2025-03-01'"
    )


def raw_rows(url: str, where: str = "true", params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select ma_ho_so, don_vi_xu_ly, chu_ho_so, ngay_tiep_nhan, _row_number, _extra"
            f" from raw.one_stop__dossiers where _extract_month = '2025-03-01' and {where}"
            " order by ma_ho_so",
            params,
        ).fetchall()


def ledger(url: str, file_name: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select status, row_count, error, error_row, error_field, warnings, content_sha256"
            " from raw.ingest_batches where file_name = %s order by started_at",
            (file_name,),
        ).fetchall()


@pytest.fixture
def url(chiso_env):
    url = chiso_env.urls.loader
    prepare(url)
    with psycopg.connect(url) as conn:
        conn.execute("delete from raw.one_stop__dossiers where _extract_month = '2025-03-01'")
    return url


def test_clean_csv_streams_and_the_same_file_twice_loads_once(url, tmp_path):
    path = write_csv(tmp_path / f"hs_{AGENCY}_2025-03.csv", [rec(i) for i in range(50)])
    first = ingest_file(url, "one_stop", path)
    again = ingest_file(url, "one_stop", path)
    assert (first.status, first.rows, first.path_taken) == ("loaded", 50, "stream")
    assert again.status == "duplicate"
    assert len(raw_rows(url)) == 50
    statuses = [r[0] for r in ledger(url, path.name)]
    assert statuses == ["loaded", "duplicate"]


def test_corrected_redelivery_replaces_that_agency_month_only(url, tmp_path):
    ingest_file(url, "one_stop", write_csv(tmp_path / "a_2025-03.csv", [rec(i) for i in range(10)]))
    ingest_file(
        url, "one_stop", write_csv(tmp_path / "b_2025-03.csv", [rec(i, OTHER) for i in range(4)])
    )
    corrected = [rec(i) for i in range(7)]
    ingest_file(url, "one_stop", write_csv(tmp_path / "a_v2_2025-03.csv", corrected))
    rows = raw_rows(url)
    assert sum(1 for r in rows if r[1] == AGENCY) == 7
    assert sum(1 for r in rows if r[1] == OTHER) == 4
    assert ledger(url, "a_2025-03.csv")[0][0] == "replaced"


def test_bad_date_quarantines_the_file_naming_row_and_field_and_keeps_earlier_rows(url, tmp_path):
    ingest_file(url, "one_stop", write_csv(tmp_path / "ok_2025-03.csv", [rec(i) for i in range(5)]))
    bad = [rec(i) for i in range(8)]
    bad[5]["NgayTiepNhan"] = "31/02/2025"  # no such day
    path = write_csv(tmp_path / "bad_2025-03.csv", bad)
    with pytest.raises(LoadError, match=r"bad_2025-03.csv: row 7: field ngay_tiep_nhan"):
        ingest_file(url, "one_stop", path)
    assert len(raw_rows(url)) == 5
    status, _, error, row, field, _, _ = ledger(url, path.name)[0]
    assert (status, row, field) == ("quarantined", 7, "ngay_tiep_nhan")
    assert "31/02/2025" in error


def test_missing_required_field_and_row_outside_the_month_are_rejected(url, tmp_path):
    rows = [rec(i) for i in range(3)]
    rows[1]["MaTTHC"] = ""
    with pytest.raises(LoadError, match="row 3: field ma_tthc: missing"):
        ingest_file(url, "one_stop", write_csv(tmp_path / "m_2025-03.csv", rows))
    late = [rec(i) for i in range(3)]
    late[2]["NgayTiepNhan"] = "02/04/2025 08:00:00"
    with pytest.raises(LoadError, match="row 4: field ngay_tiep_nhan: outside"):
        ingest_file(url, "one_stop", write_csv(tmp_path / "o_2025-03.csv", late))


def test_bom_semicolon_renamed_and_extra_columns(url, tmp_path):
    header = [
        "Mã hồ sơ",
        "Mã thủ tục",
        "Mã đơn vị",
        "Chủ hồ sơ",
        "Ngày tiếp nhận",
        "Trạng thái",
        "Ghi chú nội bộ",
    ]
    rows = [
        {
            "Mã hồ sơ": f"X-{i}",
            "Mã thủ tục": "1.001193",
            "Mã đơn vị": AGENCY,
            "Chủ hồ sơ": "Trần Thị Hằng",
            "Ngày tiếp nhận": "20250310081500",
            "Trạng thái": "9",
            "Ghi chú nội bộ": f"ghi chú {i}",
        }
        for i in range(6)
    ]
    path = write_csv(tmp_path / "vendor_2025-03.csv", rows, header, delimiter=";", bom=True)
    result = ingest_file(url, "one_stop", path)
    assert (result.rows, result.path_taken) == (6, "rows")  # extra column: cell by cell
    got = raw_rows(url)
    assert got[0][0] == "X-0" and got[0][2] == "Trần Thị Hằng"
    assert got[0][5] == {"Ghi chú nội bộ": "ghi chú 0"}


def test_tcvn3_bytes_and_nfd_text_become_nfc_unicode(url, tmp_path):
    name = "Bảo Thắng"
    legacy = [rec(i, ChuHoSo=unicode_to_tcvn3(name)) for i in range(3)]
    write_csv(tmp_path / "tcvn3_2025-03.csv", legacy, encoding="cp1252")
    ingest_file(url, "one_stop", tmp_path / "tcvn3_2025-03.csv")
    assert {r[2] for r in raw_rows(url)} == {name}
    nfd = [rec(i, OTHER, ChuHoSo=unicodedata.normalize("NFD", "Nguyễn Thị Ngọc")) for i in range(2)]
    result = ingest_file(url, "one_stop", write_csv(tmp_path / "nfd_2025-03.csv", nfd))
    assert result.path_taken == "rows"
    names = {r[2] for r in raw_rows(url, "don_vi_xu_ly = %s", (OTHER,))}
    assert names == {"Nguyễn Thị Ngọc"}
    assert all(unicodedata.is_normalized("NFC", n) for n in names)


@pytest.mark.parametrize("fmt", ["csv", "xls"])
def test_windows_1258_files_load_the_same_text_as_utf8_ones(url, tmp_path, fmt):
    """A CSV or an HTML page in Windows-1258 (Windows' Vietnamese code page, which writes
    most toned letters as a base letter and a combining tone mark) loads the same NFC text
    as the same export in UTF-8: not read as a legacy font, not mojibake."""
    from chiso_sim.exports import ExportOptions, FileFaults, write_export

    month = date(2025, 3, 1)
    names = ["Nguyễn Thị Ngọc Ánh", "Đặng Văn Thưởng", "Phạm Thị Huyền Trang", "Lê Hữu Đức"]
    by_name = {AGENCY: "1258", OTHER: "utf8"}
    for agency, tag in by_name.items():
        rows = [rec(i, agency, ChuHoSo=names[i % len(names)]) for i in range(8)]
        faults = FileFaults(cp1258=tag == "1258")
        path = tmp_path / f"hs-{tag}_{agency}_2025-03.{fmt}"
        write_export(path, "one_stop.dossiers", rows, month, ExportOptions(fmt, "vi"), faults)
        assert ingest_file(url, "one_stop", path).rows == 8
    got = {
        agency: sorted(r[2] for r in raw_rows(url, "don_vi_xu_ly = %s", (agency,)))
        for agency in by_name
    }
    assert got[AGENCY] == got[OTHER] == sorted(names[i % len(names)] for i in range(8))


def report_workbook(path: Path, rows: list[dict], *, total: bool = True) -> Path:
    """The XLSX layout of sources.md: title, period, 2-row merged header, sections, total,
    footer; dates as real Excel dates and as Excel serial numbers."""
    wb = Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH HỒ SƠ TIẾP NHẬN"])
    ws.merge_cells("A1:F1")
    ws.append(["Từ ngày: 01/03/2025 Đến ngày: 31/03/2025"])
    ws.append([])
    ws.append(["STT", "Thông tin hồ sơ", None, None, "Ngày tiếp nhận", "Trạng thái"])
    ws.append([None, "Mã hồ sơ", "Mã thủ tục", "Mã đơn vị", None, None])
    ws.merge_cells("B4:D4")
    ws.merge_cells("A4:A5")
    ws.merge_cells("E4:E5")
    ws.merge_cells("F4:F5")
    ws.append(["I. Sở, ban, ngành"])
    for i, r in enumerate(rows, start=1):
        when = datetime(2025, 3, 5, 9, 15) if i % 2 else 45724.5  # serial = 2025-03-08 12:00
        ws.append([i, r["MaHoSo"], r["MaTTHC"], r["DonViXuLy"], when, int(r["TrangThaiHoSo"])])
    if total:
        ws.append(["Tổng số", None, None, None, None, len(rows)])
    ws.append([])
    ws.append([None, None, None, None, "Người lập biểu"])
    ws.append([None, None, None, None, "(Ký, ghi rõ họ tên)"])
    wb.save(path)
    return path


def test_xlsx_report_layout(url, tmp_path):
    path = report_workbook(tmp_path / "bao_cao.xlsx", [rec(i) for i in range(4)])
    result = ingest_file(url, "one_stop", path)  # month from the title row
    assert (result.month, result.rows) == (date(2025, 3, 1), 4)
    got = raw_rows(url)
    assert [r[4] for r in got] == [7, 8, 9, 10]  # sheet rows, after title/header/section
    assert got[1][3] == "45724.5"  # raw keeps the Excel serial day as sent …
    with psycopg.connect(url) as conn:  # … and the shared parser reads it as a local time
        parsed = conn.execute("select raw.parse_vn_timestamp(%s)", (got[1][3],)).fetchone()[0]
    assert parsed == datetime(2025, 3, 8, 12, 0)
    assert ledger(url, path.name)[0][5] == [{"kind": "total_rows_skipped", "count": 1}]


def test_html_saved_as_xls(url, tmp_path):
    cells = "".join(f"<th>{h}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{r[h]}</td>" for h in HEADER) + "</tr>" for r in map(rec, range(3))
    )
    html = (
        '<html><head><meta charset="utf-8"></head><body><table>'
        f'<tr><td colspan="6">DANH SÁCH HỒ SƠ Tháng 3 năm 2025</td></tr>'
        f"<tr>{cells}</tr>{body}</table></body></html>"
    )
    path = tmp_path / "export.xls"
    path.write_text(html, encoding="utf-8")
    result = ingest_file(url, "one_stop", path)
    assert (result.rows, result.month) == (3, date(2025, 3, 1))
    assert raw_rows(url)[0][2] == "Nguyễn Văn Ánh"


def test_json_with_nested_supplements_and_events(url, tmp_path):
    d = rec(1)
    d["DanhSachHoSoBoSung"] = [
        {"LanBoSung": 1, "NgayYeuCau": "20250306090000", "NgayBoSung": "20250307090000"}
    ]
    d["CapNhatTienDo"] = [
        {"ThuTu": 1, "BuocXuLy": "Tiếp nhận", "TrangThai": "2", "ThoiDiem": "20250305091500"},
        {"ThuTu": 2, "BuocXuLy": "Trả kết quả", "TrangThai": "10", "ThoiDiem": "20250310100000"},
    ]
    path = tmp_path / "dongbo_2025-03.json"
    path.write_text(json.dumps({"data": [d]}, ensure_ascii=False), encoding="utf-8")
    ingest_file(url, "one_stop", path)
    with psycopg.connect(url) as conn:
        sup = conn.execute(
            "select ma_ho_so, don_vi_xu_ly, lan_bo_sung from raw.one_stop__supplements"
            " where _extract_month = '2025-03-01'"
        ).fetchall()
        ev = conn.execute(
            "select trang_thai from raw.one_stop__progress_events"
            " where _extract_month = '2025-03-01' order by thu_tu::int"
        ).fetchall()
    assert sup == [(d["MaHoSo"], AGENCY, "1")]
    assert ev == [("2",), ("10",)]


def test_records_whose_key_sets_differ_land_every_value_in_its_column(url, tmp_path):
    """Vendors omit the keys of null values, so the first record rarely shows every key: a
    key first seen in a later record (ChuHoSo, an alias NgayHenTra) still lands in its column,
    for nested children too (a progress row's DonViXuLy, a supplement's NgayBoSung); a key
    that names no field goes to _extra, never lost; the same records in another key order
    land the same rows."""
    first = {
        "MaHoSo": "K-1",
        "MaTTHC": "1.001193",
        "DonViXuLy": AGENCY,
        "NgayTiepNhan": "20250305091500",
        "TrangThaiHoSo": "4",
        "CapNhatTienDo": [{"ThuTu": 1, "TrangThai": "2", "ThoiDiem": "20250305091500"}],
    }
    later = {**rec(2), "NgayTiepNhan": "20250306091500", "NgayHenTra": "20250312170000",
             "GhiChuNoiBo": "một trường lạ",
             "DanhSachHoSoBoSung": [{"LanBoSung": 1, "NgayYeuCau": "20250307090000"},
                                    {"LanBoSung": 2, "NgayYeuCau": "20250310090000",
                                     "NgayBoSung": "20250311090000"}],
             "CapNhatTienDo": [{"ThuTu": 1, "TrangThai": "2", "ThoiDiem": "20250306091500"},
                               {"ThuTu": 2, "TrangThai": "4", "ThoiDiem": "20250307091500",
                                "DonViXuLy": OTHER}]}  # fmt: skip

    def landed(name: str, records: list[dict]) -> tuple[list, list, list]:
        path = tmp_path / name
        path.write_text(json.dumps({"data": records}, ensure_ascii=False), encoding="utf-8")
        ingest_file(url, "one_stop", path)
        with psycopg.connect(url) as conn:
            parents = conn.execute(
                "select ma_ho_so, chu_ho_so, ngay_hen_tra, _extra from raw.one_stop__dossiers"
                " where _extract_month = '2025-03-01' order by 1"
            ).fetchall()
            events = conn.execute(
                "select ma_ho_so, thu_tu, don_vi_xu_ly from raw.one_stop__progress_events"
                " where _extract_month = '2025-03-01' order by 1, 2"
            ).fetchall()
            supplements = conn.execute(
                "select ma_ho_so, lan_bo_sung, ngay_bo_sung from raw.one_stop__supplements"
                " where _extract_month = '2025-03-01' order by 1, 2"
            ).fetchall()
        return parents, events, supplements

    parents, events, supplements = landed("dongbo_2025-03.json", [first, later])
    assert parents == [
        (later["MaHoSo"], "Nguyễn Văn Ánh", "20250312170000", {"GhiChuNoiBo": "một trường lạ"}),
        ("K-1", None, None, None),
    ]
    assert events == [
        (later["MaHoSo"], "1", AGENCY),
        (later["MaHoSo"], "2", OTHER),
        ("K-1", "1", AGENCY),
    ]
    assert supplements == [(later["MaHoSo"], "1", None), (later["MaHoSo"], "2", "20250311090000")]
    # the same records, keys in another order and the later one first: the same rows
    shuffled = [dict(reversed(list(r.items()))) for r in (later, first)]
    assert landed("dongbo-khac_2025-03.json", shuffled) == (parents, events, supplements)


def _load_file(url: str, source: str, path: str) -> str:
    """A fresh process's load (multiprocessing spawn), as an Airflow pull task runs one."""
    return ingest_file(url, source, Path(path)).status


def test_a_load_runs_beside_another_sources_load_without_waiting_on_it(url, tmp_path):
    """While a one-stop load holds its tables (row-exclusive, as its COPY does), a documents
    load in a fresh process (as Airflow runs each pull task) lands at once: on a warehouse
    whose landing tables are current a load runs no DDL (a catalog read says so), so it never
    needs another source's tables exclusively. Before, every new process altered every
    landing table, waited behind the sibling's load and, holding the tables it had altered,
    deadlocked with it (DeadlockDetected in the demo's pull tasks, month after month)."""
    import multiprocessing

    header = ["ma_van_ban", "so_ky_hieu", "don_vi", "huong", "ngay_gui_nhan"]
    rows = [
        {"ma_van_ban": f"VB-{i}", "so_ky_hieu": f"{i}/UBND-VP", "don_vi": AGENCY,
         "huong": "den", "ngay_gui_nhan": "2025-03-05 09:00:00"}
        for i in range(20)
    ]  # fmt: skip
    path = write_csv(tmp_path / f"vb_{AGENCY}_2025-03.csv", rows, header)
    with psycopg.connect(url) as holder, multiprocessing.get_context("spawn").Pool(1) as pool:
        holder.execute("lock table raw.one_stop__dossiers in row exclusive mode")
        pending = pool.apply_async(_load_file, (url, "documents", str(path)))
        assert pending.get(timeout=60) == "loaded"
    with psycopg.connect(url) as conn:
        landed = conn.execute(
            "select count(*) from raw.documents__movements where don_vi = %s"
            " and _extract_month = '2025-03-01'",
            (AGENCY,),
        ).fetchone()[0]
    assert landed == 20


def aggregate_workbook(path: Path, *, broken: bool, unit: str = "UBND TỈNH HẢI DƯƠNG") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append([unit])
    ws.append(["TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ – Tháng 3 Năm 2025"])
    ws.append(
        [
            "STT",
            "Đơn vị",
            "Tổng số",
            "Kỳ trước chuyển qua",
            "Tiếp nhận trong kỳ",
            None,
            "Đã giải quyết",
            None,
            None,
            None,
        ]
    )
    ws.append(
        [
            None,
            None,
            None,
            None,
            "Trực tuyến",
            "Trực tiếp",
            "Tổng số",
            "Sớm hạn",
            "Đúng hạn",
            "Trễ hạn",
        ]
    )
    ws.append(["(1)", "(2)", "(3=4+5+6)", "(4)", "(5)", "(6)", "(7=8+9+10)", "(8)", "(9)", "(10)"])
    ws.append(["I. Sở, ban, ngành"])
    ws.append([1, "Sở Tư pháp", 30, 10, 15, 5, 20, 12, 7, 1])
    ws.append([2, "Sở Y tế", 12, 2, 6, 4, 12338 if broken else 10, 6, 3, 1])
    ws.append(["Tổng số", None, 42, 12, 21, 9, 30, 18, 10, 2])
    wb.save(path)
    return path


def test_aggregate_report_identities_are_checked_and_flagged(url, tmp_path):
    with psycopg.connect(url) as conn:
        conn.execute(
            "delete from raw.one_stop__aggregate_reports where _extract_month = '2025-03-01'"
        )
    good = ingest_file(
        url, "one_stop", aggregate_workbook(tmp_path / "th_30_ok.xlsx", broken=False)
    )
    assert good.entity == "one_stop.aggregate_reports" and good.warnings == []
    other = ingest_file(
        url,
        "one_stop",
        aggregate_workbook(tmp_path / "th_ok.xlsx", broken=False, unit="UBND TỈNH LAI CHÂU"),
        agency="17",
    )
    assert other.status == "loaded"  # another province's table: kept beside province 30's
    with pytest.raises(IngestError, match="province code"):
        ingest_file(url, "one_stop", aggregate_workbook(tmp_path / "th_x.xlsx", broken=False))
    bad = ingest_file(url, "one_stop", aggregate_workbook(tmp_path / "th_30_bad.xlsx", broken=True))
    kinds = {(w["kind"], w.get("identity") or w.get("field")) for w in bad.warnings}
    assert ("identity", "(7=8+9+10)") in kinds
    assert ("total", "da_giai_quyet") in kinds
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select ten_dong, nhom, loai_dong, da_giai_quyet from raw.one_stop__aggregate_reports"
            " where _extract_month = '2025-03-01' and don_vi_bao_cao = '30' order by _row_number"
        ).fetchall()
        units = conn.execute(
            "select don_vi_bao_cao, count(*) from raw.one_stop__aggregate_reports"
            " where _extract_month = '2025-03-01' group by 1 order by 1"
        ).fetchall()
    assert units == [("17", 3), ("30", 3)]
    # the corrected delivery replaced province 30's month; numbers kept as printed, never "fixed"
    assert rows == [
        ("Sở Tư pháp", "I. Sở, ban, ngành", "body", "20"),
        ("Sở Y tế", "I. Sở, ban, ngành", "body", "12338"),
        ("Tổng số", None, "total", "30"),
    ]


def test_inbox_loads_good_files_and_quarantines_bad_ones(chiso_env, url, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    write_csv(inbox / "one_stop" / "good_2025-03.csv", [rec(i) for i in range(3)])
    write_csv(inbox / "one_stop" / "nomonth.csv", [rec(i, OTHER) for i in range(3)])
    (inbox / "one_stop" / "broken_2025-03.xlsx").write_bytes(b"PK\x03\x04 truncated")
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert results["good_2025-03.csv"].status == "loaded"
    assert results["nomonth.csv"].status == "quarantined"
    assert "which month" in (results["nomonth.csv"].error or "")
    assert results["broken_2025-03.xlsx"].status == "quarantined"
    assert (inbox / "quarantine" / "one_stop" / "nomonth.csv.error.txt").exists()
    assert (inbox / "archive" / "one_stop" / "2025-03" / "good_2025-03.csv").exists()
    assert ledger(url, "nomonth.csv")[0][0] == "quarantined"


@pytest.mark.parametrize(
    ("fmt", "faults"),
    [("csv", "truncated"), ("xlsx", "truncated"), ("xlsx", "truncated,html_xls"),
     ("json", "truncated")],
)  # fmt: skip
def test_a_delivery_cut_short_is_quarantined_never_loaded_as_a_shorter_month(
    url, tmp_path, fmt, faults, reliability
):
    """The simulator's files cut in the middle of a data row (a transfer that dropped, a copy
    still running): a CSV with no line break after a short last row, an XLSX whose zip ends
    early, an HTML table without its closing tags, a JSON cut short. Each is quarantined with
    an error naming the file; the complete delivery beside it loads."""
    from chiso_sim.exports import ExportOptions, FileFaults, file_extension, write_export

    inbox = tmp_path / "inbox"
    month = date(2025, 3, 1)
    options = ExportOptions(fmt, "vi")
    cut = FileFaults.parse(faults)
    rows = [rec(i) for i in range(60)]
    name = f"ho-so-cat_{AGENCY}_2025-03.{file_extension(options, cut)}"
    write_export(inbox / "one_stop" / name, "one_stop.dossiers", rows, month, options, cut)
    whole = f"ho-so_{OTHER}_2025-03.{fmt}"
    others = [rec(i, OTHER) for i in range(len(faults))]  # content of its own per case
    write_export(inbox / "one_stop" / whole, "one_stop.dossiers", others, month, options)
    kind = "an HTML table saved as .xls" if "html_xls" in faults else f"{_a(fmt)} file"
    trial = reliability.trial("Files", f"{kind} cut short in the middle of a row", march(url))
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert results[name].status == "quarantined", results[name]
    assert name in (results[name].error or "")
    assert results[whole].status == "loaded" and results[whole].rows == len(others)
    assert raw_rows(url, "don_vi_xu_ly = %s", (AGENCY,)) == []
    trial.done(
        f"quarantined, naming the file; the whole file beside it loaded ({len(others)} rows)",
        march(url),
    )


def test_inbox_archive_and_quarantine_are_the_service_accounts_alone(url, tmp_path):
    """Delivered files hold personal data: whatever the umask, the inbox, archive and
    quarantine folders end up 0700 and the files (and the quarantine's notes) 0600."""
    inbox = tmp_path / "inbox"
    old = os.umask(0o022)
    try:
        (inbox / "one_stop").mkdir(parents=True)
        good = write_csv(inbox / "one_stop" / f"hs_{AGENCY}_2025-03.csv", [rec(1)])
        (inbox / "one_stop" / f"hs_{OTHER}_2025-03.csv").write_bytes(b"\x00\x01 not a table")
        assert good.stat().st_mode & 0o777 == 0o644
        results = {r.status: r for r in ingest_inbox(url, inbox, "one_stop")}
    finally:
        os.umask(old)
    loaded, bad = results["loaded"].moved_to, results["quarantined"].moved_to
    assert loaded is not None and bad is not None
    for folder in (inbox, inbox / "one_stop", inbox / "archive", inbox / "archive" / "one_stop",
                   loaded.parent, inbox / "quarantine", bad.parent):  # fmt: skip
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for kept in (loaded, bad, bad.with_name(bad.name + ".error.txt")):
        assert kept.stat().st_mode & 0o777 == 0o600, kept


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "csv"])
def test_a_report_short_of_the_count_its_total_row_declares_is_quarantined(
    url, tmp_path, fmt, reliability
):
    """A report exported from its first page: its rows under the grand total of all of them
    ('Tổng cộng | 60 hồ sơ'). It is quarantined naming the total row, never loaded as a
    shorter month; a total that counts fewer rows than the file holds is only a warning."""
    from chiso_sim.exports import ExportOptions, FileFaults, write_export

    inbox = tmp_path / "inbox"
    month = date(2025, 3, 1)
    options = ExportOptions(fmt, "vi", total_row=True)
    rows = [rec(i) for i in range(30)]
    short = inbox / "one_stop" / f"trang-1_{AGENCY}_2025-03.{fmt}"
    write_export(short, "one_stop.dossiers", rows, month, options, FileFaults(first_page_only=True))
    other = [rec(i, OTHER) for i in range(12)]
    miscounted = inbox / "one_stop" / f"lech_{OTHER}_2025-03.{fmt}"
    miscount = FileFaults(bad_totals=True)
    write_export(miscounted, "one_stop.dossiers", other, month, options, miscount)
    trial = reliability.trial(
        "Files",
        f"{_a(fmt)} report exported from its first page (fewer rows than its total row counts)",
        march(url),
    )
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    cut = results[short.name]
    assert cut.status == "quarantined", cut
    assert "the total row counts 30 records, the file holds 20" in (cut.error or "")
    assert raw_rows(url, "don_vi_xu_ly = %s", (AGENCY,)) == []
    loaded = results[miscounted.name]
    assert loaded.status == "loaded" and loaded.rows == 12
    assert {"kind": "total", "file": miscounted.name, "stated": 10, "rows": 12}.items() <= next(
        w for w in loaded.warnings if w.get("kind") == "total"
    ).items()
    trial.done(
        "quarantined, naming the total row; a total counting fewer rows than its file"
        " holds loaded with a warning (12 rows)",
        march(url),
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_file_short_of_what_its_manifest_declares_is_quarantined(url, tmp_path, fmt, reliability):
    """Transfers that stopped at a record boundary: the files read as whole, shorter months,
    and only the sidecars their senders wrote tell. A file whose bytes are not the sha256 its
    manifest declares, and one whose records fall short of the manifest's count (a manifest
    without a checksum; the CSV one on the stream path), are quarantined with their sidecars;
    the whole file beside them, with its `.sha256` in sha256sum's format, loads and keeps its
    sidecar in the archive."""
    from chiso_sim.exports import ExportOptions, FileFaults, write_export

    inbox = tmp_path / "inbox"
    month = date(2025, 3, 1)
    options = ExportOptions(fmt, "dvcqg" if fmt != "xlsx" else "vi")
    short = FileFaults(short_of_manifest=True)
    folder = inbox / "one_stop"
    cut = write_export(folder / f"cat_{AGENCY}_2025-03.{fmt}", "one_stop.dossiers",
                       [rec(i) for i in range(30)], month, options, short)  # fmt: skip
    counted = write_export(folder / f"dem_{OTHER}_2025-03.{fmt}", "one_stop.dossiers",
                           [rec(i, OTHER) for i in range(30)], month, options, short)  # fmt: skip
    manifest = counted.with_name(counted.name + ".manifest.json")
    manifest.write_text(json.dumps({"file": counted.name, "records": 30}), encoding="utf-8")
    third = "000.00.03.H23"
    whole = write_export(folder / f"du_{third}_2025-03.{fmt}", "one_stop.dossiers",
                         [rec(i, third) for i in range(7)], month, options)  # fmt: skip
    digest = hashlib.sha256(whole.read_bytes()).hexdigest()
    whole.with_name(whole.name + ".sha256").write_text(f"{digest} *{whole.name}\n")
    trial = reliability.trial(
        "Files",
        f"{fmt.upper()} files cut at a record boundary, short"
        " of their manifests (checksum; record count)",
        march(url),
    )
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert results[cut.name].status == "quarantined", results[cut.name]
    assert f"{cut.name}: its sha256 is not the one {cut.name}.manifest.json declares" in (
        results[cut.name].error or ""
    )
    assert results[counted.name].status == "quarantined", results[counted.name]
    assert (
        f"{counted.name}: the file holds 20 records, {manifest.name} declares 30: part of the"
        " delivery is missing" in (results[counted.name].error or "")
    )
    assert raw_rows(url, "don_vi_xu_ly in (%s, %s)", (AGENCY, OTHER)) == []
    assert results[whole.name].status == "loaded" and results[whole.name].rows == 7
    quarantined = inbox / "quarantine" / "one_stop"
    assert (quarantined / (cut.name + ".manifest.json")).exists()
    assert (quarantined / manifest.name).exists()
    assert (inbox / "archive" / "one_stop" / "2025-03" / (whole.name + ".sha256")).exists()
    assert list(folder.iterdir()) == []
    trial.done(
        "both quarantined with their sidecars; the whole file beside them, with its"
        " `.sha256`, loaded (7 rows)",
        march(url),
    )


def test_a_sidecar_that_cannot_be_read_quarantines_its_file(url, tmp_path, reliability):
    """A manifest cut short (invalid JSON), or one describing another file: what the sender
    declared is unknown, so the file is not loaded; the error names the sidecar."""
    inbox = tmp_path / "inbox"
    folder = inbox / "one_stop"
    folder.mkdir(parents=True)
    cut = write_csv(folder / f"hs_{AGENCY}_2025-03.csv", [rec(1)])
    cut.with_name(cut.name + ".manifest.json").write_text('{"records": 1, "sha', "utf-8")
    other = write_csv(folder / f"hs_{OTHER}_2025-03.csv", [rec(2, OTHER)])
    other.with_name(other.name + ".manifest.json").write_text('{"file": "x.csv"}', "utf-8")
    trial = reliability.trial(
        "Files", "manifests that cannot be read (cut JSON; another file's)", march(url)
    )
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert f"{cut.name}.manifest.json: line 1: not JSON" in (results[cut.name].error or "")
    assert f"describes x.csv, not {other.name}" in (results[other.name].error or "")
    assert {r.status for r in results.values()} == {"quarantined"}
    trial.done("both files quarantined, naming the sidecar", march(url))


def test_a_file_still_being_written_waits_for_the_next_run(url, tmp_path, reliability):
    """A file modified within the settle time, or (where the deployment configures one)
    without its done marker, stays in the inbox for the next run; once settled, or once its
    marker arrives, it loads and the marker follows it to the archive."""
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    fresh = write_csv(inbox / "one_stop" / f"hs_{AGENCY}_2025-03.csv", [rec(i) for i in range(4)])
    trial = reliability.trial(
        "Files",
        "a file still being written (modified seconds ago; its done marker not there yet)",
        march(url),
    )
    [waiting] = ingest_inbox(url, inbox, "one_stop", settle_seconds=60)
    assert waiting.status == "waiting" and "modified" in (waiting.error or "")
    assert fresh.exists() and raw_rows(url, "don_vi_xu_ly = %s", (AGENCY,)) == []
    past = time.time() - 120
    os.utime(fresh, (past, past))
    [marked] = ingest_inbox(url, inbox, "one_stop", settle_seconds=60, done_marker=".done")
    assert marked.status == "waiting" and ".done" in (marked.error or "")
    fresh.with_name(fresh.name + ".done").touch()
    os.utime(fresh.with_name(fresh.name + ".done"), (past, past))
    [loaded] = ingest_inbox(url, inbox, "one_stop", settle_seconds=60, done_marker=".done")
    assert loaded.status == "loaded" and loaded.rows == 4
    archived = inbox / "archive" / "one_stop" / "2025-03"
    assert (archived / fresh.name).exists() and (archived / (fresh.name + ".done")).exists()
    trial.done("waits in the inbox; loads once settled and marked (4 rows)", march(url))


def test_a_broken_line_leaves_no_personal_datum_in_any_error(url, tmp_path, caplog, monkeypatch):
    """A citizen ID and a phone number sit in broken lines: a ragged row (the values spill
    past the header) and a row with a malformed date. Both files are quarantined with errors
    naming file, row and field; loaded again by a task (`chiso ingest --file`), each fails and
    the task's failure alert goes out by mail and webhook. Neither datum is in the ledger, the
    quarantine notes, the captured logs, the alerts or any table of ops."""
    citizen_id, phone = "001099012345", "0912345678"
    header = [*HEADER, "SoDinhDanh", "SoDienThoai"]
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    rows = [rec(i, SoDinhDanh=citizen_id, SoDienThoai=phone) for i in range(4)]
    ragged = inbox / "one_stop" / f"hs-le_{AGENCY}_2025-03.csv"
    with ragged.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(header)
        for n, r in enumerate(rows):
            cells = [r.get(h) for h in header]
            w.writerow(cells + ([f"{citizen_id} {phone}", phone] if n == 2 else []))
    bad_date = [rec(10 + i, OTHER, SoDinhDanh=citizen_id, SoDienThoai=phone) for i in range(3)]
    bad_date[1]["NgayTiepNhan"] = f"{phone}/2025"
    write_csv(inbox / "one_stop" / f"hs-ngay_{OTHER}_2025-03.csv", bad_date, header)
    with caplog.at_level("DEBUG"):
        results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert {r.status for r in results.values()} == {"quarantined"}
    assert "row 4" in (results[ragged.name].error or "")
    assert "ngay_tiep_nhan" in (results[f"hs-ngay_{OTHER}_2025-03.csv"].error or "")
    notes = " ".join(p.read_text() for p in (inbox / "quarantine").rglob("*.error.txt"))
    with receiving(monkeypatch) as (mailbox, webhook), caplog.at_level("DEBUG"):
        for result in results.values():
            assert result.moved_to is not None
            with pytest.raises((IngestError, LoadError)) as failed:
                ingest_file(url, "one_stop", result.moved_to)
            task = SimpleNamespace(dag_id="monthly_kpi", task_id="ingest_inbox", try_number=3,
                                   log_url="http://af/log")  # fmt: skip
            alert_task_failure({"ti": task, "exception": failed.value})
        assert wait_for(lambda: len(mailbox.messages) == 2 and len(webhook.received) == 2)
    alerts = " ".join(html_body(m[1]) for m in mailbox.messages) + json.dumps(webhook.received)
    assert "row 4" in alerts  # what the operator needs stays
    with psycopg.connect(url) as conn:
        ledger = " ".join(r[0] for r in conn.execute("select b::text from raw.ingest_batches b"))
        ops = [
            f"ops.{name}"
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'ops'"
                " and table_type = 'BASE TABLE'"
            )
        ]
        stored = " ".join(
            str(row) for table in ops for row in conn.execute(f"select t::text from {table} t")
        )
    for place, text in {
        "notes": notes,
        "ledger": ledger,
        "logs": caplog.text,
        "alerts": alerts,
        "ops": stored,
    }.items():
        assert citizen_id not in text and phone not in text, place


def _html(rows: list[list[str]], cell: str = "<td>{}</td>") -> str:
    body = "".join("<tr>" + "".join(cell.format(c) for c in r) + "</tr>" for r in rows)
    return f"<html><body><table>{body}</table></body></html>"


def _corrupt_sheet(path: Path) -> None:
    """A valid zip whose worksheet XML is cut in half."""
    import zipfile

    rows = [HEADER] + [[rec(i).get(h) for h in HEADER] for i in range(3)]
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    whole = path.with_suffix(".tmp")
    wb.save(whole)
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    whole.unlink()


UNREADABLE = ["nul", "colspan", "corrupt_sheet", "symlink", "bad_bytes_bogus_charset"]


UNREADABLE_LABELS = {
    "nul": "a NUL byte in a CSV",
    "colspan": "an HTML table with colspan=1000000000",
    "corrupt_sheet": "a valid zip whose worksheet XML is cut in half",
    "symlink": "a symbolic link in the inbox",
    "bad_bytes_bogus_charset": "an HTML page declaring an unknown charset, with bytes no"
    " charset it could mean decodes",
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_file_that_cannot_be_read_is_quarantined_and_the_rest_loads(
    url, tmp_path, case, reliability
):
    """Each unreadable delivery is quarantined with an error naming the file (and the row
    where there is one); the good file beside it loads. A symbolic link is never followed."""
    inbox = tmp_path / "inbox"
    folder = inbox / "one_stop"
    folder.mkdir(parents=True)
    day = 20 + UNREADABLE.index(case)  # content of its own per case
    good = write_csv(folder / f"tot_{OTHER}_2025-03.csv", [rec(i, OTHER, day) for i in range(3)])
    os.utime(good, (time.time() - 120, time.time() - 120))
    rows = [HEADER] + [[rec(i).get(h) or "" for h in HEADER] for i in range(3)]
    bad = folder / f"hong_{AGENCY}_2025-03.{'xlsx' if case == 'corrupt_sheet' else 'csv'}"
    if case == "nul":
        lines = [",".join(r) for r in rows]
        lines[2] = lines[2].replace("Nguyễn", "Ngu\x00yễn")
        bad.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    elif case == "colspan":
        bad = bad.with_suffix(".xls")
        bad.write_text(
            _html(rows).replace("<td>10</td>", '<td colspan="1000000000">10</td>', 1),
            encoding="utf-8",
        )
    elif case == "corrupt_sheet":
        _corrupt_sheet(bad)
    elif case == "symlink":
        secret = tmp_path / "elsewhere.csv"
        write_csv(secret, [rec(i) for i in range(3)])
        bad.symlink_to(secret)
    else:  # a page that says it is UTF-8 under a charset nobody knows, in Windows-1252 bytes
        bad = bad.with_suffix(".xls")
        page = _html(rows).replace("<html>", '<html><meta charset="x-klingon">')
        bad.write_bytes(page.encode("utf-8").replace("ễ".encode(), b"\xe9\xff"))
    trial = reliability.trial("Files", UNREADABLE_LABELS[case], march(url))
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert results[good.name].status == "loaded", results[good.name]
    assert results[bad.name].status == "quarantined", results[bad.name]
    assert bad.name in (results[bad.name].error or "")
    assert raw_rows(url, "don_vi_xu_ly = %s", (AGENCY,)) == []
    if case == "symlink":
        assert (inbox / "quarantine" / "one_stop" / bad.name).is_symlink()
    never = "never followed: " if case == "symlink" else ""
    trial.done(
        f"{never}quarantined, naming the file; the good file beside it loaded (3 rows)", march(url)
    )


def test_a_database_that_fails_for_a_moment_leaves_the_file_for_a_retry(url, tmp_path, reliability):
    """A transient failure (here the server cancels the load: SQLSTATE 57014, class 57 like a
    shutdown; 08 connection, 40 deadlock, 53 disk full are treated alike) is raised for the
    task to retry: the file stays in the inbox, nothing is quarantined; the retry loads it."""
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    path = write_csv(
        inbox / "one_stop" / f"tam_{AGENCY}_2025-03.csv", [rec(i, day=27) for i in range(5)]
    )
    impatient = url + ("&" if "?" in url else "?") + "options=-c%20statement_timeout%3D1"
    trial = reliability.trial(
        "Files",
        "the database cancels the load mid-way (SQLSTATE 57014, as in a shutdown)",
        march(url),
    )
    with pytest.raises(psycopg.OperationalError) as failed:
        for _ in range(20):  # 1 ms: some statement of the load is cut short
            ingest_inbox(impatient, inbox, "one_stop")
    assert failed.value.sqlstate == "57014"
    assert path.exists() and not (inbox / "quarantine").exists()
    [loaded] = ingest_inbox(url, inbox, "one_stop")
    assert loaded.status == "loaded" and loaded.rows == 5
    trial.done(
        "raised for the task's retry, the file left in the inbox; the retry loaded it (5 rows)",
        march(url),
    )


WORDED = [*HEADER, "KenhThucHien", "DuocThanhToanTrucTuyen"]


def test_vendor_words_load_as_codes_and_an_unknown_word_quarantines_its_file_only(
    chiso_env, url, tmp_path, monkeypatch
):
    """An export that prints words for status, channel and payment loads, and ingest records
    the code each printed value stands for; a status word no vocabulary lists quarantines its
    file with an error naming the file, row, field, value and where to add it, while the
    inbox's other file loads. Added to the deployment's alias file, the word loads."""
    from chiso_sim.exports import UNKNOWN_WORD

    monkeypatch.setenv("CHISO_ALIASES_FILE", str(tmp_path / "aliases.yaml"))
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    words = [
        rec(0, TrangThaiHoSo="Đã trả kết quả", KenhThucHien="Trực tuyến",
            DuocThanhToanTrucTuyen="x"),
        rec(1, TrangThaiHoSo="ĐANG XỬ LÝ", KenhThucHien="Trực tiếp", DuocThanhToanTrucTuyen=""),
        rec(2, TrangThaiHoSo="Công dân rút hồ sơ", KenhThucHien="", DuocThanhToanTrucTuyen="Có"),
        rec(3, TrangThaiHoSo="Trả lại/không giải quyết",
            KenhThucHien="Qua dịch vụ bưu chính công ích", DuocThanhToanTrucTuyen="2"),
        rec(4, TrangThaiHoSo="9", KenhThucHien="2", DuocThanhToanTrucTuyen="Không"),
    ]  # fmt: skip
    write_csv(inbox / "one_stop" / "words_2025-03.csv", words, WORDED)
    unknown = [rec(i, OTHER, TrangThaiHoSo="Đang xử lý") for i in range(4)]
    unknown[2]["TrangThaiHoSo"] = UNKNOWN_WORD
    write_csv(inbox / "one_stop" / "unknown_2025-03.csv", unknown, WORDED)
    results = {r.path.name: r for r in ingest_inbox(url, inbox, "one_stop")}
    assert results["words_2025-03.csv"].status == "loaded"
    bad = results["unknown_2025-03.csv"]
    assert bad.status == "quarantined"
    error = bad.error or ""
    assert "unknown_2025-03.csv: row 4: field trang_thai_ho_so" in error
    assert UNKNOWN_WORD in error and "vocabularies.yaml" in error
    assert str(tmp_path / "aliases.yaml") in error
    assert ledger(url, "unknown_2025-03.csv")[0][2:5] == (error, 4, "trang_thai_ho_so")
    assert not raw_rows(url, "don_vi_xu_ly = %s", (OTHER,))
    with psycopg.connect(url) as conn:
        codes = dict(
            conn.execute(
                "select field || ' ' || value, code from raw.value_codes"
                " where field like 'one_stop.dossiers.%'"
            ).fetchall()
        )
    prefix = "one_stop.dossiers."
    assert codes[prefix + "trang_thai_ho_so Đã trả kết quả"] == "10"
    assert codes[prefix + "trang_thai_ho_so ĐANG XỬ LÝ"] == "4"
    assert codes[prefix + "trang_thai_ho_so Công dân rút hồ sơ"] == "7"
    assert codes[prefix + "trang_thai_ho_so Trả lại/không giải quyết"] == "8"
    assert codes[prefix + "kenh_thuc_hien Qua dịch vụ bưu chính công ích"] == "3"
    assert codes[prefix + "duoc_thanh_toan_truc_tuyen x"] == "1"
    assert codes[prefix + "duoc_thanh_toan_truc_tuyen 2"] == "2"
    assert codes[prefix + "duoc_thanh_toan_truc_tuyen Không"] == "0"
    assert not any(UNKNOWN_WORD in k for k in codes)

    # the operator adds the word to the deployment's file and puts the file back
    (tmp_path / "aliases.yaml").write_text(
        f'values:\n  one_stop.dossiers:\n    trang_thai_ho_so:\n      "4": ["{UNKNOWN_WORD}"]\n',
        encoding="utf-8",
    )
    again = ingest_file(url, "one_stop", bad.moved_to)
    assert again.status == "loaded" and again.rows == 4


def test_a_required_header_no_alias_knows_quarantines_the_file_with_the_nearest(url, tmp_path):
    """Headers vary as much as values: "Mã ĐD cơ quan" is spelt out and matches, but a
    misspelt "Ngày tiếp nhậm" matches no field; the file is refused with the headers seen and
    the nearest to the missing field, and nothing of it loads."""
    header = ["Mã hồ sơ", "Mã TTHC", "Mã ĐD cơ quan", "Ngày tiếp nhậm", "Trạng thái"]
    path = tmp_path / "typo_2025-03.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerow(["H-1", "1.001193", AGENCY, "05/03/2025", "Đang xử lý"])
    with pytest.raises(IngestError) as caught:
        ingest_file(url, "one_stop", path)
    message = str(caught.value)
    assert message.startswith("typo_2025-03.csv: one_stop.dossiers: required field ngay_tiep_nhan")
    assert "nearest: 'Ngày tiếp nhậm'" in message
    assert "Headers seen: 'Mã hồ sơ', 'Mã TTHC', 'Mã ĐD cơ quan', 'Ngày tiếp nhậm'" in message
    assert not raw_rows(url)


def test_unreadable_header_names_the_file(url, tmp_path):
    path = tmp_path / "x_2025-03.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"x_2025-03\.csv"):
        ingest_file(url, "one_stop", path)


# --- the CSV fast path -----------------------------------------------------------------------


def test_fast_path_falls_back_when_text_past_the_head_needs_repair(url, tmp_path):
    """Clean for the first megabytes, NFD near the end: loaded cell by cell, in NFC, and the
    ledger shows one load, not the abandoned fast attempt."""
    rows = [rec(i, ChuHoSo="Lê Thị Hồng " + "x" * 200) for i in range(9000)]
    rows[-1] = rec(8999, ChuHoSo=unicodedata.normalize("NFD", "Phạm Quỳnh"))
    path = write_csv(tmp_path / "late_nfd_2025-03.csv", rows)
    assert path.stat().st_size > 2 << 20
    result = ingest_file(url, "one_stop", path)
    assert (result.status, result.rows, result.path_taken) == ("loaded", 9000, "rows")
    assert [r[0] for r in ledger(url, path.name)] == ["loaded"]
    last = raw_rows(url, "ma_ho_so = %s", (f"{AGENCY}-08999",))
    assert last[0][2] == "Phạm Quỳnh" and unicodedata.is_normalized("NFC", last[0][2])


def test_fast_path_leaves_odd_values_to_sql_and_names_the_bad_row(url, tmp_path):
    rows = [rec(i) for i in range(20000)]
    rows[3] = rec(3, NgayTiepNhan="31/3/2025 8:05")  # valid, vouched for
    rows[11] = rec(11, NgayTiepNhan="45742")  # Excel serial day (2025-03-24): SQL decides
    ok = write_csv(tmp_path / "odd_2025-03.csv", rows)
    result = ingest_file(url, "one_stop", ok)
    assert (result.rows, result.path_taken) == (20000, "stream")
    rows[15000] = rec(15000, NgayTiepNhan="20250332081500")
    bad = write_csv(tmp_path / "bad_far_2025-03.csv", rows)
    with pytest.raises(LoadError, match=r"row 15002: field ngay_tiep_nhan: not a valid"):
        ingest_file(url, "one_stop", bad)
    assert len(raw_rows(url)) == 20000  # the first file's rows, untouched


VALUES = {
    "timestamp": [
        "20250331235959",
        "20250229000000",
        "20240229",
        "20250431",
        "31/03/2025",
        "1/3/2025 8:05",
        "29/02/2024 08:05:09",
        "29/02/2025",
        "2025-03-31T08:05:00",
        "2025-03-31 08:05",
        "2025-03-01T08:00:00+07:00",
        "45742",
        "45742.5",
        "31.03.2025",
        "202503311200",
        "24:00",
        "2025-13-01",
        "00/01/2025",
        "1/1/1899",
        " 20250301",
    ],
    "int": ["0", "-12", "1.918", "12,338", "12.0", "1 000", "x", "123456789012345678"],
    "decimal": ["12", "12,5", "12.5", "1.234,5", "-0,25", "1e3", "12,", ".5"],
    "percent": ["12,34%", "93,5", "0.25", "100%", "%", "12.5%"],
    "bool": ["1", "0", "TRUE", "False", "x", "X", "có", "không", "CÓ", "2", "Yes"],
}


def test_precheck_patterns_accept_only_what_sql_accepts(url):
    """Every value the Arrow pre-check vouches for is one the SQL checks pass."""
    import re

    from chiso.ingest.precheck import BOOL, PATTERNS, month_pattern

    march = month_pattern(date(2025, 3, 1))
    with psycopg.connect(url) as conn:
        for kind, values in VALUES.items():
            pattern = BOOL if kind == "bool" else PATTERNS[kind]
            for v in values:
                if not re.match(pattern, v):
                    continue
                bad = conn.execute("select raw.is_malformed(%s, %s)", (v, kind)).fetchone()[0]
                assert not bad, (kind, v)
                if kind == "timestamp" and re.match(march, v):
                    month = conn.execute(
                        "select date_trunc('month', raw.parse_vn_timestamp(%s))::date", (v,)
                    ).fetchone()[0]
                    assert month == date(2025, 3, 1), v


# --- fuzzing ingest_file (hypothesis) ---------------------------------------------------------

_FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: a reproducible suite
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_PIECES = [b",", b";", b'"', b"\r\n", b"<table><tr><td>", b"</td></tr>", b"{\"data\": [",
           b"MaHoSo,DonViXuLy,NgayTiepNhan\r\n", b"\x00", "Hồ sơ".encode(), b"\xe1\xbb",
           b"05/03/2025", b"PK\x03\x04", b"]}"]  # fmt: skip


@_FUZZ
@given(
    data=st.lists(st.sampled_from(_PIECES) | st.binary(max_size=6), max_size=40).map(b"".join),
    ext=st.sampled_from(["csv", "xls", "xlsx", "json"]),
)
def test_any_bytes_load_or_give_a_documented_error_naming_the_file(url, tmp_path, data, ext):
    """Whatever a file holds, ingest_file loads it or raises one of its documented errors
    (IngestError, LoadError) naming the file; nothing else escapes and nothing half-lands."""
    path = tmp_path / f"fuzz_{AGENCY}_2025-03.{ext}"
    path.write_bytes(data)
    try:
        ingest_file(url, "one_stop", path)
    except (IngestError, LoadError) as exc:
        assert path.name in str(exc)
        with psycopg.connect(url) as conn:
            running = conn.execute(
                "select count(*) from raw.ingest_batches where status = 'running'"
            ).fetchone()[0]
        assert running == 0


@_FUZZ
@given(order=st.permutations(HEADER), n=st.integers(min_value=1, max_value=12))
def test_the_landed_rows_do_not_depend_on_column_order(url, tmp_path, order, n):
    with psycopg.connect(url) as conn:  # each example from an empty month and ledger
        conn.execute("delete from raw.one_stop__dossiers where _extract_month = '2025-03-01'")
        conn.execute("delete from raw.ingest_batches where extract_month = '2025-03-01'")
    rows = [rec(i, ChuHoSo=f"Nguyễn Văn {i}") for i in range(n)]
    expected = write_csv(tmp_path / f"a_{AGENCY}_2025-03.csv", rows)
    ingest_file(url, "one_stop", expected)
    want = [r[:4] for r in raw_rows(url)]
    shuffled = write_csv(tmp_path / f"b_{AGENCY}_2025-03.csv", rows, header=list(order))
    ingest_file(url, "one_stop", shuffled)  # replaces the agency-month
    assert [r[:4] for r in raw_rows(url)] == want
