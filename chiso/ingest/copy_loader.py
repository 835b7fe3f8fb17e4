"""Stream records into a raw landing table with PostgreSQL COPY, one transaction per batch.

A batch is one (source, extract month) delivery. Loading it replaces whatever an earlier batch
of the same source and month landed, inside the same transaction, so re-running a month never
duplicates rows and a failure leaves the previous rows in place. The ledger
(`raw.ingest_batches`) records every attempt, including failures, on its own connection so a
rolled-back load still leaves a trace.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from chiso.ingest.raw_tables import RawTable, ensure_raw_table

log = logging.getLogger(__name__)


class LoadError(ValueError):
    """A record could not be landed; the message names the origin, row and field."""


@dataclass(frozen=True)
class LoadResult:
    batch_id: uuid.UUID
    rows: int
    replaced_rows: int
    content_sha256: str


def _cell(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return unicodedata.normalize("NFC", text)


def _rows(
    records: Iterable[Mapping[str, object]], table: RawTable, origin: str, key_field: str
) -> Iterable[tuple[int, list[str | None]]]:
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise LoadError(f"{origin}: row {n}: expected an object, got {type(rec).__name__}")
        if not rec.get(key_field):
            raise LoadError(f"{origin}: row {n}: field {key_field} is missing or empty")
        yield n, [_cell(rec.get(src)) for src, _ in table.fields]


def load_batch(
    url: str,
    table: RawTable,
    records: Iterable[Mapping[str, object]],
    *,
    source: str,
    extract_month: date,
    origin: str,
    key_field: str,
) -> LoadResult:
    """Replace `table`'s rows for (source, extract_month) with `records`, atomically."""
    batch_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as ledger:
        ensure_raw_table(ledger, table)
        ledger.execute(
            "insert into raw.ingest_batches (batch_id, source, target_table, extract_month, origin,"
            " status) values (%s, %s, %s, %s, %s, 'running')",
            (batch_id, source, f"{table.schema}.{table.name}", extract_month, origin),
        )
        try:
            result = _load(url, table, records, batch_id, source, extract_month, origin, key_field)
        except Exception as exc:
            ledger.execute(
                "update raw.ingest_batches set status = 'failed', error = %s, finished_at = now()"
                " where batch_id = %s",
                (str(exc)[:4000], batch_id),
            )
            raise
        ledger.execute(
            "update raw.ingest_batches set status = 'loaded', row_count = %s, content_sha256 = %s,"
            " finished_at = now() where batch_id = %s",
            (result.rows, result.content_sha256, batch_id),
        )
    log.info(
        "loaded %s rows into %s.%s for %s %s (replaced %s)",
        result.rows,
        table.schema,
        table.name,
        source,
        extract_month,
        result.replaced_rows,
    )
    return result


def _load(
    url: str,
    table: RawTable,
    records: Iterable[Mapping[str, object]],
    batch_id: uuid.UUID,
    source: str,
    extract_month: date,
    origin: str,
    key_field: str,
) -> LoadResult:
    digest = hashlib.sha256()
    cols = [*table.columns, "_batch_id", "_source", "_extract_month", "_row_number"]
    copy_stmt = sql.SQL("copy {} ({}) from stdin").format(
        table.ident, sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    with psycopg.connect(url) as conn, conn.transaction():
        cur = conn.execute(
            sql.SQL("delete from {} where _source = %s and _extract_month = %s").format(
                table.ident
            ),
            (source, extract_month),
        )
        replaced = cur.rowcount
        rows = 0
        with conn.cursor().copy(copy_stmt) as copy:
            for n, values in _rows(records, table, origin, key_field):
                digest.update("\x1f".join(v or "" for v in values).encode())
                digest.update(b"\x1e")
                copy.write_row([*values, batch_id, source, extract_month, n])
                rows = n
        conn.execute(
            "update raw.ingest_batches set status = 'replaced' where source = %s"
            " and extract_month = %s and status = 'loaded' and target_table = %s",
            (source, extract_month, f"{table.schema}.{table.name}"),
        )
    return LoadResult(batch_id, rows, replaced, digest.hexdigest())
