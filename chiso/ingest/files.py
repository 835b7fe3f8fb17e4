"""Ingest delivered files: `chiso ingest <source> --file PATH` and the inbox folders.

One file is one delivery for one reporting month. The month comes from ``--month``, else the
title ("Từ ngày 01/03/2025 Đến ngày 31/03/2025", "Tháng 3 năm 2025"), else the file name
(``…_2025-03.csv``, ``…_202503…``, ``…T3-2025…``); a file that names none is rejected rather
than guessed. A file-level agency (``--agency`` or an identifier in the file name such as
``000.00.02.H23``) fills the agency column when the file has none.

Two load paths share the loader's rules (ledger, checks, replacement):

- **stream**: a UTF-8 CSV whose header row maps 1:1 onto canonical fields is streamed byte
  for byte into COPY while its text and values are checked on the way (``stream.py``), so
  throughput stays near ``psql \\copy`` and memory is flat whatever the size; text that
  needs repair after all sends it down the other path;
- **rows**: everything else (XLSX, HTML-as-.xls, JSON, legacy encodings, NFD text, title
  rows, extra columns) goes cell by cell: legacy text converted, NFC, extras into ``_extra``.

A file that fails is moved to ``<inbox>/quarantine/<source>/`` with an ``.error.txt`` naming
file, row and field; the others still load. Loaded and duplicate files move to
``<inbox>/archive/<source>/<YYYY-MM>/``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import psycopg

from chiso.core.text_codec import fix_text
from chiso.ingest.headers import HeaderMatch, match_headers
from chiso.ingest.layout import (
    Layout,
    Row,
    chain_rows,
    classify_rows,
    detect_layout,
    is_total_or_footer,
)
from chiso.ingest.loader import (
    Delivery,
    DeliveryResult,
    LoadError,
    Part,
    StreamFallback,
    load_delivery,
    record_rejected,
)
from chiso.ingest.manifest import (
    Manifest,
    ManifestError,
    check_bytes,
    is_sidecar,
    read_manifest,
    sidecars_of,
)
from chiso.ingest.readers import (
    CsvDialect,
    GridRow,
    ReadError,
    cell_text,
    read_csv,
    read_html,
    read_json_records,
    read_xlsx,
    sniff_csv,
    sniff_format,
)
from chiso.ingest.stream import stream_part, streamable
from chiso.sources.canonical import Entity, entities_of
from chiso.sources.canonical import entity as entity_named

log = logging.getLogger(__name__)

Encoding = Literal["auto", "tcvn3", "vni", "none"]
INBOX_SKIP = ("quarantine", "archive")
HEAD_ROWS = 60

_AGENCY_IN_NAME = re.compile(r"(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})")
_MONTH_IN_NAME = (
    re.compile(r"(?<!\d)(20\d{2})[-_.](0[1-9]|1[0-2])(?!\d)"),
    re.compile(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(?!\d)"),
)
_MONTH_FIRST_IN_NAME = re.compile(r"(?<![\d])(?:t|thang)?[-_]?(0?[1-9]|1[0-2])[-_.](20\d{2})(?!\d)")

# Nested lists in one-stop JSON (DVCQG sync format) that are entities of their own.
CHILD_LISTS = {
    "DanhSachHoSoBoSung": "one_stop.supplements",
    "CapNhatTienDo": "one_stop.progress_events",
}


class IngestError(ValueError):
    """A file could not be ingested; the message names the file (and row and field)."""


@dataclass
class FileResult:
    path: Path
    entity: str
    month: date | None
    status: str  # loaded | duplicate | quarantined | waiting (still being written)
    rows: int = 0
    path_taken: str = ""  # stream | rows
    error: str | None = None
    moved_to: Path | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


def month_from_name(name: str) -> date | None:
    for pattern in _MONTH_IN_NAME:
        m = pattern.search(name)
        if m:
            return date(int(m.group(1)), int(m.group(2)), 1)
    m = _MONTH_FIRST_IN_NAME.search(name.lower())
    if m:
        return date(int(m.group(2)), int(m.group(1)), 1)
    return None


def agency_from_name(name: str) -> str | None:
    m = _AGENCY_IN_NAME.search(name)
    return m.group(1) if m else None


def reporting_unit_from_name(name: str) -> str | None:
    """An aggregate report's unit from its file name: an agency identifier, else a
    two-digit province code standing alone between separators (``…_aggregate_30_2025-03``)."""
    found = agency_from_name(name)
    if found:
        return found
    stem = Path(name).stem
    for pattern in (*_MONTH_IN_NAME, _MONTH_FIRST_IN_NAME):
        stem = pattern.sub(" ", stem.lower())
    m = re.search(r"(?:^|[_\-\s.])(\d{2})(?=[_\-\s.])", stem + "_")
    return m.group(1) if m else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- one file --------------------------------------------------------------------------------


def ingest_file(
    url: str,
    source: str,
    path: Path,
    *,
    entity: str | None = None,
    month: date | None = None,
    agency: str | None = None,
    encoding: Encoding = "auto",
) -> FileResult:
    """Load one file (see the module docstring). Raises IngestError / LoadError on bad input;
    nothing of the file is loaded then."""
    path = Path(path)
    candidates = [entity_named(entity)] if entity else entities_of(source)
    try:
        manifest = read_manifest(path)
        if manifest is not None and manifest.sha256 is not None:
            check_bytes(path, manifest, sha256_of(path))
    except ManifestError as exc:
        raise IngestError(str(exc)) from None
    try:
        fmt = sniff_format(path)
        if fmt == "json":
            return _ingest_json(url, source, path, candidates, month, agency, encoding, manifest)
        return _ingest_grid(url, source, path, fmt, candidates, month, agency, encoding, manifest)
    except ReadError as exc:
        raise IngestError(str(exc)) from exc


def _resolve_month(path: Path, month: date | None, layout: Layout | None) -> date:
    found = month or (layout.period() if layout else None) or month_from_name(path.name)
    if found is None:
        raise IngestError(
            f"{path.name}: cannot tell which month the file reports: pass --month YYYY-MM, or"
            " name the file …_YYYY-MM.<ext>, or keep the title 'Từ ngày … Đến ngày …'"
        )
    return found.replace(day=1)


def _grid(path: Path, fmt: str, dialect: CsvDialect | None) -> Iterator[GridRow]:
    if fmt == "xlsx":
        return read_xlsx(path)
    if fmt == "html":
        return read_html(path)
    return read_csv(path, dialect)


def _ingest_grid(
    url: str,
    source: str,
    path: Path,
    fmt: str,
    candidates: Sequence[Entity],
    month: date | None,
    agency: str | None,
    encoding: Encoding,
    manifest: Manifest | None,
) -> FileResult:
    file_agency = agency or agency_from_name(path.name)
    if fmt == "csv":
        streamed = _try_stream(url, source, path, candidates, month, file_agency, manifest)
        if streamed is not None:
            return streamed
    dialect = sniff_csv(path) if fmt == "csv" else None
    rows = _grid(path, fmt, dialect)
    head = _head(rows)
    layout, used = _layout(path, head, candidates)
    match = layout.header
    ent = match.entity
    the_month = _resolve_month(path, month, layout)
    delivery = _file_delivery(source, path, the_month, sha256_of(path), manifest)
    body = classify_rows(chain_rows(head, used, rows), layout, footer=[])
    part = _rows_part(path, ent, match, layout, body, file_agency, encoding)
    result = load_delivery(url, delivery, [part])
    return _file_result(path, ent, the_month, result, "rows", part.warnings)


def _file_delivery(
    source: str, path: Path, month: date, sha: str | None, manifest: Manifest | None
) -> Delivery:
    return Delivery(
        source=source,
        channel="file",
        origin=path.name,
        month=month,
        file_name=path.name,
        content_sha256=sha,
        declared_records=manifest.records if manifest else None,
        declared_by=manifest.describe() if manifest else None,
    )


def _head(rows: Iterator[GridRow]) -> list[GridRow]:
    head: list[GridRow] = []
    for item in rows:
        head.append(item)
        if len(head) >= HEAD_ROWS:
            break
    return head


def _layout(path: Path, head: list[GridRow], candidates: Sequence[Entity]) -> tuple[Layout, int]:
    try:
        return detect_layout(head, candidates)
    except ValueError as exc:
        raise IngestError(f"{path.name}: {exc}") from exc


def _try_stream(
    url: str,
    source: str,
    path: Path,
    candidates: Sequence[Entity],
    month: date | None,
    file_agency: str | None,
    manifest: Manifest | None,
) -> FileResult | None:
    """Load a clean CSV on the fast path (stream.py); None when it needs the careful one."""
    dialect = sniff_csv(path, whole_file=False)
    rows = read_csv(path, dialect)
    try:
        head = _head(rows)
        layout, used = detect_layout(head, candidates)
    except (ReadError, UnicodeDecodeError, ValueError):
        return None  # the careful path reads it again and says what is wrong
    finally:
        rows.close()  # type: ignore[attr-defined]
    if not streamable(dialect, layout, used, layout.header, file_agency) or _ends_like_a_report(
        path, dialect
    ):
        return None
    the_month = _resolve_month(path, month, layout)
    part, digest = stream_part(path, dialect, layout.header, the_month)
    delivery = _file_delivery(source, path, the_month, None, manifest)  # sha: while streaming
    try:
        result = load_delivery(url, delivery, [part], content_digest=digest)
    except StreamFallback as why:
        log.info("%s: loading cell by cell: %s", path.name, why)
        return None
    return _file_result(path, part.entity, the_month, result, "stream", part.warnings)


def _ends_like_a_report(path: Path, dialect: CsvDialect) -> bool:
    """Whether a CSV ends with a total row or a signature footer (a printed report saved as
    CSV): those rows are not records, and the careful path reads them as what they are (a
    total's count checked against the rows, the footer left out)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 8192))
        tail = fh.read().decode(
            dialect.encoding if dialect.eight_bit else "utf-8", errors="replace"
        )
    lines = [line for line in tail.splitlines()[1:] if line.strip()][-4:]
    rows = csv.reader(lines, delimiter=dialect.delimiter)
    return any(is_total_or_footer(row) for row in rows)


def _cell_value(value: Any, encoding: Encoding) -> str | None:
    text = cell_text(value)
    if text is None:
        return None
    if encoding != "none":
        text = fix_text(text, encoding)
    return unicodedata.normalize("NFC", text)


def _rows_part(
    path: Path,
    ent: Entity,
    match: HeaderMatch,
    layout: Layout,
    body: Iterator[Row],
    file_agency: str | None,
    encoding: Encoding,
) -> Part:
    index = match.index_of
    aggregate = ent.qualified_name == "one_stop.aggregate_reports"
    # the agency may come from the file's name, an aggregate row's group and kind from the
    # layout (below)
    derived = {ent.agency_field, *(("nhom", "loai_dong") if aggregate else ())}
    missing = [f for f in match.missing_required if f not in derived]
    if missing:
        raise IngestError(f"{path.name}: {match.missing_message(missing)}")
    columns = list(index)
    add_agency = bool(ent.agency_field and ent.agency_field not in index)
    if add_agency and aggregate and not file_agency:
        file_agency = reporting_unit_from_name(path.name)
    if add_agency:
        if not file_agency:
            raise IngestError(
                f"{path.name}: no agency column ({ent.agency_field}) and no agency given:"
                " pass --agency or put the agency identifier (or, for an aggregate report,"
                " the province code) in the file name"
            )
        columns.append(ent.agency_field)  # type: ignore[arg-type]
    label_at_pos = list(index).index("ten_dong") if "ten_dong" in index else -1
    if aggregate:
        columns += [c for c in ("nhom", "loai_dong") if c not in columns]
    extra_cols = [
        (i, lbl)
        for i, (lbl, f) in enumerate(zip(match.labels, match.fields, strict=True))
        if not f and lbl
    ]
    columns += ["_extra", "_row_number"]
    warnings: list[dict[str, Any]] = []
    skipped_totals = 0

    def write(copy: psycopg.Copy) -> None:
        nonlocal skipped_totals
        totals: list[Row] = []
        sums: dict[int, int] = {}
        body_rows = 0
        declared: tuple[int, int] | None = None  # (row number, records a total row counts)
        # the header's width: up to its last label (a layout pads it to the widest head row)
        width = max((i + 1 for i, lbl in enumerate(match.labels) if lbl), default=0)
        for row in body:
            cells = row.cells
            if row.kind == "total" and not aggregate:
                skipped_totals += 1
                count = _declared_count(cells)
                if count is not None and declared is None:
                    declared = (row.number, count)
                continue
            body_rows += 1
            beyond = [i for i in range(width, len(cells)) if cell_text(cells[i]) is not None]
            if beyond:
                # a ragged row: values past the last header have no field, and dropping them
                # would lose data silently (the values are not quoted: personal data)
                raise LoadError(
                    f"{path.name}: row {row.number}: {beyond[-1] + 1} cells, the header has"
                    f" {width}: a ragged row (a delimiter inside an unquoted value?)",
                    row=row.number,
                )
            values = [
                _cell_value(cells[i] if i < len(cells) else None, encoding) for i in index.values()
            ]
            if add_agency:
                values.append(file_agency)
            if aggregate:
                label_at = index.get("ten_dong")
                if row.kind == "total" and label_at is not None and not values[label_at_pos]:
                    values[label_at_pos] = next(
                        (t for t in (cell_text(c) for c in cells) if t and not t.isdigit()),
                        "Tổng số",
                    )
                if "nhom" not in index:
                    values.append(row.section)
                values.append(row.kind)
                _check_identities(path, layout, row, warnings)
                if row.kind == "total":
                    totals.append(row)
                else:
                    for c, _ in _numeric_columns(layout):
                        v = _int_or_none(cells[c] if c < len(cells) else None)
                        sums[c] = sums.get(c, 0) + (v or 0)
            extras = {
                lbl: _cell_value(cells[i], encoding)
                for i, lbl in extra_cols
                if i < len(cells) and cells[i] is not None
            }
            values.append(
                json.dumps(extras, ensure_ascii=False, sort_keys=True) if extras else None
            )
            values.append(row.number)
            copy.write_row(values)
        if aggregate:
            _check_totals(path, layout, totals, sums, warnings)
        if skipped_totals:
            warnings.append({"kind": "total_rows_skipped", "count": skipped_totals})
        if declared is not None and declared[1] != body_rows:
            at, count = declared
            if count > body_rows:
                # a report exported from its first page, or cut: never a shorter month
                raise LoadError(
                    f"{path.name}: row {at}: the total row counts {count} records, the file"
                    f" holds {body_rows}: part of the report is missing (exported one page of"
                    " it?); ask for the whole report",
                    row=at,
                )
            warnings.append(
                {"kind": "total", "file": path.name, "row": at, "stated": count,
                 "rows": body_rows}
            )  # fmt: skip

    return Part(
        ent, columns, write, extra_columns=[lbl for _, lbl in extra_cols], warnings=warnings
    )


# "60 hồ sơ", "1.234 văn bản": the number of records a list's total row declares
_COUNT_TEXT = re.compile(r"^\s*(\d{1,3}(?:[.,]\d{3})+|\d+)\s+[^\W\d]", re.UNICODE)


def _declared_count(cells: Sequence[Any]) -> int | None:
    """The record count a list export's total row states ('Tổng cộng | 60 hồ sơ'), if any: a
    number followed by a word (a bare number is a column's sum, not a count)."""
    for cell in cells:
        text = cell_text(cell)
        found = _COUNT_TEXT.match(text) if text else None
        if found:
            return int(re.sub(r"[.,]", "", found.group(1)))
    return None


# --- aggregate report identities -------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    text = cell_text(value)
    if text is None:
        return None
    digits = text.replace(".", "").replace(",", "").replace(" ", "")
    return int(digits) if re.fullmatch(r"-?\d+", digits) else None


def _numeric_columns(layout: Layout) -> list[tuple[int, str]]:
    return [
        (i, f)
        for i, f in enumerate(layout.header.fields)
        if f and layout.header.entity.field(f).type == "int"
    ]


def _check_identities(path: Path, layout: Layout, row: Row, warnings: list[dict[str, Any]]) -> None:
    """Flag rows breaking the printed identities ((3)=(4)+(5) …); never 'fix' the numbers."""
    labels = layout.header.labels
    for target, terms in layout.identities:
        stated = _int_or_none(row.cells[target] if target < len(row.cells) else None)
        parts = [_int_or_none(row.cells[c] if c < len(row.cells) else None) for c, _ in terms]
        if stated is None or any(p is None for p in parts):
            continue
        computed = sum(sign * (p or 0) for (_, sign), p in zip(terms, parts, strict=True))
        if computed != stated:
            label = layout.numbering[target] if layout.numbering else str(target)
            warnings.append(
                {
                    "kind": "identity",
                    "file": path.name,
                    "row": row.number,
                    "identity": label,
                    "column": labels[target],
                    "stated": stated,
                    "computed": computed,
                }
            )


def _check_totals(
    path: Path,
    layout: Layout,
    totals: list[Row],
    sums: dict[int, int],
    warnings: list[dict[str, Any]],
) -> None:
    for total in totals[:1]:
        for c, f in _numeric_columns(layout):
            stated = _int_or_none(total.cells[c] if c < len(total.cells) else None)
            if stated is not None and stated != sums.get(c, 0):
                warnings.append(
                    {
                        "kind": "total",
                        "file": path.name,
                        "row": total.number,
                        "field": f,
                        "stated": stated,
                        "sum_of_rows": sums.get(c, 0),
                    }
                )


# --- JSON ------------------------------------------------------------------------------------


def _ingest_json(
    url: str,
    source: str,
    path: Path,
    candidates: Sequence[Entity],
    month: date | None,
    agency: str | None,
    encoding: Encoding,
    manifest: Manifest | None,
) -> FileResult:
    records = read_json_records(path)
    the_month = _resolve_month(path, month, None)
    delivery = _file_delivery(source, path, the_month, sha256_of(path), manifest)
    parts = record_parts(
        path.name, records, candidates, agency or agency_from_name(path.name), encoding
    )
    result = load_delivery(url, delivery, parts)
    return _file_result(path, parts[0].entity, the_month, result, "rows", parts[0].warnings)


def record_parts(
    origin: str,
    records: Sequence[dict[str, Any]] | Iterator[dict[str, Any]],
    candidates: Sequence[Entity],
    file_agency: str | None = None,
    encoding: Encoding = "auto",
    *,
    digest: Any | None = None,
) -> list[Part]:
    """Parts for a stream of JSON objects (files and API pages), children spooled to disk.

    The first record's keys choose the entity; every record then lands each of its keys in its
    field's column, whichever record first shows the key (vendors omit the keys of null values,
    so the first record rarely shows them all): only keys that name no field, or a field another
    key of the same record already filled, go to ``_extra``. ``digest`` (an API pull's content
    hash) covers each record's fields, its extras and its nested children.
    """
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        # An empty month is still a delivery: it replaces what the month held before.
        ent = candidates[0]
        return [Part(ent, list(ent.columns), lambda copy: None)]
    keys = [k for k in first if not isinstance(first[k], list)]
    from chiso.ingest.headers import best_entity

    match = best_entity(candidates, keys)
    if match.matched == 0:
        raise IngestError(f"{origin}: no key of the first record matches a known field")
    ent = match.entity
    fields = _KeyFields(ent, {keys[i]: f for f, i in match.index_of.items()})
    if ent.agency_field and ent.agency_field not in match.index_of and not file_agency:
        raise IngestError(f"{origin}: records carry no {ent.agency_field} and no agency given")
    columns = [*ent.columns, "_extra", "_row_number"]
    children = {k: entity_named(v) for k, v in CHILD_LISTS.items() if ent.name == "dossiers"}
    spools = {
        k: _ChildSpool(entity_named(v), digest) for k, v in CHILD_LISTS.items() if k in children
    }

    def write(copy: psycopg.Copy) -> None:
        for n, rec in enumerate(_chain_first(first, iterator), start=1):
            if not isinstance(rec, dict):
                raise LoadError(f"{origin}: row {n}: expected an object", row=n)
            lists = {k: v for k, v in rec.items() if k in spools and isinstance(v, list)}
            by_field, extras = fields.split({k: v for k, v in rec.items() if k not in lists})
            if ent.agency_field and by_field.get(ent.agency_field) is None and file_agency:
                by_field[ent.agency_field] = file_agency
            values: list[str | None] = [_json_value(by_field.get(c), encoding) for c in ent.columns]
            values.append(
                json.dumps(extras, ensure_ascii=False, sort_keys=True) if extras else None
            )
            if digest is not None:
                digest.update("\x1f".join(v or "" for v in values).encode())
                digest.update(b"\x1e")
            values.append(n)
            copy.write_row(values)
            for k, spool in spools.items():  # a fixed order: the digest ignores key order
                if k in lists:
                    spool.add(rec, lists[k], n, encoding)

    parts = [Part(ent, columns, write, extra_columns=[])]
    for spool in spools.values():
        parts.append(Part(spool.entity, spool.columns, spool.write))
    return parts


class _KeyFields:
    """Which field each JSON key fills, learnt key by key as records show them: the first
    record's keys as its header matched them, a key seen later by its own name or alias."""

    def __init__(self, entity: Entity, known: dict[str, str]) -> None:
        self.entity = entity
        self.field_of: dict[str, str | None] = dict(known)

    def field(self, key: str) -> str | None:
        if key not in self.field_of:
            self.field_of[key] = match_headers(self.entity, [key]).fields[0]
        return self.field_of[key]

    def split(self, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The record's values by field, and the rest (non-null) for ``_extra``: a key that
        names no field, or one whose field another key of the record filled already."""
        by_field: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        for key, value in record.items():
            name = self.field(key)
            if name is not None and by_field.get(name) is None:
                if name in by_field and value is None:
                    continue
                by_field[name] = value
            elif value is not None:
                extras[key] = value
        return by_field, extras


def _chain_first(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _json_value(value: Any, encoding: Encoding) -> str | None:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return _cell_value(value, encoding)


class _ChildSpool:
    """Nested child records written to a temp file while the parent streams, then COPYed;
    each child's keys land in their fields whichever child first shows them (as
    :func:`record_parts` does for parents), the rest in ``_extra``."""

    def __init__(self, entity: Entity, digest: Any | None = None) -> None:
        self.entity = entity
        self.spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in write()
            max_size=8 << 20, mode="w+", newline=""
        )
        self.writer = csv.writer(self.spool)
        self.fields = _KeyFields(entity, {})
        self.digest = digest
        self.identity_keys: list[str] | None = None
        self.columns = [*entity.columns, "_extra", "_row_number"]

    def add(self, parent: dict[str, Any], items: list[Any], row: int, encoding: Encoding) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            # A child inherits only its parent's identity (dossier id and agency); other
            # parent keys (TrangThaiHoSo …) would be mistaken for the child's own fields.
            if self.identity_keys is None:
                self.identity_keys = [
                    k for k in parent if self.fields.field(k) in ("ma_ho_so", "don_vi_xu_ly")
                ]
            inherited = {k: parent.get(k) for k in self.identity_keys}
            merged = {**item, **{k: v for k, v in inherited.items() if k not in item}}
            by_field, extras = self.fields.split(merged)
            values = [_json_value(by_field.get(c), encoding) for c in self.entity.columns]
            extra = json.dumps(extras, ensure_ascii=False, sort_keys=True) if extras else None
            if self.digest is not None:
                self.digest.update("\x1f".join(v or "" for v in [*values, extra]).encode())
                self.digest.update(b"\x1d")
            self.writer.writerow([v if v is not None else "\\N" for v in [*values, extra]] + [row])

    def write(self, copy: psycopg.Copy) -> None:
        # The CSV uses \N for null; COPY reads it back with `null '\N'`.
        self.spool.seek(0)
        for rec in csv.reader(self.spool):
            copy.write_row([None if v == "\\N" else v for v in rec])
        self.spool.close()


# --- results, inbox --------------------------------------------------------------------------


def _file_result(
    path: Path,
    ent: Entity,
    month: date,
    result: DeliveryResult,
    taken: str,
    warnings: list[dict[str, Any]],
) -> FileResult:
    return FileResult(
        path=path,
        entity=ent.qualified_name,
        month=month,
        status=result.status,
        rows=result.rows,
        path_taken=taken,
        warnings=warnings,
    )


# Delivered files hold personal data (names, ID numbers, phones): the folders that keep them
# are the service account's alone (0700), and so are the files (0600), whatever the umask.
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def private_folder(base: Path, *names: str) -> Path:
    """`base`/`names…`, each level created or tightened to mode 0700 (`base` too)."""
    folder = base
    for name in ("", *names):
        folder = folder / name if name else folder
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # a folder another account owns stays
            folder.chmod(PRIVATE_DIR)
    return folder


def _keep(path: Path, target: Path) -> Path:
    shutil.move(str(path), target)
    target.chmod(PRIVATE_FILE)
    return target


def quarantine(path: Path, inbox: Path, source: str, error: str) -> Path:
    target = _free_name(private_folder(inbox, "quarantine", source) / path.name)
    _keep(path, target)
    note = target.with_name(target.name + ".error.txt")
    note.write_text(error + "\n", encoding="utf-8")
    note.chmod(PRIVATE_FILE)
    return target


def archive(path: Path, inbox: Path, source: str, month: date | None) -> Path:
    folder = private_folder(inbox, "archive", source, f"{month:%Y-%m}" if month else "unknown")
    return _keep(path, _free_name(folder / path.name))


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}.{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise IngestError(f"{path}: too many files with this name")


def inbox_files(inbox: Path, source: str, done_marker: str | None = None) -> list[Path]:
    """The files waiting in ``<inbox>/<source>/`` (hidden and Office lock files, the done
    markers and the manifest sidecars themselves left out)."""
    folder = inbox / source
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith((".", "~$"))
        and not (done_marker and p.name.endswith(done_marker))
        and not is_sidecar(p)
    )


def still_arriving(
    path: Path, settle_seconds: float, done_marker: str | None, now: float | None = None
) -> str | None:
    """Why a file may still be being written (None: it is complete): its done marker is not
    there yet, or it (or a sidecar beside it) changed within the last ``settle_seconds``."""
    if done_marker and not path.with_name(path.name + done_marker).exists():
        return f"waiting for its marker {path.name + done_marker}"
    for each in (path, *sidecars_of(path)):
        age = (time.time() if now is None else now) - each.stat().st_mtime
        if age < settle_seconds:
            return (
                f"{each.name} modified {age:.0f} s ago (< {settle_seconds:.0f} s): it may still"
                " be being written"
            )
    return None


def _companions(path: Path, done_marker: str | None) -> list[Path]:
    """The files that travel with ``path``: its done marker and its sidecars."""
    found = sidecars_of(path)
    marker = path.with_name(path.name + done_marker) if done_marker else None
    if marker is not None and marker.is_file() and marker not in found:
        found.append(marker)
    return found


def _move_companions(companions: Sequence[Path], original: Path, moved: Path) -> None:
    for companion in companions:
        if companion.is_file():
            _keep(companion, moved.with_name(moved.name + companion.name[len(original.name) :]))


def ingest_inbox(
    url: str,
    inbox: Path,
    source: str,
    encoding: Encoding = "auto",
    *,
    settle_seconds: float = 0.0,
    done_marker: str | None = None,
) -> list[FileResult]:
    """Every file waiting in ``<inbox>/<source>/``: load, archive, or quarantine with the error.

    A file that may still be being written (:func:`still_arriving`) is left where it is, for
    the next run: a cut-short file is never loaded as a shorter month. Its done marker, when
    one is configured, and its sidecars (chiso.ingest.manifest) go with it to the archive or
    the quarantine."""
    results = []
    if (inbox / source).is_dir():
        private_folder(inbox, source)
    for path in inbox_files(inbox, source, done_marker):
        if path.is_symlink():
            # a link may point anywhere on the machine (a secret, another province's inbox):
            # only files delivered into the inbox are read
            error = f"{path.name}: a symbolic link, not a delivered file: refused"
            moved = quarantine(path, inbox, source, error)
            log.error("quarantined %s: %s", path.name, error)
            results.append(FileResult(path, "", None, "quarantined", error=error, moved_to=moved))
            continue
        why = still_arriving(path, settle_seconds, done_marker)
        if why is not None:
            log.info("%s waits for the next run: %s", path.name, why)
            results.append(FileResult(path, "", None, "waiting", error=why))
            continue
        companions = _companions(path, done_marker)
        try:
            res = ingest_file(url, source, path, encoding=encoding)
        except (IngestError, LoadError, ReadError) as exc:
            if not isinstance(exc, LoadError):  # LoadError: the loader already ledgered it
                record_rejected(
                    url,
                    source=source,
                    origin=path.name,
                    file_name=path.name,
                    sha=sha256_of(path),
                    error=str(exc),
                )
            moved = quarantine(path, inbox, source, str(exc))
            log.error("quarantined %s: %s", path.name, exc)
            results.append(
                FileResult(path, "", None, "quarantined", error=str(exc), moved_to=moved)
            )
            _move_companions(companions, path, moved)
            continue
        res.moved_to = archive(path, inbox, source, res.month)
        _move_companions(companions, path, res.moved_to)
        results.append(res)
    return results


def describe(results: Sequence[FileResult]) -> str:
    out = io.StringIO()
    for r in results:
        line = f"{r.status:11} {r.path.name}"
        if r.status not in ("quarantined", "waiting"):
            line += (
                f"  {r.entity} {r.month:%Y-%m} rows={r.rows} via {r.path_taken}" if r.month else ""
            )
        else:
            line += f"  {r.error}"
        if r.warnings:
            line += f"  warnings={len(r.warnings)}"
        out.write(line + "\n")
    return out.getvalue()
