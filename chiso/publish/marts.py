"""The published marts: which dbt marts are published per month, by which key, and the
catalogue lookups publication needs about their tables."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import tuple_row


@dataclass(frozen=True)
class PublishedMart:
    """A dbt mart published per month: its month column and the key of a row within a month;
    `indexes`, the readers' indexes on its revision table (name suffix, columns)."""

    name: str
    month_column: str
    key: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()


# The BI tools' filters pick a province, a month and an indicator: by their names in the
# leaders' dashboard (a Superset list shows the values it filters on), by their codes in SQL.
# Without these, every query of the dashboard reads every month of the revision tables
# (bench/readers.py measures it).
MARTS = (
    PublishedMart(
        "mart_kpi_monthly",
        "period_month",
        ("calendar", "agency_key", "indicator_code"),
        indexes=(
            ("names", ("province_name", "period_month", "indicator_name_vi")),
            ("codes", ("province_code", "indicator_code", "period_month")),
        ),
    ),
    PublishedMart(
        "mart_kpi_rollups",
        "closing_month",
        ("basis", "period_id", "rollup_level", "province_code", "tier", "indicator_code"),
        indexes=(("names", ("province_name", "closing_month", "indicator_name_vi")),),
    ),
    # the leaders' dashboard's rows (infra/superset/dashboard/): its filters pick a province,
    # a scope and a calendar, then a month (every chart but the trend) or an indicator (the
    # trend); each chart reads the totals or the agencies
    PublishedMart(
        "mart_kpi_dashboard",
        "period_month",
        ("basis", "calendar", "indicator_code", "scope", "row_kind", "unit_key"),
        indexes=(
            (
                "month",
                (
                    "province_name",
                    "scope_name",
                    "period_month",
                    "calendar_name",
                    "row_kind",
                    "indicator_name_vi",
                ),
            ),
            (
                "trend",
                (
                    "province_name",
                    "scope_name",
                    "indicator_name_vi",
                    "calendar_name",
                    "row_kind",
                    "period_month",
                ),
            ),
        ),
    ),
    # the month's summary reports reconciled (identities, total rows, dossier-level counts):
    # the report's data-quality section reads it as the BI reader
    PublishedMart("mart_aggregate_report_checks", "report_month", ("check_id",)),
    # the QĐ 766 index per agency and province, every period closing in the month
    PublishedMart("mart_qd766_scorecard", "closing_month", ("unit_key", "period_id", "item_code")),
    # the star's fact: every agency, indicator and period (month, quarter, half, year) of both
    # calendars and both bases, each period published by the month that closes it
    PublishedMart(
        "fct_indicator_values",
        "closing_month",
        ("basis", "agency_key", "indicator_code", "period_id"),
    ),
)
# Reference tables copied whole at each publication: the dimensions, the declared breaks, and
# the annual composite indices (ICT Index, DTI) as the ministries published them
DIMENSIONS = (
    "dim_agency",
    "dim_indicator",
    "dim_indicator_break",
    "dim_period",
    "fct_annual_index_values",
)
# Published tables every BI login reads whole, whatever its scope: the national indices are
# public, every province's score and rank; a declared break cites a public decision, and a
# national one (no province) is every province's (chiso/publish/access.py scopes the rest)
PUBLIC_TABLES = ("dim_indicator_break", "fct_annual_index_values")
# Columns the audit marts carry for dbt's bookkeeping: a rebuild changes them, not the data.
INTERNAL_COLUMNS = ("_built_at",)


def history_table(mart: PublishedMart) -> str:
    """The append-only table holding every revision of the mart's rows (in `marts`)."""
    return f"{mart.name}__revisions"


def tuples(conn: psycopg.Connection) -> psycopg.Cursor:
    """A cursor returning tuples, whatever the connection's row factory."""
    return conn.cursor(row_factory=tuple_row)


def columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, SQL type) of a table's or view's columns, in order."""
    return (
        tuples(conn)
        .execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
            " order by a.attnum",
            (f"{schema}.{table}",),
        )
        .fetchall()
    )


def relkind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    row = (
        tuples(conn)
        .execute(
            "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relname = %s",
            (schema, name),
        )
        .fetchone()
    )
    return row[0] if row else None
