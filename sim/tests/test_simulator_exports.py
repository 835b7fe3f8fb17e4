"""File exports of the simulator: layouts, variants, pathologies, the aggregate report, inbox."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import fields, replace
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from chiso_sim import aggregate, exports
from chiso_sim.aggregate import (
    COUNT_FIELDS,
    IDENTITIES,
    ReportAgency,
    aggregate_rows,
    broken_identities,
)
from chiso_sim.config import SimulatorConfig
from chiso_sim.exports import (
    EXTRA_COLUMNS,
    FORMATS,
    VARIANTS,
    ExportOptions,
    FileFaults,
    build_columns,
    export_bytes,
    header_label,
)
from chiso_sim.inbox import write_inbox
from openpyxl import load_workbook

from chiso.core.text_codec import decode_legacy_bytes, unicode_to_tcvn3, unicode_to_vni
from chiso.ingest.headers import match_headers
from chiso.ingest.layout import classify_rows, detect_layout
from chiso.sources.canonical import ENTITIES, entities_of, entity

CFG = SimulatorConfig(
    months=3,
    provinces=("30",),
    dossiers_per_agency_month=4,
    documents_per_agency_month=4,
    procedures_per_province=120,
)
MONTH = date(2020, 2, 1)
TABULAR = [e for e in ENTITIES if e.qualified_name != "one_stop.aggregate_reports"]

# Small hand-made canonical rows: exact, and independent of the generators' evolution.
DOCS = [
    {
        "ma_van_ban": f"DV1-{'DI' if i % 2 else 'DEN'}-{i:03d}",
        "so_ky_hieu": f"{100 + i}/UBND-VP",
        "loai_van_ban": "Công văn",
        "trich_yeu": "Về việc triển khai Bảo Thắng dịch vụ công trực tuyến",
        "don_vi": "000.00.02.H23",
        "co_quan_ban_hanh": "UBND tỉnh Hải Dương",
        "noi_nhan": "Sở Tư pháp",
        "huong": "di" if i % 2 else "den",
        "ngay_van_ban": f"2020-02-{i + 1:02d}",
        "ngay_gui_nhan": f"2020-02-{i + 1:02d} 08:{i:02d}:00",
        "hinh_thuc": "dien_tu",
        "co_chu_ky_so": "1" if i % 3 else "0",
        "qua_truc_lien_thong": "1",
        "noi_bo": "0",
        "do_mat": "0",
        "han_xu_ly": None,
        "ngay_xu_ly": f"2020-02-{i + 2:02d} 15:00:00",
        "ma_ho_so_cong_viec": f"HS-{i}",
        "xu_ly_tren_mang": "1",
    }
    for i in range(7)
]
USAGE = [
    {
        "thang": "2020-02-01",
        "don_vi": f"000.00.{i:02d}.H23",
        "tai_khoan_moi": str(120 + i),
        "tong_tai_khoan": str(1918 + 1000 * i),
        "dang_nhap_vneid": "0",
        "ho_so_truc_tuyen": str(40 + i),
        "giao_dich_thanh_toan": str(i),
        "so_tien_thanh_toan": str(1_234_567 * i),
        "luot_danh_gia": "100",
        "luot_hai_long": str(90 + i),
        "ty_le_hai_long": (90 + i) / 100,
    }
    for i in range(1, 6)
]


# --- parsing helpers -------------------------------------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str | None]] = []
        self._cell: list[str] | None = None
        self._span = 1
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._span = [], int(dict(attrs).get("colspan") or 1)
        elif tag == "meta":
            self.meta.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            self.rows[-1] += [text or None] + [None] * (self._span - 1)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_rows(data: bytes, encoding: str = "utf-8") -> list[list[Any]]:
    parser = _Html()
    parser.feed(data.decode(encoding))
    return parser.rows


def xlsx_rows(data: bytes) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(data)).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def csv_rows(data: bytes, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))


def grid(data: bytes, fmt: str, delimiter: str = ",") -> list[list[Any]]:
    if fmt == "xlsx":
        return xlsx_rows(data)
    if fmt == "xls":
        return html_rows(data)
    return [list(r) for r in csv_rows(data, delimiter)]


def header_index(rows: list[list[Any]], label: str) -> int:
    return next(i for i, r in enumerate(rows) if label in r)


def body_column(rows: list[list[Any]], label: str) -> list[Any]:
    """Values under ``label`` from the header down to the first empty key cell."""
    h = header_index(rows, label)
    col = rows[h].index(label)
    out = []
    for r in rows[h + 1 :]:
        value = r[col] if col < len(r) else None
        if value in (None, ""):
            if any(v not in (None, "") for v in r):
                continue  # a second header row, section or total row
            break
        out.append(value)
    return out


def doc_export(
    fmt: str = "xlsx", variant: str = "vi", faults: FileFaults | None = None, **kw: Any
) -> bytes:
    opts = ExportOptions(fmt, variant, **kw)  # type: ignore[arg-type]
    return export_bytes("documents.movements", DOCS, MONTH, opts, faults or FileFaults())


@pytest.fixture(scope="module")
def dossiers() -> list[dict]:
    from chiso_sim.one_stop import generate_month

    return generate_month(CFG, MONTH)


# --- headers and variants ----------------------------------------------------------------


@pytest.mark.parametrize("ent", TABULAR, ids=lambda e: e.qualified_name)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_header_is_a_known_alias_except_the_extras(ent: Any, variant: str) -> None:
    cols = build_columns(
        ent,
        list(ent.fields),
        variant,  # type: ignore[arg-type]
        renamed=variant == "upgraded",
        extra=variant == "upgraded",
    )
    match = match_headers(ent, [c.label for c in cols])
    for col, found in zip(cols, match.fields, strict=True):
        if col.field is None:
            assert found is None, f"extra column {col.label!r} matched {found}"
        else:
            assert found == col.field.name, f"{col.label!r} should map to {col.field.name}"
    assert not match.missing_required


@pytest.mark.parametrize("ent", TABULAR, ids=lambda e: e.qualified_name)
def test_three_header_variants_differ(ent: Any) -> None:
    labels = {
        v: [
            c.label
            for c in build_columns(
                ent, list(ent.fields), v, renamed=v == "upgraded", extra=v == "upgraded"
            )
        ]
        for v in VARIANTS
    }
    assert len({tuple(x) for x in labels.values()}) == 3
    assert all(label.replace("_", "").isalnum() for label in labels["dvcqg"])
    renamed = [
        f.name
        for f in ent.fields
        if header_label(ent, f.name, "vi") != header_label(ent, f.name, "vi", renamed=True)
    ]
    assert renamed, "an upgrade renames at least one column"
    assert {t for _, t in EXTRA_COLUMNS} <= set(labels["upgraded"])


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_format_and_variant_carries_the_rows(fmt: str, variant: str) -> None:
    data = doc_export(fmt, variant)
    key = header_label(entity("documents.movements"), "ma_van_ban", variant)  # type: ignore[arg-type]
    if fmt == "json":
        items = json.loads(data)
        assert [i[key] for i in items] == [d["ma_van_ban"] for d in DOCS]
        return
    rows = grid(data, fmt)
    assert body_column(rows, key) == [d["ma_van_ban"] for d in DOCS]
    labels = rows[header_index(rows, key)]
    if variant == "upgraded":
        assert "Ghi chú" in labels and "Mã đồng bộ" in labels
    else:
        assert "Ghi chú" not in labels


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "csv"])
def test_ingest_layout_reads_every_format(fmt: str, tmp_path: Path, dossiers: list[dict]) -> None:
    """The real consumer (chiso.ingest.layout) finds header, body rows, sections and total."""
    from chiso.ingest.readers import read_csv, read_html, read_xlsx

    opts = ExportOptions(fmt, "vi", two_row_header=True, sections=True, total_row=True)  # type: ignore[arg-type]
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(export_bytes("one_stop.dossiers", dossiers, MONTH, opts))
    reader = {"xlsx": read_xlsx, "xls": read_html, "csv": read_csv}[fmt]
    rows = list(reader(path))
    layout, used = detect_layout(rows[:60], entities_of("one_stop"))
    assert layout.header.entity.name == "dossiers"
    assert layout.header.matched == len(entity("one_stop.dossiers").fields)
    body = list(classify_rows(iter(rows[used:]), layout, footer=[]))
    assert sum(r.kind == "body" for r in body) == len(dossiers)
    assert sum(r.kind == "total" for r in body) == 1
    if fmt != "csv":
        assert layout.period() == MONTH
        assert any(r.section for r in body)


def test_xlsx_report_layout() -> None:
    data = doc_export(
        "xlsx",
        "vi",
        unit_name="Sở Tư pháp tỉnh Hải Dương",
        two_row_header=True,
        sections=True,
        total_row=True,
    )
    ws = load_workbook(io.BytesIO(data)).active
    assert ws["A1"].value == (
        "SỔ THEO DÕI VĂN BẢN ĐI, ĐẾN – Từ ngày: 01/02/2020 Đến ngày: 29/02/2020"
    )
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert any(r.startswith("A1:") for r in merged)
    assert ws["A2"].value == "Đơn vị: Sở Tư pháp tỉnh Hải Dương"
    assert ws["A4"].value == "STT" and "A4:A5" in merged  # tall cell of a two-row header
    groups = [c.value for c in ws[4] if c.value and c.value != "STT"]
    assert "Thông tin văn bản" in groups
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert {"I. Văn bản đến", "II. Văn bản đi", "Tổng cộng", "7 văn bản"} <= set(values)
    assert {"Người lập biểu", "Thủ trưởng đơn vị"} <= set(values)
    plain = xlsx_rows(doc_export("xlsx", "dvcqg"))
    assert plain[0][0] == "MaVanBan" and "Người lập biểu" not in str(plain)


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("datetime", datetime(2020, 2, 1, 8, 0)),
        ("text", "01/02/2020 08:00:00"),
        ("serial", 43862 + 8 / 24),
        ("compact", "20200201080000"),
        ("iso", "2020-02-01T08:00:00"),
    ],
)
def test_date_styles_in_xlsx(style: str, expected: Any) -> None:
    rows = xlsx_rows(doc_export("xlsx", "vi", date_style=style))
    values = body_column(rows, "Ngày gửi/nhận")
    assert values[0] == pytest.approx(expected) if style == "serial" else values[0] == expected


def test_datetime_style_is_text_outside_xlsx() -> None:
    rows = csv_rows(doc_export("csv", "vi", date_style="datetime"))
    assert rows[1][rows[0].index("Ngày gửi/nhận")] == "01/02/2020 08:00:00"
    assert rows[1][rows[0].index("Ngày văn bản")] == "01/02/2020"


@pytest.mark.parametrize(("bom", "delimiter"), [(True, ";"), (False, ",")])
def test_csv_dialects(bom: bool, delimiter: str) -> None:
    data = doc_export("csv", "vi", csv_bom=bom, csv_delimiter=delimiter)
    assert data.startswith(b"\xef\xbb\xbf") is bom
    assert data.count(b"\r\n") == len(DOCS) + 1 and b"\n" not in data.replace(b"\r\n", b"")
    rows = csv_rows(data, delimiter)
    assert rows[0][0] == "Mã văn bản" and len(rows) == len(DOCS) + 1


def test_json_array_or_wrapped_and_nested_lists(dossiers: list[dict]) -> None:
    assert isinstance(json.loads(doc_export("json", "dvcqg")), list)
    wrapped = json.loads(doc_export("json", "dvcqg", json_wrapped=True))
    assert len(wrapped["data"]) == len(DOCS)
    items = json.loads(
        export_bytes("one_stop.dossiers", dossiers, MONTH, ExportOptions("json", "dvcqg"))
    )
    assert [i["MaHoSo"] for i in items] == [d["MaHoSo"] for d in dossiers]
    assert items[0]["NgayTiepNhan"] == dossiers[0]["NgayTiepNhan"]  # yyyyMMddHHmmss kept
    assert all(
        i["CapNhatTienDo"] == d["CapNhatTienDo"] for i, d in zip(items, dossiers, strict=True)
    )


def test_html_xls_declares_its_charset() -> None:
    data = doc_export("xls", "vi")
    text = data.decode()
    assert text.startswith("<html") and "charset=utf-8" in text and "<table" in text


def test_supplements_and_progress_flattened_from_dossiers(dossiers: list[dict]) -> None:
    sup = exports.flatten_supplements(dossiers)
    prog = exports.flatten_progress(dossiers)
    assert len(prog) == sum(len(d["CapNhatTienDo"]) for d in dossiers) > 0
    data = export_bytes("one_stop.progress_events", prog, MONTH, ExportOptions("csv", "dvcqg"))
    rows = csv_rows(data)
    assert rows[0][:3] == ["MaHoSo", "DonViXuLy", "ThuTu"] and len(rows) == len(prog) + 1
    data = export_bytes("one_stop.supplements", sup, MONTH, ExportOptions("xlsx", "vi"))
    assert len(body_column(xlsx_rows(data), "Lần bổ sung")) == len(sup)


# --- pathologies -------------------------------------------------------------------------


def _usage(fmt: str, faults: FileFaults, **kw: Any) -> bytes:
    opts = ExportOptions(fmt, "vi", total_row=True, **kw)  # type: ignore[arg-type]
    return export_bytes("portal.usage", USAGE, MONTH, opts, faults)


def _check_renamed(on: bool) -> None:
    labels = csv_rows(doc_export("csv", "vi", FileFaults(renamed_columns=on)))[0]
    assert ("Số ký hiệu" in labels) is on and ("Số/Ký hiệu" in labels) is not on


def _check_extra(on: bool) -> None:
    labels = csv_rows(doc_export("csv", "vi", FileFaults(extra_columns=on)))[0]
    assert ("Ghi chú" in labels) is on and ("Mã đồng bộ" in labels) is on


def _check_legacy(kind: str, on: bool) -> None:
    data = doc_export("csv", "vi", FileFaults(**{kind: on}))
    encode = unicode_to_tcvn3 if kind == "tcvn3" else unicode_to_vni
    if not on:
        assert data.decode("utf-8-sig").startswith("Mã văn bản")
        return
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.startswith(encode("Mã văn bản").encode("cp1252"))
    text = decode_legacy_bytes(data, kind)  # type: ignore[arg-type]
    assert "Bảo Thắng" in text and text.startswith("Mã văn bản")


def _check_cp1258(on: bool) -> None:
    """Windows' Vietnamese code page: toned letters without a code of their own written as
    base letter + combining tone mark; read back as cp1258 and composed, the UTF-8 export."""
    data = doc_export("csv", "vi", FileFaults(cp1258=on))
    utf8 = doc_export("csv", "vi").decode("utf-8-sig")
    if not on:
        assert data.decode("utf-8-sig") == utf8
        return
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1258")
    assert not unicodedata.is_normalized("NFC", text)  # "ệ" is "ê" + a dot below
    assert unicodedata.normalize("NFC", text) == utf8


def _check_first_page_only(on: bool) -> None:
    """The rows of the first page under the grand total of all of them."""
    rows = csv_rows(doc_export("csv", "vi", FileFaults(first_page_only=on), total_row=True))
    whole = csv_rows(doc_export("csv", "vi", total_row=True))
    assert (len(rows) < len(whole)) is on
    total = [c for c in rows[-1] if c.endswith("văn bản")]
    assert total == [c for c in whole[-1] if c.endswith("văn bản")] == ["7 văn bản"]


def _check_short_of_manifest(on: bool) -> None:
    """The manifest of the whole export beside a file cut cleanly at a record boundary."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "documents_2020-02.csv"
        faults = FileFaults(short_of_manifest=on)
        opts = ExportOptions("csv", "dvcqg")
        exports.write_export(path, "documents.movements", DOCS, MONTH, opts, faults, manifest=True)
        manifest = json.loads(path.with_name(path.name + exports.MANIFEST_SUFFIX).read_text())
        data = path.read_bytes()
    records = csv_rows(data)[1:]
    assert manifest["file"] == path.name
    assert manifest["records"] == len(DOCS)
    assert (len(records) < len(DOCS)) is on
    assert (hashlib.sha256(data).hexdigest() != manifest["sha256"]) is on
    assert data.endswith(b"\n")  # cut between records: nothing in the file itself tells


