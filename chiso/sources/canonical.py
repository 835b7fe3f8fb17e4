"""Canonical schemas: one entity per landing table, one field per landing column.

Vendors name and lay out their exports differently (docs/sources.md); everything that lands in
``raw`` is first mapped onto these entities, so staging is written once per entity, not once
per vendor. A field's ``name`` is its landing column. One-stop names follow the national
portal's sync format (``DongBoHoSoMC``: ``MaHoSo`` → ``ma_ho_so``) because that is the closest
thing to a national standard; the document and portal systems have none, so their names are
plain Vietnamese without diacritics in the same style.

Every landing column is text: raw keeps what the source sent. ``type`` says how ingest
validates a value before the batch commits and how staging casts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chiso.sources.systems import SOURCES

FieldType = Literal["text", "code", "int", "decimal", "percent", "bool", "date", "timestamp"]
ReplaceScope = Literal["agency_month", "month"]


# Vendor header spellings of each canonical field (docs/sources.md): data operators extend.
ALIASES_YAML = Path(__file__).with_name("aliases.yaml")


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str
    required: bool = False
    pii: bool = False  # personal data: allowed in raw only


@dataclass(frozen=True)
class Entity:
    """One kind of record a source system exports."""

    source: str
    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    agency_field: str | None
    # Date field whose month is the record's reporting month (None: the delivery's month).
    period_field: str | None
    # What a corrected re-delivery replaces: the same month for the agencies it contains,
    # or the whole month (files that hold every agency, e.g. the aggregate report).
    replace_scope: ReplaceScope = "agency_month"
    # Whether agency_field holds an agency code of the reference data (ingest parks a record
    # whose code the reference does not know: chiso/ingest/loader.py, row_checks); not for a
    # reporting unit that may be a province.
    agency_is_code: bool = True

    @property
    def qualified_name(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.qualified_name} has no field {name!r}")


def _f(name: str, type_: FieldType, description: str, **kw: bool) -> Field:
    return Field(name, type_, description, **kw)


ONE_STOP_DOSSIERS = Entity(
    source="one_stop",
    name="dossiers",
    description="One administrative-procedure dossier (hồ sơ TTHC) and its current state.",
    key=("ma_ho_so",),
    agency_field="don_vi_xu_ly",
    period_field="ngay_tiep_nhan",
    fields=(
        _f("ma_ho_so", "code", "Dossier id (MaHoSo)", required=True),
        _f("ma_tthc", "code", "Procedure code in the national TTHC database", required=True),
        _f("ten_tthc", "text", "Procedure name"),
        _f("ma_linh_vuc", "code", "Field (lĩnh vực) code"),
        _f("ten_linh_vuc", "text", "Field name"),
        _f("muc_do", "code", "Service level: 1–4 until 2022, toàn trình / một phần after"),
        _f("don_vi_xu_ly", "code", "Handling agency identifier (mã định danh)", required=True),
        _f("ten_don_vi_xu_ly", "text", "Handling agency name as the source wrote it"),
        _f("chu_ho_so", "text", "Applicant name", pii=True),
        _f("loai_doi_tuong", "code", "Applicant kind: 1 citizen, 2 business"),
        _f("so_dinh_danh", "code", "Applicant citizen ID / tax number", pii=True),
        _f("so_dien_thoai", "text", "Applicant phone", pii=True),
        _f("email", "text", "Applicant e-mail", pii=True),
        _f("ngay_nop_ho_so", "timestamp", "Submitted"),
        _f("ngay_tiep_nhan", "timestamp", "Accepted (reporting month)", required=True),
        _f("ngay_hen_tra", "timestamp", "Promised due date (current)"),
        _f("ngay_ket_thuc_xu_ly", "timestamp", "Processing finished"),
        _f("ngay_tra", "timestamp", "Result returned"),
        _f("trang_thai_ho_so", "code", "Status code 1–10 of the DVCQG sync format", required=True),
        _f("kenh_thuc_hien", "code", "Channel: 1 direct, 2 online, 3 BCCI; empty = direct"),
        _f("hinh_thuc_tra", "code", "Result returned by post: 1 yes, 0 no"),
        _f(
            "duoc_thanh_toan_truc_tuyen",
            "code",
            "Paid online: 0 no, 1 yes, 2 provincial gateway",
        ),
        _f("phi_le_phi", "decimal", "Fee charged, VND"),
        _f("ho_so_co_thanh_phan_so_hoa", "bool", "Has digitised components"),
        _f("co_ket_qua_dien_tu", "bool", "Result issued as an electronic file"),
        _f("tai_su_dung_du_lieu_so_hoa", "bool", "Reused at least one digitised component"),
        _f("tai_khoan_xac_thuc_vneid", "bool", "Submitted from a VNeID-verified account"),
        _f("hktt_ma_tinh", "code", "Applicant's province code (address)"),
        _f("hktt_ma_huyen", "code", "Applicant's district code (address)"),
        _f("hktt_ma_xa", "code", "Applicant's commune code (address)"),
        _f("ngay_cap_nhat", "timestamp", "Last change in the source system"),
    ),
)

ONE_STOP_SUPPLEMENTS = Entity(
    source="one_stop",
    name="supplements",
    description="A supplement request on a dossier (DanhSachHoSoBoSung, Mẫu 02/04).",
    key=("ma_ho_so", "lan_bo_sung"),
    agency_field="don_vi_xu_ly",
    period_field=None,
    fields=(
        _f("ma_ho_so", "code", "Dossier id", required=True),
        _f("don_vi_xu_ly", "code", "Handling agency identifier", required=True),
        _f("lan_bo_sung", "int", "Sequence number of the request on the dossier", required=True),
        _f("ngay_yeu_cau", "timestamp", "Request sent to the applicant", required=True),
        _f("ngay_bo_sung", "timestamp", "Applicant returned the documents"),
        _f("ngay_hen_tra_cu", "timestamp", "Due date before the request"),
        _f("ngay_hen_tra_moi", "timestamp", "Due date issued after the request"),
        _f("ly_do", "text", "Reason stated"),
    ),
)

ONE_STOP_PROGRESS_EVENTS = Entity(
    source="one_stop",
    name="progress_events",
    description="A progress update on a dossier (CapNhatTienDo).",
    key=("ma_ho_so", "thu_tu"),
    agency_field="don_vi_xu_ly",
    period_field=None,
    fields=(
        _f("ma_ho_so", "code", "Dossier id", required=True),
        _f("don_vi_xu_ly", "code", "Handling agency identifier", required=True),
        _f("thu_tu", "int", "Event sequence within the dossier", required=True),
        _f("buoc_xu_ly", "text", "Processing step"),
        _f("trang_thai", "code", "Status after the event (TrangThaiHoSo codes)", required=True),
        _f("thoi_diem", "timestamp", "When it happened", required=True),
        _f("can_bo_xu_ly", "text", "Officer who acted", pii=True),
    ),
)

_COUNT = "int"

ONE_STOP_AGGREGATE_REPORTS = Entity(
    source="one_stop",
    name="aggregate_reports",
    description=(
        "A row of the monthly summary table 'TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ' "
        "(per agency or per field), including its total row."
    ),
    key=("don_vi_bao_cao", "loai_dong", "nhom", "ten_dong"),
    # Each reporting unit (a province, or an agency reporting per field) sends its own table;
    # a corrected table replaces that unit's month only.
    agency_field="don_vi_bao_cao",
    agency_is_code=False,  # a province code, or an agency's
    period_field=None,
    replace_scope="agency_month",
    fields=(
        _f(
            "don_vi_bao_cao",
            "code",
            "Reporting unit: province code or agency identifier (a column, --agency, or the"
            " file name)",
            required=True,
        ),
        _f("stt", "text", "Row number as printed (STT)"),
        _f("ten_dong", "text", "Agency or field the row is about", required=True),
        _f("ma_dong", "code", "Agency identifier or field code, when printed"),
        _f("nhom", "text", "Section the row sits under (I. Sở, ban, ngành …)"),
        _f("loai_dong", "code", "body or total", required=True),
        _f("tong_so", _COUNT, "Total to handle (carried over + received)"),
        _f("ky_truoc_chuyen_qua", _COUNT, "Carried over from the previous period"),
        _f("tiep_nhan_trong_ky", _COUNT, "Received in the period"),
        _f("tiep_nhan_truc_tuyen", _COUNT, "Received online"),
        _f("tiep_nhan_truc_tiep", _COUNT, "Received over the counter"),
        _f("tiep_nhan_bcci", _COUNT, "Received by public postal service"),
        _f("da_giai_quyet", _COUNT, "Resolved"),
        _f("giai_quyet_som_han", _COUNT, "Resolved early"),
        _f("giai_quyet_dung_han", _COUNT, "Resolved on time"),
        _f("giai_quyet_tre_han", _COUNT, "Resolved late"),
        _f("dang_giai_quyet", _COUNT, "In progress"),
        _f("dang_giai_quyet_chua_den_han", _COUNT, "In progress, not yet due"),
        _f("dang_giai_quyet_qua_han", _COUNT, "In progress, overdue"),
        _f("tra_lai", _COUNT, "Returned to the applicant"),
        _f("rut_ho_so", _COUNT, "Withdrawn"),
    ),
)

DOCUMENTS_MOVEMENTS = Entity(
    source="documents",
    name="movements",
    description="A document sent or received by an agency (văn bản đi / đến).",
    key=("don_vi", "ma_van_ban", "huong"),
    agency_field="don_vi",
    period_field="ngay_gui_nhan",
    fields=(
        _f("ma_van_ban", "code", "Document id in the exporting system", required=True),
        _f("so_ky_hieu", "text", "Number/symbol, e.g. 123/UBND-VP", required=True),
        _f("loai_van_ban", "text", "Type: công văn, quyết định, kế hoạch …"),
        # Free text that often names citizens ("V/v khiếu nại của ông …"): raw only.
        _f("trich_yeu", "text", "Summary line", pii=True),
        _f("don_vi", "code", "Agency whose system exported the row", required=True),
        _f("co_quan_ban_hanh", "text", "Issuing agency"),
        _f("noi_nhan", "text", "Receiving agency or agencies"),
        _f("huong", "code", "di (sent) or den (received)", required=True),
        _f("ngay_van_ban", "date", "Date on the document"),
        _f("ngay_gui_nhan", "timestamp", "Sent or received (reporting month)", required=True),
        _f("hinh_thuc", "code", "dien_tu, giay or song_song (electronic, paper, both)"),
        _f("co_chu_ky_so", "bool", "Digitally signed"),
        _f("qua_truc_lien_thong", "bool", "Via the national document axis"),
        _f("noi_bo", "bool", "Internal (vs official) document"),
        _f("do_mat", "bool", "Secret (mật): excluded from ratios"),
        _f("han_xu_ly", "date", "Handling deadline"),
        _f("ngay_xu_ly", "timestamp", "Handled"),
        _f("ma_ho_so_cong_viec", "code", "Work file (hồ sơ công việc) id"),
        _f("xu_ly_tren_mang", "bool", "Work file handled online"),
        _f("ngay_cap_nhat", "timestamp", "Last change in the source system"),
    ),
)

PORTAL_SERVICE_CATALOGUE = Entity(
    source="portal",
    name="service_catalogue",
    description="One procedure offered by an agency, as of a catalogue snapshot date.",
    key=("ngay_chot", "don_vi", "ma_tthc"),
    agency_field="don_vi",
    period_field="ngay_chot",
    fields=(
        _f("ngay_chot", "date", "Snapshot date", required=True),
        _f("don_vi", "code", "Agency identifier", required=True),
        _f("ma_tthc", "code", "Procedure code, e.g. 1.001234", required=True),
        _f("ten_tthc", "text", "Procedure name"),
        _f("ma_linh_vuc", "code", "Field code"),
        _f("ten_linh_vuc", "text", "Field name"),
        _f("cap_thuc_hien", "code", "Authority tier: tinh, huyen, xa"),
        _f("muc_do", "code", "1–4 until 2022; toan_trinh or mot_phan after"),
        _f("du_dieu_kien_toan_trinh", "bool", "Eligible for fully online (toàn trình)"),
        _f("tich_hop_dvcqg", "bool", "Integrated with the national portal"),
        _f("thanh_toan_truc_tuyen", "bool", "Online payment enabled"),
        _f("co_phi", "bool", "Fee-bearing"),
        _f("trang_thai", "code", "dang_cong_khai or dung"),
        _f(
            "thoi_han_giai_quyet",
            "text",
            "Legal time limit as printed, e.g. '15 ngày làm việc' (staging reads the working days)",
        ),
        _f(
            "ket_qua_thuc_hien",
            "text",
            "Result document the procedure hands out, e.g. 'Giấy phép'; 'Không' when it has none",
        ),
    ),
)

PORTAL_USAGE = Entity(
    source="portal",
    name="usage",
    description="Monthly portal usage per agency: accounts, VNeID logins, payments, ratings.",
    key=("thang", "don_vi"),
    agency_field="don_vi",
    period_field="thang",
    fields=(
        _f("thang", "date", "First day of the month", required=True),
        _f("don_vi", "code", "Agency identifier", required=True),
        _f("tai_khoan_moi", "int", "Accounts registered in the month"),
        _f("tong_tai_khoan", "int", "Accounts at month end"),
        _f("dang_nhap_vneid", "int", "Logins via VNeID / national SSO"),
        _f("ho_so_truc_tuyen", "int", "Online dossiers submitted"),
        _f("giao_dich_thanh_toan", "int", "Online payments"),
        _f("so_tien_thanh_toan", "decimal", "Amount paid online, VND"),
        _f("luot_danh_gia", "int", "Satisfaction ratings received"),
        _f("luot_hai_long", "int", "Ratings 'satisfied' or 4–5"),
        _f("ty_le_hai_long", "percent", "Satisfaction rate as the portal printed it"),
    ),
)

ENTITIES: tuple[Entity, ...] = (
    ONE_STOP_DOSSIERS,
    ONE_STOP_SUPPLEMENTS,
    ONE_STOP_PROGRESS_EVENTS,
    ONE_STOP_AGGREGATE_REPORTS,
    DOCUMENTS_MOVEMENTS,
    PORTAL_SERVICE_CATALOGUE,
    PORTAL_USAGE,
)


def entity(qualified_name: str) -> Entity:
    """Look up ``source.name`` (e.g. ``one_stop.dossiers``)."""
    for e in ENTITIES:
        if e.qualified_name == qualified_name:
            return e
    known = ", ".join(e.qualified_name for e in ENTITIES)
    raise KeyError(f"unknown entity {qualified_name!r}; known: {known}")


def entities_of(source: str) -> list[Entity]:
    found = [e for e in ENTITIES if e.source == source]
    if not found:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    return found
