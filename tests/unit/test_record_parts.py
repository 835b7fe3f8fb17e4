"""JSON records to landing rows (chiso.ingest.files.record_parts), without a database: what
each row carries and what an API pull's content digest covers."""

from __future__ import annotations

import hashlib
from typing import Any

from chiso.ingest.files import record_parts
from chiso.sources.canonical import entity


class _Rows:
    """Stands in for psycopg's Copy: keeps the rows written."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    def write_row(self, row: list[Any]) -> None:
        self.rows.append(list(row))


def _land(records: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], str]:
    digest = hashlib.sha256()
    parts = record_parts("test", records, [entity("one_stop.dossiers")], digest=digest)
    out = {}
    for part in parts:
        copy = _Rows()
        part.write(copy)  # the parent first: it feeds the children's spools
        out[part.entity.name] = [dict(zip(part.columns, r, strict=True)) for r in copy.rows]
    return out, digest.hexdigest()


DOSSIER = {
    "MaHoSo": "D-1",
    "DonViXuLy": "000.00.02.H23",
    "NgayTiepNhan": "20250305091500",
    "DanhSachHoSoBoSung": [{"LanBoSung": 1, "NgayYeuCau": "20250306090000"}],
    "CapNhatTienDo": [{"ThuTu": 1, "TrangThai": "2", "ThoiDiem": "20250305091500"}],
}


def test_a_key_first_seen_later_lands_in_its_column_parents_and_children() -> None:
    later = {
        **DOSSIER,
        "MaHoSo": "D-2",
        "ChuHoSo": "Trần Thị B",
        "Khac": 1,
        "DanhSachHoSoBoSung": [
            {"LanBoSung": 1, "NgayYeuCau": "20250306090000", "NgayBoSung": "20250307090000"}
        ],
    }
    rows, _ = _land([DOSSIER, later])
    dossiers = {r["ma_ho_so"]: r for r in rows["dossiers"]}
    assert dossiers["D-2"]["chu_ho_so"] == "Trần Thị B"
    assert dossiers["D-2"]["_extra"] == '{"Khac": 1}'
    assert dossiers["D-1"]["chu_ho_so"] is None and dossiers["D-1"]["_extra"] is None
    supplements = {r["ma_ho_so"]: r for r in rows["supplements"]}
    assert supplements["D-2"]["ngay_bo_sung"] == "20250307090000"
    assert supplements["D-1"]["ngay_bo_sung"] is None


def test_the_content_digest_covers_children_and_extras_but_not_key_order() -> None:
    _, base = _land([DOSSIER])
    answered = {
        **DOSSIER,
        "DanhSachHoSoBoSung": [
            {"LanBoSung": 1, "NgayYeuCau": "20250306090000", "NgayBoSung": "20250307090000"}
        ],
    }
    _, child_changed = _land([answered])
    _, extra_changed = _land([{**DOSSIER, "GhiChu": "mới"}])
    _, reordered = _land([dict(reversed(list(DOSSIER.items())))])
    # a re-pull where only a supplement was answered, or only an unknown key changed, loads
    assert child_changed != base and extra_changed != base
    # the same records with their keys in another order are the same content
    assert reordered == base