def _check_nfd(on: bool) -> None:
    text = doc_export("csv", "vi", FileFaults(nfd=on)).decode("utf-8-sig")
    assert unicodedata.is_normalized("NFC", text) is not on
    assert unicodedata.normalize("NFC", text) == doc_export("csv", "vi").decode("utf-8-sig")


def _check_html_xls(on: bool) -> None:
    data = doc_export("xlsx", "vi", FileFaults(html_xls=on))
    assert data.startswith(b"<html") is on and zipfile.is_zipfile(io.BytesIO(data)) is not on
    rows = html_rows(data) if on else xlsx_rows(data)
    assert len(body_column(rows, "Mã văn bản")) == len(DOCS)
    assert exports.file_extension(ExportOptions("xlsx"), FileFaults(html_xls=on)) == (
        "xls" if on else "xlsx"
    )


def _check_vn_numbers(on: bool) -> None:
    rows = xlsx_rows(_usage("xlsx", FileFaults(vn_numbers=on)))
    totals = body_column(rows, "Tổng tài khoản")
    rates = body_column(rows, "Tỷ lệ hài lòng")
    amounts = body_column(rows, "Số tiền thanh toán")
    if on:
        assert totals[0] == "2.918" and amounts[1] == "2.469.134" and rates[0] == "91,00%"
    else:
        assert totals[0] == 2918 and amounts[1] == 2469134 and rates[0] == pytest.approx(0.91)
    csv_text = _usage("csv", FileFaults(vn_numbers=on)).decode("utf-8-sig")
    assert ("2.918" in csv_text) is on


