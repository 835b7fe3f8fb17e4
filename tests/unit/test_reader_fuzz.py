"""Property-based tests of the file readers (hypothesis): whatever bytes arrive, a reader gives
rows or its one documented error (ReadError, naming the file), never another exception; and
a well-formed table reads back as written, whatever its text.

`ingest_file` itself, on arbitrary bytes and on tables in any column order, is fuzzed against
a warehouse in tests/e2e/test_ingest_files.py.
"""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from chiso.ingest.readers import (
    ReadError,
    read_csv,
    read_html,
    read_json_records,
    read_xlsx,
    sniff_csv,
    sniff_format,
)

# derandomize: the same examples on every run, so a run of the suite is reproducible (a
# search with new examples: `--hypothesis-seed=random`)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# bytes shaped like the files that arrive: mostly text with separators, quotes and markup,
# Vietnamese in UTF-8 and legacy 8-bit encodings, NULs and cut multi-byte sequences
_PIECES = [
    b",", b";", b"\t", b'"', b"\r\n", b"\n", b"<table>", b"<tr>", b"<td>", b"</td>", b"</tr>",
    b'<td colspan="99999">', b"<meta charset=windows-1258>", b"<meta charset=bogus>", b"{",
    b"}", b"[", b"]", b'"data":', b"\x00", b"\xef\xbb\xbf", "Hồ sơ".encode(), b"\xe1\xbb",
    b"\xd0\xe3", b"PK\x03\x04", b"Ma ho so", b"2025-03-14", b"12.338", b"67,53%",
]  # fmt: skip
# well-formed tables: any text a cell may hold (Vietnamese, quotes, separators, line breaks)
CELL_TEXT = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits + " ,;\"'\n.-/%")
        + list("ăâđêôơưĂÂĐÊÔƠƯáàảãạếềểễệốồổỗộứừửữự")
    ),
    min_size=1,
    max_size=12,
)
ARBITRARY = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from(_PIECES) | st.binary(max_size=8), max_size=60).map(b"".join),
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _drain(rows) -> int:
    return sum(1 for _ in rows)


@FUZZ
@given(data=ARBITRARY)
def test_any_bytes_give_rows_or_a_read_error(tmp_path, data):
    for name, read in (
        ("f.csv", lambda p: read_csv(p, sniff_csv(p))),
        ("f.xls", read_html),
        ("f.xlsx", read_xlsx),
        ("f.json", read_json_records),
    ):
        path = _write(tmp_path, name, data)
        try:
            _drain(read(path))
        except ReadError as exc:
            assert name in str(exc)
        try:
            sniff_format(path)
        except ReadError as exc:
            assert name in str(exc)


@FUZZ
@given(cells=st.lists(CELL_TEXT, min_size=1, max_size=30), cut=st.integers(0, 6000))
def test_a_zip_cut_anywhere_is_a_read_error_or_a_sheet(tmp_path, cells, cut):
    """An XLSX still being written or cut in transfer: the workbook's bytes up to any point."""
    wb = Workbook()
    ws = wb.active
    ws.append(["Mã hồ sơ", "Ngày tiếp nhận"])
    for value in cells:
        ws.append(["H.1", value])
    buffer = io.BytesIO()
    wb.save(buffer)
    whole = buffer.getvalue()
    path = _write(tmp_path, "f.xlsx", whole[: min(cut, len(whole) - 1)])
    try:
        _drain(read_xlsx(path))
    except ReadError as exc:
        assert "f.xlsx" in str(exc)


CELL = CELL_TEXT.filter(lambda s: s.strip() and s == s.strip())
# a header names columns: no delimiter inside a name (the sniff reads the first record)
HEADER_CELL = CELL.filter(lambda s: not set(s) & set(",;\t|\n\"'"))
TABLE = st.integers(min_value=1, max_value=5).flatmap(
    lambda width: st.tuples(
        st.lists(HEADER_CELL, min_size=width, max_size=width),
        st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=8),
    ).map(lambda t: [t[0], *t[1]])
)


@FUZZ
@given(table=TABLE, delimiter=st.sampled_from([",", ";", "\t"]), bom=st.booleans())
def test_a_well_formed_csv_reads_back_as_written(tmp_path, table, delimiter, bom):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(table)
    path = tmp_path / "f.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8-sig" if bom else "utf-8")
    dialect = sniff_csv(path)
    if len(table[0]) == 1:  # one column: no delimiter to sniff, and none needed
        assert dialect.delimiter == "," or dialect.delimiter in "".join(table[0])
        return
    assert dialect.delimiter == delimiter
    assert [cells for _, cells in read_csv(path, dialect)] == table


@FUZZ
@given(table=TABLE)
def test_a_well_formed_xlsx_reads_back_as_written(tmp_path, table):
    wb = Workbook()
    for row in table:
        wb.active.append(row)
    path = tmp_path / "f.xlsx"
    wb.save(path)
    got = [[c.strip() if isinstance(c, str) else c for c in cells] for _, cells in read_xlsx(path)]
    assert got == table


@FUZZ
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from(["MaHoSo", "NgayTiepNhan", "x"]), CELL, min_size=1),
        min_size=1,
        max_size=6,
    )
)
def test_json_records_read_back_whatever_their_key_order(tmp_path, records):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"data": records}, ensure_ascii=False), encoding="utf-8")
    forward = read_json_records(path)
    path.write_text(
        json.dumps({"data": [dict(reversed(r.items())) for r in records]}, ensure_ascii=False),
        encoding="utf-8",
    )
    assert read_json_records(path) == forward == records
