"""Landing tables in `raw`: what the source sent, as text, plus load metadata.

Raw keeps every field as the source delivered it (text, personal data included) so that a
staging bug can always be fixed by re-reading raw, never by re-pulling the source. Types,
names and the removal of personal data happen in dbt staging.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class RawTable:
    schema: str
    name: str
    # (source field name, landing column name), in source order
    fields: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> list[str]:
        return [c for _, c in self.fields]

    @property
    def ident(self) -> sql.Composed:
        return sql.Identifier(self.schema, self.name)


ONE_STOP_DOSSIERS = RawTable(
    schema="raw",
    name="one_stop__dossiers",
    fields=(
        ("MaHoSo", "ma_ho_so"),
        ("MaTTHC", "ma_tthc"),
        ("TenTTHC", "ten_tthc"),
        ("MaLinhVuc", "ma_linh_vuc"),
        ("TenLinhVuc", "ten_linh_vuc"),
        ("MucDo", "muc_do"),
        ("DonViXuLy", "don_vi_xu_ly"),
        ("TenDonViXuLy", "ten_don_vi_xu_ly"),
        ("ChuHoSo", "chu_ho_so"),
        ("LoaiDoiTuong", "loai_doi_tuong"),
        ("SoDinhDanh", "so_dinh_danh"),
        ("SoDienThoai", "so_dien_thoai"),
        ("Email", "email"),
        ("NgayNopHoSo", "ngay_nop_ho_so"),
        ("NgayTiepNhan", "ngay_tiep_nhan"),
        ("NgayHenTra", "ngay_hen_tra"),
        ("NgayKetThucXuLy", "ngay_ket_thuc_xu_ly"),
        ("NgayTra", "ngay_tra"),
        ("TrangThaiHoSo", "trang_thai_ho_so"),
        ("KenhThucHien", "kenh_thuc_hien"),
        ("HinhThucTra", "hinh_thuc_tra"),
        ("DuocThanhToanTrucTuyen", "duoc_thanh_toan_truc_tuyen"),
    ),
)

# Columns every landing table carries, filled by the loader.
META_COLUMNS = (
    ("_batch_id", "uuid not null"),
    ("_source", "text not null"),
    ("_extract_month", "date not null"),
    ("_row_number", "integer not null"),
    ("_loaded_at", "timestamptz not null default now()"),
)

LEDGER_DDL = """
create table if not exists raw.ingest_batches (
    batch_id        uuid primary key,
    source          text not null,
    target_table    text not null,
    extract_month   date not null,
    origin          text not null,          -- API URL or file path
    content_sha256  text,
    row_count       integer,
    status          text not null check (status in ('running', 'loaded', 'replaced', 'failed')),
    error           text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
)
"""


def ensure_raw_table(conn: psycopg.Connection, table: RawTable) -> None:
    cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in table.columns]
    cols += [sql.SQL(f"{{}} {ddl}").format(sql.Identifier(c)) for c, ddl in META_COLUMNS]
    conn.execute(
        sql.SQL("create table if not exists {} ({})").format(table.ident, sql.SQL(", ").join(cols))
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (_extract_month)").format(
            sql.Identifier(f"{table.name}__extract_month_idx"), table.ident
        )
    )
    conn.execute(LEDGER_DDL)