def _check_bad_totals(on: bool) -> None:
    rows = csv_rows(_usage("csv", FileFaults(bad_totals=on)))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    col = header.index("Tài khoản mới")
    assert total[0] == "Tổng cộng"
    assert (int(total[col]) != sum(int(r[col]) for r in body)) is on
    doc_rows = xlsx_rows(doc_export("xlsx", "vi", FileFaults(bad_totals=on), total_row=True))
    printed = {v for r in doc_rows for v in r if re.fullmatch(r"\d+ văn bản", str(v))}
    assert printed == ({"5 văn bản"} if on else {"7 văn bản"})


def _check_truncated(on: bool) -> None:
    full = doc_export("csv", "vi")
    data = doc_export("csv", "vi", FileFaults(truncated=on))
    assert (len(data) < len(full)) is on
    if on:
        assert full.startswith(data) and not data.endswith(b"\r\n")
        text = data.decode("utf-8-sig", errors="replace")  # the cut may split a character
        last = list(csv.reader(io.StringIO(text, newline="")))[-1]
        assert len(last) < len(csv_rows(full)[0])  # cut mid-row
        with pytest.raises(zipfile.BadZipFile):
            load_workbook(io.BytesIO(doc_export("xlsx", "vi", FileFaults(truncated=True))))
        with pytest.raises(ValueError):  # JSONDecodeError, or a UTF-8 sequence cut in two
            json.loads(doc_export("json", "vi", FileFaults(truncated=True)))
    else:
        assert data == full


