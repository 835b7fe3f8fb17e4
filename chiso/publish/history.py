"""The published tables whose columns follow the dbt marts, kept in step with them.

Revision history tables (`marts.<mart>__revisions`), the views BI tools read
(`marts.mart_kpi_monthly` shows each month's current revision), and the published copies of
the dimensions. Their columns are the audit tables' columns, which dbt owns, so they cannot be
fixed migrations: a column added to a dbt mart is appended here (nullable, so older revisions
keep null) and to the view (`create or replace view` keeps the existing columns first, so a BI
tool's saved queries keep working). The fixed tables of publication are migrations
(chiso/migrations/V005__publications.sql).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from chiso.publish.marts import DIMENSIONS, MARTS, PublishedMart, columns, history_table, relkind

log = logging.getLogger(__name__)


def ensure_published_schema(conn: psycopg.Connection) -> None:
    """Create or update the published tables and views, idempotently.

    DDL runs only for what is missing or out of date, and the caller commits it before
    publishing: `alter table` and `create or replace view` take locks that would make BI
    readers wait for the publication, where the publication itself only inserts rows.
    """
    for mart in MARTS:
        _ensure_history(conn, mart)
    for dim in DIMENSIONS:
        _ensure_copy_table(conn, dim)


def missing_columns(
    conn: psycopg.Connection, source: tuple[str, str], target: tuple[str, str]
) -> list[tuple[str, str]]:
    present = (
        {c for c, _ in columns(conn, *target)} if relkind(conn, *target) is not None else set()
    )
    return [(c, t) for c, t in columns(conn, *source) if c not in present]


def _ensure_history(conn: psycopg.Connection, mart: PublishedMart) -> None:
    history = history_table(mart)
    q = sql.Identifier
    if relkind(conn, "marts", mart.name) == "r":
        _migrate_single_table(conn, mart)
    if relkind(conn, "marts", history) is None:
        conn.execute(
            sql.SQL(
                "create table {} (like {}, publication_id uuid not null,"
                " revision integer not null, published_at timestamptz not null)"
            ).format(q("marts", history), q("audit", mart.name))
        )
    if relkind(conn, "marts", f"{history}__month_revision_idx") is None:
        # also for a history table migrated from the single-table layout
        conn.execute(
            sql.SQL("create index {} on {} ({}, revision)").format(
                q(f"{history}__month_revision_idx"), q("marts", history), q(mart.month_column)
            )
        )
    for column, data_type in missing_columns(conn, ("audit", mart.name), ("marts", history)):
        # Nullable: revisions published before the column existed keep null there.
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                q("marts", history), q(column), sql.SQL(data_type)
            )
        )
    names = [c for c, _ in columns(conn, "marts", history)]
    view_columns = (
        [c for c, _ in columns(conn, "marts", mart.name)]
        if relkind(conn, "marts", mart.name) == "v"
        else None
    )
    if view_columns == names:
        return
    conn.execute(
        sql.SQL(
            "create or replace view {view} as select {cols} from {history} as published"
            " inner join ops.publication_heads as head"
            " on head.period_month = published.{month} and head.revision = published.revision"
        ).format(
            view=q("marts", mart.name),
            cols=sql.SQL(", ").join(sql.SQL("published.{}").format(q(c)) for c in names),
            history=q("marts", history),
            month=q(mart.month_column),
        )
    )


def _migrate_single_table(conn: psycopg.Connection, mart: PublishedMart) -> None:
    """A warehouse published before revisions kept one table per mart (the latest rows, with
    `publication_id`): it becomes the history table, its rows the revisions they were."""
    history = history_table(mart)
    q = sql.Identifier
    log.info("migrating marts.%s to revision history %s", mart.name, history)
    conn.execute(sql.SQL("alter table {} rename to {}").format(q("marts", mart.name), q(history)))
    conn.execute(
        sql.SQL("alter table {} add column if not exists revision integer").format(
            q("marts", history)
        )
    )
    conn.execute(
        sql.SQL(
            "update {} as h set revision = p.revision from ops.publications as p"
            " where p.publication_id = h.publication_id"
        ).format(q("marts", history))
    )
    conn.execute(
        "insert into ops.publication_heads (period_month, revision, publication_id)"
        " select distinct on (period_month) period_month, revision, publication_id"
        " from ops.publications order by period_month, revision desc"
        " on conflict (period_month) do nothing"
    )


def _ensure_copy_table(conn: psycopg.Connection, table: str) -> None:
    q = sql.Identifier
    if relkind(conn, "marts", table) is None:
        conn.execute(
            sql.SQL("create table {} (like {})").format(q("marts", table), q("audit", table))
        )
    for column, data_type in missing_columns(conn, ("audit", table), ("marts", table)):
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                q("marts", table), q(column), sql.SQL(data_type)
            )
        )
