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

from chiso.publish.marts import (
    DIMENSIONS,
    MARTS,
    PUBLIC_TABLES,
    PublishedMart,
    columns,
    history_table,
    relkind,
    tuples,
)

log = logging.getLogger(__name__)


def ensure_published_schema(conn: psycopg.Connection) -> None:
    """Create or update the published tables and views, idempotently.

    DDL runs only for what is missing or out of date, and the caller commits it before
    publishing: `alter table` and `create or replace view` take locks that would make BI
    readers wait for the publication, where the publication itself only inserts rows.
    """
    for dim in DIMENSIONS:
        _ensure_copy_table(conn, dim)
    for mart in MARTS:
        _ensure_history(conn, mart)
    # then row-level security, once every table a policy reads exists (marts.dim_agency)
    for table in (*DIMENSIONS, *(history_table(m) for m in MARTS)):
        secure(conn, table)


# The scope of the login reading (V013__bi_access_scopes.sql), each value a scalar subquery:
# PostgreSQL evaluates it once per query, not once per row.
_SCOPE = "(select s.{} from marts.access_scope() as s)"
POLICY = "access_scope"


def scope_condition(names: set[str]) -> str | None:
    """The policy's condition for a table with these columns (None: it holds no province's or
    agency's rows, and every reader sees all of it)."""
    province, agency = _SCOPE.format("province_code"), _SCOPE.format("agency_code")
    if "reporting_unit_code" in names:  # a summary report: a province's, or an agency's
        parts = [
            f"reporting_unit_code in ({province}, {agency})",
            f"agency_code = {agency}",
            "agency_code in (select d.agency_code from marts.dim_agency as d"
            f" where d.province_code = {province})",
        ]
    elif {"province_code", "agency_code"} <= names:
        parts = [f"province_code = {province}", f"agency_code = {agency}"]
    elif "province_code" in names:  # rolled up by province: no agency's own rows
        parts = [f"province_code = {province}"]
    elif {"agency_key", "agency_code"} <= names:  # a fact: its province's through dim_agency
        # by agency version, not code: a code reused across the 2025 restructuring may have
        # belonged to another province
        parts = [
            f"agency_code = {agency}",
            "agency_key in (select d.agency_key from marts.dim_agency as d"
            f" where d.province_code = {province})",
        ]
    elif "agency_code" in names:
        parts = [f"agency_code = {agency}"]
    else:
        return None
    return " or ".join([_SCOPE.format("everything"), *parts])


def secure(conn: psycopg.Connection, table: str) -> None:
    """Row-level security on a published table, FORCEd (its owner, which publishes, is held
    to it too, and sees everything by having no scope), unless it is there already."""
    names = {c for c, _ in columns(conn, "marts", table)}
    condition = None if table in PUBLIC_TABLES else scope_condition(names)
    if condition is None:
        return
    state = (
        tuples(conn)
        .execute(
            "select c.relrowsecurity and c.relforcerowsecurity, exists (select 1 from pg_policy p"
            " where p.polrelid = c.oid and p.polname = %s) from pg_class c"
            " where c.oid = %s::regclass",
            (POLICY, f"marts.{table}"),
        )
        .fetchone()
    )
    if state and state[0] and state[1]:
        return
    q = sql.Identifier("marts", table)
    conn.execute(sql.SQL("alter table {} enable row level security").format(q))
    conn.execute(sql.SQL("alter table {} force row level security").format(q))
    conn.execute(sql.SQL("drop policy if exists {} on {}").format(sql.Identifier(POLICY), q))
    conn.execute(
        sql.SQL("create policy {} on {} using ({}) with check (true)").format(
            sql.Identifier(POLICY),
            q,
            sql.SQL(condition),  # type: ignore[arg-type]
        )
    )


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
    for suffix, index_columns in mart.indexes:
        # the readers' filters (chiso/publish/marts.py), on the revisions of every month: the
        # views read the current ones through them
        if relkind(conn, "marts", f"{history}__{suffix}_idx") is None:
            conn.execute(
                sql.SQL("create index {} on {} ({})").format(
                    q(f"{history}__{suffix}_idx"),
                    q("marts", history),
                    sql.SQL(", ").join(map(q, index_columns)),
                )
            )
    names = [c for c, _ in columns(conn, "marts", history)]
    view_columns = (
        [c for c, _ in columns(conn, "marts", mart.name)]
        if relkind(conn, "marts", mart.name) == "v"
        else None
    )
    if view_columns == names and _invoker(conn, mart.name):
        return
    # security_invoker: the revision table's row-level security applies to the reader
    conn.execute(
        sql.SQL(
            "create or replace view {view} with (security_invoker = true) as select {cols}"
            " from {history} as published inner join marts.kpi_publication_heads as head"
            " on head.period_month = published.{month} and head.revision = published.revision"
        ).format(
            view=q("marts", mart.name),
            cols=sql.SQL(", ").join(sql.SQL("published.{}").format(q(c)) for c in names),
            history=q("marts", history),
            month=q(mart.month_column),
        )
    )


def _invoker(conn: psycopg.Connection, view: str) -> bool:
    row = (
        tuples(conn)
        .execute(
            "select coalesce('security_invoker=true' = any(reloptions), false) from pg_class"
            " where oid = %s::regclass",
            (f"marts.{view}",),
        )
        .fetchone()
    )
    return bool(row and row[0])


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
