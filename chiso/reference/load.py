"""Read the reference files, stage them for validation, and load them.

A load has three steps, so that a file with a mistake never reaches what dbt and ingest read:

1. :func:`read_folder` reads every file: strict UTF-8 (a byte-order mark is accepted), NFC,
   the header the table needs (in any order), every row as long as the header. What is wrong
   with the files themselves is reported all at once, each problem with its file and row.
2. :func:`stage` puts the rows, as text, into ``reference_candidate`` with their row number in
   the file, where the GX suites of ``expectations/reference/`` check the values
   (chiso/quality/reference.py): a date that does not parse, overlapping versions, a code
   that resolves to nothing, a target without its source document.
3. :func:`publish` replaces every table of ``reference`` from the candidates in one
   transaction and records the version in ``ops.reference_versions``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from chiso.reference.files import REFERENCE_FILES, ReferenceFile

CANDIDATE = "reference_candidate"
LIVE = "reference"
ROW = "_row"  # the row's line in its file (the header is line 1)


class ReferenceFileError(ValueError):
    """The files cannot be staged: each problem names its file and, where it has one, its row."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the reference files:\n{listed}{more}")


@dataclass(frozen=True)
class ReferenceSet:
    """The rows of every reference file as read, with the digest of each file's bytes."""

    folder: Path
    rows: dict[str, list[tuple[int, tuple[str | None, ...]]]] = field(repr=False)
    digests: dict[str, str]

    @property
    def fingerprint(self) -> str:
        """One digest over every file: equal for the same bytes, whatever the folder."""
        return hashlib.sha256(json.dumps(self.digests, sort_keys=True).encode()).hexdigest()


def read_folder(folder: Path) -> ReferenceSet:
    """Read every reference file of `folder` (see the module's docstring)."""
    problems: list[str] = []
    rows: dict[str, list[tuple[int, tuple[str | None, ...]]]] = {}
    digests: dict[str, str] = {}
    for spec in REFERENCE_FILES:
        path = folder / spec.file_name
        if not path.is_file() and spec.optional:
            rows[spec.table] = []
            continue
        if not path.is_file():
            problems.append(f"{spec.file_name}: missing from {folder}")
            continue
        data = path.read_bytes()
        digests[spec.file_name] = hashlib.sha256(data).hexdigest()
        rows[spec.table] = _read_file(spec, data, problems)
    if problems:
        raise ReferenceFileError(problems)
    return ReferenceSet(folder, rows, digests)


def _read_file(
    spec: ReferenceFile, data: bytes, problems: list[str]
) -> list[tuple[int, tuple[str | None, ...]]]:
    name = spec.file_name
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(f"{name} row {line}: not UTF-8 (byte {error.start} of the file)")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        problems.append(f"{name}: empty (a header row is needed)")
        return []
    header = [h.strip() for h in header]
    missing = [c for c in spec.column_names if c not in header]
    unknown = [h for h in header if h not in spec.column_names]
    if missing or unknown or len(set(header)) != len(header):
        said = []
        if missing:
            said.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            said.append(f"unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            said.append("a column named twice")
        problems.append(f"{name} row 1: {'; '.join(said)}")
        return []
    position = [header.index(c) for c in spec.column_names]
    out: list[tuple[int, tuple[str | None, ...]]] = []
    for record in reader:
        line = reader.line_num
        if not any(v.strip() for v in record):
            continue  # a blank line
        if len(record) != len(header):
            problems.append(
                f"{name} row {line}: {len(record)} fields where the header has {len(header)}"
            )
            continue
        values: list[str | None] = []
        for column, index in zip(spec.column_names, position, strict=True):
            value = record[index].strip()
            if value != unicodedata.normalize("NFC", value):
                problems.append(
                    f"{name} row {line}, {column}: not in Unicode NFC (decomposed diacritics);"
                    " save the file as NFC"
                )
            values.append(value or None)
        out.append((line, tuple(values)))
    return out


def stage(conn: psycopg.Connection, refset: ReferenceSet) -> None:
    """Replace the candidate tables with the rows of `refset`, as text, with their rows."""
    for spec in REFERENCE_FILES:
        table = sql.Identifier(CANDIDATE, spec.table)
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(
            sql.SQL("create table {} ({} integer not null, {})").format(
                table,
                sql.Identifier(ROW),
                sql.SQL(", ").join(
                    sql.SQL("{} text").format(sql.Identifier(c)) for c in spec.column_names
                ),
            )
        )
        columns = sql.SQL(", ").join(map(sql.Identifier, (ROW, *spec.column_names)))
        with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, columns)) as copy:
            for line, values in refset.rows[spec.table]:
                copy.write_row((line, *values))


def typed_columns(spec: ReferenceFile, alias: str | None = None) -> sql.Composable:
    """The candidate's columns cast to the live table's types (after validation: they parse)."""
    prefix = sql.SQL("{}.").format(sql.Identifier(alias)) if alias else sql.SQL("")
    return sql.SQL(", ").join(
        sql.SQL("{}{}::{} as {}").format(
            prefix, sql.Identifier(c.name), sql.SQL(c.type), sql.Identifier(c.name)
        )
        for c in spec.columns
    )


def loaded_fingerprint(conn: psycopg.Connection) -> str | None:
    """The fingerprint of the files the warehouse's reference was last loaded from."""
    if conn.execute("select to_regclass('ops.reference_versions')").fetchone()[0] is None:
        return None
    row = conn.execute(
        "select fingerprint from ops.reference_versions order by version_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def publish(
    conn: psycopg.Connection, refset: ReferenceSet, changes: dict[str, object], origin: str
) -> int:
    """Replace every reference table from its (validated) candidate and record the version;
    in the caller's transaction, so readers see the old version or the new one. Returns the
    version's id."""
    for spec in REFERENCE_FILES:
        live = sql.Identifier(LIVE, spec.table)
        conn.execute(sql.SQL("delete from {}").format(live))
        conn.execute(
            sql.SQL("insert into {} ({}) select {} from {} order by {}").format(
                live,
                sql.SQL(", ").join(map(sql.Identifier, spec.column_names)),
                typed_columns(spec),
                sql.Identifier(CANDIDATE, spec.table),
                sql.Identifier(ROW),
            )
        )
    row = conn.execute(
        "insert into ops.reference_versions (origin, fingerprint, files, changes)"
        " values (%s, %s, %s, %s) returning version_id",
        (origin, refset.fingerprint, json.dumps(refset.digests), json.dumps(changes)),
    ).fetchone()
    assert row is not None
    return int(row[0])
