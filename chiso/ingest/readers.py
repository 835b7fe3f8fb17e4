"""Read delivered files as a grid of rows, whatever the container.

Vietnamese systems export the same table as XLSX (title rows, merged multi-row headers,
section rows, a total row, a signature footer), as an HTML table saved with a ``.xls`` name,
as CSV (UTF-8 with or without BOM, ``,`` or ``;``, sometimes legacy 8-bit text) or as JSON.
Each reader here only turns bytes into rows of cells, streaming; ``layout.py`` finds the
header, sections and totals in those rows the same way for every container.
"""

from __future__ import annotations

import codecs
import csv
import json
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

from chiso.core.text_codec import cp1252_text

Format = Literal["xlsx", "html", "csv", "json"]
Cell = Any
GridRow = tuple[int, list[Cell]]  # (1-based row number in the file, cells)

SNIFF_BYTES = 64 * 1024


class ReadError(ValueError):
    """The file cannot be read as a table; the message names the file and, if known, row."""


def sniff_format(path: Path) -> Format:
    """Decide by content, not by name: a '.xls' is very often an HTML table."""
    head = path.open("rb").read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        if zipfile.is_zipfile(path):
            return "xlsx"
        raise ReadError(f"{path.name}: looks like an XLSX (zip) file but is truncated or corrupt")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ReadError(
            f"{path.name}: legacy binary .xls (BIFF) is not supported; save it as .xlsx or CSV"
        )
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype", b"<html", b"<table", b"<meta", b"<?xml")) or (
        b"<table" in text[:4096]
    ):
        return "html"
    if text.startswith((b"[", b"{")):
        return "json"
    return "csv"


# --- XLSX ------------------------------------------------------------------------------------


