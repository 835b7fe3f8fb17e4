"""The fast path for clean CSV: bytes straight into COPY, checked on the way.

A UTF-8 CSV whose header maps 1:1 onto canonical fields is streamed byte for byte into
``COPY … (format csv)``: no per-row Python. Three things run while PostgreSQL parses the
stream, so the load costs little more than ``psql \\copy`` of the same file:

- the sha256 of the bytes (the ledger's duplicate check);
- a text scan proving the file needs none of the careful path's repairs (NFC, legacy-font
  text, invalid UTF-8) — a chunk whose non-ASCII characters are all precomposed Vietnamese
  letters or common punctuation is clean; any other chunk is decoded and checked exactly;
- the Arrow pre-check (``precheck.py``) that leaves the SQL checks only the odd rows.

If the scan finds text the careful path must repair, the writer raises
:class:`~chiso.ingest.loader.StreamFallback`: the transaction rolls back and the caller loads
the file the careful way. Nothing is lost, and the ledger keeps no trace of the attempt.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg

from chiso.ingest.headers import HeaderMatch
from chiso.ingest.layout import Layout
from chiso.ingest.loader import Part, StreamFallback
from chiso.ingest.precheck import PreCheckThread
from chiso.ingest.readers import CsvDialect
from chiso.ingest.vocabulary import load_vocabulary

CHUNK_BYTES = 1 << 20
_ASCII = bytes(range(128))

# cp1252 characters that Unicode Vietnamese never uses: their presence means legacy-font text.
LEGACY_SIGNS = re.compile(
    "[\u00a1-\u00bf\u00c4-\u00c7\u00cb\u00ce-\u00d1\u00d6-\u00d8\u00db\u00dc\u00de\u00df"
    "\u00e4-\u00e7\u00eb\u00ee-\u00f1\u00f6-\u00f8\u00fb\u00fc\u00fe\u00ff]"
)


def _vietnamese_nfc() -> str:
    """Every precomposed Vietnamese letter, plus đ/Đ and common typographic marks."""
    tones = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
    chars = set("đĐ\u00a0\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2022")
    for base in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY":
        for tone in tones:
            chars.add(unicodedata.normalize("NFC", base + tone))
    clean = {c for c in chars if ord(c) > 127 and not LEGACY_SIGNS.match(c)}
    return "".join(sorted(clean))


_NOT_PLAIN = re.compile(f"[^{re.escape(_vietnamese_nfc())}]")


def chunk_is_clean(chunk: bytes) -> bool:
    """UTF-8, NFC and free of legacy-font characters (a chunk ends at a line break)."""
    residue = chunk.translate(None, _ASCII)
    if not residue:
        return True
    try:
        text = residue.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not _NOT_PLAIN.search(text):
        return True
    # Rare characters: decide exactly on the whole chunk.
    full = chunk.decode("utf-8")
    return unicodedata.is_normalized("NFC", full) and not LEGACY_SIGNS.search(full)


def streamable(
    dialect: CsvDialect,
    layout: Layout,
    used: int,
    match: HeaderMatch,
    file_agency: str | None,
) -> bool:
    """Can this CSV go straight into COPY (header row only, every column a known field)?"""
    if dialect.eight_bit:  # COPY reads UTF-8
        return False
    if layout.header_rows != (1, 1) or used != 1 or layout.title_lines:
        return False
    if match.extras or any(f is None for f in match.fields):
        return False
    ent = match.entity
    if ent.agency_field and ent.agency_field not in match.fields:
        return False
    return ent.qualified_name != "one_stop.aggregate_reports"


def stream_part(
    path: Path, dialect: CsvDialect, match: HeaderMatch, month: date
) -> tuple[Part, Callable[[], str]]:
    """A Part that streams `path` into COPY, and the sha256 of what it streamed."""
    columns = [f for f in match.fields if f]
    delim = dialect.delimiter.replace("'", "''")
    options = f"(format csv, header true, delimiter '{delim}', encoding 'UTF8')"
    digest = hashlib.sha256()
    checker: list[PreCheckThread] = []

    def write(copy: psycopg.Copy) -> None:
        checker.append(
            PreCheckThread(
                path,
                match.entity,
                columns,
                delimiter=dialect.delimiter,
                month=month,
                coded=load_vocabulary().fields(match.entity),
            ).start()
        )
        with path.open("rb") as fh:
            first = True
            # the blank end of what was read so far, written once more follows it: blank
            # lines at the end of a file (an editor's, an exporter's) are no rows, while
            # COPY reads each as a row missing its columns
            held = b""
            while chunk := fh.read(CHUNK_BYTES):
                chunk += fh.readline()  # end on a line break: no character is split
                digest.update(chunk)
                if first and chunk.startswith(codecs.BOM_UTF8):
                    chunk = chunk[len(codecs.BOM_UTF8) :]
                first = False
                if not chunk_is_clean(chunk):
                    raise StreamFallback(f"{path.name}: text needs repair (NFC or legacy font)")
                data = held + chunk
                body = data.rstrip(b"\r\n \t")
                held = data[len(body) :]
                copy.write(body)
            end = held.find(b"\n")
            copy.write(held if end < 0 else held[: end + 1])  # the last line's own end

    part = Part(
        match.entity,
        columns,
        write,
        options,
        first_data_row=2,
        precheck=lambda: checker[0].result(),
    )
    return part, digest.hexdigest