def _check_malformed_date(on: bool) -> None:
    rows = xlsx_rows(doc_export("xlsx", "vi", FileFaults(malformed_date=on)))
    values = body_column(rows, "Ngày gửi/nhận")
    bad = [v for v in values if v == "31/02/2020"]
    assert len(bad) == (1 if on else 0) and len(values) == len(DOCS)
    compact = json.loads(doc_export("json", "dvcqg", FileFaults(malformed_date=on)))
    assert ("20200231093000" in [i["NgayGuiNhan"] for i in compact]) is on


def _check_missing_required(on: bool) -> None:
    items = json.loads(doc_export("json", "dvcqg", FileFaults(missing_required=on)))
    missing = [i for i in items if not i["MaVanBan"]]
    assert len(missing) == (1 if on else 0) and len(items) == len(DOCS)


def _check_unknown_word(on: bool) -> None:
    from chiso_sim.exports import UNKNOWN_WORD
    from chiso_sim.one_stop import generate_month

    rows = generate_month(CFG, MONTH)[:12]
    text = export_bytes(
        "one_stop.dossiers",
        rows,
        MONTH,
        ExportOptions("csv", "vi"),
        FileFaults(unknown_word=on),
    ).decode("utf-8-sig")
    assert text.count(UNKNOWN_WORD) == (1 if on else 0)
    # the other rows print vendor words, not the sync format's codes
    assert "Trực tiếp" in text or "Trực tuyến" in text