def read_xlsx(path: Path, sheet: str | None = None) -> Iterator[GridRow]:
    """Stream the first (or named) sheet; merged cells read as the value then blanks."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ReadError(f"{path.name}: cannot open as XLSX: {exc}") from exc
    n = 0
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield n, list(row)
    except (zipfile.BadZipFile, EOFError, KeyError, ElementTree.ParseError, ValueError) as exc:
        # a valid zip can still hold a cut or broken sheet (its XML ends early)
        raise ReadError(
            f"{path.name}: XLSX is truncated or corrupt after row {n}: {type(exc).__name__}"
        ) from exc
    finally:
        wb.close()


# --- HTML ("Excel" downloads) ----------------------------------------------------------------


class _TableParser(HTMLParser):
    """Collects <tr> rows; colspan/rowspan become blanks like merged cells in a sheet."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str | None]] = []
        self._row: list[str | None] | None = None
        self._cell: list[str] | None = None
        self._colspan = 1
        self._pending: dict[int, int] = {}  # column → rows still covered by a rowspan above
        self._next_pending: dict[int, int] = {}
        self._rowspan = 1
        self.open_tables = 0  # <table> seen without its </table>: a file cut short

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.open_tables += 1
        elif tag == "tr":
            self._row = []
            self._next_pending = {}
        elif tag in ("td", "th") and self._row is not None:
            self._skip_spanned()
            a = dict(attrs)
            self._colspan = _int_attr(a.get("colspan"))
            self._rowspan = _int_attr(a.get("rowspan"))
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def _skip_spanned(self) -> None:
        assert self._row is not None
        while self._pending.get(len(self._row), 0) > 0:
            col = len(self._row)
            self._next_pending[col] = self._pending[col] - 1
            self._row.append(None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.open_tables = max(0, self.open_tables - 1)
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            start = len(self._row)
            self._row.append(text or None)
            self._row.extend([None] * (self._colspan - 1))
            if self._rowspan > 1:
                for col in range(start, start + self._colspan):
                    self._next_pending[col] = self._rowspan - 1
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._skip_spanned()
            self.rows.append(self._row)
            self._pending = {k: v for k, v in self._next_pending.items() if v > 0}
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


# A cell spanning more columns or rows than any real export has: a broken or hostile page
# (a colspan of 10**9 would build a billion empty cells), refused rather than obeyed
MAX_SPAN = 1000


def _int_attr(value: str | None) -> int:
    try:
        span = max(1, int(value or 1))
    except ValueError:
        return 1
    if span > MAX_SPAN:
        raise ReadError(f"a cell spans {span} columns or rows (more than {MAX_SPAN})")
    return span


def read_html(path: Path) -> Iterator[GridRow]:
    """Stream the rows of every <table> in the file, in order."""
    raw = path.open("rb").read(SNIFF_BYTES)
    encoding = "utf-8"
    lowered = raw.lower()
    for marker in (b"charset=", b'encoding="'):
        pos = lowered.find(marker)
        if pos >= 0:
            tail = lowered[pos + len(marker) :].lstrip(b"\"' ")
            enc = tail.split(b'"')[0].split(b"'")[0].split(b";")[0].split(b">")[0].strip()
            if enc:
                encoding = enc.decode("ascii", "replace")
                break
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    parser = _TableParser()
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(SNIFF_BYTES):
            try:
                parser.feed(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise ReadError(f"{path.name}: not valid {encoding} text: {exc}") from exc
            except ReadError as exc:
                raise ReadError(f"{path.name}: row {n + len(parser.rows) + 1}: {exc}") from None
            for row in parser.rows:
                n += 1
                yield n, list(row)
            parser.rows.clear()
    parser.close()
    if parser.open_tables:
        raise ReadError(
            f"{path.name}: the file ends inside a table (no closing </table> after row"
            f" {n + len(parser.rows)}):"
            " it was cut short or is still being written"
        )
    for row in parser.rows:
        n += 1
        yield n, list(row)


# --- CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvDialect:
    # "utf-8", "utf-8-sig", "cp1258" (Windows' Vietnamese code page) or "cp1252" (the
    # characters legacy fonts, TCVN3 and VNI, draw as Vietnamese letters)
    encoding: str
    delimiter: str
    has_bom: bool

    @property
    def eight_bit(self) -> bool:
        return self.encoding in EIGHT_BIT


EIGHT_BIT = ("cp1258", "cp1252")
# Windows-1258 writes a toned letter it has no code for as its base letter and a combining
# tone mark: grave, acute, tilde, hook above, dot below
_CP1258_TONE_BYTES = frozenset(b"\xcc\xec\xde\xd2\xf2")


def eight_bit_encoding(data: bytes) -> str:
    """Which 8-bit encoding non-UTF-8 bytes of Vietnamese text are in: cp1258 when reading
    them so gives tone marks that all compose with the letter before them (NFC leaves none
    alone), otherwise cp1252, whose characters a legacy font draws (text_codec repairs
    them). A TCVN3 or VNI file read as cp1258 leaves marks after consonants, digits or
    spaces, which no Vietnamese text has."""
    if not _CP1258_TONE_BYTES.intersection(data):
        return "cp1252"
    try:
        text = data.decode("cp1258")
    except UnicodeDecodeError:
        return "cp1252"
    composed = unicodedata.normalize("NFC", text)
    if any(unicodedata.combining(ch) for ch in composed):
        return "cp1252"
    return "cp1258"


def sniff_csv(path: Path, *, whole_file: bool = True) -> CsvDialect:
    """BOM, encoding and delimiter from the head of the file.

    The encoding needs a pass over the whole file (legacy bytes may start on any line) unless
    `whole_file` is false: then only the head is read, for a caller that checks the rest as
    it streams (the CSV fast path)."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    has_bom = head.startswith(codecs.BOM_UTF8)
    encoding = "utf-8-sig" if has_bom else "utf-8"
    if not has_bom:
        utf8 = is_utf8(path) if whole_file else _head_is_utf8(head)
        if not utf8:
            encoding = eight_bit_encoding(path.read_bytes() if whole_file else head)
    text = head.decode(encoding if encoding in EIGHT_BIT else "utf-8", errors="replace")
    first = _first_record(text.lstrip("\ufeff"))
    counts = {d: _count_outside_quotes(first, d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return CsvDialect(encoding, delimiter, has_bom)


def is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _head_is_utf8(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(head)
    except UnicodeDecodeError:
        return False
    return True


def _first_record(text: str) -> str:
    """The text of the first record: up to the first line break outside quotes (a quoted
    cell may hold line breaks)."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            return text[:i]
    return text


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def _tail(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - size))
        return fh.read()


def cut_mid_row(path: Path, last_fields: int, widest: int) -> bool:
    """Whether a CSV ends in the middle of a row: no line break after its last row, and that
    row shorter than the widest one or ending inside a quoted field (an odd number of quotes
    after the last line break). A file without a final line break is common; a short or open
    last row without one is a file cut short, or one still being written."""
    tail = _tail(path)
    if not tail or tail.endswith((b"\n", b"\r")):
        return False
    last_line = tail.rsplit(b"\n", 1)[-1]
    return last_fields < widest or last_line.count(b'"') % 2 == 1


def read_csv(path: Path, dialect: CsvDialect | None = None) -> Iterator[GridRow]:
    """The rows of a CSV; a file that ends in the middle of a row (:func:`cut_mid_row`) is a
    ReadError naming that row, never a shorter last row."""
    dialect = dialect or sniff_csv(path)
    decomposed = dialect.encoding == "cp1258"
    # cp1252 leaves five bytes undefined: read as Latin-1 (never failing) and shown as cp1252
    legacy = dialect.encoding == "cp1252"
    with path.open(encoding="latin-1" if legacy else dialect.encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=dialect.delimiter)
        held: GridRow | None = None  # the last row waits until the file is known to be whole
        widest = 0
        try:
            for row in reader:
                if held is not None:
                    yield held
                widest = max(widest, len(row))
                if decomposed:  # cp1258's base letters and tone marks, composed
                    row = [unicodedata.normalize("NFC", c) for c in row]
                elif legacy:
                    row = [cp1252_text(c) for c in row]
                held = (reader.line_num, [c if c != "" else None for c in row])
        except csv.Error as exc:
            raise ReadError(f"{path.name}: row {reader.line_num}: malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:  # past the head a sniff looked at
            raise ReadError(
                f"{path.name}: row {reader.line_num + 1}: not {dialect.encoding} text"
                f" (byte 0x{exc.object[exc.start]:02x})"
            ) from exc
    if held is not None:
        if cut_mid_row(path, len(held[1]), widest):
            raise ReadError(
                f"{path.name}: row {held[0]}: the file ends in the middle of this row"
                f" ({len(held[1])} of {widest} fields, no line break after it): it was cut"
                " short or is still being written"
            )
        yield held


# --- JSON ------------------------------------------------------------------------------------


def read_json_records(path: Path) -> list[dict[str, Any]]:
    """An array of objects, or an object wrapping one under data/items/records/result."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReadError(f"{path.name}: not valid JSON: {exc}") from exc
    if isinstance(doc, dict):
        for key in ("data", "items", "records", "result", "rows"):
            if isinstance(doc.get(key), list):
                doc = doc[key]
                break
    if not isinstance(doc, list):
        raise ReadError(f"{path.name}: expected a JSON array of objects")
    for n, rec in enumerate(doc, start=1):
        if not isinstance(rec, dict):
            raise ReadError(f"{path.name}: row {n}: expected an object, got {type(rec).__name__}")
    return doc


# --- cell values -----------------------------------------------------------------------------


def cell_text(value: Cell) -> str | None:
    """A cell as the text raw keeps: Excel dates as ISO, integral floats without '.0'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None
