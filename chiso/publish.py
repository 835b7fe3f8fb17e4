"""Publish one validated month of the KPI mart from the audit area into `marts`.

Publication is one transaction: the month's rows in `marts.mart_kpi_monthly` are replaced and
the dimensions refreshed together, so a reader (BI tool, report) sees either the previous
version or the new one, never half of each. Nothing here runs unless the gate passed; the
caller (DAG or CLI) enforces that order.
"""

from __future__ import annotations

import logging
import subprocess
import uuid
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from chiso.config import REPO_ROOT

log = logging.getLogger(__name__)

MART = "mart_kpi_monthly"
DIMENSIONS = ("dim_agency", "dim_indicator", "dim_period")

PUBLICATIONS_DDL = """
create table if not exists ops.publications (
    publication_id     uuid primary key,
    period_month       date not null,
    revision           integer not null,
    published_at       timestamptz not null default now(),
    row_count          integer not null,
    dbt_invocation_id  text,
    git_sha            text,
    gate_success       boolean not null,
    forced_reason      text,
    unique (period_month, revision)
)
"""


class PublishError(RuntimeError):
    """The audit area has nothing to publish for the month, or publication failed."""


@dataclass(frozen=True)
class Publication:
    publication_id: uuid.UUID
    period_month: date
    revision: int
    row_count: int


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s"
        " and table_name = %s order by ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def _ensure_published_tables(conn: psycopg.Connection) -> None:
    conn.execute(PUBLICATIONS_DDL)
    for table in (*DIMENSIONS, MART):
        conn.execute(
            sql.SQL("create table if not exists {} (like {})").format(
                sql.Identifier("marts", table), sql.Identifier("audit", table)
            )
        )
        # A column added to a dbt model reaches the published table too (nullable: months
        # published before it existed keep null there).
        for column, data_type in conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
            " order by a.attnum",
            (f"audit.{table}",),
        ).fetchall():
            conn.execute(
                sql.SQL("alter table {} add column if not exists {} {}").format(
                    sql.Identifier("marts", table), sql.Identifier(column), sql.SQL(data_type)
                )
            )
    conn.execute(
        sql.SQL(
            "alter table marts.{} add column if not exists publication_id uuid,"
            " add column if not exists published_at timestamptz"
        ).format(sql.Identifier(MART))
    )
    conn.execute(
        "create index if not exists mart_kpi_monthly__period_month_idx"
        " on marts.mart_kpi_monthly (period_month)"
    )


def _copy(conn: psycopg.Connection, table: str, where: sql.Composable, params: tuple) -> int:
    published = set(_columns(conn, "marts", table))
    cols = [c for c in _columns(conn, "audit", table) if c in published]
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    cur = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} where {}").format(
            sql.Identifier("marts", table),
            col_list,
            col_list,
            sql.Identifier("audit", table),
            where,
        ),
        params,
    )
    return cur.rowcount


def publish_month(
    url: str,
    month: date,
    *,
    dbt_invocation_id: str | None,
    gate_success: bool,
    forced_reason: str | None = None,
) -> Publication:
    """Replace the month in `marts` with the audit area's rows, atomically."""
    if not gate_success and not forced_reason:
        raise PublishError(f"{month:%Y-%m}: the validation gate failed; refusing to publish")
    publication_id = uuid.uuid4()
    with psycopg.connect(url) as conn, conn.transaction():
        _ensure_published_tables(conn)
        # Serialise publishers; readers are never blocked (MVCC shows them the old version).
        conn.execute("lock table ops.publications in share row exclusive mode")
        n_audit = conn.execute(
            "select count(*) from audit.mart_kpi_monthly where period_month = %s", (month,)
        ).fetchone()[0]
        if n_audit == 0:
            raise PublishError(f"{month:%Y-%m}: audit.mart_kpi_monthly has no rows for the month")
        for dim in DIMENSIONS:
            conn.execute(sql.SQL("delete from {}").format(sql.Identifier("marts", dim)))
            _copy(conn, dim, sql.SQL("true"), ())
        conn.execute("delete from marts.mart_kpi_monthly where period_month = %s", (month,))
        rows = _copy(conn, MART, sql.SQL("period_month = %s"), (month,))
        conn.execute(
            "update marts.mart_kpi_monthly set publication_id = %s, published_at = now()"
            " where period_month = %s",
            (publication_id, month),
        )
        revision = conn.execute(
            "select coalesce(max(revision), 0) + 1 from ops.publications where period_month = %s",
            (month,),
        ).fetchone()[0]
        conn.execute(
            "insert into ops.publications (publication_id, period_month, revision, row_count,"
            " dbt_invocation_id, git_sha, gate_success, forced_reason)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                publication_id,
                month,
                revision,
                rows,
                dbt_invocation_id,
                git_sha(),
                gate_success,
                forced_reason,
            ),
        )
    log.info("published %s: %s rows, revision %s", f"{month:%Y-%m}", rows, revision)
    return Publication(publication_id, month, revision, rows)