def _check_abbreviated_headers(on: bool) -> None:
    """Shortened header words still name the same fields once ingest spells them out."""
    for ent in TABULAR:
        rows = [{f.name: "1" for f in ent.fields}]
        plain = export_bytes(ent.qualified_name, rows, MONTH, ExportOptions("csv", "vi"))
        text = export_bytes(
            ent.qualified_name,
            rows,
            MONTH,
            ExportOptions("csv", "vi"),
            FileFaults(abbreviated_headers=on),
        )
        labels = next(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
        expected = next(csv.reader(io.StringIO(plain.decode("utf-8-sig"))))
        assert (labels != expected) == on, labels
        assert match_headers(ent, labels).fields == match_headers(ent, expected).fields


PATHOLOGY_CHECKS = {
    "renamed_columns": _check_renamed,
    "extra_columns": _check_extra,
    "tcvn3": lambda on: _check_legacy("tcvn3", on),
    "vni": lambda on: _check_legacy("vni", on),
    "nfd": _check_nfd,
    "cp1258": _check_cp1258,
    "first_page_only": _check_first_page_only,
    "short_of_manifest": _check_short_of_manifest,
    "html_xls": _check_html_xls,
    "vn_numbers": _check_vn_numbers,
    "bad_totals": _check_bad_totals,
    "truncated": _check_truncated,
    "malformed_date": _check_malformed_date,
    "missing_required": _check_missing_required,
    "unknown_word": _check_unknown_word,
    "abbreviated_headers": _check_abbreviated_headers,
}


def test_every_pathology_has_a_check() -> None:
    assert set(PATHOLOGY_CHECKS) == {f.name for f in fields(FileFaults)}


@pytest.mark.parametrize("name", sorted(PATHOLOGY_CHECKS))
@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
def test_pathology_present_only_when_switched_on(name: str, on: bool) -> None:
    PATHOLOGY_CHECKS[name](on)


def test_file_faults_parse() -> None:
    assert FileFaults.parse("tcvn3, truncated").active == ("tcvn3", "truncated")
    assert FileFaults.parse("") == FileFaults()
    with pytest.raises(ValueError, match="unknown"):
        FileFaults.parse("tcvn5")
    with pytest.raises(ValueError):
        FileFaults(tcvn3=True, vni=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_are_deterministic(fmt: str, dossiers: list[dict]) -> None:
    opts = ExportOptions(fmt, "upgraded", two_row_header=True, sections=True)  # type: ignore[arg-type]
    faults = FileFaults(malformed_date=True, missing_required=True)
    first = export_bytes("one_stop.dossiers", dossiers, MONTH, opts, faults)
    assert export_bytes("one_stop.dossiers", dossiers, MONTH, opts, faults) == first


# --- aggregate report --------------------------------------------------------------------

AGENCIES = [
    ReportAgency("D1", "Sở A", "province_dept", "30", "Hải Dương", None, None),
    ReportAgency("H1", "UBND huyện B", "district", "30", "Hải Dương", None, None),
    ReportAgency("X1", "UBND xã C", "commune", "30", "Hải Dương", None, date(2020, 1, 31)),
]


def _dossier(
    key: str,
    agency: str,
    status: str,
    accepted: str,
    due: str | None = None,
    finished: str | None = None,
    channel: str | None = "1",
) -> dict[str, Any]:
    return {
        "MaHoSo": key,
        "DonViXuLy": agency,
        "TrangThaiHoSo": status,
        "NgayTiepNhan": accepted,
        "NgayHenTra": due,
        "NgayKetThucXuLy": finished,
        "NgayTra": None,
        "KenhThucHien": channel,
    }


HAND_MADE = [
    # carried over (accepted in January, open on 1 February), resolved early in February
    _dossier("c1", "D1", "10", "20200120090000", "20200210170000", "20200205100000"),
    # carried over, finished in January: not in February's report at all
    _dossier("c2", "D1", "9", "20200110090000", "20200115170000", "20200114100000"),
    # received online, resolved on the due day
    _dossier("r1", "D1", "9", "20200203090000", "20200207170000", "20200207160000", "2"),
    # received by BCCI, resolved late
    _dossier("r2", "D1", "10", "20200204090000", "20200206170000", "20200211090000", "3"),
    # received (channel empty = direct), still open and already overdue at month end
    _dossier("r3", "D1", "4", "20200205090000", "20200220170000", None, None),
    # received, open, due in March
    _dossier("r4", "D1", "5", "20200225090000", "20200305170000"),
    # received and finished after the month: in progress at month end, not yet due
    _dossier("r5", "D1", "9", "20200226090000", "20200304170000", "20200303090000"),
    # refused at the desk, withdrawn, stopped
    _dossier("r6", "H1", "3", "20200210090000"),
    _dossier("r7", "H1", "7", "20200211090000", "20200220170000", "20200212090000"),
    _dossier("r8", "H1", "8", "20200212090000", "20200220170000", "20200213090000"),
    # received in March: not in February's report
    _dossier("m1", "H1", "4", "20200302090000", "20200310170000"),
    # an agency not in the report
    _dossier("z1", "ZZ", "4", "20200203090000", "20200220170000"),
]


def test_aggregate_counting_rules() -> None:
    rows = aggregate_rows(HAND_MADE, MONTH, AGENCIES)
    total, d1, h1 = rows
    assert [r["loai_dong"] for r in rows] == ["total", "body", "body"]  # X1 ended in January
    assert d1["nhom"] == "I. Sở, ban, ngành" and h1["nhom"] == "II. UBND cấp huyện"
    assert {k: d1[k] for k in COUNT_FIELDS} == {
        "tong_so": 6,
        "ky_truoc_chuyen_qua": 1,
        "tiep_nhan_trong_ky": 5,
        "tiep_nhan_truc_tuyen": 1,
        "tiep_nhan_truc_tiep": 3,
        "tiep_nhan_bcci": 1,
        "da_giai_quyet": 3,
        "giai_quyet_som_han": 1,
        "giai_quyet_dung_han": 1,
        "giai_quyet_tre_han": 1,
        "dang_giai_quyet": 3,
        "dang_giai_quyet_chua_den_han": 2,
        "dang_giai_quyet_qua_han": 1,
        "tra_lai": 0,
        "rut_ho_so": 0,
    }
    assert (h1["tong_so"], h1["tra_lai"], h1["rut_ho_so"], h1["da_giai_quyet"]) == (3, 2, 1, 0)
    assert total["ten_dong"] == "Tổng số"
    assert all(total[k] == d1[k] + h1[k] for k in COUNT_FIELDS)
    for row in rows:
        assert broken_identities(row, conservation=True) == []


@pytest.mark.parametrize("month", [date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1)])
def test_aggregate_identities_hold_on_generated_data(month: date) -> None:
    rows = aggregate.aggregate_month(CFG, month, province_code="30")
    assert rows[0]["loai_dong"] == "total" and len(rows) > 10
    body = rows[1:]
    for row in rows:
        assert broken_identities(row, conservation=True) == [], row
    for name in COUNT_FIELDS:
        assert rows[0][name] == sum(r[name] for r in body)
    assert rows[0]["tiep_nhan_trong_ky"] > 0
    if month > CFG.start_month:
        assert rows[0]["ky_truoc_chuyen_qua"] > 0


def test_the_report_counts_paper_dossiers_the_system_never_held() -> None:
    """A quarter of the agencies print 5–20 % more received dossiers than the system holds
    (desk dossiers resolved on time within the month); the others print the system's count."""
    month = date(2020, 2, 1)
    system = aggregate.count_by_agency(aggregate.dossiers_through(CFG, month), month)
    rows = aggregate.aggregate_month(CFG, month)
    body = [r for r in rows if r["loai_dong"] == "body" and system.get(r["ma_dong"])]
    extra = {r["ma_dong"]: r["tiep_nhan_trong_ky"] - system[r["ma_dong"]]["tiep_nhan_trong_ky"]
             for r in body}  # fmt: skip
    paper = {a for a, n in extra.items() if n}
    assert 0.1 < len(paper) / len(body) < 0.4, (len(paper), len(body))
    for r in body:
        mine, n = system[r["ma_dong"]], extra[r["ma_dong"]]
        received = mine["tiep_nhan_trong_ky"]
        assert n == 0 or max(1, round(0.05 * received)) <= n <= max(1, round(0.2 * received))
        for name in ("tiep_nhan_truc_tiep", "da_giai_quyet", "giai_quyet_dung_han", "tong_so"):
            assert r[name] - mine[name] == n, (r["ma_dong"], name)
        for name in ("ky_truoc_chuyen_qua", "tiep_nhan_truc_tuyen", "giai_quyet_tre_han"):
            assert r[name] == mine[name]
    assert aggregate.aggregate_month(CFG, month) == rows  # deterministic


@pytest.mark.parametrize("mismatch", ["total", "row"])
def test_aggregate_mismatch_breaks_exactly_one_identity(mismatch: str) -> None:
    clean = aggregate.aggregate_month(CFG, MONTH, province_code="30")
    rows = aggregate.aggregate_month(CFG, MONTH, province_code="30", mismatch=mismatch)  # type: ignore[arg-type]
    broken = [i for i, r in enumerate(rows) if broken_identities(r)]
    assert len(broken) == 1
    i = broken[0]
    assert (i == 0) is (mismatch == "total")
    assert broken_identities(rows[i]) == [
        "da_giai_quyet != giai_quyet_som_han + giai_quyet_dung_han + giai_quyet_tre_han"
    ]
    assert rows[i]["da_giai_quyet"] == clean[i]["da_giai_quyet"] - 2


NUMBERING = [
    "(1)",
    "(2)",
    "(3=4+5)",
    "(4)",
    "(5=6+7+8)",
    "(6)",
    "(7)",
    "(8)",
    "(9=10+11+12)",
    "(10)",
    "(11)",
    "(12)",
    "(13=14+15)",
    "(14)",
    "(15)",
    "(16)",
    "(17)",
]


def test_aggregate_xlsx_layout() -> None:
    data = aggregate.aggregate_report_bytes(CFG, MONTH, province_code="30")
    ws = load_workbook(io.BytesIO(data)).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert rows[0][0] == "ỦY BAN NHÂN DÂN TỈNH HẢI DƯƠNG"
    assert rows[3][0] == "TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ – Tháng 2 Năm 2020"
    assert rows[4][0] == "(Từ ngày 01/02/2020 đến ngày 29/02/2020)"
    assert {"A4:Q4", "A7:A9", "B7:B9", "C7:C9", "E7:H8", "I7:L8", "M7:O8", "Q7:Q9"} <= merged
    assert rows[6][:5] == ["STT", "Đơn vị", "Tổng số", "Kỳ trước chuyển qua", "Tiếp nhận trong kỳ"]
    assert rows[8][4:15] == [
        "Tổng số",
        "Trực tuyến",
        "Trực tiếp",
        "BCCI",
        "Tổng số",
        "Sớm hạn",
        "Đúng hạn",
        "Trễ hạn",
        "Tổng số",
        "Chưa đến hạn",
        "Quá hạn",
    ]
    assert rows[9] == NUMBERING
    assert rows[10][1] == "Tổng số" and isinstance(rows[10][2], int)
    labels = [r[0] for r in rows]
    assert (
        labels.index("I. Sở, ban, ngành")
        < labels.index("II. UBND cấp huyện")
        < labels.index("III. UBND cấp xã")
    )
    footer = {v for r in rows[-4:] for v in r if v}
    assert {"Người lập biểu", "Thủ trưởng đơn vị", "Ngày 05 tháng 03 năm 2020"} <= footer


@pytest.mark.parametrize("variant", aggregate.REPORT_VARIANTS)
@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_aggregate_variants_read_back_by_ingest(variant: str, fmt: str, tmp_path: Path) -> None:
    from chiso.ingest.readers import read_html, read_xlsx

    path = tmp_path / f"agg.{fmt}"
    path.write_bytes(
        aggregate.aggregate_report_bytes(
            CFG,
            MONTH,
            province_code="30",
            variant=variant,
            fmt=fmt,  # type: ignore[arg-type]
        )
    )
    grid_rows = list((read_xlsx if fmt == "xlsx" else read_html)(path))
    layout, used = detect_layout(grid_rows[:60], entities_of("one_stop"))
    match = layout.header
    assert match.entity.name == "aggregate_reports"
    assert set(COUNT_FIELDS) | {"stt", "ten_dong"} <= set(f for f in match.fields if f)
    assert layout.numbering is not None and len(layout.identities) == len(IDENTITIES)
    assert layout.period() == MONTH
    extras = set(match.extras)
    assert extras == (
        {"Tỷ lệ giải quyết đúng hạn (%)", "Ghi chú"} if variant == "upgraded" else set()
    )
    body = list(classify_rows(iter(grid_rows[used:]), layout, footer=[]))
    expected = aggregate.aggregate_month(CFG, MONTH, province_code="30")
    assert sum(r.kind == "body" for r in body) == len(expected) - 1
    assert next(r.kind for r in body) == "total"


def test_aggregate_file_faults() -> None:
    def sheet_rows(faults: FileFaults) -> list[list[Any]]:
        data = aggregate.aggregate_report_bytes(CFG, MONTH, province_code="30", faults=faults)
        return xlsx_rows(data)

    clean, bad = sheet_rows(FileFaults()), sheet_rows(FileFaults(bad_totals=True))
    total_at = next(i for i, r in enumerate(clean) if r[1] == "Tổng số" and r[0] is None)
    assert bad[total_at][8] == clean[total_at][8] - 2  # column (9) of the total row
    assert bad[total_at][9:12] == clean[total_at][9:12]
    text = sheet_rows(FileFaults(vn_numbers=True))
    assert text[total_at][2] == exports.vn_number(clean[total_at][2])
    missing = sheet_rows(FileFaults(missing_required=True))
    assert sum(r[1] is None and isinstance(r[0], int) for r in missing) == 1
    upgraded = sheet_rows(FileFaults(extra_columns=True))
    assert "Ghi chú" in upgraded[6] and "Mã đơn vị" in upgraded[6]
    html = aggregate.aggregate_report_bytes(
        CFG, MONTH, province_code="30", faults=FileFaults(html_xls=True, tcvn3=True)
    )
    assert b"charset=windows-1252" in html
    assert unicode_to_tcvn3("Tổng số").encode("cp1252") in html
    cut = aggregate.aggregate_report_bytes(
        CFG, MONTH, province_code="30", faults=FileFaults(truncated=True)
    )
    with pytest.raises(zipfile.BadZipFile):
        load_workbook(io.BytesIO(cut))


# --- inbox -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("inbox")
    return root, write_inbox(CFG, MONTH, root, variant_seed=7)


def test_inbox_layout_and_names(inbox: tuple[Path, list[Path]]) -> None:
    root, paths = inbox
    names = {p.relative_to(root).as_posix() for p in paths}
    assert {p.parent.name for p in paths} == {"one_stop", "documents", "portal"}
    assert "one_stop/one_stop_aggregate_30_2020-02.xlsx" in names
    assert "portal/portal_catalogue_30_2020-02.xlsx" in names
    assert any(n.startswith("portal/portal_usage_30_2020-02.") for n in names)
    agency_files = [n for n in names if n.startswith("one_stop/one_stop_000.00.02.H23_2020-02.")]
    assert len(agency_files) == 1
    assert len({p.suffix for p in paths if p.parent.name == "one_stop"}) >= 3  # mixed formats
    assert not [p for p in root.rglob("*.tmp")]


def test_inbox_files_read_back_without_faults(inbox: tuple[Path, list[Path]]) -> None:
    from chiso.ingest.readers import read_csv, read_html, read_json_records, read_xlsx, sniff_format

    _, paths = inbox
    for path in paths:
        fmt = sniff_format(path)
        cands = entities_of(path.parent.name)
        if fmt == "json":
            records = read_json_records(path)
            keys = [k for k, v in records[0].items() if not isinstance(v, list)]
            assert match_headers(cands[0], keys).matched == len(keys), path.name
            continue
        reader = {"xlsx": read_xlsx, "html": read_html, "csv": read_csv}[fmt]
        rows = list(reader(path))
        layout, _ = detect_layout(rows[:60], cands)
        assert not [x for x in layout.header.extras if x not in ("STT", "TT")], path.name
        if fmt == "csv":
            text = path.read_bytes().decode("utf-8-sig")
            assert unicodedata.is_normalized("NFC", text)


def test_inbox_is_deterministic(inbox: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, paths = inbox
    again = write_inbox(CFG, MONTH, tmp_path, variant_seed=7)
    assert [p.relative_to(tmp_path) for p in again] == [p.relative_to(root) for p in paths]
    for a, b in zip(paths, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = write_inbox(CFG, MONTH, tmp_path / "other", variant_seed=8)
    assert [p.suffix for p in other] != [p.suffix for p in paths]  # another vendor mix


def test_inbox_faults_only_where_asked(tmp_path: Path) -> None:
    faulty = FileFaults(extra_columns=True, bad_totals=True)
    paths = write_inbox(
        CFG,
        MONTH,
        tmp_path,
        faults=faulty,
        faulty=lambda name: "000.00.02.H23" in name or "aggregate" in name,
        aggregate_mismatch=None,
    )
    hit = [p for p in paths if "000.00.02.H23" in p.name]
    assert len(hit) == 2  # one_stop and documents of that agency
    for p in paths:
        data = p.read_bytes()
        has_extra = "Ghi chú".encode() in data or b"GhiChu" in data
        if p.suffix == ".xlsx":
            has_extra = any("Ghi chú" in str(v) for r in xlsx_rows(data) for v in r)
        assert has_extra is (p in hit or "aggregate" in p.name), p.name


def test_export_options_validate() -> None:
    with pytest.raises(ValueError):
        ExportOptions("pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ExportOptions(variant="vendor")  # type: ignore[arg-type]
    assert replace(ExportOptions(), variant="dvcqg").dates == "compact"
