"""Monthly XLSX export in the layout vendors' "Xuất Excel" buttons produce.

Real exports carry a merged title row, Vietnamese column titles, human-readable labels instead of
codes, dd/MM/yyyy text dates and a signature footer; ingest must cope with that, so the simulator
produces it. ``read_month_xlsx`` inverts it (finding the header by its titles, not its position)
so tests can round-trip and parsers have a reference.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font

from chiso.simulator.one_stop import DOSSIER_KEYS, TS_FORMAT, add_months, dossiers_received_in

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXCEL_TS_FORMAT = "%d/%m/%Y %H:%M:%S"
FOOTER_TEXT = "Người lập biểu"

# The single source of truth for column title ↔ API key (order = column order after "STT").
HEADER_TO_KEY: dict[str, str] = {
    "Mã hồ sơ": "MaHoSo",
    "Mã TTHC": "MaTTHC",
    "Tên TTHC": "TenTTHC",
    "Mã lĩnh vực": "MaLinhVuc",
    "Lĩnh vực": "TenLinhVuc",
    "Mức độ": "MucDo",
    "Mã đơn vị xử lý": "DonViXuLy",
    "Đơn vị xử lý": "TenDonViXuLy",
    "Chủ hồ sơ": "ChuHoSo",
    "Loại đối tượng": "LoaiDoiTuong",
    "Số định danh": "SoDinhDanh",
    "Số điện thoại": "SoDienThoai",
    "Email": "Email",
    "Ngày nộp hồ sơ": "NgayNopHoSo",
    "Ngày tiếp nhận": "NgayTiepNhan",
    "Ngày hẹn trả": "NgayHenTra",
    "Ngày kết thúc xử lý": "NgayKetThucXuLy",
    "Ngày trả kết quả": "NgayTra",
    "Trạng thái": "TrangThaiHoSo",
    "Kênh thực hiện": "KenhThucHien",
    "Hình thức trả kết quả": "HinhThucTra",
    "Thanh toán trực tuyến": "DuocThanhToanTrucTuyen",
}
STT_TITLE = "STT"

DATE_KEYS = frozenset({"NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra"})

# Exports show labels, not codes.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "TrangThaiHoSo": {
        "1": "Mới đăng ký",
        "2": "Được tiếp nhận",
        "3": "Không được tiếp nhận",
        "4": "Đang xử lý",
        "5": "Yêu cầu bổ sung giấy tờ",
        "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
        "7": "Công dân yêu cầu rút hồ sơ",
        "8": "Dừng xử lý",
        "9": "Đã xử lý xong",
        "10": "Đã trả kết quả",
    },
    "KenhThucHien": {"1": "Trực tiếp", "2": "Trực tuyến", "3": "Bưu chính công ích"},
    "LoaiDoiTuong": {"1": "Công dân", "2": "Doanh nghiệp"},
    "HinhThucTra": {"0": "Trả tại bộ phận một cửa", "1": "Trả qua bưu chính"},
    "DuocThanhToanTrucTuyen": {"0": "Không", "1": "Có"},
    "MucDo": {"2": "Mức độ 2", "3": "Mức độ 3", "4": "Mức độ 4"},
}


def _norm(text: Any) -> str:
    """Header/label matching key: NFC, trimmed, single-spaced, case-folded."""
    return " ".join(unicodedata.normalize("NFC", str(text)).split()).casefold()


_LABEL_TO_CODE = {
    key: {_norm(label): code for code, label in labels.items()}
    for key, labels in VALUE_LABELS.items()
}
_TITLE_TO_KEY = {_norm(title): key for title, key in HEADER_TO_KEY.items()}


def _to_cell(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    if key in DATE_KEYS:
        return datetime.strptime(value, TS_FORMAT).strftime(EXCEL_TS_FORMAT)
    return VALUE_LABELS.get(key, {}).get(value, value)


def _from_cell(key: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):  # a user re-saved the file and Excel typed the cell
        return value.strftime(TS_FORMAT)
    text = unicodedata.normalize("NFC", str(value).strip())
    if key in DATE_KEYS:
        return datetime.strptime(text, EXCEL_TS_FORMAT).strftime(TS_FORMAT)
    if key in _LABEL_TO_CODE:
        return _LABEL_TO_CODE[key].get(_norm(text), text)
    return text


def title_for_month(month: date) -> str:
    first = month.replace(day=1)
    last = date.fromordinal(add_months(first, 1).toordinal() - 1)
    return f"DANH SÁCH HỒ SƠ TTHC – Từ ngày: {first:%d/%m/%Y} Đến ngày: {last:%d/%m/%Y}"


def write_month_xlsx(
    dossiers: Iterable[dict[str, Any]], month: date, path_or_buffer: str | Path | IO[bytes]
) -> int:
    """Write the dossiers received in ``month``; returns how many rows were written."""
    first = month.replace(day=1)
    rows = dossiers_received_in(dossiers, first, add_months(first, 1))
    titles = [STT_TITLE, *HEADER_TO_KEY]
    keys = list(HEADER_TO_KEY.values())

    wb = Workbook()
    ws = wb.active
    ws.title = f"{first:%m-%Y}"
    ws.cell(row=1, column=1, value=title_for_month(first)).font = Font(bold=True, size=13)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(titles))
    header_row = 3
    for col, title in enumerate(titles, start=1):
        cell = ws.cell(row=header_row, column=col, value=title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, dossier in enumerate(rows, start=1):
        r = header_row + i
        ws.cell(row=r, column=1, value=i)
        for col, key in enumerate(keys, start=2):
            ws.cell(row=r, column=col, value=_to_cell(key, dossier.get(key)))
    footer_row = header_row + len(rows) + 2
    footer_col = len(titles) - 2
    ws.cell(row=footer_row, column=footer_col, value=FOOTER_TEXT).font = Font(bold=True)
    ws.cell(row=footer_row + 1, column=footer_col, value="(Ký, ghi rõ họ tên)")
    wb.save(path_or_buffer)
    return len(rows)


def read_month_xlsx(path_or_buffer: str | Path | IO[bytes]) -> list[dict[str, str | None]]:
    """Parse an export back to API-shaped dicts (codes, yyyyMMddHHmmss dates)."""
    wb = load_workbook(path_or_buffer, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        columns: dict[int, str] | None = None
        out: list[dict[str, str | None]] = []
        for row in ws.iter_rows(values_only=True):
            if columns is None:
                found = {
                    i: _TITLE_TO_KEY[_norm(v)]
                    for i, v in enumerate(row)
                    if v is not None and _norm(v) in _TITLE_TO_KEY
                }
                if {"MaHoSo", "NgayTiepNhan"} <= set(found.values()):
                    columns = found
                continue
            record = {
                key: _from_cell(key, row[i] if i < len(row) else None) for i, key in columns.items()
            }
            if not record.get("MaHoSo"):
                continue  # blank spacer, footer or signature rows
            out.append({key: record.get(key) for key in DOSSIER_KEYS})
        if columns is None:
            raise ValueError("no header row with 'Mã hồ sơ' and 'Ngày tiếp nhận' found")
        return out
    finally:
        wb.close()
