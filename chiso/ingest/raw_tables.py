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

Landing tables follow the canonical schemas (chiso/sources/canonical.py), so they are created
and extended here, from that code, when a load first needs them; the ledger and the parsing
functions they are checked with are fixed control-plane objects (chiso/migrations/).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg
from psycopg import sql

from chiso.sources.canonical import ENTITIES, Entity

RAW_SCHEMA = "raw"

# Metadata columns of every landing table, after the canonical ones.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_extra", "jsonb"),
    ("_row_number", "integer"),  # the row in the delivered file/page when known
    ("_batch_id", "uuid not null default current_setting('chiso.batch_id')::uuid"),
    ("_load_seq", "bigint not null default nextval({seq})"),
    ("_loaded_at", "timestamptz not null default now()"),
    ("_extract_month", "date not null"),
)


def table_ident(entity: Entity) -> sql.Composed:
    return sql.Identifier(RAW_SCHEMA, entity.table)


def partition_name(entity: Entity, month: date) -> str:
    return f"{entity.table}__{month:%Y_%m}"


def _sequence_name(entity: Entity) -> str:
    return f"{entity.table}__load_seq"


def ensure_raw_table(conn: psycopg.Connection, entity: Entity) -> None:
    """Create or extend the entity's landing table (idempotent; adds new canonical columns)."""
    seq = sql.Identifier(RAW_SCHEMA, _sequence_name(entity))
    conn.execute(sql.SQL("create sequence if not exists {}").format(seq))
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
    """The month's partition (created on first use); its `_extract_month` default is the month.

    Only a month's first load runs DDL: the others find the partition in the catalog, so loads
    of the month's sources beside each other take no exclusive lock."""
    part = sql.Identifier(RAW_SCHEMA, partition_name(entity, month))
    found = conn.execute(
        "select to_regclass(%s)", (f"{RAW_SCHEMA}.{partition_name(entity, month)}",)
    ).fetchone()
    if found is not None and found[0] is not None:
        return part
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


def ensure_landing_tables(conn: psycopg.Connection) -> None:
    """Every landing table of the canonical schemas, created or extended (the ledger and the
    parsing functions are migrations: chiso/migrations/)."""
    with conn.transaction():
        for entity in ENTITIES:
            ensure_raw_table(conn, entity)


def missing_landing_columns(conn: psycopg.Connection) -> list[str]:
    """The landing tables and columns the canonical schemas need and the database lacks
    (empty: nothing to create). A read of the catalog, which takes no lock on the tables: a
    load checks this instead of running DDL, whose exclusive locks would deadlock with the
    loads of other sources running beside it."""
    have: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "select c.relname, a.attname from pg_attribute as a"
        " join pg_class as c on c.oid = a.attrelid"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('p', 'r') and a.attnum > 0"
        " and not a.attisdropped",
        (RAW_SCHEMA,),
    ):
        have.setdefault(table, set()).add(column)
    missing: list[str] = []
    for entity in ENTITIES:
        columns = have.get(entity.table)
        if columns is None:
            missing.append(entity.table)
            continue
        wanted = [*entity.columns, *(name for name, _ in META_COLUMNS)]
        missing += [f"{entity.table}.{c}" for c in wanted if c not in columns]
    return missing


def record_key(columns: Sequence[str]) -> sql.Composable:
    """A record's key as one text, ``concat_ws('|', btrim(k1), …)``: trimmed as staging
    derives it, so the copies of one record in raw, its parked copy and its later pulls
    compare equal."""
    return sql.SQL("concat_ws('|', {})").format(
        sql.SQL(", ").join(sql.SQL("btrim({})").format(sql.Identifier(c)) for c in columns)
    )
