"""Landing tables in `raw`: what the source sent, as text, plus load metadata.

Raw keeps every field as the source delivered it (text, personal data included) so that a
staging bug can always be fixed by re-reading raw, never by re-pulling the source. Types,
names and the removal of personal data happen in dbt staging.

One table per canonical entity (``raw.<source>__<entity>``), list-partitioned by the
delivery's reporting month. Loads COPY straight into the month's partition, whose default
for ``_extract_month`` is that month: metadata costs COPY almost nothing, and replacing a
month touches one partition only. ``_batch_id`` comes from a per-transaction setting
(``chiso.batch_id``) and ``_load_seq`` from a sequence, so a byte-for-byte CSV stream needs
no per-row work in Python. Columns unknown to the canonical schema land in ``_extra``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from chiso.sources.canonical import ENTITIES, Entity

RAW_SCHEMA = "raw"
PARSING_SQL = Path(__file__).with_name("sql") / "parsing.sql"

# Metadata columns of every landing table, after the canonical ones.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_extra", "jsonb"),
    ("_row_number", "integer"),  # the row in the delivered file/page when known
    ("_batch_id", "uuid not null default current_setting('chiso.batch_id')::uuid"),
    ("_load_seq", "bigint not null default nextval({seq})"),
    ("_loaded_at", "timestamptz not null default now()"),
    ("_extract_month", "date not null"),
)

LEDGER_DDL = """
create table if not exists raw.ingest_batches (
    batch_id        uuid primary key,
    source          text not null,
    target_table    text not null,
    extract_month   date,
    origin          text not null,
    content_sha256  text,
    row_count       integer,
    status          text not null,
    error           text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);
alter table raw.ingest_batches
    add column if not exists delivery_id uuid,
    add column if not exists entity text,
    add column if not exists channel text,
    add column if not exists file_name text,
    add column if not exists agency_codes text[],
    add column if not exists replace_scope text,
    add column if not exists first_load_seq bigint,
    add column if not exists error_row integer,
    add column if not exists error_field text,
    add column if not exists duplicate_of uuid,
    add column if not exists replaced_by uuid,
    add column if not exists replaced_rows integer,
    add column if not exists extra_columns text[],
    add column if not exists warnings jsonb;
alter table raw.ingest_batches alter column extract_month drop not null;
alter table raw.ingest_batches drop constraint if exists ingest_batches_status_check;
alter table raw.ingest_batches add constraint ingest_batches_status_check check (status in
    ('running', 'loaded', 'replaced', 'failed', 'duplicate', 'quarantined'));
create index if not exists ingest_batches__sha_idx on raw.ingest_batches
    (target_table, content_sha256);
comment on table raw.ingest_batches is
    'Ledger of every delivery attempt: loaded, replaced by a later delivery, duplicate '
    '(same content as an earlier load), failed or quarantined, with the error naming '
    'row and field.';
"""


def table_ident(entity: Entity) -> sql.Composed:
    return sql.Identifier(RAW_SCHEMA, entity.table)


def partition_name(entity: Entity, month: date) -> str:
    return f"{entity.table}__{month:%Y_%m}"


def _sequence_name(entity: Entity) -> str:
    return f"{entity.table}__load_seq"


def ensure_parsing_functions(conn: psycopg.Connection) -> None:
    """Create the source-format parsing functions (shared by ingest checks and dbt staging)."""
    conn.execute(PARSING_SQL.read_text(encoding="utf-8"))


def ensure_ledger(conn: psycopg.Connection) -> None:
    conn.execute(LEDGER_DDL)


def ensure_raw_table(conn: psycopg.Connection, entity: Entity) -> None:
    """Create or extend the entity's landing table (idempotent; adds new canonical columns)."""
    seq = sql.Identifier(RAW_SCHEMA, _sequence_name(entity))
    conn.execute(sql.SQL("create sequence if not exists {}").format(seq))
    _migrate_unpartitioned(conn, entity)
    cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in entity.columns]
    for name, ddl in META_COLUMNS:
        rendered = ddl.replace("{seq}", "'" + f"{RAW_SCHEMA}.{_sequence_name(entity)}" + "'")
        cols.append(sql.SQL("{} ").format(sql.Identifier(name)) + sql.SQL(rendered))  # type: ignore[arg-type]
    conn.execute(
        sql.SQL("create table if not exists {} ({}) partition by list (_extract_month)").format(
            table_ident(entity), sql.SQL(", ").join(cols)
        )
    )
    for column in entity.columns:  # canonical fields added after the table was created
        conn.execute(
            sql.SQL("alter table {} add column if not exists {} text").format(
                table_ident(entity), sql.Identifier(column)
            )
        )
    conn.execute(
        sql.SQL("comment on table {} is {}").format(
            table_ident(entity),
            sql.Literal(f"Landing table of {entity.qualified_name}: " + entity.description),
        )
    )


def ensure_partition(conn: psycopg.Connection, entity: Entity, month: date) -> sql.Composed:
    """The month's partition (created on first use); its `_extract_month` default is the month."""
    part = sql.Identifier(RAW_SCHEMA, partition_name(entity, month))
    conn.execute(
        sql.SQL("create table if not exists {} partition of {} for values in ({})").format(
            part, table_ident(entity), sql.Literal(month)
        )
    )
    conn.execute(
        sql.SQL("alter table {} alter column _extract_month set default {}").format(
            part, sql.Literal(month)
        )
    )
    return part


def ensure_all(conn: psycopg.Connection) -> None:
    """Everything ingest needs in `raw`: ledger, parsing functions, every landing table."""
    with conn.transaction():
        ensure_ledger(conn)
        ensure_parsing_functions(conn)
        for entity in ENTITIES:
            ensure_raw_table(conn, entity)


def _migrate_unpartitioned(conn: psycopg.Connection, entity: Entity) -> None:
    """Rebuild a landing table created before partitioning (issue 2 layout), keeping its rows."""
    row = conn.execute(
        "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = %s",
        (RAW_SCHEMA, entity.table),
    ).fetchone()
    if row is None or row[0] == "p":
        return
    old = sql.Identifier(RAW_SCHEMA, f"{entity.table}__unpartitioned")
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(
            table_ident(entity), sql.Identifier(f"{entity.table}__unpartitioned")
        )
    )
    conn.execute(
        sql.SQL("alter index if exists {} rename to {}").format(
            sql.Identifier(RAW_SCHEMA, f"{entity.table}__extract_month_idx"),
            sql.Identifier(f"{entity.table}__unpartitioned__extract_month_idx"),
        )
    )
    old_cols = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = %s",
            (RAW_SCHEMA, f"{entity.table}__unpartitioned"),
        )
    }
    ensure_raw_table(conn, entity)
    months = [
        r[0] for r in conn.execute(sql.SQL("select distinct _extract_month from {}").format(old))
    ]
    for month in months:
        ensure_partition(conn, entity, month)
    keep = [c for c in entity.columns if c in old_cols]
    keep += [
        c for c in ("_batch_id", "_row_number", "_loaded_at", "_extract_month") if c in old_cols
    ]
    ident_list = sql.SQL(", ").join(map(sql.Identifier, keep))
    conn.execute(
        sql.SQL("insert into {} ({}) select {} from {}").format(
            table_ident(entity), ident_list, ident_list, old
        )
    )
    # The old table stays (renamed) until the views built on it are rebuilt by dbt; the loader
    # role does not own those views and must not drop them.
