"""Personal data over its life in raw, the archive and the quarantine (Law 91/2025 on personal
data protection, in force since 1 January 2026): kept no longer than needed, and erased on
request, without changing a published number.

Raw keeps what a source sent, personal fields included (the applicant's name, ID number,
phone and e-mail, an officer's name, a document's summary line). Downstream of raw nothing
uses them but the applicant's keyed ID (staging's ``applicant_key``), and no indicator uses
even that, so:

- **Retention** (:func:`retain`): in the months of raw older than the retention period, every
  personal field is emptied, but the ID number, which becomes its keyed hash (``hmac:`` and
  the hex digest staging would compute, so a rebuild gives the same ``applicant_key``);
  parked records lose theirs the same way; delivered files kept in the archive and the
  quarantine longer than the period are deleted (a quarantine's note stays, saying so).
- **Erasure** (:func:`erase`): one person, by ID number in any spelling (chiso/core/pii.py,
  ``canonical_id``): their dossiers in raw lose every personal field, the ID with no hash
  left; their parked records too; staging's key of them is emptied; and every archived or
  quarantined file that holds the number is deleted. The rows stay, so every count stays.

Neither ever writes the ID it looks for into a log, an error or the ledger.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from chiso.core.pii import canonical_id, keyed_hash
from chiso.ingest.raw_tables import table_ident
from chiso.sources.canonical import ENTITIES, ONE_STOP_DOSSIERS, Entity

log = logging.getLogger(__name__)

ID_FIELD = "so_dinh_danh"  # the applicant's ID number (citizen ID, tax number, passport)
HASHED = "hmac:"  # an ID number retention replaced by its keyed hash


def personal_fields(entity: Entity) -> list[str]:
    return [f.name for f in entity.fields if f.pii]


@dataclass
class Outcome:
    """What a retention or an erasure changed (counts and file names, never a datum)."""

    rows: dict[str, int] = field(default_factory=dict)
    parked: int = 0
    staged: int = 0
    files: list[str] = field(default_factory=list)

    def describe(self) -> str:
        rows = ", ".join(f"{n} in {t}" for t, n in self.rows.items() if n) or "none"
        return (
            f"raw rows: {rows}; parked records: {self.parked}; staging keys: {self.staged};"
            f" files deleted: {len(self.files)}"
        )


def _id_sql() -> sql.Composable:
    return sql.SQL("raw.canonical_id({})").format(sql.Identifier(ID_FIELD))


def retain(url: str, key: bytes, inbox: Path, before: date) -> Outcome:
    """Empty the personal fields of every raw month before `before` (the ID number becomes
    its keyed hash), and of parked records received before it; delete the archived and
    quarantined files older than it."""
    out = Outcome()
    with psycopg.connect(url) as conn:
        for ent in ENTITIES:
            fields = personal_fields(ent)
            if not fields:
                continue
            out.rows[ent.table] = _retain_table(conn, ent, fields, key, before)
        out.parked = conn.execute(
            "update raw.rejected_records set record = record - %s::text[]"
            " where rejected_at < %s and record ?| %s::text[]",
            (_all_personal(), before, _all_personal()),
        ).rowcount
    for path in _old_files(inbox, before):
        _delete_delivered(path, "personal-data retention")
        out.files.append(path.name)
    return out


def _all_personal() -> list[str]:
    return sorted({f for ent in ENTITIES for f in personal_fields(ent)})


def _retain_table(
    conn: psycopg.Connection, ent: Entity, fields: list[str], key: bytes, before: date
) -> int:
    others = [f for f in fields if f != ID_FIELD]
    table = table_ident(ent)
    emptied = sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(f)) for f in others)
    personal = sql.SQL(" or ").join(
        sql.SQL("{} is not null").format(sql.Identifier(f)) for f in others
    )
    if ID_FIELD not in fields:
        return conn.execute(
            sql.SQL("update {} set {} where _extract_month < %s and ({})").format(
                table, emptied, personal
            ),
            (before,),
        ).rowcount
    # the ID numbers to hash: distinct, hashed here (the key never enters the database)
    ids = [
        r[0]
        for r in conn.execute(
            sql.SQL(
                "select distinct {i} from {t} where _extract_month < %s and {i} is not null"
                " and {i} not like %s"
            ).format(i=sql.Identifier(ID_FIELD), t=table),
            (before, HASHED + "%"),
        )
    ]
    conn.execute("create temporary table retained_ids (value text primary key, hashed text)")
    with conn.cursor().copy("copy retained_ids (value, hashed) from stdin") as copy:
        for value in ids:
            canonical = canonical_id(value)
            copy.write_row((value, HASHED + keyed_hash(key, canonical) if canonical else None))
    n = conn.execute(
        sql.SQL(
            "update {t} as r set {emptied}, {i} = case when r.{i} like %s then r.{i}"
            " else (select hashed from retained_ids where value = r.{i}) end"
            " where r._extract_month < %s and (({personal})"
            " or (r.{i} is not null and r.{i} not like %s))"
        ).format(t=table, emptied=emptied, i=sql.Identifier(ID_FIELD), personal=personal),
        (HASHED + "%", before, HASHED + "%"),
    ).rowcount
    conn.execute("drop table retained_ids")
    return n


def erase(url: str, transformer_url: str, key: bytes, inbox: Path, id_number: str) -> Outcome:
    """Erase one person, by ID number in any spelling: see the module docstring."""
    canonical = canonical_id(id_number)
    if not canonical:
        raise ValueError("an ID number to erase is needed")
    hashed = keyed_hash(key, canonical)
    out = Outcome()
    fields = personal_fields(ONE_STOP_DOSSIERS)
    with psycopg.connect(url) as conn:
        out.rows[ONE_STOP_DOSSIERS.table] = conn.execute(
            sql.SQL("update {} set {} where {} = %s or {} = %s").format(
                table_ident(ONE_STOP_DOSSIERS),
                sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(f)) for f in fields),
                _id_sql(),
                sql.Identifier(ID_FIELD),
            ),
            (canonical, HASHED + hashed),
        ).rowcount
        out.parked = conn.execute(
            "update raw.rejected_records set record = record - %s::text[]"
            " where raw.canonical_id(record ->> %s) = %s or record ->> %s = %s",
            (fields, ID_FIELD, canonical, ID_FIELD, HASHED + hashed),
        ).rowcount
    with psycopg.connect(transformer_url) as conn:
        exists = conn.execute("select to_regclass('staging.stg_one_stop__dossiers')").fetchone()
        if exists and exists[0]:
            out.staged = conn.execute(
                "update staging.stg_one_stop__dossiers set applicant_key = null"
                " where applicant_key = %s",
                (hashed,),
            ).rowcount
    for path in _kept_files(inbox):
        if _holds(path, canonical):
            _delete_delivered(path, "erasure of a person on request")
            out.files.append(path.name)
    return out


def _kept_files(inbox: Path) -> list[Path]:
    found: list[Path] = []
    for folder in ("archive", "quarantine"):
        root = inbox / folder
        if root.is_dir():
            found += [
                p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".error.txt")
            ]
    return sorted(found)


def _old_files(inbox: Path, before: date) -> list[Path]:
    cutoff = before.strftime("%Y-%m")
    old = []
    for path in _kept_files(inbox):
        month = path.parent.name  # archive/<source>/<YYYY-MM>/…
        of_old_month = len(month) == 7 and month[4] == "-" and month < cutoff
        if of_old_month or date.fromtimestamp(path.stat().st_mtime) < before:
            old.append(path)
    return old


def _holds(path: Path, canonical: str) -> bool:
    """Whether a delivered file holds the ID number, in any of its spellings: its text's
    runs of ID-like characters canonicalised and compared (an XLSX's shared strings and
    sheets read as text)."""
    for text in _texts(path):
        for token in _tokens(text):
            if canonical_id(token) == canonical:
                return True
    return False


def _texts(path: Path) -> list[str]:
    data = path.read_bytes()
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                return [
                    z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")
                ]
        except zipfile.BadZipFile:
            pass
    return [data.decode("utf-8", "replace"), data.decode("latin-1")]


def _tokens(text: str) -> list[str]:
    """Candidate ID numbers: runs of digits, letters and the separators one may be typed
    with, cut at anything else (a CSV's comma, an XML tag)."""
    out, current = [], []
    for ch in text:
        if ch.isalnum() or ch in " .-":
            current.append(ch)
        else:
            if current:
                out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    # a run may hold several values separated by spaces: each word and each run
    return [t for run in out for t in (run, *run.split())]


def _delete_delivered(path: Path, why: str) -> None:
    note = path.with_name(path.name + ".error.txt")
    path.unlink()
    if note.exists():
        with note.open("a", encoding="utf-8") as fh:
            fh.write(f"{path.name} deleted on {date.today():%Y-%m-%d}: {why}\n")
    log.info("deleted %s (%s)", path.name, why)
